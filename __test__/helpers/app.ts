// Cog's API for a predictor of the test's own (in this process, via `createApp`), on loopback.
import { serve as listen } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp, type CogApp } from '../../src/index.js';

export interface LocalApp {
  url: string;
  cog: CogApp;
  /** How many times `POST /shutdown` asked the app to stop (it does not stop by itself). */
  shutdownRequests(): number;
  stop(): Promise<void>;
}

/**
 * Serves `source` on a free loopback port once it is set up; the environment is read now.
 * `create`: another copy's `createApp` (the built package's, whose worker thread needs no tsx).
 */
export async function serveLocally(source: Parameters<typeof createApp>[0], create: typeof createApp = createApp): Promise<LocalApp> {
  let requests = 0;
  const cog = create(source, { onShutdown: () => void (requests += 1) });
  const server = await new Promise<Server>((resolve) => {
    const s = listen({ fetch: cog.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  await cog.ready;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cog,
    shutdownRequests: () => requests,
    async stop() {
      await cog.shutdown();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
