// A TypeScript predictor compiled once and kept in node_modules/.cache/cog-node: the second start
// imports it from there, a change makes a new entry, and what only tsx loads exactly (other local
// modules) still loads through tsx. Through the real `cog-node predict`.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cli, project } from './helpers/cli.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const YAML = 'predict: "predict.ts:Predictor"\n';
const predictor = (body: string) => `import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

export class Predictor extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();

  async predict({ text }: Inputs<typeof Predictor>): Promise<string> {
${body}
  }
}
`;

const cacheOf = (dir: string) => join(dir, 'node_modules', '.cache', 'cog-node');
const entries = (dir: string) => (existsSync(cacheOf(dir)) ? readdirSync(cacheOf(dir)).sort() : []);

describe('the compiled predictor cache', () => {
  it('compiles predict.ts once, imports the cached module on the next start, and a changed file makes a new entry', async () => {
    const dir = project({ 'cog.yaml': YAML, 'predict.ts': predictor('    return text.toUpperCase();') });
    dirs.push(dir);
    const first = await cli(['predict', '-i', 'text=hi'], { cwd: dir });
    expect(first.stdout.trim()).toBe('HI');
    const [entry, ...more] = entries(dir);
    expect(more).toEqual([]);
    expect(entry).toMatch(/^predict-[0-9a-f]{20}\.mjs$/);
    // The cached module is what runs: marked by hand, the next start prints the mark.
    const cached = join(cacheOf(dir), entry!);
    writeFileSync(cached, readFileSync(cached, 'utf8').replace('text.toUpperCase()', '`cached:${text}`'));
    expect((await cli(['predict', '-i', 'text=hi'], { cwd: dir })).stdout.trim()).toBe('cached:hi');

    writeFileSync(join(dir, 'predict.ts'), predictor('    return `${text}!`;'));
    expect((await cli(['predict', '-i', 'text=hi'], { cwd: dir })).stdout.trim()).toBe('hi!');
    expect(entries(dir)).toHaveLength(2);
  });

  it("keeps the predictor's own import.meta.url, and a served prediction's stack names predict.ts and the line", async () => {
    const dir = project({
      'cog.yaml': YAML,
      'predict.ts': predictor(`    if (text === 'url') return import.meta.url;
    throw new Error('broke here');`),
    });
    dirs.push(dir);
    expect((await cli(['predict', '-i', 'text=url'], { cwd: dir })).stdout.trim()).toBe(pathToFileURL(join(dir, 'predict.ts')).href);
    expect(entries(dir)).toHaveLength(1);
    const port = await freePort();
    const server = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', String(port)], { cwd: dir, stdio: 'ignore' });
    try {
      const url = `http://127.0.0.1:${port}`;
      await expect
        .poll(
          async () =>
            ((await (await fetch(`${url}/health-check`).catch(() => undefined))?.json()) as { status?: string } | undefined)?.status,
          { timeout: 60_000, interval: 100 },
        )
        .toBe('READY');
      const response = await fetch(`${url}/predictions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"input":{"text":"x"}}',
      });
      const body = (await response.json()) as { status: string; error: string; logs: string };
      expect(body.status).toBe('failed');
      expect(body.error).toBe('broke here');
      expect(body.logs).toContain(`at Predictor.predict (${join(dir, 'predict.ts')}:9:11)`);
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('leaves a predictor importing its own local modules to tsx: it works and nothing is cached', async () => {
    const local = project({
      'cog.yaml': YAML,
      'helper.ts': 'export const shout = (text: string): string => `${text.toUpperCase()}!!`;\n',
      'predict.ts': predictor('    return shout(text);').replace(
        "from 'cog-node';",
        "from 'cog-node';\nimport { shout } from './helper.js';",
      ),
    });
    dirs.push(local);
    expect((await cli(['predict', '-i', 'text=hi'], { cwd: local })).stdout.trim()).toBe('HI!!');
    expect(entries(local)).toEqual([]);
  });
});
