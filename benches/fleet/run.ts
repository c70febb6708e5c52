// The fleet, side by side in one run: (1) what a job costs on the queue path (PredictionQueue →
// Redis → cog-node worker → result) against a direct `cog-node serve` POST, for the echo
// predictor, one at a time; (2) throughput of 1, 2 and 3 workers for a predictor that waits 50 ms
// with 4 slots each, against the ideal workers × slots / 50 ms.
// `node --import tsx benches/fleet/run.ts` (BENCH_NO_BUILD=1 skips the build; BENCH_JOBS, BENCH_BURST).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PredictionQueue } from 'cog-node';
import { startRedis, startWorker, type WorkerProcess } from '../../__test__/fixtures/fleet/harness.js';
import { buildDist, fmt, loadAverage, median, percentile, saveResults, startCogNode } from '../harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const JOBS = Number(process.env.BENCH_JOBS ?? 300);
const BURST = Number(process.env.BENCH_BURST ?? 600);
const WARMUP = 30;

buildDist();
const redis = await startRedis();
const record: Record<string, unknown> = { load_before: loadAverage(), jobs: JOBS, burst: BURST };

/** Latencies (ms) of `n` calls made one after another, after a warm-up. */
async function sequential(n: number, call: (i: number) => Promise<void>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await call(-1 - i);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await call(i);
    times.push(performance.now() - start);
  }
  return times;
}

try {
  // (1) Per-job overhead, echo, one at a time.
  const serve = await startCogNode(join(here, 'echo'));
  const direct = await sequential(JOBS, async (i) => {
    const response = await fetch(`${serve.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: `hello ${i}` } }),
    });
    if (((await response.json()) as { status: string }).status !== 'succeeded') throw new Error('direct prediction failed');
  });
  serve.stop();
  const echoWorker = await startWorker(join(here, 'echo'), redis.url, { args: ['--queue', 'bench-echo'] });
  const echoQueue = new PredictionQueue({ redis: redis.url, queue: 'bench-echo' });
  const queued = await sequential(JOBS, async (i) => {
    const { id } = await echoQueue.submit({ text: `hello ${i}` });
    if ((await echoQueue.result(id)).status !== 'succeeded') throw new Error('queued prediction failed');
  });
  await echoQueue.close();
  await echoWorker.kill();
  const overhead = {
    direct_p50_ms: median(direct),
    direct_p99_ms: percentile(direct, 99),
    queue_p50_ms: median(queued),
    queue_p99_ms: percentile(queued, 99),
  };
  record.overhead = overhead;
  console.log(`\nper job, echo, one at a time (${JOBS} each, after ${WARMUP} warm-up):`);
  console.log('| path | p50 (ms) | p99 (ms) |\n| --- | ---: | ---: |');
  console.log(`| serve, sync POST | ${fmt(overhead.direct_p50_ms, 2)} | ${fmt(overhead.direct_p99_ms, 2)} |`);
  console.log(`| PredictionQueue → Redis → worker → result | ${fmt(overhead.queue_p50_ms, 2)} | ${fmt(overhead.queue_p99_ms, 2)} |`);
  console.log(
    `queue ÷ serve: p50 ${fmt(overhead.queue_p50_ms / overhead.direct_p50_ms, 2)}×, added ${fmt(overhead.queue_p50_ms - overhead.direct_p50_ms, 2)} ms per job`,
  );

  // (2) Throughput of 1, 2, 3 workers, 50 ms per prediction, 4 slots each.
  const workers: WorkerProcess[] = [];
  const throughput: { workers: number; jobs_per_s: number; ideal: number }[] = [];
  const queue = new PredictionQueue({ redis: redis.url, queue: 'bench-wait' });
  for (let count = 1; count <= 3; count++) {
    workers.push(await startWorker(join(here, 'wait50'), redis.url, { args: ['--queue', 'bench-wait'] }));
    const start = performance.now();
    const ids = await Promise.all(Array.from({ length: BURST }, async (_, i) => (await queue.submit({ text: `w${count}-${i}` })).id));
    const results = await Promise.all(ids.map((id) => queue.result(id)));
    const seconds = (performance.now() - start) / 1000;
    if (results.some((r) => r.status !== 'succeeded')) throw new Error('a throughput job failed');
    throughput.push({ workers: count, jobs_per_s: BURST / seconds, ideal: (count * 4) / 0.05 });
  }
  await queue.close();
  await Promise.all(workers.map((w) => w.kill()));
  record.throughput = throughput;
  console.log(`\nthroughput, ${BURST} jobs submitted at once, 50 ms each, 4 slots per worker:`);
  console.log('| workers | jobs/s | ideal (workers × 4 / 50 ms) | of ideal | vs 1 worker |\n| ---: | ---: | ---: | ---: | ---: |');
  for (const t of throughput) {
    console.log(
      `| ${t.workers} | ${fmt(t.jobs_per_s, 1)} | ${fmt(t.ideal)} | ${fmt(t.jobs_per_s / t.ideal, 2)} | ${fmt(t.jobs_per_s / throughput[0]!.jobs_per_s, 2)}× |`,
    );
  }
  record.load_after = loadAverage();
  console.log(`\nload average before ${record.load_before as string}, after ${record.load_after as string}`);
  saveResults(here, record);
} finally {
  await redis.stop();
}
