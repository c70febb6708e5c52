// The settings object: every variable cog-node reads has one row, is read once into a frozen
// object, and a value it cannot read gets the default, as each variable did before.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { currentSettings, readSettings, settingRows } from '../src/load/settings.js';
import { COG_NODE_VERSION } from '../src/version.js';
import { ROOT } from './helpers/cli.js';

describe('settings', () => {
  it("has Cog's defaults when nothing is set", () => {
    expect(readSettings({})).toEqual({
      maxConcurrency: undefined,
      instances: undefined,
      queueMax: undefined,
      predictTimeout: undefined,
      predictionRetention: 1000,
      predictionRetentionSeconds: 600,
      redisUrl: undefined,
      queueName: 'cog-predictions',
      queueLockDuration: 30_000,
      setupTimeout: 0,
      weights: undefined,
      cancelGracePeriod: 30,
      workerMaxHeapMb: 0,
      streamHistoryCapacity: 1024,
      port: 5000,
      throttleInterval: 500,
      webhookAuthToken: undefined,
      userAgent: `cog-node/${COG_NODE_VERSION}`,
      shutdownTimeout: 30_000,
      corsOrigins: new Set(),
      downloadStallTimeout: 60,
      maxDownloadBytes: undefined,
      denyPrivateNetwork: false,
      playground: true,
      kubernetes: false,
      traceEnabled: undefined,
      otelSdkDisabled: false,
      otelTracesExporter: 'otlp',
      otlpEndpoint: undefined,
      otlpTracesEndpoint: undefined,
      otlpHeaders: {},
      otelTracesSampler: undefined,
      otelTracesSamplerArg: undefined,
      otelServiceName: 'cog',
      dumbTerminal: false,
    });
  });

  it('reads each variable, in the units the code uses', () => {
    const settings = readSettings({
      COG_MAX_CONCURRENCY: '4',
      COG_INSTANCES: '2',
      COG_QUEUE_MAX: '256',
      COG_PREDICT_TIMEOUT: '1.5',
      COG_PREDICTION_RETENTION: '0',
      COG_PREDICTION_RETENTION_SECONDS: '60',
      COG_REDIS_URL: ' redis://10.0.0.5:6379 ',
      COG_QUEUE_NAME: 'gpu-a100',
      COG_QUEUE_LOCK_DURATION: '2.5',
      COG_SETUP_TIMEOUT: '2.5',
      COG_WEIGHTS: '/weights',
      COG_CANCEL_GRACE_PERIOD: '0',
      COG_WORKER_MAX_HEAP_MB: '256',
      COG_STREAM_HISTORY_CAPACITY: '0',
      PORT: '8080',
      COG_THROTTLE_RESPONSE_INTERVAL: '0.1',
      WEBHOOK_AUTH_TOKEN: 't0ken',
      COG_USER_AGENT: 'me/1',
      COG_SHUTDOWN_TIMEOUT: '5',
      COG_CORS_ORIGINS: 'https://Example.com:443/, http://localhost:3000',
      COG_DOWNLOAD_STALL_TIMEOUT: '3',
      COG_MAX_DOWNLOAD_BYTES: '1024',
      COG_DENY_PRIVATE_NETWORK: 'yes',
      COG_NODE_PLAYGROUND: 'off',
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      COG_TRACE_ENABLED: 'off',
      OTEL_SDK_DISABLED: 'TRUE',
      OTEL_TRACES_EXPORTER: 'None',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s%3Dcret, x-tenant = a ,broken',
      OTEL_TRACES_SAMPLER: 'ParentBased_TraceIdRatio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_SERVICE_NAME: 'my-model',
      TERM: 'dumb',
    });
    expect(settings).toEqual({
      maxConcurrency: 4,
      instances: 2,
      queueMax: 256,
      predictTimeout: 1.5,
      predictionRetention: 0,
      predictionRetentionSeconds: 60,
      redisUrl: 'redis://10.0.0.5:6379',
      queueName: 'gpu-a100',
      queueLockDuration: 2500,
      setupTimeout: 2.5,
      weights: '/weights',
      cancelGracePeriod: 0,
      workerMaxHeapMb: 256,
      streamHistoryCapacity: 0,
      port: 8080,
      throttleInterval: 100,
      webhookAuthToken: 't0ken',
      userAgent: 'me/1',
      shutdownTimeout: 5000,
      corsOrigins: new Set(['https://example.com', 'http://localhost:3000']),
      downloadStallTimeout: 3,
      maxDownloadBytes: 1024,
      denyPrivateNetwork: true,
      playground: false,
      kubernetes: true,
      traceEnabled: false,
      otelSdkDisabled: true,
      otelTracesExporter: 'none',
      otlpEndpoint: 'http://collector:4318/',
      otlpTracesEndpoint: 'http://collector:4318/v1/traces',
      otlpHeaders: { 'api-key': 's=cret', 'x-tenant': 'a' },
      otelTracesSampler: 'parentbased_traceidratio',
      otelTracesSamplerArg: '0.25',
      otelServiceName: 'my-model',
      dumbTerminal: true,
    });
    expect(readSettings({ COG_CORS_ORIGINS: ' * ' }).corsOrigins).toBe('*');
  });

  it('gives a value it cannot read the default (a bad COG_MAX_CONCURRENCY counts as 1, as in Cog)', () => {
    const settings = readSettings({
      COG_MAX_CONCURRENCY: 'many',
      COG_SETUP_TIMEOUT: '-1',
      COG_CANCEL_GRACE_PERIOD: 'soon',
      PORT: '70000',
      COG_THROTTLE_RESPONSE_INTERVAL: '-2',
      COG_SHUTDOWN_TIMEOUT: 'x',
      COG_DOWNLOAD_STALL_TIMEOUT: '0',
      COG_MAX_DOWNLOAD_BYTES: '-5',
      COG_STREAM_HISTORY_CAPACITY: '-1',
      COG_WORKER_MAX_HEAP_MB: 'lots',
      WEBHOOK_AUTH_TOKEN: '',
      COG_DENY_PRIVATE_NETWORK: 'no',
      COG_INSTANCES: '0',
      COG_QUEUE_MAX: '-3',
      COG_PREDICT_TIMEOUT: '0',
      COG_PREDICTION_RETENTION: 'all',
      COG_PREDICTION_RETENTION_SECONDS: '-1',
    });
    expect(settings).toMatchObject({
      instances: undefined,
      queueMax: undefined,
      predictTimeout: undefined,
      predictionRetention: 1000,
      predictionRetentionSeconds: 600,
      maxConcurrency: 1,
      setupTimeout: 0,
      cancelGracePeriod: 30,
      port: 5000,
      throttleInterval: 500,
      shutdownTimeout: 30_000,
      downloadStallTimeout: 60,
      maxDownloadBytes: undefined,
      streamHistoryCapacity: 1024,
      workerMaxHeapMb: 0,
      webhookAuthToken: undefined,
      denyPrivateNetwork: false,
    });
    // Empty is unset: neither counts as 1 nor overrides cog.yaml.
    expect(readSettings({ COG_MAX_CONCURRENCY: '' }).maxConcurrency).toBeUndefined();
  });

  it('is frozen, and the last one read is the current one', () => {
    const settings = readSettings({ PORT: '1234' });
    expect(Object.isFrozen(settings)).toBe(true);
    expect(() => Object.assign(settings, { port: 1 })).toThrow(TypeError);
    expect(currentSettings()).toBe(settings);
    readSettings();
  });

  it('is the only reader of process.env in src/ (but libtorch discovery, which takes any env)', () => {
    const readers: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.ts$/.test(entry.name) && readFileSync(path, 'utf8').includes('process.env')) readers.push(path.slice(ROOT.length + 1));
      }
    };
    walk(join(ROOT, 'src'));
    expect(readers.sort()).toEqual(['src/load/settings.ts', 'src/torch/libtorch.ts']);
    // Each row names its variable once.
    const names = Object.values(settingRows).map((row) => row.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
