// `cog-node serve` for ./echo-node, from the built package (dist/), as an installed cog-node runs
// (BENCH_IN_PROCESS=1: `cog-node serve --in-process`).
import { serveFromConfig } from 'cog-node';

await serveFromConfig({
  cwd: new URL('./echo-node', import.meta.url).pathname,
  host: '127.0.0.1',
  inProcess: process.env.BENCH_IN_PROCESS === '1',
});
