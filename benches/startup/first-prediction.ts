// The first predictions after READY and the idle RSS, side by side for this checkout and
// BENCH_BASELINE: what the after-READY release (runtime/idle-release.ts) may cost a client that
// predicts at once, or one whose prediction lands while a thread collects. Interleaved round by
// round, medians over BENCH_ROUNDS (7). `node --import tsx benches/startup/first-prediction.ts`.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benches, buildDist, freePort, killTree, loadAverage, median, root, saveResults } from '../harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
/** When, after READY, the "during" prediction is sent: inside the release (50 ms + its ~10-50 ms). */
const DURING_MS = Number(process.env.BENCH_DURING_MS ?? 60);
const echoNode = mkdtempSync(join(tmpdir(), 'cog-node-echo-'));
cpSync(join(benches, 'http', 'echo-node'), echoNode, { recursive: true });
const builds = [{ label: 'cog-node', root }];
if (process.env.BENCH_BASELINE) builds.push({ label: 'cog-node (baseline)', root: process.env.BENCH_BASELINE });

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function predictMs(port: number, text: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${port}/predictions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: { text } }),
  });
  const body = (await response.json()) as { output?: unknown };
  if (body.output !== text) throw new Error(`unexpected answer ${JSON.stringify(body)}`);
  return performance.now() - started;
}

/** One start: the prediction sent at READY, or the one sent DURING_MS after it; RSS 0.5 s after READY. */
async function once(checkout: string, when: 'ready' | 'during'): Promise<{ ms: number; rss: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(checkout, 'bin', 'cog-node.js'), 'serve', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: echoNode,
    stdio: 'ignore',
  });
  try {
    for (;;) {
      try {
        const body = (await (await fetch(`http://127.0.0.1:${port}/health-check`)).json()) as { status?: string };
        if (body.status === 'READY') break;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const readyAt = performance.now();
    if (when === 'during') await new Promise((resolve) => setTimeout(resolve, DURING_MS));
    const ms = await predictMs(port, 'first');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 500 - (performance.now() - readyAt))));
    return { ms, rss: rssMiB(child.pid!) };
  } finally {
    killTree(child.pid!);
  }
}

buildDist();
for (const b of builds) await once(b.root, 'ready'); // compiles predict.ts into its cache, warms the page cache
const samples = new Map<string, { ms: number[]; rss: number[] }>();
const loads = [loadAverage()];
for (let round = 0; round < ROUNDS; round++) {
  console.error(`round ${round + 1}/${ROUNDS}`);
  for (const when of ['ready', 'during'] as const) {
    for (const b of builds) {
      const { ms, rss } = await once(b.root, when);
      const name = `${b.label}, prediction ${when === 'ready' ? 'at READY' : `${DURING_MS} ms after READY`}`;
      const s = samples.get(name) ?? { ms: [], rss: [] };
      s.ms.push(ms);
      s.rss.push(rss);
      samples.set(name, s);
    }
  }
}
loads.push(loadAverage());
rmSync(echoNode, { recursive: true, force: true });

const lines = ['| what | first prediction, median ms | max ms | RSS 0.5 s after READY (after it), MiB |', '| --- | ---: | ---: | ---: |'];
for (const [name, s] of samples) {
  lines.push(`| ${name} | ${median(s.ms).toFixed(1)} | ${Math.max(...s.ms).toFixed(1)} | ${median(s.rss).toFixed(1)} |`);
}
console.log(lines.join('\n'));
console.log(`load average: ${loads.join(' → ')}`);
saveResults(join(benches, 'startup'), { bench: 'first-prediction', loads, rounds: ROUNDS, samples: Object.fromEntries(samples) });
