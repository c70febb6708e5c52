// W3C trace context without OpenTelemetry: reading `traceparent`/`tracestate` from a request, and
// carrying them in a queued job (`injectTraceCarrier`/`extractTraceCarrier`), so a worker's
// prediction continues the caller's trace. Malformed context is dropped, never an error (Cog 0.23).
import type { TraceCarrier } from '../runtime/runtime.js';

export type { TraceCarrier };

/** Version 00, a 32-hex trace id and a 16-hex parent id, neither all zeros, and 2-hex flags. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A valid `traceparent` (lower-cased), else undefined. */
export function validTraceparent(value: string | undefined): string | undefined {
  const match = TRACEPARENT.exec(value?.trim().toLowerCase() ?? '');
  if (match === null || match[1] === 'ff' || /^0+$/.test(match[2]!) || /^0+$/.test(match[3]!)) return undefined;
  return match[0];
}

/** The trace context of a request's headers (a `Headers`, or Node's header object); undefined without a valid `traceparent`. */
export function traceCarrierFrom(headers: Headers | Readonly<Record<string, string | string[] | undefined>>): TraceCarrier | undefined {
  const traceparent = validTraceparent(headerIn(headers, 'traceparent'));
  if (traceparent === undefined) return undefined;
  const tracestate = headerIn(headers, 'tracestate');
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

/** A header of a `Headers` or of Node's header object (a function, not a closure per request: every prediction asks). */
function headerIn(headers: Headers | Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  // Not `instanceof Headers`: the first look at that global makes Node load its fetch (undici,
  // ~20 ms and ~7 MiB), which a server answering on the fast path never needs. A header object
  // has no function-valued field.
  if (typeof headers.get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Readonly<Record<string, string | string[] | undefined>>)[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `data` (a job's payload) with `trace` set to the carrier (left out when there is none). */
export function injectTraceCarrier<T extends object>(data: T, carrier: TraceCarrier | undefined): T & { trace?: TraceCarrier } {
  const traceparent = validTraceparent(carrier?.traceparent);
  if (traceparent === undefined) return data;
  return { ...data, trace: carrier?.tracestate === undefined ? { traceparent } : { traceparent, tracestate: carrier.tracestate } };
}

/** The trace context a job's payload carries (`injectTraceCarrier`'s `trace`), if valid: pass it to `runtime.start(..., { trace })`. */
export function extractTraceCarrier(data: unknown): TraceCarrier | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const trace = (data as { trace?: unknown }).trace;
  if (typeof trace !== 'object' || trace === null) return undefined;
  const { traceparent, tracestate } = trace as { traceparent?: unknown; tracestate?: unknown };
  const valid = validTraceparent(typeof traceparent === 'string' ? traceparent : undefined);
  if (valid === undefined) return undefined;
  return typeof tracestate === 'string' ? { traceparent: valid, tracestate } : { traceparent: valid };
}

/** At most this many `trace.*` context entries become attributes (Cog 0.23's limits, all four). */
const MAX_CALLER_TAGS = 16;
const MAX_SUFFIX_BYTES = 64;
const MAX_VALUE_BYTES = 128;
const MAX_TOTAL_BYTES = 4096;

/** `value` cut to at most `bytes` UTF-8 bytes, at a character boundary. */
function truncateUtf8(value: string, bytes: number): string {
  if (Buffer.byteLength(value) <= bytes) return value;
  let out = '';
  let used = 0;
  for (const char of value) {
    const size = Buffer.byteLength(char);
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
}

/**
 * A prediction's `context` entries whose keys start `trace.`, as `caller.*` span attributes:
 * at most 16, suffixes of letters, digits, `.`, `_`, `-` up to 64 bytes, values cut to 128
 * bytes, 4 KiB in all; the rest are left out.
 */
export function callerAttributes(context: Readonly<Record<string, string>>): Record<string, string> {
  const attributes: Record<string, string> = {};
  let count = 0;
  let total = 0;
  for (const [key, value] of Object.entries(context)) {
    if (count === MAX_CALLER_TAGS) break;
    if (!key.startsWith('trace.') || typeof value !== 'string') continue;
    const suffix = key.slice('trace.'.length);
    if (suffix === '' || Buffer.byteLength(suffix) > MAX_SUFFIX_BYTES || !/^[A-Za-z0-9._-]+$/.test(suffix)) continue;
    const name = `caller.${suffix}`;
    const shown = truncateUtf8(value, MAX_VALUE_BYTES);
    const size = Buffer.byteLength(name) + Buffer.byteLength(shown);
    if (total + size > MAX_TOTAL_BYTES) break;
    attributes[name] = shown;
    total += size;
    count += 1;
  }
  return attributes;
}
