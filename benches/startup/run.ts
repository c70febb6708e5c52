// Cold start side by side: spawn → READY and idle RSS of the echo server (bare node:http, cog-node
// with its worker thread and --in-process, coglet), and `cog-node predict` of the `init` example end
// to end. `node --import tsx benches/startup/run.ts`; BENCH_BASELINE=<checkout> adds that build's
// cog-node rows (its dist/ built), interleaved with this one's. Medians over BENCH_ROUNDS (7).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benches, buildDist, cpuSeconds, ensureCog, freePort, killTree, median, root, saveResults, spawnCoglet, tree } from '../harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
// A copy outside this checkout: inside it, the predictor's `import 'cog-node'` would resolve to
// this checkout's package (self-reference) even when a baseline's server runs it.
const echoNode = mkdtempSync(join(tmpdir(), 'cog-node-echo-'));
cpSync(join(benches, 'http', 'echo-node'), echoNode, { recursive: true });
const echoPython = join(benches, 'http', 'echo-python');
const builds: { label: string; root: string }[] = [{ label: 'cog-node', root }];
if (process.env.BENCH_BASELINE) builds.push({ label: 'cog-node (baseline)', root: process.env.BENCH_BASELINE });

interface Server {
  name: string;
  start(port: number): ChildProcess;
  bare?: boolean;
}

const cogNode = (label: string, checkout: string, extra: string[]): Server => ({
  name: `${label}${extra.length ? ` ${extra.join(' ')}` : ' (worker thread)'}`,
  start: (port) =>
    spawn(process.execPath, [join(checkout, 'bin', 'cog-node.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), ...extra], {
      cwd: echoNode,
      stdio: 'ignore',
    }),
});

const servers: Server[] = [
  {
    name: 'bare node:http',
    bare: true,
    start: (port) =>
      spawn(process.execPath, [join(benches, 'http', 'bare.mjs')], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' }),
  },
  ...builds.flatMap((b) => [cogNode(b.label, b.root, []), cogNode(b.label, b.root, ['--in-process'])]),
  { name: 'coglet 0.23.1', start: (port) => spawnCoglet(echoPython, port) },
];

function rssMiB(pid: number): number {
  let kb = 0;
  for (const p of tree(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

async function once(server: Server): Promise<{ ready: number; cpu: number; rss: number; scraped: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = server.start(port);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${server.name} exited with ${child.exitCode}`);
      try {
        const body = (await (await fetch(`http://127.0.0.1:${port}/health-check`)).json()) as { status?: string };
        if (server.bare || body.status === 'READY') break;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const ready = performance.now() - started;
    const cpu = cpuSeconds(child.pid!) * 1000;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rss = rssMiB(child.pid!);
    // cog-node loads prom-client at the first scrape: the RSS a scraped server settles at.
    let scraped = Number.NaN;
    if (!server.bare && (await fetch(`http://127.0.0.1:${port}/metrics`)).status === 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      scraped = rssMiB(child.pid!);
    }
    return { ready, cpu, rss, scraped };
  } finally {
    killTree(child.pid!);
  }
}

/** `cog-node predict -i prompt=hello -i times=2` in a folder `cog-node init` made: wall ms and CPU ms. */
function predictOnce(checkout: string, dir: string): { wall: number; cpu: number } {
  const started = performance.now();
  const result = spawnSync(
    '/usr/bin/time',
    ['-f', '%U %S', process.execPath, join(checkout, 'bin', 'cog-node.js'), 'predict', '-i', 'prompt=hello', '-i', 'times=2'],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  const wall = performance.now() - started;
  if (result.stdout.trim() !== 'HELLO HELLO') throw new Error(`predict printed ${JSON.stringify(result.stdout)}: ${result.stderr}`);
  const [user, system] = result.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wall, cpu: (user! + system!) * 1000 };
}

buildDist();
ensureCog();
const samples = new Map<string, { ready: number[]; cpu: number[]; rss: number[]; scraped?: number[] }>();
const dirs = builds.map((b) => {
  const dir = mkdtempSync(join(tmpdir(), 'cog-node-init-'));
  spawnSync(process.execPath, [join(b.root, 'bin', 'cog-node.js'), 'init'], { cwd: dir });
  predictOnce(b.root, dir); // first run fills tsx's compile cache, as any second start finds it
  return dir;
});
for (const server of servers) await once(server); // warm the page cache
for (let round = 0; round < ROUNDS; round++) {
  console.error(`round ${round + 1}/${ROUNDS}`);
  for (const server of servers) {
    const { ready, cpu, rss, scraped } = await once(server);
    const s = samples.get(server.name) ?? { ready: [], cpu: [], rss: [], scraped: [] };
    s.ready.push(ready);
    s.cpu.push(cpu);
    s.rss.push(rss);
    if (!Number.isNaN(scraped)) s.scraped?.push(scraped);
    samples.set(server.name, s);
  }
  builds.forEach((b, i) => {
    const { wall, cpu } = predictOnce(b.root, dirs[i]!);
    const name = `${b.label}: predict (init example)`;
    const s = samples.get(name) ?? { ready: [], cpu: [], rss: [] };
    s.ready.push(wall);
    s.cpu.push(cpu);
    samples.set(name, s);
  });
}
// Settled RSS: V8's memory reducer gives back what loading left 8-20 s after a thread stops
// allocating, so the RSS 0.5 s after READY is not where an idle server stays. One sample each,
// all servers started together (RSS, unlike CPU time, does not mind sharing the CPUs).
const SETTLE_MS = 25_000;
const settled = new Map<string, number>();
await Promise.all(
  servers.map(async (server) => {
    const port = await freePort();
    const child = server.start(port);
    try {
      for (;;) {
        try {
          const body = (await (await fetch(`http://127.0.0.1:${port}/health-check`)).json()) as { status?: string };
          if (server.bare || body.status === 'READY') break;
        } catch {
          // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      settled.set(server.name, rssMiB(child.pid!));
    } finally {
      killTree(child.pid!);
    }
  }),
);
for (const dir of [...dirs, echoNode]) rmSync(dir, { recursive: true, force: true });

const f = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
const coglet = samples.get('coglet 0.23.1')!;
const lines = [
  `| what | spawn → READY (or exit), median ms | CPU ms to READY | idle RSS MiB | RSS after a /metrics scrape | RSS 25 s after READY | READY ÷ coglet | CPU ÷ coglet | RSS ÷ coglet | settled RSS ÷ coglet |`,
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const [name, s] of samples) {
  const rss = s.rss.length ? median(s.rss) : Number.NaN;
  lines.push(
    `| ${name} | ${f(median(s.ready))} | ${f(median(s.cpu))} | ${s.rss.length ? f(rss) : '—'} | ${s.scraped?.length ? f(median(s.scraped)) : '—'} | ${settled.has(name) ? f(settled.get(name)!) : '—'} | ${(median(s.ready) / median(coglet.ready)).toFixed(2)}× | ${(median(s.cpu) / median(coglet.cpu)).toFixed(2)}× | ${s.rss.length ? `${(rss / median(coglet.rss)).toFixed(2)}×` : '—'} | ${settled.has(name) ? `${(settled.get(name)! / settled.get('coglet 0.23.1')!).toFixed(2)}×` : '—'} |`,
  );
}
console.log(lines.join('\n'));
saveResults(join(benches, 'startup'), {
  loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
  rounds: ROUNDS,
  samples: Object.fromEntries(samples),
  settled: Object.fromEntries(settled),
});
