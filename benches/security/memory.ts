// Peak RSS (VmHWM) of a real `cog-node serve` for hostile and large requests, one fresh server per
// case: 10 MB of bad items, 300 KB of garbage, a 10^5-deep array, a 90 MiB valid string. Prints
// what came back, how long it took, the slowest /health-check meanwhile and the server's peak RSS.
// Run: npx tsx benches/security/memory.ts   (BENCH_NO_BUILD=1 to skip npm run build:ts)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benches, buildDist, fmt, freePort, killTree, loadAverage, root } from '../harness.js';

const MiB = 1 << 20;

interface Case {
  name: string;
  body: () => Buffer;
}

const CASES: Case[] = [
  {
    name: '10 MB of bad items (strings in a list of integers)',
    body: () => Buffer.from(`{"input":{"numbers":[${'"x",'.repeat(2_500_000)}"x"]}}`),
  },
  {
    name: '300 KB of garbage (bad items in a list of integers)',
    body: () => Buffer.from(JSON.stringify({ input: { numbers: Array(30_000).fill('garbage'), text: 7 } })),
  },
  {
    name: 'a 10^5-deep array in a declared list',
    body: () => Buffer.from(`{"input":{"numbers":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`),
  },
  { name: 'a 90 MiB valid string', body: () => Buffer.from(`{"input":{"text":"${'a'.repeat(90 * MiB)}"}}`) },
];

function peakRss(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

async function ready(url: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    const status = await fetch(`${url}/health-check`).then(
      (r) => r.json() as Promise<{ status: string }>,
      () => undefined,
    );
    if (status?.status === 'READY') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('server not READY within 60 s');
}

async function measure(test: Case): Promise<string[]> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin', 'cog-node.js'), 'serve', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: join(benches, 'security', 'predictor'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await ready(url);
    const idle = peakRss(child.pid!);
    const body = test.body();
    let worstHealth = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const started = performance.now();
        await fetch(`${url}/health-check`).then((r) => r.arrayBuffer());
        worstHealth = Math.max(worstHealth, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const started = performance.now();
    const response = await fetch(`${url}/predictions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await response.text();
    const seconds = (performance.now() - started) / 1000;
    probing = false;
    await probe;
    const summary = text.length > 120 ? `${text.slice(0, 117)}...` : text;
    return [
      test.name,
      `${fmt(body.length / MiB, 1)} MiB`,
      String(response.status),
      `${fmt(text.length)} B`,
      `${fmt(seconds, 2)} s`,
      `${fmt(worstHealth)} ms`,
      `${fmt(idle / MiB)} MiB`,
      `${fmt(peakRss(child.pid!) / MiB)} MiB`,
      summary,
    ];
  } finally {
    killTree(child.pid!);
  }
}

buildDist();
console.log(`load average: ${loadAverage()}`);
console.log('| request | body | status | answer | time | slowest /health-check | RSS idle | peak RSS | answer starts |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const test of CASES) console.log(`| ${(await measure(test)).join(' | ')} |`);
