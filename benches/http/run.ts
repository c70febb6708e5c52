// HTTP server benchmark: cog-node's server vs Cog's own (coglet, from PyPI) vs a bare node:http
// echo, side by side in one run on this machine. `node --import tsx benches/http/run.ts`.
// Measures requests/s and p50/p99 latency at concurrency 1 and 16, server CPU per request,
// time from start to READY, idle RSS. Needs `wrk` (apt-get install wrk); creates
// benches/http/.venv with pinned cog and coglet; builds dist/ (npm run build:ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COG_VERSION, cpuSeconds, freePort, rssBytes, saveResults, sh, tree, venv, wrk } from '../harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = [1, 16];
// More slots than connections: coglet frees a slot only after its response has gone out, so with
// exactly 16 slots a client's next request often meets a 409 (measured: 80% of them under wrk).
const SLOTS = process.env.BENCH_SLOTS ?? '64';

function prepare(): void {
  try {
    sh('wrk', ['--version']);
  } catch (error) {
    // wrk prints its version and exits 1.
    if ((error as { code?: string }).code === 'ENOENT') throw new Error('wrk not found: apt-get install wrk');
  }
  if (!existsSync(join(venv, 'bin', 'python'))) {
    console.error(`creating ${venv} with cog==${COG_VERSION} coglet==${COG_VERSION}`);
    sh('python3', ['-m', 'venv', venv]);
  }
  sh(join(venv, 'bin', 'pip'), ['install', '-q', `cog==${COG_VERSION}`, `coglet==${COG_VERSION}`]);
  console.error('building dist/ (npm run build:ts)');
  sh('npm', ['run', '-s', 'build:ts']);
}

interface Contender {
  name: string;
  start(port: number): ChildProcess;
}

const contenders: Contender[] = [
  {
    name: 'bare node:http',
    start: (port) => spawn(process.execPath, [join(here, 'bare.mjs')], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' }),
  },
  {
    name: 'cog-node',
    start: (port) =>
      spawn(process.execPath, [join(here, 'serve-node.mjs')], {
        env: { ...process.env, PORT: String(port), COG_MAX_CONCURRENCY: SLOTS },
        stdio: 'ignore',
      }),
  },
  {
    name: `coglet ${COG_VERSION}`,
    start: (port) =>
      spawn(join(venv, 'bin', 'python'), ['-m', 'cog.server.http', '--host', '127.0.0.1'], {
        cwd: join(here, 'echo-python'),
        // The worker subprocess is started as `python`: the venv's must come first.
        env: {
          ...process.env,
          PATH: `${join(venv, 'bin')}:${process.env.PATH}`,
          PORT: String(port),
          COG_MAX_CONCURRENCY: SLOTS,
          COG_PREDICT_TYPE_STUB: 'predict.py:Predictor',
          LOG_FORMAT: 'console',
          COG_LOG_LEVEL: 'error',
        },
        stdio: 'ignore',
      }),
  },
];

async function waitReady(url: string, bare: boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/health-check`);
      const body = (await response.json()) as { status?: string };
      if (bare || body.status === 'READY') return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`${url} not READY within 60 s`);
}

interface Load {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  cpu_ms_per_request: number;
}

function drive(url: string, connections: number, seconds: number): Omit<Load, 'cpu_ms_per_request'> & { requests: number } {
  const run = wrk(`${url}/predictions`, connections, seconds, join(here, 'post.lua'));
  return {
    // Goodput: a 409 answered fast is not a prediction served.
    rps: (run.requests - run.non2xx) / run.elapsedS,
    requests: run.requests,
    p50_ms: run.p50Ms,
    p99_ms: run.p99Ms,
    errors: run.non2xx,
  };
}

interface Result {
  name: string;
  ready_s: number;
  idle_rss_mib: number;
  load: Record<string, Load>;
}

async function measure(contender: Contender): Promise<Result> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = contender.start(port);
  try {
    await waitReady(url, contender.name.startsWith('bare'));
    const ready_s = (performance.now() - started) / 1000;
    // Check the echo answers right before loading it.
    const probe = await fetch(`${url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"input":{"text":"hello"}}',
    });
    const answer = (await probe.json()) as { output?: unknown };
    if (answer.output !== 'hello') throw new Error(`${contender.name} answered ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle_rss_mib = rssBytes(child.pid!) / (1 << 20);
    drive(url, 16, 2); // warm-up (JIT, connection pools)
    const load: Record<string, Load> = {};
    for (const connections of CONCURRENCY) {
      let best: Load | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const cpuBefore = cpuSeconds(child.pid!);
        const run = drive(url, connections, DURATION_S);
        const cpu = cpuSeconds(child.pid!) - cpuBefore;
        const result = {
          rps: run.rps,
          p50_ms: run.p50_ms,
          p99_ms: run.p99_ms,
          errors: run.errors,
          cpu_ms_per_request: (cpu * 1000) / run.requests,
        };
        if (best === undefined || result.rps > best.rps) best = result;
      }
      load[`c${connections}`] = best!;
    }
    return { name: contender.name, ready_s, idle_rss_mib, load };
  } finally {
    child.kill('SIGKILL');
    for (const pid of tree(child.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

function table(results: Result[]): string {
  const [bare, node, coglet] = results as [Result, Result, Result];
  const f = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    '| server | req/s c=1 | p50 / p99 c=1 (ms) | req/s c=16 | p50 / p99 c=16 (ms) | CPU/request c=16 | start→READY | idle RSS |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    const c1 = r.load.c1!;
    const c16 = r.load.c16!;
    lines.push(
      `| ${r.name} | ${f(c1.rps)} | ${f(c1.p50_ms, 2)} / ${f(c1.p99_ms, 2)} | ${f(c16.rps)} | ${f(c16.p50_ms, 2)} / ${f(c16.p99_ms, 2)} | ${f(c16.cpu_ms_per_request * 1000)} µs | ${f(r.ready_s, 2)} s | ${f(r.idle_rss_mib)} MiB |`,
    );
  }
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  lines.push('', 'Ratios (cog-node ÷ other; for latency, CPU, READY and RSS lower is better):', '');
  lines.push(
    `| vs | req/s c=1 | req/s c=16 | p99 c=16 | CPU/request | start→READY | idle RSS |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const other of [bare, coglet]) {
    lines.push(
      `| ${other.name} | ${ratio(node.load.c1!.rps, other.load.c1!.rps)} | ${ratio(node.load.c16!.rps, other.load.c16!.rps)} | ${ratio(node.load.c16!.p99_ms, other.load.c16!.p99_ms)} | ${ratio(node.load.c16!.cpu_ms_per_request, other.load.c16!.cpu_ms_per_request)} | ${ratio(node.ready_s, other.ready_s)} | ${ratio(node.idle_rss_mib, other.idle_rss_mib)} |`,
    );
  }
  const errors = results.filter((r) => Object.values(r.load).some((l) => l.errors > 0));
  if (errors.length > 0) {
    lines.push(
      '',
      `Non-2xx responses (not counted in req/s): ${errors
        .map(
          (r) =>
            `${r.name} ${Object.entries(r.load)
              .map(([k, l]) => `${k}: ${l.errors}`)
              .join(', ')}`,
        )
        .join('; ')}`,
    );
  }
  return lines.join('\n');
}

prepare();
const results: Result[] = [];
for (const contender of contenders) {
  console.error(`measuring ${contender.name}`);
  results.push(await measure(contender));
}
const report = table(results);
console.log(report);
saveResults(here, {
  cpus: sh('nproc', []).trim(),
  loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
  results,
});
