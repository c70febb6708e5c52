// Across the queue, with real processes (redis-server, `cog-node worker`, the gateway `cog-node
// serve --redis`): a caller's W3C trace continues in the worker that runs its job (Cog's span
// names, exported to an OTLP/HTTP receiver started here), and the gateway answers the worker's
// own JSON, so a float output is Cog's `1.0` as `serve` writes it, never a re-serialized `1`.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, startWorker, type RedisServer, type WorkerProcess } from './fixtures/fleet/harness.js';
import { Peer, post, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';
import { receiver, tracingEnv, type ExportedSpan } from './fixtures/server/otlp.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;

let redis: RedisServer;
const processes: (ServerProcess | WorkerProcess)[] = [];
const peers: Peer[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterEach(async () => {
  await Promise.all(processes.splice(0).map((process) => process.kill()));
  await Promise.all(peers.splice(0).map((peer) => peer.stop()));
});
afterAll(async () => {
  await redis?.stop();
});

/** A worker and a gateway for fixture `name` on their own queue; resolves once the gateway says READY. */
async function fleet(
  name: { worker: string; gateway: string },
  queue: string,
  env: { worker?: Record<string, string>; gateway?: Record<string, string> } = {},
): Promise<{ worker: WorkerProcess; gateway: ServerProcess }> {
  const [worker, gateway] = await Promise.all([
    startWorker(name.worker, redis.url, { args: ['--queue', queue], env: env.worker }),
    startServer(name.gateway, { args: ['--redis', redis.url, '--queue', queue], env: env.gateway }),
  ]);
  processes.push(worker, gateway);
  await waitForHealth(gateway.url, ['READY'], 30_000);
  return { worker, gateway };
}

describe('the trace across the queue', () => {
  it("the worker's cog.prediction continues the gateway's incoming traceparent, with Cog's child spans", async () => {
    const { peer, spans } = await receiver(peers);
    const { worker, gateway } = await fleet({ worker: '../server/observe', gateway: 'observe' }, 'traced', {
      worker: tracingEnv(peer, { OTEL_SERVICE_NAME: 'cog-worker' }),
      gateway: tracingEnv(peer, { OTEL_SERVICE_NAME: 'cog-gateway' }),
    });
    expect(worker.output()).toContain(`tracing: spans to ${peer.url}/v1/traces (sampler parentbased_always_off)`);
    const response = await post(
      `${gateway.url}/predictions`,
      { id: 'traced-job', input: { name: 'queued' }, context: { 'trace.model.name': 'example/model' } },
      { traceparent: TRACEPARENT, tracestate: 'vendor=value' },
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: 'traced-job', status: 'succeeded', output: 'queued' });

    const exported = await waitFor(() => {
      const all = spans();
      return all.some((span) => span.name === 'cog.prediction') && all.some((span) => span.name === 'cog.prediction.invoke')
        ? all
        : undefined;
    }, 'the worker to export its prediction spans');
    const predictions = exported.filter((span) => span.name === 'cog.prediction');
    expect(predictions).toHaveLength(1);
    const root = predictions[0]!;
    // Exported by the worker, as a child of the caller's span: the trace went through Redis.
    expect(root).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN, service: 'cog-worker' });
    expect(root.attributes).toMatchObject({
      'cog.prediction.id': 'traced-job',
      'cog.prediction.status': 'succeeded',
      'caller.model.name': 'example/model',
    });
    const childrenOf = (parent: ExportedSpan) =>
      exported
        .filter((span) => span.parentSpanId === parent.spanId)
        .map((span) => span.name)
        .sort();
    expect(childrenOf(root)).toEqual(['cog.prediction.execute', 'cog.prediction.validate']);
    const execute = exported.find((span) => span.name === 'cog.prediction.execute')!;
    expect(childrenOf(execute)).toEqual(['cog.prediction.invoke', 'cog.prediction.prepare_input']);
    for (const span of exported.filter((candidate) => candidate.name.startsWith('cog.prediction'))) {
      expect(span.traceId, span.name).toBe(TRACE_ID);
    }
  }, 120_000);

  it('a job without a sampled traceparent is not traced by the default sampler', async () => {
    const { peer, spans } = await receiver(peers);
    const { worker, gateway } = await fleet({ worker: '../server/observe', gateway: 'observe' }, 'untraced', {
      worker: tracingEnv(peer, { OTEL_SERVICE_NAME: 'cog-worker' }),
      gateway: tracingEnv(peer, { OTEL_SERVICE_NAME: 'cog-gateway' }),
    });
    expect((await post(`${gateway.url}/predictions`, { id: 'plain', input: { name: 'a' } })).body.status).toBe('succeeded');
    await post(`${gateway.url}/predictions`, { id: 'sampled', input: { name: 'b' } }, { traceparent: TRACEPARENT });
    // SIGTERM: the worker flushes what it recorded before it exits.
    expect((await worker.kill('SIGTERM')).code).toBe(0);
    const ids = spans()
      .filter((span) => span.name === 'cog.prediction')
      .map((span) => span.attributes['cog.prediction.id']);
    expect(ids).toEqual(['sampled']);
  }, 120_000);
});

describe("the gateway answers the worker's JSON (Cog's floats)", () => {
  it('a Type.Number() output of 1 is "output":1.0 from the gateway (sync, SSE, GET), as from serve', async () => {
    const served = await startServer('../fleet/float');
    processes.push(served);
    await waitForHealth(served.url, ['READY'], 30_000);
    const direct = await fetch(`${served.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { value: 1 } }),
    });
    // What serve answers: Cog's float, the reference the gateway must match.
    expect(await direct.text()).toContain('"output":1.0');

    const { gateway } = await fleet({ worker: 'float', gateway: '../fleet/float' }, 'floats');
    const sync = await fetch(`${gateway.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'float-sync', input: { value: 1 } }),
    });
    expect(sync.status).toBe(200);
    const syncText = await sync.text();
    expect(syncText).toContain('"output":1.0');
    expect(JSON.parse(syncText)).toMatchObject({ id: 'float-sync', status: 'succeeded', output: 1 });

    const sse = await fetch(`${gateway.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ id: 'float-sse', input: { value: 2 } }),
    });
    const completed = (await sse.text()).split('\n\n').find((frame) => frame.startsWith('event: completed\n'));
    expect(completed).toBeDefined();
    expect(completed).toContain('"output":2.0');

    const byId = await fetch(`${gateway.url}/predictions/float-sync`);
    expect(await byId.text()).toContain('"output":1.0');
  }, 120_000);
});
