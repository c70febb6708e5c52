// The one precedence rule of the resolver, through every entry point: the real environment wins
// over cog.yaml's `environment:`, which fills in what the real environment leaves unset.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp as builtCreateApp } from '../dist/index.js';
import { loadPredictor, type createApp } from '../src/index.js';
import { tracingPlan } from '../src/load/plan.js';
import { readSettings } from '../src/load/settings.js';
import { serveLocally } from './helpers/app.js';
import { cli } from './helpers/cli.js';
import { post, startServer, waitForHealth } from './fixtures/server/harness.js';

// cog.yaml: GREETING=from-yaml, ONLY_YAML=yes; the predictor answers `GREETING ONLY_YAML`.
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/server/environment');

// In this process, the entry point applies cog.yaml's environment to process.env: undo it.
afterEach(() => {
  delete process.env.GREETING;
  delete process.env.ONLY_YAML;
});

describe("the real environment wins over cog.yaml's environment:", () => {
  it('cog-node serve (serve / serveFromConfig)', async () => {
    const server = await startServer('environment', { env: { GREETING: 'from-env' } });
    try {
      await waitForHealth(server.url, ['READY']);
      const { status, body } = await post(`${server.url}/predictions`, { input: {} });
      expect(status).toBe(200);
      expect(body.output).toBe('from-env yes');
    } finally {
      await server.kill();
    }
  });

  it('cog-node predict', async () => {
    const run = await cli(['predict'], { cwd: FIXTURE, env: { GREETING: 'from-env' } });
    expect(run.stderr).not.toContain('Error');
    expect(run.stdout).toBe('from-env yes\n');
    expect(run.code).toBe(0);
  });

  it('cog-node predict: -e wins over both', async () => {
    const run = await cli(['predict', '-e', 'GREETING=from-flag', '-e', 'ONLY_YAML=flag'], { cwd: FIXTURE, env: { GREETING: 'from-env' } });
    expect(run.stdout).toBe('from-flag flag\n');
  });

  it('loadPredictor', async () => {
    process.env.GREETING = 'from-env';
    const predictor = await loadPredictor(FIXTURE);
    try {
      expect(await predictor.run()).toBe('from-env yes');
    } finally {
      await predictor.runtime.close();
    }
  });

  it('createApp (the built package: the predictor in its worker thread)', async () => {
    process.env.GREETING = 'from-env';
    // The same function, typed from the other copy (their private fields make the types differ).
    const app = await serveLocally(FIXTURE, builtCreateApp as unknown as typeof createApp);
    try {
      const { status, body } = await post(`${app.url}/predictions`, { input: {} });
      expect(status).toBe(200);
      expect(body.output).toBe('from-env yes');
    } finally {
      await app.stop();
    }
  });
});

describe("tracing's rule (tracingPlan)", () => {
  const on = { enabled: true, sampler: 'traceidratio', samplerArg: '0.5' };
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' };
  it('is off unless cog.yaml (or COG_TRACE_ENABLED=true) asks and a collector is set', () => {
    expect(tracingPlan(readSettings(endpoint), {})).toEqual({ enabled: false, why: 'not enabled (cog.yaml observability.traces)' });
    expect(tracingPlan(readSettings({}), on)).toEqual({ enabled: false, why: 'no collector: set OTEL_EXPORTER_OTLP_ENDPOINT' });
    expect(tracingPlan(readSettings({ ...endpoint, COG_TRACE_ENABLED: 'true' }), {})).toMatchObject({ enabled: true });
  });

  it('each switch wins over cog.yaml', () => {
    for (const [name, value] of [
      ['COG_TRACE_ENABLED', 'false'],
      ['OTEL_SDK_DISABLED', 'true'],
      ['OTEL_TRACES_EXPORTER', 'none'],
    ]) {
      expect(tracingPlan(readSettings({ ...endpoint, [name!]: value }), on)).toEqual({ enabled: false, why: `${name}=${value}` });
    }
  });

  it('the environment wins over cog.yaml for the sampler; the traces endpoint over the base one', () => {
    expect(tracingPlan(readSettings(endpoint), on)).toEqual({
      enabled: true,
      url: 'http://collector:4318/v1/traces',
      headers: {},
      sampler: 'traceidratio',
      ratio: 0.5,
      serviceName: 'cog',
    });
    expect(
      tracingPlan(
        readSettings({
          ...endpoint,
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other/traces',
          OTEL_TRACES_SAMPLER: 'always_on',
          OTEL_TRACES_SAMPLER_ARG: '0.1',
        }),
        on,
      ),
    ).toMatchObject({ url: 'http://other/traces', sampler: 'always_on', ratio: 0.1 });
    expect(tracingPlan(readSettings(endpoint), { enabled: true })).toMatchObject({ sampler: 'parentbased_always_off' });
  });
});
