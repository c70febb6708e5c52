// The server's own requests over real loopback HTTP: input downloads that stall or grow too large,
// redirects (count, scheme, another port), COG_DENY_PRIVATE_NETWORK for downloads, webhooks and
// uploads, and an upload's Location used only when it is an http(s) URL.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deniedRange } from '../src/runtime/outbound.js';
import { Peer, post, startServer, waitFor, waitForHealth, type Received, type ServerProcess } from './fixtures/server/harness.js';

let open: ServerProcess; // default settings, small stall timeout and size limit, --upload-url
let guarded: ServerProcess; // COG_DENY_PRIVATE_NETWORK=1, --upload-url
let web: Peer; // serves downloads and redirects, takes uploads
let other: Peer; // another loopback port, a redirect target

const STALL_SECONDS = 0.4;
const MAX_BYTES = 1000;
const held: ServerResponse[] = [];

function route(request: Received, response: ServerResponse): void {
  const url = new URL(request.url, web.url);
  const [, kind, arg] = url.pathname.split('/');
  if (request.method === 'PUT') {
    response.statusCode = 201;
    // The files fixture's `list` mode returns a.txt and b.png.
    if (url.pathname.endsWith('/a.txt')) response.setHeader('location', 'javascript:alert(1)');
    else if (url.pathname.endsWith('/b.png')) response.setHeader('location', 'file:///etc/passwd');
    return void response.end();
  }
  switch (kind) {
    case 'hang': // never answers
      held.push(response);
      return;
    case 'trickle': {
      // one byte a second, forever
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      held.push(response);
      const timer = setInterval(() => (response.destroyed ? clearInterval(timer) : response.write('x')), 1000);
      response.write('x');
      return;
    }
    case 'big': // MAX_BYTES * 5, chunked (no content-length) unless asked
      if (arg === 'declared') response.setHeader('content-length', String(MAX_BYTES * 5));
      return void response.end(Buffer.alloc(MAX_BYTES * 5, 1));
    case 'chain': {
      // /chain/N redirects N times, then serves
      const left = Number(arg);
      if (left === 0) return void response.end('end of chain');
      response.writeHead(302, { location: `/chain/${left - 1}` });
      return void response.end();
    }
    case 'to': {
      // a redirect to the `target` query parameter
      response.writeHead(302, { location: url.searchParams.get('target')! });
      return void response.end();
    }
    default:
      response.end(`served ${url.pathname}`);
  }
}

beforeAll(async () => {
  [web, other] = await Promise.all([new Peer().start(), new Peer().start()]);
  web.handler = route;
  other.handler = (request, response) => void response.end(`other port ${request.url}`);
  [open, guarded] = await Promise.all([
    startServer('files', {
      args: ['--upload-url', `${web.url}/uploads`],
      env: { COG_DOWNLOAD_STALL_TIMEOUT: String(STALL_SECONDS), COG_MAX_DOWNLOAD_BYTES: String(MAX_BYTES) },
    }),
    startServer('files', { args: ['--upload-url', `${web.url}/uploads`], env: { COG_DENY_PRIVATE_NETWORK: '1' } }),
  ]);
  await Promise.all([waitForHealth(open.url, ['READY']), waitForHealth(guarded.url, ['READY'])]);
});

afterAll(async () => {
  for (const response of held) response.destroy();
  await Promise.all([open?.kill(), guarded?.kill(), web?.stop(), other?.stop()]);
});

/** A `describe` prediction of the files fixture reading `file` from `url`. */
async function download(url: string, server = open): Promise<{ status: string; error?: string; output?: string; seconds: number }> {
  const started = performance.now();
  const { body } = await post(`${server.url}/predictions`, { input: { file: url } });
  return { ...body, seconds: (performance.now() - started) / 1000 };
}

describe('input downloads', () => {
  it('one that trickles a byte a second fails after COG_DOWNLOAD_STALL_TIMEOUT, naming the URL without its credentials', async () => {
    const url = new URL(`${web.url}/trickle/file.bin?token=hunter2`);
    url.username = 'user';
    url.password = 'pass';
    const result = await download(url.href);
    expect(result.status).toBe('failed');
    expect(result.error).toBe(
      `Input validation error: failed to download ${web.url}/trickle/file.bin: stalled: no data for ${STALL_SECONDS} s (COG_DOWNLOAD_STALL_TIMEOUT)`,
    );
    // The trickle never ends: without the stall timeout this would run until the test's own timeout.
    expect(result.seconds).toBeLessThan(15);
  });

  it('one that never sends its headers fails the same way, and frees its slot', async () => {
    const result = await download(`${web.url}/hang/file.bin`);
    expect(result.error).toBe(
      `Input validation error: failed to download ${web.url}/hang/file.bin: no response within ${STALL_SECONDS} s (COG_DOWNLOAD_STALL_TIMEOUT)`,
    );
    expect(result.seconds).toBeLessThan(15);
    expect((await download(`${web.url}/files/after.txt`)).status).toBe('succeeded');
  });

  it('one larger than COG_MAX_DOWNLOAD_BYTES fails, with or without a content-length', async () => {
    for (const path of ['/big/streamed', '/big/declared']) {
      const result = await download(`${web.url}${path}`);
      expect(result.error).toBe(
        `Input validation error: failed to download ${web.url}${path}: larger than COG_MAX_DOWNLOAD_BYTES (${MAX_BYTES} bytes)`,
      );
    }
  });
});

describe('redirects', () => {
  it('follows up to 5, refuses the 6th', async () => {
    const five = await download(`${web.url}/chain/5`);
    expect(five.status).toBe('succeeded');
    expect(JSON.parse(five.output!)[0].content).toBe('end of chain');
    const six = await download(`${web.url}/chain/6`);
    expect(six.error).toBe(
      `Input validation error: failed to download ${web.url}/chain/6: too many redirects (more than 5) from ${web.url}/chain/6`,
    );
  });

  it('refuses a redirect to file: or javascript:', async () => {
    for (const target of ['file:///etc/passwd', 'javascript:alert(1)']) {
      const result = await download(`${web.url}/to/x?target=${encodeURIComponent(target)}`);
      expect(result.status).toBe('failed');
      expect(result.error).toContain(
        `refused redirect from ${web.url}/to/x to a ${new URL(target).protocol} URL: only http and https are followed`,
      );
    }
  });

  it('follows one to another loopback port by default', async () => {
    const result = await download(`${web.url}/to/x?target=${encodeURIComponent(`${other.url}/there.txt`)}`);
    expect(result.status).toBe('succeeded');
    expect(JSON.parse(result.output!)[0].content).toBe('other port /there.txt');
  });
});

describe('uploads', () => {
  it("use the response's Location only when it is an http(s) URL, else the PUT URL", async () => {
    const { body } = await post(`${open.url}/predictions`, { input: { mode: 'list' } });
    expect(body.status).toBe('succeeded');
    expect(body.output).toEqual([`${web.url}/uploads/a.txt`, `${web.url}/uploads/b.png`]);
  });
});

describe('COG_DENY_PRIVATE_NETWORK=1', () => {
  it('classifies addresses: only public unicast ones may be reached', () => {
    for (const address of [
      '127.0.0.1',
      '::1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::',
      'fd00:ec2::254',
      'fe80::1',
      '::ffff:127.0.0.1',
      '224.0.0.1',
    ]) {
      expect(deniedRange(address), address).toBeDefined();
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) expect(deniedRange(address), address).toBeUndefined();
  });

  it('refuses downloads from loopback, by IP, by name (after DNS) and after a redirect, naming the address and the setting', async () => {
    const before = web.requests.length;
    const direct = await download(`${web.url}/files/x.txt`, guarded);
    expect(direct.error).toBe(
      `Input validation error: failed to download ${web.url}/files/x.txt: refused to connect to 127.0.0.1, a loopback address: COG_DENY_PRIVATE_NETWORK=1 allows public addresses only`,
    );
    const named = await download(`${web.url.replace('127.0.0.1', 'localhost')}/files/x.txt`, guarded);
    expect(named.error).toMatch(/refused to connect to localhost \((127\.0\.0\.1|::1)\), a loopback address: COG_DENY_PRIVATE_NETWORK=1/);
    const redirected = await download(`${web.url}/to/x?target=${encodeURIComponent(`${other.url}/there.txt`)}`, guarded);
    expect(redirected.error).toContain('COG_DENY_PRIVATE_NETWORK=1');
    expect(web.requests.length).toBe(before);
  });

  it('refuses uploads and webhooks to loopback, and says why', async () => {
    const before = web.requests.length;
    const upload = await post(`${guarded.url}/predictions`, { input: { mode: 'single' } });
    expect(upload.body.status).toBe('failed');
    expect(upload.body.error).toBe(
      `failed to upload output file out.txt to ${web.url}/uploads/out.txt: refused to connect to 127.0.0.1, a loopback address: COG_DENY_PRIVATE_NETWORK=1 allows public addresses only`,
    );
    const { body } = await post(`${guarded.url}/predictions`, { input: {}, webhook: `${web.url}/hook`, webhook_events_filter: ['start'] });
    expect(body.status).toBe('succeeded');
    await waitFor(() => guarded.output().includes('refused to connect to 127.0.0.1, a loopback address'), 'the webhook refusal in the log');
    expect(web.requests.length).toBe(before);
  });
});
