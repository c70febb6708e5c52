// Imported by main.ts before the addon and every command: `cog-node serve` starts its predictor's
// worker here, so that the worker boots while this thread loads the rest (runtime/worker/prelaunch.ts).
import { readSettings } from '../load/settings.js';

const [command, ...args] = process.argv.slice(2);
// No predictor runs in a worker with these (a gateway, in-process); help runs none at all. A guess
// that turns out wrong (COG_REDIS_URL in cog.yaml) costs one idle worker, ended once serving.
const runsNone = args.some((arg) => arg === '-h' || arg === '--help' || arg === '--in-process' || arg.startsWith('--redis'));
// Imported only here: the other commands load no worker_threads.
if (command === 'serve' && !runsNone && readSettings().redisUrl === undefined)
  (await import('../runtime/worker/prelaunch.js')).prelaunchWorker();
