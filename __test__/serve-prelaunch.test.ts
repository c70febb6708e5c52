// `cog-node serve` starts a worker before anything else loads and the runtime adopts it: no worker
// is made twice (thread ids count every Worker the process made), one that does not fit is not
// used, and --in-process starts none.
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

  it('adopts it as instance 0; the other instances start as before', async () => {
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

  it('makes another when cog.yaml asks for a heap limit the early one lacks', async () => {
    const server = await startServer('prelaunch-heap');
    try {
      await waitForHealth(server.url, ['READY']);
      const { status, body } = await post(`${server.url}/predictions`, { input: {} });
      expect(status).toBe(200);
      expect(body.output).toBe('thread 2');
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
