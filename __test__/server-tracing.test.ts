// Tracing as Cog 0.23, into an OTLP/HTTP receiver started here: span names and parentage, the
// incoming `traceparent` continued, `trace.*` context as `caller.*` attributes, `cog.setup`, no
// trace headers on upload PUTs, off by default and by each switch, and a queued job's trace
// context (injectTraceCarrier/extractTraceCarrier) continued in-process. Real server processes.
import { afterEach, describe, expect, it } from 'vitest';
import { BasePredictor, CogTracing, Input, Type, extractTraceCarrier, injectTraceCarrier, loadPredictor } from 'cog-node';
import { Peer, post, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';
import { receiver as startReceiver, tracingEnv, type ExportedSpan } from './fixtures/server/otlp.js';

const servers: ServerProcess[] = [];
const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.kill()));
  await Promise.all(peers.splice(0).map((peer) => peer.stop()));
});

const receiver = () => startReceiver(peers);

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;

async function tracedServer(collector: Peer, env: Record<string, string> = {}, args: string[] = []): Promise<ServerProcess> {
  const server = await startServer('observe', {
    args,
    env: { ...tracingEnv(collector), ...env },
  });
  servers.push(server);
  await waitForHealth(server.url, ['READY']);
  return server;
}

function byName(spans: ExportedSpan[], name: string): ExportedSpan {
  const found = spans.filter((span) => span.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
}

describe('tracing', () => {
  it("continues the caller's trace with Cog's span names and parentage, and caller.* attributes", async () => {
    const { peer, spans } = await receiver();
    const uploads = await new Peer().start();
    peers.push(uploads);
    const server = await tracedServer(peer, {}, ['--upload-url', `${uploads.url}/up`]);
    expect(server.output()).toContain(`tracing: spans to ${peer.url}/v1/traces (sampler parentbased_always_off)`);
    const context: Record<string, string> = {
      'trace.model.name': 'example/model',
      'trace.deployment': 'production',
      secret: 'not exported',
    };
    const response = await post(
      `${server.url}/predictions`,
      { id: 'traced-1', input: { name: 'hello', file: true }, context },
      { traceparent: TRACEPARENT, tracestate: 'vendor=value' },
    );
    expect(response.body.status).toBe('succeeded');
    const exported = await waitFor(() => (spans().length >= 6 ? spans() : undefined), 'six spans');
    const root = byName(exported, 'cog.prediction');
    expect(root.traceId).toBe(TRACE_ID);
    expect(root.parentSpanId).toBe(CALLER_SPAN);
    expect(root.attributes).toMatchObject({
      'cog.prediction.id': 'traced-1',
      'cog.prediction.status': 'succeeded',
      'caller.model.name': 'example/model',
      'caller.deployment': 'production',
    });
    expect(Object.keys(root.attributes).filter((key) => key.startsWith('caller.'))).toHaveLength(2);
    const children = (parent: ExportedSpan) =>
      exported
        .filter((span) => span.parentSpanId === parent.spanId)
        .map((span) => span.name)
        .sort();
    expect(children(root)).toEqual(['cog.prediction.execute', 'cog.prediction.upload_output', 'cog.prediction.validate']);
    const execute = byName(exported, 'cog.prediction.execute');
    expect(children(execute)).toEqual(['cog.prediction.invoke', 'cog.prediction.prepare_input']);
    for (const span of exported) expect(span.traceId).toBe(TRACE_ID);
    // Each child lies within its parent.
    for (const span of exported.filter((candidate) => candidate !== root)) {
      const parent = exported.find((candidate) => candidate.spanId === span.parentSpanId)!;
      expect(BigInt(span.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(parent.startTimeUnixNano));
      expect(BigInt(span.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(parent.endTimeUnixNano));
    }
    // The upload PUT carries no trace headers (Cog 0.23); the webhook-free request has none to check.
    const [upload] = uploads.requests.filter((request) => request.method === 'PUT');
    expect(upload).toBeDefined();
    expect(upload!.headers.traceparent).toBeUndefined();
    expect(upload!.headers.tracestate).toBeUndefined();
  }, 30_000);

  it('marks a failed prediction, and with always_on starts traces of its own (cog.setup too)', async () => {
    const { peer, spans } = await receiver();
    const server = await tracedServer(peer, { OTEL_TRACES_SAMPLER: 'always_on' });
    expect((await post(`${server.url}/predictions`, { id: 'fails', input: { name: 'x', fail: true } })).body.status).toBe('failed');
    const exported = await waitFor(
      () =>
        spans().some((span) => span.name === 'cog.prediction') && spans().some((span) => span.name === 'cog.setup') ? spans() : undefined,
      'cog.prediction and cog.setup',
    );
    const root = byName(exported, 'cog.prediction');
    expect(root.parentSpanId ?? '').toBe('');
    expect(root.attributes['cog.prediction.status']).toBe('failed');
    // OTLP's STATUS_CODE_ERROR is 2.
    expect(root.status).toMatchObject({ code: 2, message: 'asked to fail' });
    expect(byName(exported, 'cog.setup').attributes['cog.setup.status']).toBe('succeeded');
  }, 30_000);

  it('the default sampler (parentbased_always_off) drops an unsampled or absent parent', async () => {
    const { peer, spans } = await receiver();
    const server = await tracedServer(peer);
    await post(`${server.url}/predictions`, { input: { name: 'a' } });
    await post(`${server.url}/predictions`, { input: { name: 'b' } }, { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-00` });
    // A malformed traceparent is ignored, never a rejected prediction.
    expect((await post(`${server.url}/predictions`, { input: { name: 'c' } }, { traceparent: 'garbage' })).body.status).toBe('succeeded');
    await post(`${server.url}/predictions`, { id: 'kept', input: { name: 'd' } }, { traceparent: TRACEPARENT });
    // Shutdown flushes what was recorded: only the sampled caller's prediction.
    await post(`${server.url}/shutdown`);
    expect((await server.exited).code).toBe(0);
    const names = spans()
      .filter((span) => span.name === 'cog.prediction')
      .map((span) => span.attributes['cog.prediction.id']);
    expect(names).toEqual(['kept']);
  }, 30_000);

  it.each([
    ['off by default (cog.yaml without observability)', 'echo', {}, undefined],
    ['COG_TRACE_ENABLED=false', 'observe', { COG_TRACE_ENABLED: 'false' }, 'COG_TRACE_ENABLED=false'],
    ['OTEL_SDK_DISABLED=true', 'observe', { OTEL_SDK_DISABLED: 'true' }, 'OTEL_SDK_DISABLED=true'],
    ['OTEL_TRACES_EXPORTER=none', 'observe', { OTEL_TRACES_EXPORTER: 'none' }, 'OTEL_TRACES_EXPORTER=none'],
  ])(
    '%s: nothing is exported',
    async (_title, fixture, env: Record<string, string>, why) => {
      const { peer } = await receiver();
      const server = await startServer(fixture, {
        env: {
          SETUP_MS: '',
          COG_TRACE_ENABLED: '',
          OTEL_SDK_DISABLED: '',
          OTEL_TRACES_EXPORTER: '',
          OTEL_EXPORTER_OTLP_ENDPOINT: peer.url,
          OTEL_TRACES_SAMPLER: 'always_on',
          ...env,
        },
      });
      servers.push(server);
      await waitForHealth(server.url, ['READY']);
      const input = fixture === 'echo' ? { text: 'x' } : { name: 'x' };
      expect((await post(`${server.url}/predictions`, { input }, { traceparent: TRACEPARENT })).body.status).toBe('succeeded');
      await post(`${server.url}/shutdown`);
      expect((await server.exited).code).toBe(0);
      if (why !== undefined) expect(server.output()).toContain(`tracing off: ${why}`);
      expect(server.output()).not.toContain('tracing: spans to');
      expect(peer.requests).toEqual([]);
    },
    30_000,
  );
});

class Echo extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();
  async predict({ text }: { text: string }): Promise<string> {
    return text;
  }
}

describe('trace context through a queue', () => {
  it("a job carrying the caller's traceparent continues its trace where it runs", async () => {
    const { peer, spans } = await receiver();
    // What a gateway puts in a job, and what the worker takes out of it.
    const job = injectTraceCarrier({ input: { text: 'queued' } }, { traceparent: TRACEPARENT, tracestate: 'vendor=value' });
    expect(job.trace).toEqual({ traceparent: TRACEPARENT, tracestate: 'vendor=value' });
    expect(injectTraceCarrier({ input: {} }, { traceparent: 'garbage' })).toEqual({ input: {} });
    const carried = extractTraceCarrier(JSON.parse(JSON.stringify(job)));
    expect(carried).toEqual({ traceparent: TRACEPARENT, tracestate: 'vendor=value' });
    expect(extractTraceCarrier({ trace: { traceparent: `00-${'0'.repeat(32)}-${CALLER_SPAN}-01` } })).toBeUndefined();

    const predictor = await loadPredictor(Echo);
    const tracing = new CogTracing({
      enabled: true,
      url: `${peer.url}/v1/traces`,
      headers: {},
      sampler: 'parentbased_always_off',
      ratio: 1,
      serviceName: 'worker',
    });
    tracing.watch(predictor.runtime);
    const prediction = predictor.runtime.start(job.input, { id: 'job-1', trace: carried });
    expect((await prediction.done).status).toBe('succeeded');
    await tracing.shutdown();
    const root = byName(spans(), 'cog.prediction');
    expect(root).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN });
    expect(root.attributes['cog.prediction.id']).toBe('job-1');
  });
});
