// File inputs (URLs, data URIs) and outputs (data URIs, --upload-url, output_file_prefix) over HTTP.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Peer, post, startServer, waitFor, waitForHealth, type Received, type ServerProcess } from './fixtures/server/harness.js';

let plain: ServerProcess; // data URIs
let uploading: ServerProcess; // --upload-url
let web: Peer; // serves downloads, takes uploads
let scratch: string; // the plain server's TMPDIR

const puts = (prefix: string) => web.requests.filter((r) => r.method === 'PUT' && r.url.startsWith(prefix));
const inputDirs = () => readdirSync(scratch).filter((name) => name.startsWith('cog-node-input-'));
const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'cog-node-files-test-'));
  web = await new Peer().start();
  web.keep = (method, url) => !(method === 'PUT' && url.startsWith('/big/'));
  [plain, uploading] = await Promise.all([
    startServer('files', { env: { TMPDIR: scratch } }),
    startServer('files', { args: ['--upload-url', `${web.url}/uploads`] }),
  ]);
  await Promise.all([waitForHealth(plain.url, ['READY']), waitForHealth(uploading.url, ['READY'])]);
});

afterAll(async () => {
  await Promise.all([plain?.kill(), uploading?.kill(), web?.stop()]);
  rmSync(scratch, { recursive: true, force: true });
});

/** The web peer: downloads under /files/, uploads answered 201 with a signed Location. */
function serveFiles(extra?: (request: Received, response: ServerResponse) => boolean): void {
  web.handler = (request, response) => {
    if (extra?.(request, response)) return;
    if (request.method === 'GET' && request.url.startsWith('/files/')) {
      if (request.url.includes('missing')) {
        response.statusCode = 404;
        return void response.end('not here');
      }
      const name = new URL(request.url, web.url).pathname.slice('/files/'.length);
      return void response.end(`content of ${decodeURIComponent(name)}`);
    }
    if (request.method === 'PUT') {
      response.statusCode = 201;
      response.setHeader('location', `${web.url}/stored${request.url}?signature=abc123`);
    }
    response.end();
  };
}

describe('file inputs', () => {
  it('downloads http URLs and decodes data URIs to local files, removed after the prediction', async () => {
    serveFiles();
    const { body } = await post(`${plain.url}/predictions`, {
      input: {
        file: `${web.url}/files/hello%20world.txt?x=1`,
        files: ['data:text/plain;base64,' + Buffer.from('from a data uri').toString('base64')],
      },
    });
    expect(body.status).toBe('succeeded');
    const files = JSON.parse(body.output);
    expect(files.map((f: { name: string; content: string }) => [f.name, f.content])).toEqual([
      ['hello world.txt', 'content of hello world.txt'],
      ['file.txt', 'from a data uri'],
    ]);
    // Removed right after the prediction ends (the response may leave a moment before).
    await waitFor(() => files.every((file: { path: string }) => !existsSync(file.path)), 'input files removed', 2000);
    expect(inputDirs()).toEqual([]);
  });

  it('downloads several inputs in parallel', async () => {
    const waiting: ServerResponse[] = [];
    // Each download is answered only once both have arrived: one at a time would never finish.
    serveFiles((request, response) => {
      if (!request.url.startsWith('/files/pair-')) return false;
      waiting.push(response);
      if (waiting.length === 2) for (const held of waiting) held.end(`pair`);
      return true;
    });
    const { body } = await post(`${plain.url}/predictions`, {
      input: { files: [`${web.url}/files/pair-1.txt`, `${web.url}/files/pair-2.txt`] },
    });
    expect(body.status).toBe('succeeded');
    expect(JSON.parse(body.output).map((f: { content: string }) => f.content)).toEqual(['pair', 'pair']);
  });

  it('a failed download fails the prediction with a clear error, and still cleans up', async () => {
    serveFiles();
    const { status, body } = await post(`${plain.url}/predictions`, {
      input: { files: [`${web.url}/files/fine.txt`, `${web.url}/files/missing.txt`] },
    });
    expect(status).toBe(200);
    expect(body.status).toBe('failed');
    expect(body.error).toContain(`${web.url}/files/missing.txt`);
    expect(body.error).toContain('404');
    await waitFor(() => inputDirs().length === 0, 'input folder removed', 2000);
  });
});

describe('file outputs as data URIs (default)', () => {
  it('encodes files with their MIME type, also inside lists, objects and iterators', async () => {
    const single = await post(`${plain.url}/predictions`, { input: { mode: 'single', text: 'hello' } });
    expect(single.body.output).toBe(`data:text/plain;base64,${Buffer.from('hello').toString('base64')}`);
    const list = await post(`${plain.url}/predictions`, { input: { mode: 'list', text: 'x' } });
    expect(list.body.output).toEqual([`data:text/plain;base64,${Buffer.from('x a').toString('base64')}`, 'data:image/png;base64,iVBORw==']);
    const object = await post(`${plain.url}/predictions`, { input: { mode: 'object', text: 'cap' } });
    expect(object.body.output).toEqual({ caption: 'cap', image: 'data:image/png;base64,AQID' });
    const iterator = await post(`${plain.url}/predictions`, { input: { mode: 'iterator', text: 'it' } });
    expect(iterator.body.output).toEqual([1, 2].map((n) => `data:text/plain;base64,${Buffer.from(`it ${n}`).toString('base64')}`));
  });
});

describe('file outputs with --upload-url', () => {
  it('PUTs each file once to <url>/<basename>; the output is Location without its query', async () => {
    serveFiles();
    const single = await post(
      `${uploading.url}/predictions`,
      { id: 'up-1', input: { mode: 'single', text: 'uploaded' } },
      { traceparent: '00-abc-def-01' },
    );
    expect(single.body.status).toBe('succeeded');
    expect(single.body.output).toBe(`${web.url}/stored/uploads/out.txt`);
    const [put] = puts('/uploads/out.txt');
    expect(puts('/uploads/out.txt')).toHaveLength(1);
    expect(put!.body.toString()).toBe('uploaded');
    expect(put!.headers['content-type']).toBe('text/plain');
    expect(put!.headers['content-length']).toBe('8');
    expect(put!.headers['x-prediction-id']).toBe('up-1');
    // Cog 0.23: an upload (often a signed URL) never gets trace headers.
    expect(put!.headers.traceparent).toBeUndefined();
  });

  it('uploads files inside lists, objects and iterators one by one', async () => {
    serveFiles();
    const list = await post(`${uploading.url}/predictions`, { input: { mode: 'list', text: 'l' } });
    expect(list.body.output).toEqual([`${web.url}/stored/uploads/a.txt`, `${web.url}/stored/uploads/b.png`]);
    const object = await post(`${uploading.url}/predictions`, { input: { mode: 'object' } });
    expect(object.body.output).toEqual({ caption: 'hello', image: `${web.url}/stored/uploads/pic.png` });
    const iterator = await post(`${uploading.url}/predictions`, { input: { mode: 'iterator' } });
    expect(iterator.body.output).toEqual([`${web.url}/stored/uploads/one.txt`, `${web.url}/stored/uploads/two.txt`]);
    for (const name of ['a.txt', 'b.png', 'pic.png', 'one.txt', 'two.txt']) expect(puts(`/uploads/${name}`)).toHaveLength(1);
    expect(puts('/uploads/b.png')[0]!.headers['content-type']).toBe('image/png');
  });

  it('without a Location header the output is the upload URL', async () => {
    web.handler = (_request, response) => {
      response.end();
    };
    const single = await post(`${uploading.url}/predictions`, { input: { mode: 'single' } });
    expect(single.body.output).toBe(`${web.url}/uploads/out.txt`);
  });

  it('an upload the server refuses fails the prediction with a clear error', async () => {
    web.handler = (_request, response) => {
      response.statusCode = 500;
      response.end();
    };
    const { body } = await post(`${uploading.url}/predictions`, { input: { mode: 'single' } });
    expect(body.status).toBe('failed');
    expect(body.error).toBe(`failed to upload output file out.txt to ${web.url}/uploads/out.txt: HTTP 500`);
  });

  it('streams a large file from disk instead of holding it in memory', async () => {
    serveFiles();
    const before = peakRss(uploading.child.pid!);
    const size = 128;
    const { body } = await post(`${uploading.url}/predictions`, { input: { mode: 'big', size_mb: size } });
    expect(body.status).toBe('succeeded');
    const [put] = web.requests.filter((r) => r.url === '/uploads/big.bin');
    expect(put!.size).toBe(size << 20);
    expect(put!.headers['content-length']).toBe(String(size << 20));
    expect(peakRss(uploading.child.pid!) - before).toBeLessThan(64 << 20);
  });

  it('legacy output_file_prefix: a multipart PUT to <prefix><basename>, ahead of --upload-url', async () => {
    serveFiles();
    const { body } = await post(`${uploading.url}/predictions`, {
      input: { mode: 'single', text: 'legacy' },
      output_file_prefix: `${web.url}/legacy/`,
    });
    expect(body.output).toBe(`${web.url}/legacy/out.txt`);
    const [put] = puts('/legacy/out.txt');
    expect(put!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    const form = await new Response(put!.body, { headers: { 'content-type': put!.headers['content-type']! } }).formData();
    const file = form.get('file') as File;
    expect(file.name).toBe('out.txt');
    expect(await file.text()).toBe('legacy');
    expect(puts('/uploads/out.txt').filter((r) => r.body.toString() === 'legacy')).toHaveLength(0);
  });
});
