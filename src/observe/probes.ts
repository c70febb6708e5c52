// Kubernetes-style probes: `GET /health/live` (is the process worth keeping) and `GET /health/ready`
// (may it be sent a prediction now), each a 200 or a 503 with the reason. `/health-check` keeps
// Cog's always-200 report (health.ts); these answer from the same state, read from its owners.
import type { Hono } from 'hono';
import type { CogService } from '../server/service.js';

/** A probe's answer: `ok`, or why not. */
export type ProbeAnswer = { ok: true } | { ok: false; reason: string };

/** What the probes ask: the server's own (`serviceProbes`), or a gateway's or a queue worker's. */
export interface ProbeSource {
  live(): ProbeAnswer;
  /** May ask elsewhere (the gateway asks Redis), within its own short limit. */
  ready(): ProbeAnswer | Promise<ProbeAnswer>;
}

/**
 * Probes over a `serve` process: not live only while DEFUNCT; ready when a prediction sent now
 * would run or wait in the line (not while starting, after setup failed, while shutting down,
 * nor with every slot busy and the line full). The user's `healthcheck()` is `/health-check`'s
 * concern (it may take 5 s): probes answer at once.
 */
export function serviceProbes(service: CogService): ProbeSource {
  return {
    live: () => (service.defunct === undefined ? { ok: true } : { ok: false, reason: `DEFUNCT: ${service.defunct}` }),
    ready: () => {
      if (service.defunct !== undefined) return { ok: false, reason: `DEFUNCT: ${service.defunct}` };
      if (service.shuttingDown) return { ok: false, reason: 'shutting down' };
      const setup = service.setup();
      if (setup.status === 'failed') return { ok: false, reason: 'setup failed' };
      const runtime = service.primary;
      if (runtime === undefined || !service.isReady) return { ok: false, reason: 'starting' };
      const { waiting, max } = runtime.queue;
      if (runtime.slots.full && waiting >= max) {
        return {
          ok: false,
          reason: max === 0 ? 'at capacity' : `at capacity and the queue is full (${waiting} waiting, queue.max ${max})`,
        };
      }
      return { ok: true };
    },
  };
}

/** Adds `GET /health/live` and `GET /health/ready` to `app`. */
export function registerProbes(app: Hono, source: ProbeSource): void {
  const answer = (result: ProbeAnswer) =>
    result.ok
      ? { body: { status: 'ok' }, status: 200 as const }
      : { body: { status: 'unavailable', reason: result.reason }, status: 503 as const };
  app.get('/health/live', (c) => {
    const { body, status } = answer(source.live());
    return c.json(body, status);
  });
  app.get('/health/ready', async (c) => {
    const { body, status } = answer(await source.ready());
    return c.json(body, status);
  });
}
