// Keeps deploy/ true: its Kubernetes files parse, their `cog-node` command lines start (real
// processes on a real redis-server), their probes answer 200 on the ports they name, their env
// vars are settings rows, and the list KEDA watches is the one BullMQ fills for that queue.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { PredictionQueue } from 'cog-node';
import { settingRows } from '../src/load/settings.js';
import { startCog, waitFor, type CogProcess } from './fixtures/server/harness.js';
import { startRedis, type RedisServer } from './fixtures/fleet/harness.js';
import { ROOT } from './helpers/cli.js';

const DEPLOY = join(ROOT, 'deploy');
const FIXTURE = resolve(ROOT, '__test__/fixtures/fleet/work');

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet: { path: string; port: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: any;
  stringData?: Record<string, string>;
}

function manifests(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', file), 'utf8'));
  return docs.map((doc) => {
    expect(doc.errors, `${file}: YAML errors`).toEqual([]);
    return doc.toJS() as Manifest;
  });
}

const files = { worker: manifests('worker.yaml'), gateway: manifests('gateway.yaml'), scaling: manifests('scaling.yaml') };
const all = Object.values(files).flat();
const find = (kind: string, name: string) => all.find((m) => m.kind === kind && m.metadata.name === name);
const deployment = (file: Manifest[]) => file.find((m) => m.kind === 'Deployment')!;
const container = (file: Manifest[]): Container => deployment(file).spec.template.spec.containers[0];
const workerPod = deployment(files.worker).spec.template.spec;
const gatewayPod = deployment(files.gateway).spec.template.spec;

/** The container's argv, after Kubernetes' `$(VAR)` expansion from its env (secrets from `secrets`). */
function commandLine(c: Container, secrets: Record<string, string>): { argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  for (const variable of c.env ?? []) {
    const value = variable.value ?? secrets[variable.name];
    expect(value, `${c.name}: env ${variable.name} has a value`).toBeDefined();
    env[variable.name] = value!;
  }
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map((arg) =>
    String(arg).replace(/\$\(([A-Z0-9_]+)\)/g, (_, name: string) => env[name] ?? `$(${name})`),
  );
  return { argv, env };
}

const flag = (argv: string[], name: string) => argv[argv.indexOf(name) + 1];
const queueName = flag(container(files.worker).args!, '--queue')!;
const listName = find('ScaledObject', 'cog-worker')!.spec.triggers[0].metadata.listName as string;

/** Runs `work` with a PredictionQueue on the workers' queue and a plain Redis client, then closes both. */
async function withQueue(work: (queue: PredictionQueue, client: Redis) => Promise<void>): Promise<void> {
  const queue = new PredictionQueue({ redis: redis.url, queue: queueName });
  const client = new Redis(redis.url);
  try {
    await work(queue, client);
  } finally {
    await queue.close();
    await client.quit();
  }
}

/** The probes of `c`: each one's path and port, which must be the container's --port and a containerPort. */
function probes(c: Container): { kind: string; path: string }[] {
  const port = Number(flag([...(c.args ?? [])], '--port'));
  const found = (['livenessProbe', 'readinessProbe', 'startupProbe'] as const).flatMap((kind) => {
    const probe = c[kind];
    if (probe === undefined) return [];
    const named =
      typeof probe.httpGet.port === 'string' ? c.ports?.find((p) => p.name === probe.httpGet.port)?.containerPort : probe.httpGet.port;
    expect(named, `${c.name} ${kind}: its port is --port`).toBe(port);
    return [{ kind, path: probe.httpGet.path }];
  });
  expect(c.ports?.map((p) => p.containerPort)).toContain(port);
  expect(found.map((p) => p.kind)).toEqual(expect.arrayContaining(['livenessProbe', 'readinessProbe']));
  return found;
}

/** Starts the container's command line here: the fixture predictor, the real Redis, `--port 0`. */
async function startContainer(c: Container, redisUrl: string, ready: RegExp, portLine: RegExp): Promise<{ cog: CogProcess; url: string }> {
  const { argv, env } = commandLine(c, { COG_REDIS_URL: redisUrl });
  expect(argv[0]).toBe('cog-node');
  const args = argv.slice(1);
  args[args.indexOf('--port') + 1] = '0';
  const cog = await startCog(args, FIXTURE, ready, { env, what: argv.slice(0, 2).join(' '), timeoutMs: 120_000 });
  const port = portLine.exec(cog.output())?.[1];
  expect(port, `${argv[1]} says its port`).toBeDefined();
  return { cog, url: `http://127.0.0.1:${port}` };
}

async function get200(url: string): Promise<number> {
  return waitFor(
    async () => {
      const response = await fetch(url).catch(() => undefined);
      await response?.text();
      return response?.status === 200 ? 200 : undefined;
    },
    `200 from ${url}`,
    60_000,
  );
}

let redis: RedisServer;
const running: CogProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const cog of running) if (cog.child.exitCode === null && cog.child.signalCode === null) cog.child.kill('SIGKILL');
  await Promise.all(running.map((cog) => cog.exited));
  await redis?.stop();
});

describe('deploy/', () => {
  it('names only env vars that are rows of src/load/settings.ts', () => {
    const known = new Set(Object.values(settingRows).map((row) => row.name));
    const named = [container(files.worker), container(files.gateway)].flatMap((c) => (c.env ?? []).map((v) => v.name));
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect(known, `${name} is a settings row`).toContain(name);
  });

  it('refers only to objects and Secret keys it defines, and outlasts the shutdown it asks for', () => {
    const secret = find('Secret', 'cog-redis')!;
    for (const c of [container(files.worker), container(files.gateway)]) {
      for (const v of c.env ?? []) {
        const ref = v.valueFrom?.secretKeyRef;
        if (ref) expect(find('Secret', ref.name)?.stringData, `${c.name}: secret ${ref.name}`).toHaveProperty(ref.key);
      }
    }
    const auth = find('TriggerAuthentication', 'cog-redis')!;
    for (const ref of auth.spec.secretTargetRef) expect(find('Secret', ref.name)?.stringData).toHaveProperty(ref.key);
    expect(secret.stringData!.address).toBe(new URL(secret.stringData!.url!).host);
    const scaled = find('ScaledObject', 'cog-worker')!;
    expect(find('Deployment', scaled.spec.scaleTargetRef.name)).toBe(deployment(files.worker));
    expect(find('TriggerAuthentication', scaled.spec.triggers[0].authenticationRef.name)).toBe(auth);
    expect(find('Service', 'cog')!.spec.selector).toEqual(deployment(files.gateway).spec.selector.matchLabels);
    // SIGTERM lets predictions run COG_CANCEL_GRACE_PERIOD, then hands jobs back: Kubernetes waits longer.
    const grace = (c: Container, name: string) => Number(c.env!.find((v) => v.name === name)!.value);
    expect(workerPod.terminationGracePeriodSeconds).toBeGreaterThan(grace(container(files.worker), 'COG_CANCEL_GRACE_PERIOD'));
    expect(gatewayPod.terminationGracePeriodSeconds).toBeGreaterThan(grace(container(files.gateway), 'COG_SHUTDOWN_TIMEOUT'));
    // Liveness must not kill a worker during a setup: the startup probe outlasts a long one (>= 5 min).
    const startup = container(files.worker).startupProbe!;
    expect(startup.periodSeconds! * startup.failureThreshold!).toBeGreaterThanOrEqual(300);
  });

  it("KEDA's listName is the list BullMQ fills for the workers' queue (LLEN while no worker runs)", async () => {
    expect(flag(container(files.gateway).args!, '--queue')).toBe(queueName);
    await withQueue(async (queue, client) => {
      for (const i of [1, 2, 3]) await queue.submit({ text: `waits-${i}` }, { id: `waits-${i}` });
      expect(await client.type(listName)).toBe('list');
      expect(await client.llen(listName)).toBe(3);
    });
  }, 60_000);

  it("the worker's command line starts, answers its probes with 200, and drains that list", async () => {
    const c = container(files.worker);
    const { cog, url } = await startContainer(c, redis.url, /taking predictions/, /worker health on http:\/\/[^:]+:(\d+)/);
    running.push(cog);
    for (const probe of probes(c)) expect(await get200(`${url}${probe.path}`), `${probe.kind} ${probe.path}`).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    // The jobs queued before any worker ran are this worker's: the scaler's list empties.
    await withQueue(async (queue, client) => {
      for (const i of [1, 2, 3]) expect(await queue.result(`waits-${i}`)).toMatchObject({ status: 'succeeded' });
      expect(await client.llen(listName)).toBe(0);
    });
  }, 180_000);

  it("the gateway's command line starts, answers its probes with 200, serves a prediction through the worker, which then exits 0 on SIGTERM; without Redis it is unready", async () => {
    const c = container(files.gateway);
    const { cog, url } = await startContainer(c, redis.url, /ready: in front of the queue/, /serving on http:\/\/[^:]+:(\d+)/);
    running.push(cog);
    for (const probe of probes(c)) expect(await get200(`${url}${probe.path}`), `${probe.kind} ${probe.path}`).toBe(200);
    const response = await fetch(`${url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'through the gateway' } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'succeeded', output: ['through the gateway', expect.any(String)] });
    // SIGTERM: the worker takes no more jobs and exits 0 (nothing runs, so at once).
    const worker = running[0]!;
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    // As deploy/README.md says: without Redis the gateway is unready (it could not queue), yet live.
    await redis.stop();
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'unavailable', reason: expect.stringMatching(/^Redis did not answer/) });
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
  }, 180_000);

  it("is linked from the README's Running a fleet section, and says it cannot run here", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const fleet = readme.slice(readme.indexOf('## Running a fleet'));
    expect(fleet.slice(0, fleet.indexOf('\n## ', 3))).toContain('](deploy/README.md)');
    const doc = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
    for (const file of ['worker.yaml', 'gateway.yaml', 'scaling.yaml']) expect(doc).toContain(`kubernetes/${file}`);
    expect(doc).toMatch(/None of this can run here/);
  });
});
