// releaseMemory (crates/node/src/memory.rs) and the after-READY release of each thread: it reaches
// V8 on the main thread and in a worker thread (the real addon, the real isolates), gives back a
// young generation that garbage grew; a served predictor answers after it ran, and when
// predictions from READY on made both threads skip it.
import { Worker } from 'node:worker_threads';
import { getHeapSpaceStatistics } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { releaseMemory } from '../src/native/addon.js';
import { RELEASE_AFTER_MS } from '../src/runtime/idle-release.js';
import { startServer, type ServerProcess } from './fixtures/server/harness.js';

const newSpace = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size;

/** Garbage that survives a scavenge or two, so that V8 grows the young generation. */
function churn(): number {
  let kept: { i: number; text: string }[] = [];
  let made = 0;
  for (let i = 0; i < 400_000; i++) {
    kept.push({ i, text: `item ${i}` });
    made += 1;
    if (kept.length > 50_000) kept = [];
  }
  return made;
}

describe('releaseMemory', () => {
  it("reaches the main thread's isolate and shrinks a young generation that garbage grew", () => {
    churn();
    const grown = newSpace();
    expect(releaseMemory()).toBe(true);
    expect(newSpace()).toBeLessThan(grown);
    // Still usable afterwards: the isolate allocates and collects as before.
    expect(churn()).toBe(400_000);
  });

  it("reaches a worker thread's own isolate", async () => {
    const addon = pathToFileURL(join(import.meta.dirname, '..', 'index.js')).href;
    const worker = new Worker(
      `import(${JSON.stringify(addon)}).then((addon) => require('node:worker_threads').parentPort.postMessage(addon.releaseMemory()))`,
      { eval: true },
    );
    const reached = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(reached).toBe(true);
  });
});

describe('the after-READY release', () => {
  async function readyServer(): Promise<ServerProcess> {
    const server = await startServer('echo');
    for (;;) {
      const health = (await (await fetch(`${server.url}/health-check`)).json()) as { status: string };
      if (health.status === 'READY') return server;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  const predict = async (server: ServerProcess, input: Record<string, unknown>) => {
    const response = await fetch(`${server.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input }),
    });
    return (await response.json()) as { status: string; output: unknown };
  };
  const pause = () => new Promise((resolve) => setTimeout(resolve, RELEASE_AFTER_MS * 4));

  it('`cog-node serve` (worker thread) left idle after READY, both threads released, answers as before', async () => {
    const server = await readyServer();
    try {
      await pause();
      expect(await predict(server, { text: 'after', times: 2 })).toMatchObject({ status: 'succeeded', output: 'afterafter' });
    } finally {
      await server.kill();
    }
  });

  it('predictions from READY on (the release then skipped) are answered, a slow one through the time it was due', async () => {
    const server = await readyServer();
    try {
      const [first, slow] = await Promise.all([
        predict(server, { text: 'at ready' }),
        predict(server, { text: 'slow', sleep: (RELEASE_AFTER_MS * 4) / 1000 }),
      ]);
      expect([first.output, slow.output]).toEqual(['at ready', 'slow']);
      await pause();
      expect(await predict(server, { text: 'later' })).toMatchObject({ status: 'succeeded', output: 'later' });
    } finally {
      await server.kill();
    }
  });
});
