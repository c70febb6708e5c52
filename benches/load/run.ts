// Load benchmark: 20,000 sync predictions from 64 concurrent clients against `cog-node serve`
// with 4 slots (an echo predictor that awaits 2 ms), with a line of 1,000 (queue.max), a short
// line of 16 (to see refusals: 429 + Retry-After) and none (Cog's 409 at capacity). Counts every
// answer by status, checks every 2xx is `succeeded` with its own output and every 429 carries
// Retry-After, and samples the server's RSS and /health-check's queue during the run.
// Run: node --import tsx benches/load/run.ts   (BENCH_PREDICTIONS, BENCH_CLIENTS, BENCH_QUEUES)
import http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildDist, fmt, loadAverage, percentile, postJson, rssBytes, saveResults, startCogNode, type Server } from '../harness.js';

const here = import.meta.dirname;
const PREDICTIONS = Number(process.env.BENCH_PREDICTIONS ?? 20_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64);
/** One run per entry: `queue.max`, or `queue.max:retention` (COG_PREDICTION_RETENTION; default 1000). */
const CONFIGS = (process.env.BENCH_QUEUES ?? '1000,1000:0,16,0').split(',').map((entry) => {
  const [queueMax, retention] = entry.split(':');
  return { queueMax: Number(queueMax), retention: retention === undefined ? 1000 : Number(retention) };
});
const MiB = 1 << 20;

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

async function post(agent: http.Agent, url: string, text: string): Promise<Answer> {
  const { status, headers, body } = await postJson(agent, `${url}/predictions`, { input: { text } });
  const retryAfter = headers['retry-after'];
  return { status, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body };
}

interface Run {
  queue_max: number;
  /** Finished predictions kept for polling (COG_PREDICTION_RETENTION). */
  retention: number;
  predictions: number;
  clients: number;
  seconds: number;
  ok: number;
  /** 2xx whose body is not `succeeded` with the prediction's own text. */
  lost: number;
  status409: number;
  status429: number;
  /** 429s without a Retry-After of whole seconds >= 1. */
  status429_without_retry_after: number;
  retry_after_values: Record<string, number>;
  status5xx: number;
  other_status: Record<string, number>;
  transport_errors: number;
  ok_p50_ms: number;
  ok_p99_ms: number;
  rss_before_mib: number;
  rss_peak_mib: number;
  rss_after_mib: number;
  health_queue_peak: number | undefined;
  health_queue_max: number | undefined;
  sample_409?: string;
  sample_429?: string;
}

async function health(url: string): Promise<{ waiting?: number; max?: number } | undefined> {
  try {
    const body = (await (await fetch(`${url}/health-check`)).json()) as { queue?: { waiting?: number; max?: number } };
    return body.queue;
  } catch {
    return undefined;
  }
}

async function load(server: Server, queueMax: number, retention: number): Promise<Run> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const pid = server.child.pid!;
  // Warm-up: JIT and the worker thread, then the idle RSS.
  for (let i = 0; i < 200; i++) await post(agent, server.url, `warm-${i}`);
  await sleep(1000);
  const run: Run = {
    queue_max: queueMax,
    retention,
    predictions: PREDICTIONS,
    clients: CLIENTS,
    seconds: 0,
    ok: 0,
    lost: 0,
    status409: 0,
    status429: 0,
    status429_without_retry_after: 0,
    retry_after_values: {},
    status5xx: 0,
    other_status: {},
    transport_errors: 0,
    ok_p50_ms: 0,
    ok_p99_ms: 0,
    rss_before_mib: rssBytes(pid) / MiB,
    rss_peak_mib: 0,
    rss_after_mib: 0,
    health_queue_peak: undefined,
    health_queue_max: undefined,
  };
  let peak = run.rss_before_mib;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, rssBytes(pid) / MiB);
      const queue = await health(server.url);
      if (queue?.waiting !== undefined) run.health_queue_peak = Math.max(run.health_queue_peak ?? 0, queue.waiting);
      if (queue?.max !== undefined) run.health_queue_max = queue.max;
      await sleep(100);
    }
  })();
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < PREDICTIONS; i = next++) {
        const text = `prediction-${i}`;
        const sent = performance.now();
        let answer: Answer;
        try {
          answer = await post(agent, server.url, text);
        } catch {
          run.transport_errors++;
          continue;
        }
        if (answer.status >= 200 && answer.status < 300) {
          run.ok++;
          latencies.push(performance.now() - sent);
          const body = JSON.parse(answer.body) as { status?: string; output?: unknown };
          if (body.status !== 'succeeded' || body.output !== text) run.lost++;
        } else if (answer.status === 409) {
          run.status409++;
          run.sample_409 ??= answer.body;
        } else if (answer.status === 429) {
          run.status429++;
          run.sample_429 ??= `Retry-After: ${answer.retryAfter ?? '(none)'}; ${answer.body}`;
          const value = answer.retryAfter ?? '(none)';
          run.retry_after_values[value] = (run.retry_after_values[value] ?? 0) + 1;
          if (!/^\d+$/.test(value) || Number(value) < 1) run.status429_without_retry_after++;
        } else if (answer.status >= 500) {
          run.status5xx++;
        } else {
          run.other_status[answer.status] = (run.other_status[answer.status] ?? 0) + 1;
        }
      }
    }),
  );
  run.seconds = (performance.now() - started) / 1000;
  running = false;
  await sampler;
  agent.destroy();
  await sleep(2000);
  run.rss_peak_mib = peak;
  run.rss_after_mib = rssBytes(pid) / MiB;
  run.ok_p50_ms = percentile(latencies, 50);
  run.ok_p99_ms = percentile(latencies, 99);
  return run;
}

buildDist();
const before = loadAverage();
console.error(`load average ${before}; ${PREDICTIONS} predictions from ${CLIENTS} clients, 4 slots, ${JSON.stringify(CONFIGS)}`);
const runs: Run[] = [];
for (const { queueMax, retention } of CONFIGS) {
  const server = await startCogNode(join(here, 'echo'), {
    env: { COG_QUEUE_MAX: String(queueMax), COG_PREDICTION_RETENTION: String(retention) },
    name: `cog-node queue.max ${queueMax}, retention ${retention}`,
  });
  try {
    const run = await load(server, queueMax, retention);
    runs.push(run);
    console.error(`  queue.max ${queueMax}, retention ${retention}: ${JSON.stringify(run)}`);
  } finally {
    server.stop();
  }
}

const lines = [
  '| queue.max | retention | 2xx | lost | 409 | 429 | 429 without Retry-After | 5xx | transport errors | predictions/s (2xx) | 2xx p50 / p99 (ms) | queue peak (health) | RSS before / peak / after (MiB) |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...runs.map(
    (r) =>
      `| ${r.queue_max} | ${r.retention} | ${fmt(r.ok)} | ${r.lost} | ${fmt(r.status409)} | ${fmt(r.status429)} | ${r.status429_without_retry_after} | ${r.status5xx} | ${r.transport_errors} | ${fmt(r.ok / r.seconds)} | ${fmt(r.ok_p50_ms, 1)} / ${fmt(r.ok_p99_ms, 1)} | ${r.health_queue_peak ?? '—'} | ${fmt(r.rss_before_mib)} / ${fmt(r.rss_peak_mib)} / ${fmt(r.rss_after_mib)} |`,
  ),
  '',
  ...runs.flatMap((r) => [
    ...(r.sample_409 ? [`queue.max ${r.queue_max}, a 409: \`${r.sample_409}\``] : []),
    ...(r.sample_429
      ? [`queue.max ${r.queue_max}, a 429: \`${r.sample_429}\`; Retry-After values: ${JSON.stringify(r.retry_after_values)}`]
      : []),
  ]),
];
const report = lines.join('\n');
console.log(report);
const after = loadAverage();
console.log(`\nload average before ${before}, after ${after}`);
saveResults(here, { loadavg_before: before, loadavg_after: after, runs, report });
