// The one way out for the server's own HTTP requests (input downloads, webhooks, uploads):
// redirects followed by hand (at most 5, only to http(s)), and with COG_DENY_PRIVATE_NETWORK=1 no
// connection to a loopback, private, link-local or metadata address, checked where it connects.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type * as IpAddr from 'ipaddr.js';
import type { Agent, Dispatcher } from 'undici';
import { OutboundRequestError } from '../errors.js';
import { currentSettings } from '../load/settings.js';

// ipaddr.js is required at the first address checked, not at start: importing it cost the
// server's thread ~10 ms of CPU and ~2 MiB before READY, for servers that may never call out.
let ipaddrModule: typeof IpAddr | undefined;
const ipaddr = (): typeof IpAddr => (ipaddrModule ??= createRequire(import.meta.url)('ipaddr.js') as typeof IpAddr);

export const MAX_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface OutboundOptions {
  method?: 'GET' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  /** The request body; a function so that a redirect (307/308) can send it again. */
  body?: () => Readable | string;
  signal?: AbortSignal;
  /** Longest wait for the response's headers, and between two pieces of its body (ms). */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export interface OutboundResponse {
  status: number;
  ok: boolean;
  headers: Record<string, string | string[] | undefined>;
  /** Read it or `dump()` it, so the connection goes back to the pool. */
  body: Dispatcher.ResponseData['body'];
  /** Where the response came from, after redirects. */
  url: URL;
}

/**
 * A failed request's error in words: fetch and undici put the reason (ECONNREFUSED, a TLS
 * failure) in `cause`, so it is added to the message.
 */
export function requestProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof Error ? `${message} (${cause.message})` : message;
}

/** A URL as it may be shown in errors and logs: no userinfo, query or fragment (they carry credentials). */
export function displayUrl(url: URL | string): string {
  try {
    const shown = new URL(url);
    shown.username = '';
    shown.password = '';
    shown.search = '';
    shown.hash = '';
    return shown.href;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Why `address` may not be reached with the setting on, or undefined when it is a public unicast
 * address. Anything ipaddr.js does not call `unicast` is refused: loopback, RFC 1918, ULA,
 * link-local (169.254.169.254, cloud metadata), CGNAT, unspecified, multicast, reserved, and the
 * IPv6 forms that embed an IPv4 address (mapped ones are judged as their IPv4 address).
 */
export function deniedRange(address: string): string | undefined {
  if (!ipaddr().isValid(address)) return 'not an IP address';
  const range = ipaddr().process(address).range();
  return range === 'unicast' ? undefined : range;
}

function refusal(host: string, address: string, range: string): OutboundRequestError {
  const shown = host === address ? address : `${host} (${address})`;
  return new OutboundRequestError(
    `refused to connect to ${shown}, a ${range} address: COG_DENY_PRIVATE_NETWORK=1 allows public addresses only`,
  );
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * `dns.lookup` that refuses denied addresses. The connection goes to the address returned here,
 * so what was checked is what is connected to (no second resolution to rebind).
 */
function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const denied = addresses.map((entry) => ({ entry, range: deniedRange(entry.address) })).find(({ range }) => range !== undefined);
    if (denied !== undefined) return callback(refusal(hostname, denied.entry.address, denied.range!) as NodeJS.ErrnoException, []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (first === undefined) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

let openAgent: Agent | undefined;
let guardedAgent: Agent | undefined;

/**
 * undici, imported at the first request out: it is ~60 CommonJS modules (0.1–0.3 s of a start
 * here), and a server with no file inputs, webhooks or uploads never needs it.
 */
type Undici = Pick<typeof import('undici'), 'Agent' | 'request'>;
let undici: Promise<Undici> | undefined;
const loadUndici = () => (undici ??= import('undici').then(({ Agent, request }) => ({ Agent, request })));

function agent(deny: boolean, { Agent }: Undici): Agent {
  if (!deny) return (openAgent ??= new Agent());
  return (guardedAgent ??= new Agent({ connect: { lookup: guardedLookup as never } }));
}

/** Refuses what may not be fetched before any connection: a scheme, or (with the setting) a literal denied IP. */
function checkTarget(url: URL, deny: boolean): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundRequestError(`refused ${url.protocol} URL: only http and https are fetched`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A literal IP is connected to without a lookup, so it is checked here.
  if (deny && isIP(host) !== 0) {
    const range = deniedRange(host);
    if (range !== undefined) throw refusal(host, host, range);
  }
}

/**
 * Sends one request and follows redirects as `fetch` does (303, and 301/302 after a POST, become
 * a GET without body; the `authorization` header is dropped when the origin changes), but by hand:
 * each hop is checked, at most `MAX_REDIRECTS` of them, and only to http(s) URLs.
 */
export async function outboundRequest(target: URL | string, options: OutboundOptions = {}): Promise<OutboundResponse> {
  // `COG_DENY_PRIVATE_NETWORK=1`: public addresses only.
  const deny = currentSettings().denyPrivateNetwork;
  let url = new URL(target);
  let method = options.method ?? 'GET';
  let body = options.body;
  let headers = { ...options.headers };
  const client = await loadUndici();
  for (let redirects = 0; ; redirects++) {
    checkTarget(url, deny);
    const response = await client.request(url, {
      method,
      headers,
      body: body?.(),
      signal: options.signal,
      dispatcher: agent(deny, client),
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
    });
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode) || typeof location !== 'string') {
      return {
        status: response.statusCode,
        ok: response.statusCode >= 200 && response.statusCode < 300,
        headers: response.headers,
        body: response.body,
        url,
      };
    }
    await response.body.dump().catch(() => undefined);
    if (redirects >= MAX_REDIRECTS)
      throw new OutboundRequestError(`too many redirects (more than ${MAX_REDIRECTS}) from ${displayUrl(target)}`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new OutboundRequestError(`redirect from ${displayUrl(url)} to an invalid URL`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new OutboundRequestError(
        `refused redirect from ${displayUrl(url)} to a ${next.protocol} URL: only http and https are followed`,
      );
    }
    if (
      response.statusCode === 303 ? method !== 'GET' : (response.statusCode === 301 || response.statusCode === 302) && method === 'POST'
    ) {
      method = 'GET';
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !/^content-/i.test(name)));
    }
    if (next.origin !== url.origin)
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
    url = next;
  }
}
