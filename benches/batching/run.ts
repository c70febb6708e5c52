// Dynamic batching benchmark: MiniLM sentence embeddings on the CPU over HTTP, side by side in one
// run: cog-node without batching (examples/minilm, one forward per prediction), cog-node with
// `static batch = { maxSize: 32, maxDelayMs: 5 }` (one padded forward per batch), LitServe with
// its own batching (max_batch_size=32, batch_timeout=0.005) and coglet 0.23.1 (no batching), the
// last two through Python torch on the same TorchScript file and tokenizer.json. wrk drives each
// at concurrency 1, 8 and 32, one varied sentence per prediction; rounds are interleaved.
// Run: node --import tsx benches/batching/run.ts   (see benches/batching/README.md for the knobs)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildDist,
  COG_VERSION,
  cpuSeconds,
  fmt,
  freePort,
  loadAverage,
  postJson,
  root,
  saveResults,
  sh,
  startCogNode,
  startCoglet,
  startServer,
  type Server,
  wrk,
} from '../harness.js';

const here = import.meta.dirname;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number);
/**
 * libtorch's intra-op threads, the same for every contender (OMP_NUM_THREADS, torch.set_num_threads).
 * 1 by default: on 2 cores shared with wrk, the server and other jobs, a second OpenMP thread
 * waits at every op's barrier for a descheduled partner (measured under load 15: one forward
 * 23 ms with 1 thread, 384 ms with 2).
 */
const THREADS = process.env.BENCH_THREADS ?? '1';
/** cog-node's slots: 1, the queue holds the rest (before the queue existed: >= the concurrency). */
const NODE_SLOTS = process.env.BENCH_NODE_SLOTS ?? '1';
const QUEUE_MAX = process.env.BENCH_QUEUE_MAX ?? '64';
const MAX_DELAY_MS = 5;
const LITSERVE_VERSION = '0.2.19';
const venv = join(here, '.venv');
const python = join(venv, 'bin', 'python');
const torchVenv = process.env.COG_NODE_TORCH_VENV ?? join(homedir(), '.cache', 'cog-node', 'torch');
const sentencesFile = join(here, 'sentences.txt');
process.env.BENCH_SENTENCES = sentencesFile;
const sentences = readFileSync(sentencesFile, 'utf8')
  .split('\n')
  .filter((line) => line.length > 0);

/**
 * wrk, the weights, and benches/batching/.venv: LitServe, cog and coglet from PyPI, with Python
 * torch taken from libtorch's venv (scripts/install-libtorch.sh) through a .pth file, since PyPI's
 * torch wheel is 2.8 GiB of CUDA.
 */
function prepare(): void {
  try {
    sh('wrk', ['--version']);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') throw new Error('wrk not found: apt-get install wrk');
  }
  if (!existsSync(join(root, 'examples', 'minilm', 'weights', 'minilm.pt'))) {
    throw new Error('examples/minilm/weights/minilm.pt is missing: run examples/minilm/trace_minilm.py (see its README)');
  }
  if (!existsSync(join(torchVenv, 'bin', 'python'))) sh('bash', [join(root, 'scripts', 'install-libtorch.sh')]);
  if (!existsSync(python)) {
    console.error(`creating ${venv}: litserve ${LITSERVE_VERSION}, cog and coglet ${COG_VERSION}, torch from ${torchVenv}`);
    sh('python3', ['-m', 'venv', venv]);
    const purelib = (py: string) => sh(py, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']).trim();
    // After the venv's own site-packages: its packages win, torch and tokenizers come from there.
    writeFileSync(join(purelib(python), 'zz-cog-node-torch.pth'), `${purelib(join(torchVenv, 'bin', 'python'))}\n`);
    sh(join(venv, 'bin', 'pip'), [
      'install',
      '-q',
      '--disable-pip-version-check',
      `litserve==${LITSERVE_VERSION}`,
      `cog==${COG_VERSION}`,
      `coglet==${COG_VERSION}`,
    ]);
  }
  sh(python, ['-c', 'import litserve, coglet, torch, tokenizers']);
  buildDist();
}

interface Contender {
  /** What BENCH_ONLY names it by. */
  key: 'unbatched' | 'batched' | 'litserve' | 'coglet';
  name: string;
  start(): Promise<Server>;
}

const threads = { OMP_NUM_THREADS: THREADS, BENCH_THREADS: THREADS };
const nodeEnv = {
  ...threads,
  COG_NODE_PYTHON: join(torchVenv, 'bin', 'python'),
  COG_MAX_CONCURRENCY: NODE_SLOTS,
  COG_QUEUE_MAX: QUEUE_MAX,
};
const UNBATCHED = 'cog-node, unbatched';
const BATCHED = `cog-node, batched (32, ${MAX_DELAY_MS} ms)`;
const LITSERVE = `LitServe ${LITSERVE_VERSION} (32, ${MAX_DELAY_MS} ms)`;
const COGLET = `coglet ${COG_VERSION}`;

const contenders: Contender[] = [
  { key: 'unbatched', name: UNBATCHED, start: () => startCogNode(join(here, 'minilm-unbatched'), { name: UNBATCHED, env: nodeEnv }) },
  { key: 'batched', name: BATCHED, start: () => startCogNode(join(here, 'minilm-batched'), { name: BATCHED, env: nodeEnv }) },
  {
    key: 'litserve',
    name: LITSERVE,
    start: async () => {
      const port = await freePort();
      const child = spawn(python, [join(here, 'python', 'litserve_server.py')], {
        env: { ...process.env, ...threads, PORT: String(port), BENCH_MAX_BATCH: '32', BENCH_BATCH_TIMEOUT: String(MAX_DELAY_MS / 1000) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      return startServer(LITSERVE, port, child, '/health');
    },
  },
  // Async predict: coglet takes concurrent requests (64 slots) and runs their forwards one by one.
  {
    key: 'coglet',
    name: COGLET,
    start: () => startCoglet(join(here, 'python'), { name: COGLET, python, env: { ...threads, COG_MAX_CONCURRENCY: '64' } }),
  },
];

/** BENCH_ONLY=unbatched,batched (say) runs only those; the first one is the outputs' reference. */
const only = process.env.BENCH_ONLY?.split(',');
const chosen = contenders.filter((c) => only === undefined || only.includes(c.key));

const agent = new http.Agent({ keepAlive: true });

/** Every sentence's embedding from `server`, 8 requests in flight (so batches form). */
async function embedAll(server: Server): Promise<number[][]> {
  const out: number[][] = new Array<number[]>(sentences.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < sentences.length; i = next++) {
        const { status, body } = await postJson(agent, `${server.url}/predictions`, { input: { text: sentences[i]! } });
        const parsed = JSON.parse(body) as { status?: string; output?: number[][] };
        if (status !== 200 || parsed.output?.length !== 1) throw new Error(`${server.name}: ${status} ${body.slice(0, 300)}`);
        out[i] = parsed.output[0]!;
      }
    }),
  );
  return out;
}

/**
 * The batch sizes a server reports (`metrics.batch_size`, cog-node's per item) for 256 predictions
 * with `inFlight` of them in flight: their mean and largest, or undefined where none is reported.
 */
async function batchSizes(server: Server, inFlight: number): Promise<{ mean: number; max: number } | undefined> {
  const sizes: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < 256; i = next++) {
        const { body } = await postJson(agent, `${server.url}/predictions`, { input: { text: sentences[i % sentences.length]! } });
        const size = (JSON.parse(body) as { metrics?: { batch_size?: number } }).metrics?.batch_size;
        if (size !== undefined) sizes.push(size);
      }
    }),
  );
  if (sizes.length === 0) return undefined;
  return { mean: sizes.reduce((a, b) => a + b, 0) / sizes.length, max: Math.max(...sizes) };
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    dot += x * b[i]!;
    na += x * x;
    nb += b[i]! * b[i]!;
  });
  return dot / Math.sqrt(na * nb);
}

interface Point {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  non2xx: number;
  socket_errors: number;
  not_succeeded: number;
  cpu_ms_per_request: number;
}

/** One wrk run of `seconds` at `connections` against `server` (sentences.lua reads BENCH_SENTENCES). */
function measure(server: Server, connections: number, seconds: number): Point {
  const cpuBefore = cpuSeconds(server.child.pid!);
  const run = wrk(`${server.url}/predictions`, connections, seconds, join(here, 'sentences.lua'));
  const cpu = cpuSeconds(server.child.pid!) - cpuBefore;
  const notSucceeded = Number(/not succeeded: (\d+)/.exec(run.out)?.[1] ?? Number.NaN);
  return {
    // Goodput: only predictions that succeeded count.
    rps: (run.requests - run.non2xx - notSucceeded) / run.elapsedS,
    p50_ms: run.p50Ms,
    p99_ms: run.p99Ms,
    requests: run.requests,
    non2xx: run.non2xx,
    socket_errors: run.socketErrors,
    not_succeeded: notSucceeded,
    cpu_ms_per_request: (cpu * 1000) / run.requests,
  };
}

prepare();
console.error(`load average ${loadAverage()}; ${THREADS} torch threads; starting ${chosen.length} servers`);
const servers: Server[] = [];
try {
  for (const contender of chosen) {
    const started = performance.now();
    servers.push(await contender.start());
    console.error(`  ${contender.name} READY in ${fmt((performance.now() - started) / 1000, 1)} s`);
  }
  // The same sentences through every server: the first (cog-node unbatched) is the reference.
  const embeddings = new Map<string, number[][]>();
  for (const server of servers) embeddings.set(server.name, await embedAll(server));
  const reference = embeddings.get(servers[0]!.name)!;
  const agreement: Record<string, number> = {};
  for (const [name, rows] of embeddings) {
    agreement[name] = Math.min(...rows.map((row, i) => cosine(row, reference[i]!)));
    if (rows.some((row) => row.length !== 384)) throw new Error(`${name}: embeddings are not 384-d`);
  }
  console.error(`  lowest cosine to ${servers[0]!.name} over ${sentences.length} sentences: ${JSON.stringify(agreement)}`);
  const bad = Object.entries(agreement).filter(([, c]) => !(c >= 0.9999));
  if (bad.length > 0) throw new Error(`outputs disagree: ${JSON.stringify(bad)}`);

  for (const server of servers) measure(server, 8, 3); // warm-up: TorchScript's profiling runs, JIT, pools
  const best = new Map<string, Record<string, Point>>(servers.map((s) => [s.name, {}]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const connections of CONCURRENCY) {
      for (const server of servers) {
        await sleep(1000); // libgomp's spinning threads of the previous contender go to sleep
        const point = measure(server, connections, DURATION_S);
        console.error(
          `  round ${round + 1} c=${connections} ${server.name}: ${fmt(point.rps, 1)} req/s, p50 ${fmt(point.p50_ms, 1)} ms, p99 ${fmt(point.p99_ms, 1)} ms` +
            (point.non2xx + point.socket_errors + point.not_succeeded > 0
              ? ` (non-2xx ${point.non2xx}, socket errors ${point.socket_errors}, not succeeded ${point.not_succeeded})`
              : ''),
        );
        const points = best.get(server.name)!;
        const key = `c${connections}`;
        if (points[key] === undefined || point.rps > points[key].rps) points[key] = point;
      }
    }
  }
  const batches: Record<string, { mean: number; max: number } | undefined> = {};
  for (const server of servers) batches[server.name] = await batchSizes(server, CONCURRENCY.at(-1)!);
  const loadavg = loadAverage();
  const report = table(best);
  console.log(report);
  for (const [name, size] of Object.entries(batches)) {
    if (size) console.log(`\n${name}: batch_size mean ${fmt(size.mean, 1)}, largest ${size.max}, at ${CONCURRENCY.at(-1)} in flight.`);
  }
  console.log(`\nload average at the end: ${loadavg}; lowest cosine to ${servers[0]!.name}: ${JSON.stringify(agreement)}`);
  saveResults(here, {
    cpus: availableParallelism(),
    torch_threads: THREADS,
    node_slots: NODE_SLOTS,
    queue_max: QUEUE_MAX,
    seconds: DURATION_S,
    rounds: ROUNDS,
    loadavg,
    agreement,
    batches,
    results: Object.fromEntries(best),
    report,
  });
} finally {
  for (const server of servers) server.stop();
  agent.destroy();
}

function table(best: Map<string, Record<string, Point>>): string {
  const head = CONCURRENCY.map((c) => `req/s c=${c} | p50 / p99 c=${c} (ms)`).join(' | ');
  const top = CONCURRENCY.at(-1)!;
  const lines = [`| server | ${head} | CPU/request c=${top} |`, `| --- |${' ---: | ---: |'.repeat(CONCURRENCY.length)} ---: |`];
  for (const [name, points] of best) {
    const cells = CONCURRENCY.map((c) => {
      const p = points[`c${c}`]!;
      return `${fmt(p.rps, 1)} | ${fmt(p.p50_ms, 1)} / ${fmt(p.p99_ms, 1)}`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} | ${fmt(points[`c${top}`]!.cpu_ms_per_request, 1)} ms |`);
  }
  const errors = [...best].flatMap(([name, points]) =>
    Object.entries(points)
      .filter(([, p]) => p.non2xx + p.socket_errors + p.not_succeeded > 0)
      .map(([c, p]) => `${name} ${c}: ${p.non2xx} non-2xx, ${p.socket_errors} socket errors, ${p.not_succeeded} not succeeded`),
  );
  if (errors.length > 0) lines.push('', `Not counted in req/s: ${errors.join('; ')}.`);
  const at = (name: string, c: number) => best.get(name)?.[`c${c}`];
  const batched = at(BATCHED, top);
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
  lines.push(
    '',
    `| at c=${top} | req/s ratio | p99 ratio (lower is better) | CPU/request ratio (lower is better) |`,
    '| --- | ---: | ---: | ---: |',
    ...[UNBATCHED, LITSERVE, COGLET].map((other) => {
      const them = at(other, top);
      return `| batched ÷ ${other} | ${ratio(batched?.rps, them?.rps)} | ${ratio(batched?.p99_ms, them?.p99_ms)} | ${ratio(batched?.cpu_ms_per_request, them?.cpu_ms_per_request)} |`;
    }),
  );
  const one = CONCURRENCY[0]!;
  const b1 = at(BATCHED, one);
  const u1 = at(UNBATCHED, one);
  if (b1 && u1) {
    lines.push(
      '',
      `c=${one} latency: batched p50 ${fmt(b1.p50_ms, 2)} ms against unbatched ${fmt(u1.p50_ms, 2)} ms + maxDelayMs ${MAX_DELAY_MS} = ${fmt(u1.p50_ms + MAX_DELAY_MS, 2)} ms ` +
        `(${b1.p50_ms <= u1.p50_ms + MAX_DELAY_MS ? 'met' : 'not met'}); p99 ${fmt(b1.p99_ms, 2)} against ${fmt(u1.p99_ms, 2)} ms.`,
    );
  }
  return lines.join('\n');
}
