// The one precedence rule of the resolver, through every entry point: the real environment wins
// over cog.yaml's `environment:`, which fills in what the real environment leaves unset.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp as builtCreateApp } from '../dist/index.js';
import { loadPredictor, type createApp } from '../src/index.js';
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
