// What the server benchmarks share: Cog from PyPI in one venv (benches/http/.venv, made by
// benches/http/run.ts or here, pinned), starting cog-node's and Cog's servers on a free port,
// waiting for READY, stopping them with their children, CPU time of a process tree, and
// medians/percentiles.
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { Agent, IncomingHttpHeaders } from 'node:http';
import http from 'node:http';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benches = dirname(fileURLToPath(import.meta.url));
export const root = join(benches, '..');
/** Shared with benches/http: one install of Cog for every bench. */
export const venv = join(benches, 'http', '.venv');
export const COG_VERSION = '0.23.1';

export function sh(command: string, args: string[], cwd = root): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Makes sure the venv has cog and coglet at COG_VERSION (installs only what is missing). */
export function ensureCog(): void {
  const python = join(venv, 'bin', 'python');
  if (!existsSync(python)) {
    console.error(`creating ${venv} with cog==${COG_VERSION} coglet==${COG_VERSION}`);
    sh('python3', ['-m', 'venv', venv]);
  }
  let installed = '';
  try {
    installed = sh(python, ['-c', 'import cog, coglet; print(cog.__version__, coglet.__version__)']).trim();
  } catch {
    // not installed yet
  }
  if (installed !== `${COG_VERSION} ${COG_VERSION}`) {
    sh(join(venv, 'bin', 'pip'), ['install', '-q', `cog==${COG_VERSION}`, `coglet==${COG_VERSION}`]);
  }
}

/** `npm run build:ts`, unless BENCH_NO_BUILD=1 (dist/ is what `cog-node serve` runs). */
export function buildDist(): void {
  if (process.env.BENCH_NO_BUILD === '1') return;
  console.error('building dist/ (npm run build:ts)');
  sh('npm', ['run', '-s', 'build:ts']);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Server {
  name: string;
  url: string;
  port: number;
  child: ChildProcess;
  stop(): void;
}

/** Cog's health check: `/health-check` says READY. */
const cogReady = async (response: Response): Promise<boolean> => ((await response.json()) as { status?: string }).status === 'READY';

async function waitReady(
  url: string,
  child: ChildProcess,
  name: string,
  health: { path: string; ready(response: Response): Promise<boolean> } = { path: '/health-check', ready: cogReady },
): Promise<void> {
  // Python servers that import torch take a while on a busy 2-core machine.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before READY`);
    try {
      const response = await fetch(`${url}${health.path}`);
      if (response.ok && (await health.ready(response))) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${name} not READY within 120 s`);
}

function started(name: string, port: number, child: ChildProcess): Server {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') console.error(`${name} exited (${code ?? signal}):\n${stderr}`);
  });
  return { name, port, url: `http://127.0.0.1:${port}`, child, stop: () => killTree(child.pid!) };
}

/**
 * Any other server process (LitServe, ...) listening on `port`, once `GET healthPath` answers 2xx;
 * stopped with its children.
 */
export async function startServer(name: string, port: number, child: ChildProcess, healthPath: string): Promise<Server> {
  const server = started(name, port, child);
  await waitReady(server.url, child, name, { path: healthPath, ready: () => Promise.resolve(true) });
  return server;
}

/**
 * `cog-node serve` (dist/, as installed) in `dir`, which holds cog.yaml; `root`: another checkout's
 * (a build of an earlier commit, to compare before/after in one run).
 */
export async function startCogNode(
  dir: string,
  options: { env?: Record<string, string>; args?: string[]; name?: string; root?: string } = {},
): Promise<Server> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(options.root ?? root, 'bin', 'cog-node.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), ...(options.args ?? [])],
    {
      cwd: dir,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const server = started(options.name ?? 'cog-node', port, child);
  await waitReady(server.url, child, server.name);
  return server;
}

/** Spawns coglet (`python -m cog.server.http`) for `predict.py:Predictor` in `dir` on `port`, from `python`'s venv. */
export function spawnCoglet(
  dir: string,
  port: number,
  options: { env?: Record<string, string>; python?: string; stdio?: StdioOptions } = {},
): ChildProcess {
  const python = options.python ?? join(venv, 'bin', 'python');
  return spawn(python, ['-m', 'cog.server.http', '--host', '127.0.0.1'], {
    cwd: dir,
    // The worker subprocess is started as `python`: the venv's must come first.
    env: {
      ...process.env,
      PATH: `${dirname(python)}:${process.env.PATH}`,
      PORT: String(port),
      COG_PREDICT_TYPE_STUB: 'predict.py:Predictor',
      LOG_FORMAT: 'console',
      COG_LOG_LEVEL: 'error',
      ...options.env,
    },
    stdio: options.stdio ?? 'ignore',
  });
}

/**
 * Cog's own server (`python -m cog.server.http`, coglet) for `predict.py:Predictor` in `dir`, from
 * the shared venv or, with `python`, from another venv that has cog and coglet at COG_VERSION.
 */
export async function startCoglet(
  dir: string,
  options: { env?: Record<string, string>; name?: string; python?: string } = {},
): Promise<Server> {
  const port = await freePort();
  const child = spawnCoglet(dir, port, { env: options.env, python: options.python, stdio: ['ignore', 'ignore', 'pipe'] });
  const server = started(options.name ?? `coglet ${COG_VERSION}`, port, child);
  await waitReady(server.url, child, server.name);
  return server;
}

/** `POST url` with a JSON body on `agent` (keep-alive): the status, headers and whole body. */
export function postJson(
  agent: Agent,
  url: string,
  body: unknown,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Resident memory of a process tree (bytes), from /proc. */
export function rssBytes(pid: number): number {
  return tree(pid).reduce((sum, p) => {
    try {
      return sum + Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      return sum;
    }
  }, 0);
}

/** The process and all its descendants (coglet runs its predictor in a worker subprocess). */
export function tree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]!) ?? []));
  return all;
}

export function killTree(pid: number): void {
  for (const p of tree(pid).reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const TICKS = 100; // USER_HZ
/** CPU seconds (user + system, all threads) of a process tree so far. */
export function cpuSeconds(pid: number): number {
  return tree(pid).reduce((sum, p) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return sum + (Number(fields[11]) + Number(fields[12])) / TICKS;
    } catch {
      return sum;
    }
  }, 0);
}

/** CPU seconds of a process's main thread and of all its other threads (worker threads, GC, I/O). */
export function threadCpuSeconds(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS;
      if (Number(task) === pid) main += seconds;
      else others += seconds;
    } catch {
      // gone meanwhile
    }
  }
  return { main, others };
}

/** What one `wrk --latency` run printed: request and error counts, its duration, p50 and p99. */
export interface WrkRun {
  requests: number;
  /** Non-2xx/3xx responses. */
  non2xx: number;
  /** Connect, read, write and timeout errors together. */
  socketErrors: number;
  elapsedS: number;
  p50Ms: number;
  p99Ms: number;
  /** The whole output (a script's `done()` may print more). */
  out: string;
}

function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!match) return Number.NaN;
  const n = Number(match[1]);
  return n * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
}

/** Runs `wrk -t1 --latency` with `script` against `url` and reads its report. */
export function wrk(url: string, connections: number, seconds: number, script: string): WrkRun {
  const out = sh('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '30s', '--latency', '-s', script, url]);
  const number = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: number(/(\d+) requests in/),
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/) || 0,
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    elapsedS: toMs(/requests in ([\d.]+m?s)/.exec(out)?.[1] ?? `${seconds}s`) / 1000,
    p50Ms: toMs(/^\s*50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99Ms: toMs(/^\s*99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    out,
  };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const median = (values: number[]): number => percentile(values, 50);

/** Writes one run's figures to `<dir>/results/<timestamp>.json`, with the date and Node version. */
export function saveResults(dir: string, record: Record<string, unknown>): void {
  mkdirSync(join(dir, 'results'), { recursive: true });
  const date = new Date().toISOString();
  const file = join(dir, 'results', `${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ date, node: process.version, ...record }, null, 2));
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—';
