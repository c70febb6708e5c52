// Concurrency a predictor declares (`static concurrency = { max }`, Cog 0.22's
// `@cog.concurrent(max=N)`), and the operator's settings that win over it: cog.yaml's
// `concurrency.max`, then `COG_MAX_CONCURRENCY`.
import { afterEach, describe, expect, it } from 'vitest';
import { BasePredictor, Input, Type, loadPredictor } from 'cog-node';
import { post, startServer, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

const servers: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.kill()));
});

/** Sends four overlapping 800 ms predictions; how many ran (the rest got 409). */
async function admitted(fixture: string, env: Record<string, string>): Promise<{ ran: number; refused: number }> {
  const server = await startServer(fixture, { env: { COG_MAX_CONCURRENCY: '', ...env } });
  servers.push(server);
  await waitForHealth(server.url, ['READY']);
  const responses = await Promise.all([1, 2, 3, 4].map(() => post(`${server.url}/predictions`, { input: { ms: 800 } })));
  const ran = responses.filter((response) => response.status === 200);
  for (const response of ran) expect(response.body).toMatchObject({ status: 'succeeded', output: 'slept 800 ms' });
  // The ones that ran overlapped: each started before any finished.
  const started = ran.map((response) => Date.parse(response.body.started_at));
  const completed = ran.map((response) => Date.parse(response.body.completed_at));
  expect(Math.max(...started)).toBeLessThan(Math.min(...completed));
  return { ran: ran.length, refused: responses.filter((response) => response.status === 409).length };
}

describe('cog-node serve', () => {
  it('runs as many predictions at once as the class declares when cog.yaml says nothing', async () => {
    expect(await admitted('declared', {})).toEqual({ ran: 2, refused: 2 });
  });

  it("cog.yaml's concurrency.max wins over the class's", async () => {
    expect(await admitted('declared-yaml', {})).toEqual({ ran: 1, refused: 3 });
  });

  it('COG_MAX_CONCURRENCY wins over cog.yaml and the class', async () => {
    expect(await admitted('declared-yaml', { COG_MAX_CONCURRENCY: '3' })).toEqual({ ran: 3, refused: 1 });
  });
});

describe('embedding', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('a class or a function predictor declares its concurrency; an option wins over it', async () => {
    class Declared extends BasePredictor {
      static concurrency = { max: 3 };
      static inputs = { ms: Input(Type.Integer(), { default: 1 }) };
      async predict({ ms }: { ms: number }) {
        await sleep(ms);
        return ms;
      }
    }
    const predictFunction = Object.assign(async () => 'ok', { concurrency: { max: 2 } });
    expect((await loadPredictor(Declared)).runtime.slots.capacity).toBe(3);
    expect((await loadPredictor(predictFunction)).runtime.slots.capacity).toBe(2);
    expect((await loadPredictor(Declared, { concurrency: 1 })).runtime.slots.capacity).toBe(1);
  });

  it('a bad declaration fails loading, naming the rule; a sync predictor cannot declare more than 1', async () => {
    class Zero extends BasePredictor {
      static concurrency = { max: 0 };
      async predict() {
        return 'never';
      }
    }
    await expect(loadPredictor(Zero)).rejects.toThrow('Zero: `concurrency` must be { max: N } with N an integer >= 1, got {"max":0}');
    class Sync extends BasePredictor {
      static concurrency = { max: 2 };
      predict() {
        return 'sync';
      }
    }
    await expect(loadPredictor(Sync)).rejects.toThrow('COG_MAX_CONCURRENCY > 1 requires an async run() or predict() method');
  });
});
