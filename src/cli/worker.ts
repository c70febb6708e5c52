// `cog-node worker`: its flags, and the process around the fleet worker (signals, exit status, errors
// that escape user code). The worker itself is src/fleet/worker.ts's.
import { FleetWorker } from '../fleet/worker.js';
import { errorMessage } from '../runtime/executor.js';
import { serverLog } from '../server/server-log.js';
import { checkFleetOptions, parse, portOption } from './args.js';

export const workerHelp = `Usage: cog-node worker [--redis URL] [--queue NAME] [--port PORT] [--upload-url URL]

Runs the predictor named in ./cog.yaml and takes its predictions from a BullMQ queue on Redis
(as many at once as its concurrency allows). Start as many workers as you like on one queue.

Options:
  --redis URL        Redis to take jobs from (default: $COG_REDIS_URL), e.g. redis://127.0.0.1:6379
  --queue NAME       The queue (default: $COG_QUEUE_NAME, else cog-predictions)
  --port PORT        Serve /health-check, the probes and /metrics here (0 picks one); default: none
  --host HOST        Address --port listens on (default 0.0.0.0)
  --upload-url URL   PUT output files to URL/<name> and return their URLs (default: data URIs)
  -h, --help         Show this help.

SIGTERM or SIGINT: takes no more jobs, lets running predictions finish for COG_CANCEL_GRACE_PERIOD
seconds (30), then hands the rest back to the queue and exits 0.

Environment: COG_REDIS_URL, COG_QUEUE_NAME, COG_QUEUE_LOCK_DURATION, COG_MAX_CONCURRENCY,
COG_SETUP_TIMEOUT, COG_WEIGHTS, COG_CANCEL_GRACE_PERIOD, COG_THROTTLE_RESPONSE_INTERVAL,
WEBHOOK_AUTH_TOKEN, COG_USER_AGENT.`;

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    redis: { type: 'string' },
    queue: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'upload-url': { type: 'string' },
  });
  if (values.help) {
    console.log(workerHelp);
    return 0;
  }
  const port = portOption(values.port);
  checkFleetOptions(values);
  let worker: FleetWorker | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      serverLog(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    serverLog(`shutting down (${signal})`);
    void (worker?.stop() ?? Promise.resolve()).then(() => {
      serverLog('stopped');
      process.exit(0);
    });
  };
  const onCrash = (error: unknown) => {
    const runtime = worker?.service.runtime('predict');
    if (runtime?.failEscaped(error)) return;
    worker?.service.markDefunct(error instanceof Error ? (error.stack ?? error.message) : errorMessage(error));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  worker = await FleetWorker.start({ redis: values.redis, queue: values.queue, port, host: values.host, uploadUrl: values['upload-url'] });
  await worker.closed;
  return 0;
}
