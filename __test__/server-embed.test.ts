// Cog's API from your own code: `serve()` for `node server.js`, `createApp()` mounted in a Hono app.
import { serve as listen } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import * as built from '../dist/index.js';
import { BasePredictor, Input, Type, createApp, serve, type Inputs } from '../src/index.js';
import { json, post, waitForHealth } from './fixtures/server/harness.js';

class Shout extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();
  async predict({ text }: Inputs<typeof Shout>): Promise<string> {
    console.log(`shouting ${text}`);
    return text.toUpperCase();
  }
}

/** The same predictor written against the built package, whose Hono is bundled inside it. */
class BuiltShout extends built.BasePredictor {
  static inputs = { text: built.Input(built.Type.String()) };
  static output = built.Type.String();
  async predict({ text }: { text: string }): Promise<string> {
    console.log(`shouting ${text}`);
    return text.toUpperCase();
  }
}

describe('createApp', () => {
  // dist/ bundles Hono (dist/vendor/hono.js): its app must mount in the user's own Hono as well.
  it.each([
    ['the sources', () => createApp(Shout)],
    ['the built package', () => built.createApp(BuiltShout)],
  ])("mounts Cog's API beside the app's own routes (%s)", async (_, make) => {
    const cog = make();
    const app = new Hono();
    app.get('/livez', (c) => c.text('alive'));
    app.route('/', cog.app);
    const server = await new Promise<Server>((resolve) => {
      const s = listen({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await cog.ready;
      expect(cog.service.isReady).toBe(true);
      expect(await (await fetch(`${url}/livez`)).text()).toBe('alive');
      await waitForHealth(url, ['READY']);
      const result = await post(`${url}/predictions`, { input: { text: 'hey' } });
      expect(result.body).toMatchObject({ status: 'succeeded', output: 'HEY', logs: 'shouting hey\n' });
      expect((await post(`${url}/predictions`, {})).status).toBe(422);
      // Without an onShutdown, /shutdown stops the service but leaves the process to the app.
      expect((await post(`${url}/shutdown`)).status).toBe(200);
      await cog.shutdown();
      const refused = await post(`${url}/predictions`, { input: { text: 'late' } });
      expect(refused.status).toBe(503);
      expect(refused.body.error).toContain('shutting down');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('serve', () => {
  it('serves a class on a port and stops on shutdown() without exiting the process', async () => {
    const server = await serve({ predict: Shout }, { host: '127.0.0.1', port: 0, exit: false });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await waitForHealth(server.url, ['READY']);
      expect((await json(`${server.url}/`)).body.trainings_url).toBeUndefined();
      expect((await post(`${server.url}/predictions`, { input: { text: 'a' } })).body.output).toBe('A');
    } finally {
      await server.shutdown();
    }
    await server.closed;
    await expect(fetch(`${server.url}/health-check`)).rejects.toThrow();
  });
});
