// `cog-node serve`: its flags (Cog's `--await-explicit-shutdown true` form included), handed to
// serveFromConfig. The server itself is server/serve.ts's.
import { serveFromConfig } from '../server/serve.js';
import { parse, portOption } from './args.js';

export const serveHelp = `Usage: cog-node serve [--host HOST] [--port PORT] [--upload-url URL] [--await-explicit-shutdown]

Serves Cog's HTTP prediction API for the predictor (and trainer) named in ./cog.yaml.
The predictor runs in a worker thread, so the server answers while it computes.

Options:
  --host HOST                 Address to listen on (default 0.0.0.0)
  --port PORT                 Port (default: $PORT, else 5000)
  --upload-url URL            PUT output files to URL/<name> and return their URLs
  --await-explicit-shutdown   Ignore SIGTERM; stop only on POST /shutdown or SIGINT
                              (either way predictions in flight finish first, for at
                              most COG_SHUTDOWN_TIMEOUT seconds, default 30)
                              (Cog's form "--await-explicit-shutdown true" works too)
  --in-process                Run the predictor in the server's thread (no worker)
  -h, --help                  Show this help.

Environment: PORT, COG_MAX_CONCURRENCY, COG_SETUP_TIMEOUT, COG_WEIGHTS, COG_THROTTLE_RESPONSE_INTERVAL,
COG_STREAM_HISTORY_CAPACITY, COG_CANCEL_GRACE_PERIOD, COG_SHUTDOWN_TIMEOUT, COG_CORS_ORIGINS,
WEBHOOK_AUTH_TOKEN, COG_USER_AGENT.`;

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

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(normalize(args), {
    host: { type: 'string' },
    port: { type: 'string' },
    'upload-url': { type: 'string' },
    'await-explicit-shutdown': { type: 'boolean' },
    'in-process': { type: 'boolean' },
  });
  if (values.help) {
    console.log(serveHelp);
    return 0;
  }
  const port = portOption(values.port);
  const server = await serveFromConfig({
    host: values.host,
    port,
    uploadUrl: values['upload-url'],
    awaitExplicitShutdown: values['await-explicit-shutdown'] ?? false,
    inProcess: values['in-process'] ?? false,
  });
  await server.closed;
  return 0;
}
