// Where the idle RSS of the echo server (worker thread, or BENCH_EXTRA='--in-process') goes, 0.5 s
// and 25 s after READY: /proc/<pid>/smaps by mapping (the node binary's code and read-only data,
// libraries, the addon, glibc's main heap and thread arenas, thread stacks, the rest of anonymous
// memory: V8's heap pages) and each thread's V8 heap spaces (committed / resident / used), with
// the mappings whose RSS changed most between the two. `node --import tsx benches/startup/memory.ts`;
// BENCH_BASELINE=<checkout> adds that build, one start each.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benches, buildDist, freePort, killTree, loadAverage, root } from '../harness.js';

const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 25_000);
const extra = (process.env.BENCH_EXTRA ?? '').split(' ').filter(Boolean);
const echoNode = mkdtempSync(join(tmpdir(), 'cog-node-echo-'));
cpSync(join(benches, 'http', 'echo-node'), echoNode, { recursive: true });
const builds = [{ label: 'cog-node', root }];
if (process.env.BENCH_BASELINE) builds.push({ label: 'cog-node (baseline)', root: process.env.BENCH_BASELINE });

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rss: number;
}

function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) out.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3]!, path: head[4]!, rss: 0 });
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && out.length > 0) out.at(-1)!.rss = Number(rss[1]);
  }
  return out;
}

const ARENA = 64n << 20n;
/** What a mapping is: glibc's thread arenas are 64 MiB-aligned reservations, stacks follow a guard page. */
function kind(maps: Mapping[], i: number): string {
  const m = maps[i]!;
  const next = maps[i + 1];
  const prev = maps[i - 1];
  if (m.path === process.execPath || m.path.endsWith('/bin/node')) return m.perms.includes('x') ? 'node binary: code' : 'node binary: data';
  if (m.path.endsWith('.node')) return `addon ${m.path.split('/').pop()}`;
  if (m.path === '[heap]') return 'glibc main heap ([heap])';
  if (m.path.startsWith('/')) return 'shared libraries';
  if (m.path.startsWith('[')) return m.path;
  if (
    m.perms.startsWith('rw') &&
    m.start % ARENA === 0n &&
    next?.perms === '---p' &&
    next.start === m.end &&
    next.end - m.start === ARENA
  ) {
    return 'glibc thread arenas';
  }
  if (m.perms.startsWith('rw') && prev?.perms === '---p' && prev.end === m.start && prev.end - prev.start <= 65_536n)
    return 'thread stacks';
  if (m.perms.includes('x')) return 'anonymous, executable (V8 code)';
  return 'anonymous (V8 heap pages, other mmaps)';
}

interface Probe {
  thread: string;
  spaces: { name: string; size: number; physical: number; used: number }[];
}

async function sample(pid: number, dir: string): Promise<{ maps: Mapping[]; probes: Probe[] }> {
  const maps = mappings(pid);
  for (const file of readdirSync(dir)) rmSync(join(dir, file));
  process.kill(pid, 'SIGUSR2');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const probes = readdirSync(dir).map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Probe);
  return { maps, probes };
}

const mib = (kib: number) => (kib / 1024).toFixed(1);
const mb = (bytes: number) => (bytes / 1048576).toFixed(2);

/** `cog-node serve` of the echo predictor, READY; with the probe preloaded when `probeDir` is given. */
async function start(checkout: string, probeDir?: string): Promise<number> {
  const port = await freePort();
  const env =
    probeDir === undefined
      ? process.env
      : { ...process.env, HEAP_PROBE_DIR: probeDir, NODE_OPTIONS: `--require ${join(benches, 'startup', 'heap-probe.cjs')}` };
  const child = spawn(
    process.execPath,
    [join(checkout, 'bin', 'cog-node.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), ...extra],
    {
      cwd: echoNode,
      env,
      stdio: 'ignore',
    },
  );
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      const body = (await (await fetch(`http://127.0.0.1:${port}/health-check`)).json()) as { status?: string };
      if (body.status === 'READY') return child.pid!;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

buildDist();
console.log(`load average ${loadAverage()}`);
// The first start of each build compiles predict.ts into its cache: later ones, as measured, import it.
for (const build of builds) killTree(await start(build.root));
for (const build of builds) {
  const dir = mkdtempSync(join(tmpdir(), 'cog-node-heap-'));
  const pid = await start(build.root, dir);
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const early = await sample(pid, dir);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const late = await sample(pid, dir);
    console.log(`\n## ${build.label}${extra.length ? ` ${extra.join(' ')}` : ' (worker thread)'} (with the probe preloaded)\n`);
    const byKind = (maps: Mapping[]) => {
      const sums = new Map<string, number>();
      maps.forEach((m, i) => sums.set(kind(maps, i), (sums.get(kind(maps, i)) ?? 0) + m.rss));
      return sums;
    };
    const a = byKind(early.maps);
    const b = byKind(late.maps);
    console.log('| RSS by mapping, MiB | 0.5 s after READY | 25 s after | given back |\n| --- | ---: | ---: | ---: |');
    const total = (s: Map<string, number>) => [...s.values()].reduce((x, y) => x + y, 0);
    console.log(`| total | ${mib(total(a))} | ${mib(total(b))} | ${mib(total(a) - total(b))} |`);
    for (const [name, kib] of [...a].sort((x, y) => y[1] - x[1])) {
      if (kib >= 100) console.log(`| ${name} | ${mib(kib)} | ${mib(b.get(name) ?? 0)} | ${mib(kib - (b.get(name) ?? 0))} |`);
    }
    console.log('\n| V8 heap space (committed / resident / used MiB) | 0.5 s after READY | 25 s after |\n| --- | --- | --- |');
    for (const probe of early.probes.sort((x, y) => x.thread.localeCompare(y.thread))) {
      const later = late.probes.find((p) => p.thread === probe.thread);
      for (const space of probe.spaces.filter((s) => s.size > 0)) {
        const then = later?.spaces.find((s) => s.name === space.name);
        const cell = (s: typeof space | undefined) => (s ? `${mb(s.size)} / ${mb(s.physical)} / ${mb(s.used)}` : '—');
        console.log(`| ${probe.thread}: ${space.name} | ${cell(space)} | ${cell(then)} |`);
      }
    }
  } finally {
    killTree(pid);
    rmSync(dir, { recursive: true, force: true });
  }
}
rmSync(echoNode, { recursive: true, force: true });
