// Progress where work is long: the server logs setup's phases with their times; `cog-node
// predict` shows a setup spinner and URL download progress on a terminal (a real pty, through
// util-linux's `script`), and writes no control characters when stderr is not one.
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from './fixtures/server/harness.js';
import { BIN, cli, project } from './helpers/cli.js';

const run = promisify(execFile);

async function waitForLine(server: ServerProcess, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const match = pattern.exec(server.output());
    if (match) return match[0];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ${pattern} in:\n${server.output()}`);
}

describe('the server logs setup phases with times', () => {
  it('setup started, then succeeded in N s', async () => {
    const server = await startServer('setup', { env: { SETUP_SECONDS: '0.3' } });
    try {
      const line = await waitForLine(server, /cog-node: setup succeeded in (\d+\.\d\d) s/);
      expect(server.output()).toContain('cog-node: setup started');
      expect(Number(/(\d+\.\d\d)/.exec(line)![1])).toBeGreaterThanOrEqual(0.3);
      expect(server.output().indexOf('setup started')).toBeLessThan(server.output().indexOf('setup succeeded'));
    } finally {
      await server.kill();
    }
  });

  it('setup failed after N s, with the error', async () => {
    const server = await startServer('setup', { env: { SETUP_FAIL: '1' } });
    try {
      await waitForLine(server, /cog-node: setup failed after \d+\.\d\d s: weights are corrupt/);
    } finally {
      await server.kill();
    }
  });
});

describe('cog-node predict progress', () => {
  // 3 MB, sent in pieces, so that a download is under way for a while.
  const body = Buffer.alloc(3_000_000, 7);
  const files = createServer((_request, response) => {
    response.writeHead(200, { 'content-length': String(body.length) });
    let offset = 0;
    const next = () => {
      if (offset >= body.length) return response.end();
      response.write(body.subarray(offset, (offset += 250_000)));
      setTimeout(next, 40);
    };
    next();
  });
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/weights.bin`;
  });
  afterAll(() => new Promise<void>((resolve) => files.close(() => resolve())));

  const dir = project({
    'cog.yaml': 'predict: "predict.ts:Predictor"\n',
    'predict.ts': `import { BasePredictor, Input, Type, type Inputs } from 'cog-node';
import { statSync } from 'node:fs';
export class Predictor extends BasePredictor {
  static inputs = { file: Input(Type.Path()) };
  static output = Type.Integer();
  async setup() {
    await new Promise((resolve) => setTimeout(resolve, 300));
    console.log('setting up');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  predict({ file }: Inputs<typeof Predictor>) { return statSync(String(file)).size; }
}
`,
  });

  it('writes no spinner or progress when stderr is not a terminal', async () => {
    const result = await cli(['predict', '-i', `file=${url}`], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${body.length}\n`);
    expect(result.stderr).toBe('setting up\n');
  });

  it('shows a setup spinner with the elapsed time and the download on a terminal', async () => {
    // `script` runs the command on a pseudo-terminal and copies what it wrote.
    const command = [process.execPath, BIN, 'predict', '-i', `file=${url}`].map((arg) => `'${arg}'`).join(' ');
    const { stdout } = await run('script', ['-qec', command, '/dev/null'], { cwd: dir, env: { ...process.env, TERM: 'xterm' } });
    expect(stdout).toMatch(/Running setup\.\.\. \d+\.\d s/);
    expect(stdout).toMatch(/Downloading weights\.bin \d+\.\d MB \/ 3\.0 MB \(\d+%\)/);
    // A log line mid-spinner erases the status line first: no half-overwritten lines.
    expect(stdout).toContain('\r\x1b[Ksetting up');
    expect(stdout).toContain(`${body.length}`);
  });
});
