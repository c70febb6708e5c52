// The queue path's per-job overhead: the echo predictor behind `cog-node serve` directly, and behind
// the gateway (`cog-node serve --redis`) → Redis → one `cog-node worker` → result, side by side in
// one run, in alternating rounds. `node --import tsx benches/fleet/gateway-overhead.ts`
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { benches, buildDist, freePort, killTree, median, percentile, root, saveResults, startCogNode } from '../harness.js';

const ECHO = join(benches, 'http', 'echo-node');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 200);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 400);
const CONCURRENCY = 16;
const BODY = JSON.stringify({ input: { text: 'hello' } });

async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  return { url: `redis://127.0.0.1:${port}`, child };
}

async function predict(url: string): Promise<number> {
  const from = performance.now();
  const response = await fetch(`${url}/predictions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
  const body = (await response.json()) as { status?: string; output?: unknown };
  if (response.status !== 200 || body.status !== 'succeeded' || body.output !== 'hello') {
    throw new Error(`${url}: ${response.status} ${JSON.stringify(body)}`);
  }
  return performance.now() - from;
}

/** `count` sync predictions one after another: each one's latency (ms). */
async function sequential(url: string, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await predict(url));
  return times;
}

/** `count` sync predictions, `CONCURRENCY` at a time: predictions per second. */
async function concurrent(url: string, count: number): Promise<number> {
  let next = 0;
  const from = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < count) await predict(url);
    }),
  );
  return count / ((performance.now() - from) / 1000);
}

buildDist();
const redis = await startRedis();
const worker = spawn(process.execPath, [join(root, 'bin', 'cog-node.js'), 'worker', '--redis', redis.url], {
  cwd: ECHO,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const direct = await startCogNode(ECHO, { name: 'serve' });
// READY only once the worker's heartbeat says it takes jobs.
const gateway = await startCogNode(ECHO, { name: 'gateway', args: ['--redis', redis.url] });
try {
  const results: Record<string, { latency: number[]; throughput: number[] }> = {
    serve: { latency: [], throughput: [] },
    gateway: { latency: [], throughput: [] },
  };
  for (const server of [direct, gateway]) await sequential(server.url, 50); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of [direct, gateway]) {
      results[server.name]!.latency.push(...(await sequential(server.url, SEQUENTIAL)));
      results[server.name]!.throughput.push(await concurrent(server.url, CONCURRENT));
    }
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, { latency, throughput }]) => [
      name,
      {
        p50_ms: Number(median(latency).toFixed(2)),
        p90_ms: Number(percentile(latency, 90).toFixed(2)),
        p99_ms: Number(percentile(latency, 99).toFixed(2)),
        best_per_s_c16: Math.round(Math.max(...throughput)),
      },
    ]),
  );
  const [s, g] = [summary.serve!, summary.gateway!];
  const ratios = {
    p50_gateway_over_serve: Number((g.p50_ms / s.p50_ms).toFixed(1)),
    p50_overhead_ms: Number((g.p50_ms - s.p50_ms).toFixed(2)),
    throughput_gateway_over_serve: Number((g.best_per_s_c16 / s.best_per_s_c16).toFixed(2)),
  };
  console.table(summary);
  console.log(ratios);
  saveResults(join(benches, 'fleet'), { rounds: ROUNDS, sequential: SEQUENTIAL, concurrent: CONCURRENT, summary, ratios });
} finally {
  gateway.stop();
  direct.stop();
  killTree(worker.pid!);
  redis.child.kill('SIGKILL');
}
