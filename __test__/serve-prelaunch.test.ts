// `cog-node serve` starts the predictor's workers before the server's own modules load, and the
// runtime adopts them: no worker is made twice (thread ids count every Worker the process made),
// and --in-process starts none.
import { describe, expect, it } from 'vitest';
import { json, post, startServer, waitForHealth } from './fixtures/server/harness.js';

async function served(options: Parameters<typeof startServer>[1] = {}) {
  const server = await startServer('prelaunch', options);
  await waitForHealth(server.url, ['READY']);
  return server;
}

describe('cog-node serve starts its workers early', () => {
  it('runs the predictor in the first worker the process made', async () => {
    const server = await served();
    try {
      const { status, body } = await post(`${server.url}/predictions`, { input: {} });
      expect(status).toBe(200);
      expect(body.output).toBe('thread 1');
      const { body: health } = await json(`${server.url}/health-check`);
      expect(health.setup.logs).toContain('instance 0 of 1 on thread 1');
    } finally {
      await server.kill();
    }
  });

  it('adopts one early worker per model instance, in order', async () => {
    const server = await served({ env: { COG_INSTANCES: '2', COG_MAX_CONCURRENCY: '2' } });
    try {
      const { body: health } = await json(`${server.url}/health-check`);
      expect(health.setup.logs).toContain('instance 0 of 2 on thread 1');
      expect(health.setup.logs).toContain('instance 1 of 2 on thread 2');
      expect(health.instances).toMatchObject({ count: 2, ready: 2 });
    } finally {
      await server.kill();
    }
  });

  it('starts none with --in-process', async () => {
    const server = await served({ args: ['--in-process'] });
    try {
      const { body } = await post(`${server.url}/predictions`, { input: {} });
      expect(body.output).toBe('thread 0');
    } finally {
      await server.kill();
    }
  });
});
