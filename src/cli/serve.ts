// `cog-node serve`: its flags (Cog's `--await-explicit-shutdown true` form included), handed to
// serveFromConfig. The server itself is server/serve.ts's.
import { UsageError } from '../errors.js';
import { resolvePlan } from '../load/plan.js';
import { discardParkedWorker, tellParkedWorker } from '../runtime/worker/prelaunch.js';
import { checkFleetOptions, parse, portOption } from './args.js';

export const serveHelp = `Usage: cog-node serve [--host HOST] [--port PORT] [--upload-url URL] [--await-explicit-shutdown]
       cog-node serve --redis URL [--queue NAME] [--host HOST] [--port PORT]

Serves Cog's HTTP prediction API for the predictor (and trainer) named in ./cog.yaml.
The predictor runs in a worker thread, so the server answers while it computes.
With --redis (or COG_REDIS_URL) it is a fleet's gateway instead: the same API in front of
the queue that \`cog-node worker\` processes drain; it loads the predictor's declaration
(schema, validation) but never runs setup() or predict(). Trainings are not served there.

Options:
  --host HOST                 Address to listen on (default 0.0.0.0)
  --port PORT                 Port (default: $PORT, else 5000)
  --upload-url URL            PUT output files to URL/<name> and return their URLs
  --await-explicit-shutdown   Ignore SIGTERM; stop only on POST /shutdown or SIGINT
                              (either way predictions in flight finish first, for at
                              most COG_SHUTDOWN_TIMEOUT seconds, default 30)
                              (Cog's form "--await-explicit-shutdown true" works too)
  --in-process                Run the predictor in the server's thread (no worker)
  --redis URL                 Be the gateway of the fleet on this Redis (redis://host:6379)
  --queue NAME                The fleet's queue (default: $COG_QUEUE_NAME, else cog-predictions)
  -h, --help                  Show this help.

Environment: PORT, COG_MAX_CONCURRENCY, COG_SETUP_TIMEOUT, COG_WEIGHTS, COG_THROTTLE_RESPONSE_INTERVAL,
COG_STREAM_HISTORY_CAPACITY, COG_CANCEL_GRACE_PERIOD, COG_SHUTDOWN_TIMEOUT, COG_CORS_ORIGINS,
WEBHOOK_AUTH_TOKEN, COG_USER_AGENT, COG_REDIS_URL, COG_QUEUE_NAME.`;

/** Cog passes `--await-explicit-shutdown true`; a flag with a value is not a flag to parseArgs. */
function normalize(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === '--await-explicit-shutdown' && (args[i + 1] === 'true' || args[i + 1] === 'false')) {
      if (args[i + 1] === 'true') out.push(arg);
      i += 1;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Tells the worker main.ts started (serve-first.ts) what the server's first runtime will load:
 * cog.yaml's predictor (instance 0 of `instances`), else its trainer. It then loads while this
 * thread imports the server: spawn → READY of the echo predictor went from 337 ms (the server's
 * imports, then the worker's start) to 281 ms in one quiet benches/startup run (coglet: 292).
 * A wrong guess is not adopted.
 */
function tellEarlyWorker(): void {
  let plan: ReturnType<typeof resolvePlan<never>>;
  try {
    plan = resolvePlan<never>(process.cwd());
  } catch {
    return; // A broken cog.yaml is the server's to report, as before.
  }
  if (plan.settings.redisUrl !== undefined) return;
  const count = Math.max(1, plan.runtime.instances);
  const [ref, kind] = typeof plan.predict === 'string' ? [plan.predict, 'predict' as const] : [plan.train, 'train' as const];
  if (typeof ref !== 'string') return;
  const instance = kind === 'predict' && count > 1 ? { index: 0, count } : undefined;
  tellParkedWorker({ ref, cwd: plan.cwd, kind, echoLogs: false, ...(instance && { instance }) }, plan.runtime.workerMaxHeapMb);
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(normalize(args), {
    host: { type: 'string' },
    port: { type: 'string' },
    'upload-url': { type: 'string' },
    'await-explicit-shutdown': { type: 'boolean' },
    'in-process': { type: 'boolean' },
    redis: { type: 'string' },
    queue: { type: 'string' },
  });
  if (values.help) {
    console.log(serveHelp);
    return 0;
  }
  const port = portOption(values.port);
  checkFleetOptions(values);
  if (values.redis !== undefined && (values['upload-url'] !== undefined || values['in-process']))
    throw new UsageError("--upload-url and --in-process are the workers' flags: a gateway (--redis) runs no predictor");
  if (!values['in-process'] && values.redis === undefined) tellEarlyWorker();
  const { serveFromConfig } = await import('../server/serve.js');
  const server = await serveFromConfig({
    host: values.host,
    port,
    uploadUrl: values['upload-url'],
    awaitExplicitShutdown: values['await-explicit-shutdown'] ?? false,
    inProcess: values['in-process'] ?? false,
    redis: values.redis,
    queue: values.queue,
  });
  // Loaded means adopted: a worker still parked is one the server did not use.
  void server.ready.then(discardParkedWorker);
  await server.closed;
  return 0;
}
