// Cancellation latency, side by side in one run: from the cancel request being sent to the
// terminal status `canceled` arriving, for
//   - cog-node's server (`cog-node serve`, predictor in a worker thread) with an async predictor
//     awaiting a timer on `this.scope.signal`, and with a sync busy loop polling the scope,
//   - cog-node embedded in this process: `predict(input, { signal })`, then `abort()`,
//   - Cog's own server (coglet from PyPI) with an async predictor (`asyncio.sleep`) and a sync
//     one (a `time.sleep(0.001)` loop).
// Over HTTP the prediction is a sync `POST /predictions` with an id; the clock starts when
// `POST /predictions/{id}/cancel` is sent and stops when the original POST's response (status
// `canceled`, or whatever terminal status came: counted separately) has arrived. Each predictor touches a file once `predict()` runs, and the cancel
// is sent only then, so every sample cancels a running prediction. Contenders are interleaved,
// one cancellation each in turn.
//
// Run: node --import tsx benches/cancel/run.ts   (BENCH_CANCELS, default 200)
import http from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadPredictor } from 'cog-node';
import {
  buildDist,
  COG_VERSION,
  ensureCog,
  fmt,
  loadAverage,
  median,
  percentile,
  saveResults,
  startCogNode,
  startCoglet,
  type Server,
} from '../harness.js';
import { Predictor as AsyncPredictor } from './node-async/predict.js';

const here = import.meta.dirname;
const CANCELS = Number(process.env.BENCH_CANCELS ?? 200);
const TARGET_P99_MS = 20;
const markers = mkdtempSync(join(tmpdir(), 'cog-node-cancel-bench-'));
const agent = new http.Agent({ keepAlive: true });

interface Sample {
  /** Cancel request sent → terminal status received (ms). */
  canceled: number;
  /** The terminal status: `canceled`, or what went wrong instead (kept, counted, reported). */
  status: string;
  /** Cancel request sent → its own `200 {}` received (ms). */
  acknowledged?: number;
}

interface Contender {
  name: string;
  how: string;
  cancelOnce(index: number): Promise<Sample>;
  close(): void | Promise<void>;
}

function request(url: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function started(file: string, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${what}: predict() did not start within 30 s`);
    await sleep(1);
  }
}

/** One sync prediction over HTTP, cancelled once running. */
async function cancelOverHttp(server: Server, name: string, index: number): Promise<Sample> {
  const id = `bench-${name.replace(/\W+/g, '-')}-${index}`;
  const file = join(markers, id);
  const prediction = request(`${server.url}/predictions`, { id, input: { started_file: file } });
  await started(file, server.name);
  const sent = performance.now();
  let acknowledged: number | undefined;
  const cancel = request(`${server.url}/predictions/${id}/cancel`, {}).then((answer) => {
    acknowledged = performance.now() - sent;
    if (answer.status !== 200) throw new Error(`${server.name}: cancel answered ${answer.status} ${answer.body}`);
  });
  const answer = await prediction;
  const canceled = performance.now() - sent;
  await cancel;
  const body = JSON.parse(answer.body) as { status?: string; error?: string };
  const status = body.status === 'canceled' ? 'canceled' : `${body.status}: ${body.error ?? ''}`;
  return { canceled, acknowledged, status };
}

function overHttp(name: string, how: string, server: Server): Contender {
  return { name, how, cancelOnce: (index) => cancelOverHttp(server, name, index), close: server.stop };
}

async function contenders(): Promise<Contender[]> {
  const embedded = await loadPredictor(AsyncPredictor);
  const list: Contender[] = [
    overHttp(
      'cog-node serve, async (await on scope.signal)',
      'HTTP',
      await startCogNode(join(here, 'node-async'), { name: 'cog-node async' }),
    ),
    overHttp(
      'cog-node serve, sync busy loop (polls scope.canceled)',
      'HTTP',
      await startCogNode(join(here, 'node-sync'), { name: 'cog-node sync' }),
    ),
    {
      name: 'cog-node embedded, async, predict({ signal }) + abort()',
      how: 'in-process',
      cancelOnce: async (index) => {
        const file = join(markers, `embedded-${index}`);
        const controller = new AbortController();
        const done = embedded.predict({ started_file: file }, { signal: controller.signal });
        await started(file, 'embedded');
        const sent = performance.now();
        controller.abort();
        const response = await done;
        const canceled = performance.now() - sent;
        return { canceled, status: response.status === 'canceled' ? 'canceled' : `${response.status}: ${response.error ?? ''}` };
      },
      close: () => embedded.runtime.close(),
    },
    overHttp(
      `coglet ${COG_VERSION}, async (asyncio.sleep)`,
      'HTTP',
      await startCoglet(join(here, 'python-async'), { name: 'coglet async' }),
    ),
    overHttp(
      `coglet ${COG_VERSION}, sync (time.sleep(0.001) loop)`,
      'HTTP',
      await startCoglet(join(here, 'python-sync'), { name: 'coglet sync' }),
    ),
  ];
  return list;
}

ensureCog();
buildDist();
const loadBefore = loadAverage();
const list = await contenders();
const samples = list.map((): Sample[] => []);
const startedAt = performance.now();
try {
  for (const contender of list) await contender.cancelOnce(-1); // warm-up
  for (let index = 0; index < CANCELS; index++) {
    for (const [which, contender] of list.entries()) samples[which]!.push(await contender.cancelOnce(index));
    if ((index + 1) % 50 === 0) console.error(`${index + 1}/${CANCELS} cancellations each`);
  }
} finally {
  for (const contender of list) await contender.close();
  agent.destroy();
  rmSync(markers, { recursive: true, force: true });
}
const seconds = (performance.now() - startedAt) / 1000;

const results = list.map((contender, which) => {
  const mine = samples[which]!;
  const canceled = mine.map((sample) => sample.canceled);
  const acknowledged = mine.filter((sample) => sample.acknowledged !== undefined).map((sample) => sample.acknowledged!);
  return {
    name: contender.name,
    how: contender.how,
    n: mine.length,
    p50: median(canceled),
    p99: percentile(canceled, 99),
    max: Math.max(...canceled),
    ackP50: acknowledged.length > 0 ? median(acknowledged) : undefined,
    notCanceled: mine.filter((sample) => sample.status !== 'canceled').map((sample) => sample.status),
    slow: canceled.filter((ms) => ms > 1000).length,
  };
});
const coglet = results[3]!;
const lines = [
  `Cancel sent → \`canceled\` received, ${CANCELS} cancellations each, interleaved (node ${process.version}, ${fmt(seconds, 0)} s); load average ${loadBefore} before, ${loadAverage()} after`,
  '',
  '| predictor | path | p50 (ms) | p99 (ms) | max (ms) | cancel → 200 p50 (ms) | not `canceled` | p50 ÷ coglet async | p99 ÷ coglet async |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.how} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.max, 2)} | ${r.ackP50 === undefined ? '—' : fmt(r.ackP50, 2)} | ${r.notCanceled.length} | ${(r.p50 / coglet.p50).toFixed(2)}× | ${(r.p99 / coglet.p99).toFixed(2)}× |`,
  ),
  '',
  `Target p99 ≤ ${TARGET_P99_MS} ms (cog-node): ${results
    .slice(0, 3)
    .map(
      (r) =>
        `${r.p99 <= TARGET_P99_MS ? 'met' : 'NOT met'} for ${r.name.split(',')[0]}, ${r.name.split(',')[1]!.trim()} (${fmt(r.p99, 2)} ms)`,
    )
    .join('; ')}.`,
  ...results
    .filter((r) => r.notCanceled.length > 0)
    .map(
      (r) =>
        `${r.name}: ${r.notCanceled.length} of ${r.n} ended otherwise, e.g. ${JSON.stringify(r.notCanceled[0])} (latency to that terminal status is in the figures).`,
    ),
  ...results
    .filter((r) => r.slow > 0)
    .map((r) => `${r.name}: ${r.slow} of ${r.n} took over 1 s (the predictor ran on; each predictor gives up after 30 s).`),
];
console.log(lines.join('\n'));
saveResults(here, {
  loadavg: [loadBefore, loadAverage()],
  cancels: CANCELS,
  results,
  samples: list.map((c, i) => ({ name: c.name, canceled: samples[i]!.map((s) => +s.canceled.toFixed(3)) })),
});
