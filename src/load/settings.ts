// Every environment variable cog-node itself reads: one row each (name, default, parser, meaning),
// read once at an entry point (after cog.yaml's `environment:` is applied) into a frozen `Settings`.
// Nothing else reads `process.env`; code reached from deep inside asks `currentSettings()`.
import { COG_NODE_VERSION } from '../version.js';
import { DEFAULT_QUEUE_NAME } from '../fleet/protocol.js';

interface Row<T> {
  /** The environment variable. */
  name: string;
  /** The default, in words, as the README's table shows it. */
  default: string;
  /** What it does, in one line. */
  meaning: string;
  /** The raw value (undefined: unset) to the setting; a value it cannot read gets the default. */
  parse: (raw: string | undefined) => T;
}

const row = <T>(name: string, defaultText: string, meaning: string, parse: (raw: string | undefined) => T): Row<T> => ({
  name,
  default: defaultText,
  meaning,
  parse,
});

/** A number of seconds >= 0 (> 0 when `positive`), else `fallback`. */
const seconds =
  (fallback: number, positive = false) =>
  (raw: string | undefined) => {
    const value = Number.parseFloat(raw ?? '');
    return Number.isFinite(value) && (positive ? value > 0 : value >= 0) ? value : fallback;
  };

/** A whole number >= 1, else undefined (unset). */
function positiveInteger(raw: string | undefined): number | undefined {
  const value = Number(raw ?? '');
  return raw !== undefined && raw.trim() !== '' && Number.isInteger(value) && value >= 1 ? value : undefined;
}

/** `https://Example.com:443/` and `https://example.com` are one origin, as browsers send it. */
function corsOrigins(raw: string | undefined): '*' | ReadonlySet<string> {
  const value = (raw ?? '').trim();
  if (value === '*') return '*';
  const origins = new Set<string>();
  for (const entry of value.split(',')) {
    const origin = entry.trim();
    if (origin === '') continue;
    try {
      origins.add(new URL(origin).origin);
    } catch {
      origins.add(origin);
    }
  }
  return origins;
}

/** The table: a key of `Settings` to its variable. */
export const settingRows = {
  maxConcurrency: row(
    'COG_MAX_CONCURRENCY',
    "cog.yaml, then the predictor's `static concurrency`, then 1",
    'Predictions in flight at once (needs an async predict); an invalid value counts as 1, as in Cog',
    (raw): number | undefined => {
      if (raw === undefined || raw === '') return undefined;
      const value = Number.parseInt(raw, 10);
      return Number.isInteger(value) && value > 0 ? value : 1;
    },
  ),
  instances: row(
    'COG_INSTANCES',
    'cog.yaml, then 1',
    'Model instances: worker threads, each running its own `setup()`',
    (raw): number | undefined => positiveInteger(raw),
  ),
  queueMax: row(
    'COG_QUEUE_MAX',
    'cog.yaml, then 0',
    'Predictions that may wait for a slot (first in, first out); 0: answer 409 at capacity, as Cog does',
    (raw): number | undefined => {
      if (raw === undefined || raw.trim() === '') return undefined;
      const value = Number(raw);
      return Number.isInteger(value) && value >= 0 ? value : undefined;
    },
  ),
  predictTimeout: row(
    'COG_PREDICT_TIMEOUT',
    'cog.yaml, then no limit',
    "Seconds from a prediction's creation (waiting and running) after which it is cancelled and fails",
    (raw): number | undefined => {
      const value = Number.parseFloat(raw ?? '');
      return Number.isFinite(value) && value > 0 ? value : undefined;
    },
  ),
  predictionRetention: row('COG_PREDICTION_RETENTION', '1000', 'Finished predictions kept for `GET /predictions/{id}`; 0: none', (raw) => {
    const value = Number(raw ?? '');
    return raw !== undefined && raw.trim() !== '' && Number.isInteger(value) && value >= 0 ? value : 1000;
  }),
  predictionRetentionSeconds: row(
    'COG_PREDICTION_RETENTION_SECONDS',
    '600',
    'Seconds a finished prediction is kept for `GET /predictions/{id}`',
    seconds(600),
  ),
  setupTimeout: row('COG_SETUP_TIMEOUT', 'no limit', 'Seconds `setup()` may take before setup fails; 0: no limit', seconds(0, true)),
  weights: row('COG_WEIGHTS', 'unset', 'Passed to `setup(weights)`', (raw): string | undefined => raw),
  cancelGracePeriod: row(
    'COG_CANCEL_GRACE_PERIOD',
    '30',
    'Seconds a cancelled prediction may run on before its worker is replaced',
    seconds(30),
  ),
  // No fixed default: one too low breaks a predictor that needs the heap, one above V8's on a small
  // host lets the kernel's OOM killer take the whole server instead of the worker (V8 gives 4144 MB
  // on a 23 GB host). Time for a runaway heap to fail, measured (an array grown forever): 64 MB
  // 0.4 s, 256 MB 4.3 s, 1024 MB 17.9 s, 2048 MB 43.2 s. Buffers, typed arrays and native (torch)
  // memory live outside this heap and are not limited by it.
  workerMaxHeapMb: row(
    'COG_WORKER_MAX_HEAP_MB',
    "V8's own",
    "The worker thread's JS heap limit in MB; 0 or unset: V8's own, sized from the machine's memory",
    (raw) => {
      const value = Number.parseInt(raw ?? '', 10);
      return Number.isInteger(value) && value > 0 ? value : 0;
    },
  ),
  streamHistoryCapacity: row('COG_STREAM_HISTORY_CAPACITY', '1024', 'Events of a prediction kept for a reconnecting SSE client', (raw) => {
    const value = Number.parseInt(raw ?? '', 10);
    return Number.isInteger(value) && value >= 0 ? value : 1024;
  }),
  port: row('PORT', '5000', 'The port `cog-node serve` listens on', (raw) => {
    const value = Number.parseInt(raw ?? '', 10);
    return Number.isInteger(value) && value >= 0 && value < 65536 ? value : 5000;
  }),
  /** Milliseconds. */
  throttleInterval: row(
    'COG_THROTTLE_RESPONSE_INTERVAL',
    '0.5',
    'Least seconds between two `start`/`logs` webhooks of a prediction (`output` and `completed` are never held back)',
    (raw) => seconds(0.5)(raw) * 1000,
  ),
  webhookAuthToken: row(
    'WEBHOOK_AUTH_TOKEN',
    'unset',
    'Sent as `Authorization: Bearer <token>` with every webhook',
    (raw): string | undefined => (raw === '' ? undefined : raw),
  ),
  userAgent: row(
    'COG_USER_AGENT',
    '`cog-node/<version>`',
    'The User-Agent of downloads, uploads and webhooks',
    (raw) => raw ?? `cog-node/${COG_NODE_VERSION}`,
  ),
  /** Milliseconds. */
  shutdownTimeout: row(
    'COG_SHUTDOWN_TIMEOUT',
    '30',
    'Seconds a graceful stop waits for predictions in flight before cancelling them',
    (raw) => seconds(30)(raw) * 1000,
  ),
  redisUrl: row(
    'COG_REDIS_URL',
    'unset',
    'The Redis of a fleet: where `cog-node worker` and `PredictionQueue` find the queue (`--redis` wins)',
    (raw): string | undefined => (raw === undefined || raw.trim() === '' ? undefined : raw.trim()),
  ),
  queueName: row('COG_QUEUE_NAME', '`cog-predictions`', 'The BullMQ queue of a fleet (`--queue` wins)', (raw) =>
    raw === undefined || raw.trim() === '' ? DEFAULT_QUEUE_NAME : raw.trim(),
  ),
  /** Milliseconds. */
  queueLockDuration: row(
    'COG_QUEUE_LOCK_DURATION',
    '30',
    "Seconds a worker's hold on a job lasts unless renewed: a worker that dies leaves its job to another after about this long",
    (raw) => seconds(30, true)(raw) * 1000,
  ),
  corsOrigins: row('COG_CORS_ORIGINS', 'none', 'Origins whose browser pages may call the server: a comma list, or `*`', corsOrigins),
  downloadStallTimeout: row(
    'COG_DOWNLOAD_STALL_TIMEOUT',
    '60',
    'Seconds a download of an input file may wait for its headers or its next byte',
    seconds(60, true),
  ),
  maxDownloadBytes: row('COG_MAX_DOWNLOAD_BYTES', 'no limit', 'The largest input file downloaded, in bytes', (raw): number | undefined => {
    const value = Number(raw ?? '');
    return Number.isFinite(value) && value > 0 ? value : undefined;
  }),
  denyPrivateNetwork: row(
    'COG_DENY_PRIVATE_NETWORK',
    'off',
    '`1` (or `true`, `yes`): downloads, uploads and webhooks may reach public addresses only',
    (raw) => /^(1|true|yes)$/i.test(raw ?? ''),
  ),
  playground: row(
    'COG_NODE_PLAYGROUND',
    'on',
    '`0` (or `false`, `no`, `off`) leaves out the `/playground` page',
    (raw) => !/^(0|false|no|off)$/i.test(raw?.trim() ?? ''),
  ),
  kubernetes: row(
    'KUBERNETES_SERVICE_HOST',
    'unset',
    'Set (by Kubernetes): `/var/run/cog/ready` is written once the predictor is ready',
    (raw) => raw !== undefined,
  ),
  traceEnabled: row(
    'COG_TRACE_ENABLED',
    'cog.yaml `observability.traces`',
    '`false` (or `0`, `no`, `off`) switches tracing off whatever cog.yaml says; `true` switches it on',
    (raw): boolean | undefined =>
      /^(0|false|no|off)$/i.test(raw?.trim() ?? '') ? false : /^(1|true|yes|on)$/i.test(raw?.trim() ?? '') ? true : undefined,
  ),
  otelSdkDisabled: row('OTEL_SDK_DISABLED', 'false', "`true`: no tracing (OpenTelemetry's switch)", (raw) =>
    /^true$/i.test(raw?.trim() ?? ''),
  ),
  otelTracesExporter: row(
    'OTEL_TRACES_EXPORTER',
    '`otlp`',
    '`none`: no tracing; `otlp`: OTLP/HTTP (JSON), the one exporter cog-node ships',
    (raw) => (raw?.trim() || 'otlp').toLowerCase(),
  ),
  otlpEndpoint: row(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'unset',
    'The OTLP/HTTP collector, as a base URL (`/v1/traces` is added); tracing needs it or the next row',
    (raw): string | undefined => raw?.trim() || undefined,
  ),
  otlpTracesEndpoint: row(
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'unset',
    'The full URL spans are POSTed to (wins over `OTEL_EXPORTER_OTLP_ENDPOINT`)',
    (raw): string | undefined => raw?.trim() || undefined,
  ),
  otlpHeaders: row(
    'OTEL_EXPORTER_OTLP_HEADERS',
    'none',
    'Headers sent to the collector: `key=value,key2=value2` (values URL-encoded)',
    (raw): Readonly<Record<string, string>> => {
      const headers: Record<string, string> = {};
      for (const pair of (raw ?? '').split(',')) {
        const eq = pair.indexOf('=');
        if (eq <= 0) continue;
        try {
          headers[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim());
        } catch {
          // a malformed escape: the pair is left out
        }
      }
      return headers;
    },
  ),
  otelTracesSampler: row(
    'OTEL_TRACES_SAMPLER',
    'cog.yaml, then `parentbased_always_off`',
    'Which traces are recorded: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`',
    (raw): string | undefined => raw?.trim().toLowerCase() || undefined,
  ),
  otelTracesSamplerArg: row(
    'OTEL_TRACES_SAMPLER_ARG',
    'cog.yaml',
    'The ratio (0 to 1) of the `*traceidratio` samplers',
    (raw): string | undefined => raw?.trim() || undefined,
  ),
  otelServiceName: row('OTEL_SERVICE_NAME', '`cog`', "The traces' `service.name`", (raw) => raw?.trim() || 'cog'),
  dumbTerminal: row('TERM', "the terminal's", '`dumb`: `cog-node predict` draws no progress line', (raw) => raw === 'dumb'),
} satisfies Record<string, Row<unknown>>;

type Rows = typeof settingRows;

/** cog-node's settings, as the environment gave them. */
export type Settings = { readonly [K in keyof Rows]: ReturnType<Rows[K]['parse']> };

let current: Settings | undefined;

/** Reads every row from `env`; the result becomes the current settings. Entry points call it once. */
export function readSettings(env: Readonly<Record<string, string | undefined>> = process.env): Settings {
  const settings = Object.fromEntries(Object.entries(settingRows).map(([key, { name, parse }]) => [key, parse(env[name])])) as Settings;
  current = Object.freeze(settings);
  return current;
}

/** The settings the last entry point read (read now if none has): for code reached from deep inside. */
export function currentSettings(): Settings {
  return current ?? readSettings();
}

/** This thread's environment as plain pairs: what a Worker made now would be given (prelaunch.ts). */
export function environmentNow(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((pair): pair is [string, string] => pair[1] !== undefined));
}

/** Makes this thread's environment exactly `env`: a worker made before it was known (thread.ts). */
export function adoptEnvironment(env: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(process.env)) if (!Object.hasOwn(env, name)) delete process.env[name];
  Object.assign(process.env, env);
}

/**
 * Applies cog.yaml's `environment:` under the real environment, which wins (cog.yaml's
 * environment is the image's ENV in Cog; `docker run -e` overrides it).
 */
export function applyEnvironment(environment: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(environment)) process.env[name] ??= value;
}

/** Sets variables over the real environment (`cog-node predict -e NAME=value`): these win. */
export function setEnvironment(environment: Readonly<Record<string, string>>): void {
  Object.assign(process.env, environment);
}
