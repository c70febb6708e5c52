// Model instances benchmark: a synchronous predictor busy for 20 ms per prediction, served by
// `cog-node serve` with one instance (one worker thread, 1 slot) and with two (two worker threads,
// 2 slots), side by side in one run, rounds interleaved; wrk keeps 4 sync requests in flight
// (the line holds those that wait). The figure is the throughput ratio, two instances ÷ one.
// Run: node --import tsx benches/instances/run.ts   (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CLIENTS)
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { buildDist, cpuSeconds, fmt, loadAverage, saveResults, startCogNode, wrk, type Server } from '../harness.js';

const here = import.meta.dirname;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const INSTANCES = [1, 2];

interface Point {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  cpu_ms_per_request: number;
}

function measure(server: Server): Point {
  const before = cpuSeconds(server.child.pid!);
  const run = wrk(`${server.url}/predictions`, CLIENTS, DURATION_S, join(here, 'post.lua'));
  const cpu = cpuSeconds(server.child.pid!) - before;
  return {
    rps: (run.requests - run.non2xx) / run.elapsedS,
    p50_ms: run.p50Ms,
    p99_ms: run.p99Ms,
    non2xx: run.non2xx + run.socketErrors,
    cpu_ms_per_request: (cpu * 1000) / run.requests,
  };
}

buildDist();
const before = loadAverage();
console.error(`load average ${before}; ${availableParallelism()} CPUs; ${CLIENTS} clients, ${DURATION_S} s a point, ${ROUNDS} rounds`);
const servers: Server[] = [];
try {
  for (const instances of INSTANCES) {
    servers.push(
      await startCogNode(join(here, 'busy'), {
        name: `instances ${instances}`,
        env: { COG_INSTANCES: String(instances), COG_MAX_CONCURRENCY: String(instances) },
      }),
    );
  }
  for (const server of servers) measure(server); // warm-up
  const points = new Map<string, Point[]>(servers.map((s) => [s.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of servers) {
      const point = measure(server);
      points.get(server.name)!.push(point);
      console.error(
        `  round ${round + 1} ${server.name}: ${fmt(point.rps, 1)} req/s, p50 ${fmt(point.p50_ms, 1)} ms, p99 ${fmt(point.p99_ms, 1)} ms`,
      );
    }
  }
  // The median round by throughput, per server.
  const median = (list: Point[]) => [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)]!;
  const chosen = servers.map((s) => ({ name: s.name, ...median(points.get(s.name)!) }));
  const [one, two] = chosen as [Point & { name: string }, Point & { name: string }];
  const lines = [
    '| server | req/s | p50 / p99 (ms) | non-2xx | CPU/request |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...chosen.map(
      (p) =>
        `| ${p.name} | ${fmt(p.rps, 1)} | ${fmt(p.p50_ms, 1)} / ${fmt(p.p99_ms, 1)} | ${p.non2xx} | ${fmt(p.cpu_ms_per_request, 1)} ms |`,
    ),
    '',
    `Two instances ÷ one: ${(two.rps / one.rps).toFixed(2)}× the throughput (ceiling on ${availableParallelism()} cores: 2×; one instance's ceiling: 50 req/s).`,
  ];
  const report = lines.join('\n');
  console.log(report);
  const after = loadAverage();
  console.log(`\nload average before ${before}, after ${after}`);
  saveResults(here, {
    cpus: availableParallelism(),
    clients: CLIENTS,
    loadavg_before: before,
    loadavg_after: after,
    rounds: Object.fromEntries(points),
    report,
  });
} finally {
  for (const server of servers) server.stop();
}
