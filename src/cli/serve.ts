import { parse } from './args.js';

export const serveHelp = `Usage: cog-node serve [--host HOST] [--port PORT] [--upload-url URL] [--await-explicit-shutdown]

Serves Cog's HTTP prediction API for the predictor named in ./cog.yaml.

Options:
  --host HOST                 Address to listen on (default 0.0.0.0)
  --port PORT                 Port (default: $PORT, else 5000)
  --upload-url URL            PUT output files to URL/<name> and return their URLs
  --await-explicit-shutdown   Ignore SIGTERM; stop only on POST /shutdown or SIGINT
  -h, --help                  Show this help.`;

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    host: { type: 'string' },
    port: { type: 'string' },
    'upload-url': { type: 'string' },
    'await-explicit-shutdown': { type: 'string' },
  });
  if (values.help) {
    console.log(serveHelp);
    return 0;
  }
  process.stderr.write('cog-node serve: the HTTP server is not available in this build yet\n');
  return 1;
}
