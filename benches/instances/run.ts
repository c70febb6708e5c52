// Model instances: a sync predictor that busy-loops 20 ms per prediction, served by `cog-node
// serve` with `instances: 1` (max 1) and `instances: 2` (max 2), side by side in one run on this
// machine; predictions/s from closed-loop clients (each sends its next sync `POST /predictions`
// when the last one is answered) at c = max and, with a queue (COG_QUEUE_MAX; needs the admission
// queue), at c=2 and c=4. Counts 2xx answers only; a 409/429 is counted apart.
//
// Run: node --import tsx benches/instances/run.ts   (BENCH_SECONDS per point, default 6; BENCH_ROUNDS, 2)
import http from 'node:http';
import { join } from 'node:path';
import { buildDist, fmt, loadAverage, median, percentile, saveResults, startCogNode, type Server } from '../harness.js';

const here = import.meta.dirname;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** Set (e.g. 64) to measure c above max through the queue; unset: c = max only (409s otherwise). */
const QUEUE = process.env.BENCH_QUEUE_MAX;

function post(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${url}/predictions`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end('{"input":{}}');
  });
}

interface Point {
  ok: number;
  refused: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function load(server: Server, clients: number): Promise<Point> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let refused = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const sent = performance.now();
        const status = await post(agent, server.url);
        if (status >= 200 && status < 300) latencies.push(performance.now() - sent);
        else refused += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return { ok: latencies.length, refused, perSecond: latencies.length / elapsed, p50: median(latencies), p99: percentile(latencies, 99) };
}

const contenders = [
  { name: 'instances 1, max 1', instances: 1, clients: QUEUE ? [1, 2, 4] : [1] },
  { name: 'instances 2, max 2', instances: 2, clients: QUEUE ? [2, 4] : [2] },
];

buildDist();
console.error(`load average before: ${loadAverage()}`);
const results: Record<string, Record<string, Point>> = {};
for (const contender of contenders) {
  const env: Record<string, string> = { COG_INSTANCES: String(contender.instances), COG_MAX_CONCURRENCY: String(contender.instances) };
  if (QUEUE) env.COG_QUEUE_MAX = QUEUE;
  const server = await startCogNode(join(here, 'busy20'), { env, name: contender.name });
  try {
    await load(server, contender.clients[0]!); // warm-up (tsx compile, JIT)
    for (const clients of contender.clients) {
      let best: Point | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const point = await load(server, clients);
        if (best === undefined || point.perSecond > best.perSecond) best = point;
      }
      (results[contender.name] ??= {})[`c=${clients}`] = best!;
      console.error(
        `${contender.name} c=${clients}: ${fmt(best!.perSecond, 1)} predictions/s, p50 ${fmt(best!.p50, 1)} ms, p99 ${fmt(best!.p99, 1)} ms, refused ${best!.refused}`,
      );
    }
  } finally {
    server.stop();
  }
}
const load2 = loadAverage();

console.log('| server | c | predictions/s | p50 (ms) | p99 (ms) | refused |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const [name, points] of Object.entries(results)) {
  for (const [c, point] of Object.entries(points)) {
    console.log(
      `| ${name} | ${c.slice(2)} | ${fmt(point.perSecond, 1)} | ${fmt(point.p50, 1)} | ${fmt(point.p99, 1)} | ${point.refused} |`,
    );
  }
}
const one = results['instances 1, max 1']!;
const two = results['instances 2, max 2']!;
const ratio = (a: Point | undefined, b: Point | undefined) => (a && b ? a.perSecond / b.perSecond : Number.NaN);
console.log(
  `\ninstances 2 ÷ instances 1: c=max ${fmt(ratio(two['c=2'], one['c=1']), 2)}×` +
    (QUEUE ? `, c=2 ${fmt(ratio(two['c=2'], one['c=2']), 2)}×, c=4 ${fmt(ratio(two['c=4'], one['c=4']), 2)}×` : ''),
);
console.log(`load average after: ${load2}`);
saveResults(here, { seconds: SECONDS, rounds: ROUNDS, queue: QUEUE ?? null, results });
