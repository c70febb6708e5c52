// Files and secrets through an embedded predictor: Path inputs from data: URIs and from a real
// HTTP server on loopback, Path outputs as Path objects or data URIs, Secret inputs.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BasePredictor,
  Input,
  Path,
  Secret,
  Type,
  dataUriEncoder,
  loadPredictor,
  type Inputs,
  type LoadedPredictor,
} from '../src/index.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
const BINARY = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);

let server: Server;
let base: string;
const requests: { url: string; headers: IncomingHttpHeaders }[] = [];

// Temp files of these tests go to a folder of their own: other test files, running at the same
// time, look for leftover input folders in the system's temp folder.
const systemTmp = process.env.TMPDIR;
let privateTmp: string;
beforeAll(async () => {
  privateTmp = await mkdtemp(join(tmpdir(), 'cog-node-embedding-files-'));
  process.env.TMPDIR = privateTmp;
});
afterAll(async () => {
  if (systemTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = systemTmp;
  await rm(privateTmp, { recursive: true, force: true });
});

/** Input folders (cog-node-input-*) still in the temp folder. */
async function inputFolders(): Promise<string[]> {
  return (await readdir(privateTmp)).filter((name) => name.startsWith('cog-node-input-'));
}

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push({ url: request.url ?? '', headers: request.headers });
    if (request.url === '/files/hello%20world.txt') {
      response.setHeader('content-type', 'text/plain');
      response.end('hello from http');
    } else if (request.url === '/images/photo.png?size=large') {
      response.setHeader('content-type', 'image/png');
      response.end(PNG);
    } else if (request.url === '/blob') {
      response.end(BINARY);
    } else {
      response.statusCode = 404;
      response.end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

interface Seen {
  isPath: boolean;
  path: string;
  name: string;
  bytes: number[];
}

async function describePath(value: unknown): Promise<Seen> {
  const path = value as Path;
  return { isPath: value instanceof Path, path: String(path), name: path.name, bytes: [...(await path.read())] };
}

class Reads extends BasePredictor {
  static inputs = {
    file: Type.Optional(Type.Path()),
    legacy: Type.Optional(Type.File()),
    files: Type.Optional(Type.Array(Type.Path())),
    note: Input(Type.String(), { default: 'a URL in a str input stays a string' }),
  };
  static output = Type.Unknown();

  async predict({ file, legacy, files, note }: Inputs<typeof Reads>): Promise<unknown> {
    return {
      file: file && (await describePath(file)),
      legacy: legacy && (await describePath(legacy)),
      files: files && (await Promise.all(files.map(describePath))),
      note,
    };
  }
}

let reads: LoadedPredictor;
beforeAll(async () => {
  reads = await loadPredictor(Reads);
});

async function read(input: Record<string, unknown>): Promise<{ file?: Seen; legacy?: Seen; files?: Seen[]; note: string }> {
  return (await reads.run(input)) as { file?: Seen; legacy?: Seen; files?: Seen[]; note: string };
}

describe('Path inputs', () => {
  it('from data: URIs (base64 and percent-encoded, binary too), named after the MIME type', async () => {
    const output = await read({
      file: `data:image/png;base64,${PNG.toString('base64')}`,
      legacy: 'data:,hello%20world',
      files: [
        'data:application/octet-stream,%00%01%02%FA%FB%FC%FD%FE%FF',
        `data:text/plain;base64,${Buffer.from('plain text').toString('base64')}`,
      ],
    });
    expect(output.file).toMatchObject({ isPath: true, name: 'file.png', bytes: [...PNG] });
    expect(output.legacy).toMatchObject({ isPath: true, name: 'file.txt', bytes: [...Buffer.from('hello world')] });
    expect(output.files).toMatchObject([
      { isPath: true, name: 'file.bin', bytes: [...BINARY] },
      { isPath: true, name: 'file.txt', bytes: [...Buffer.from('plain text')] },
    ]);
  });

  it('from a real HTTP server: the bytes, a name from the URL, a list fetched in parallel', async () => {
    requests.length = 0;
    const output = await read({
      file: `${base}/files/hello%20world.txt`,
      files: [`${base}/images/photo.png?size=large`, `${base}/blob`],
      note: `${base}/files/hello%20world.txt`,
    });
    expect(output.file).toMatchObject({ isPath: true, name: 'hello world.txt', bytes: [...Buffer.from('hello from http')] });
    expect(output.files).toMatchObject([
      { isPath: true, name: 'photo.png', bytes: [...PNG] },
      { isPath: true, name: 'blob', bytes: [...BINARY] },
    ]);
    expect(output.note).toBe(`${base}/files/hello%20world.txt`);
    expect(requests.map((request) => request.url).sort()).toEqual(['/blob', '/files/hello%20world.txt', '/images/photo.png?size=large']);
    expect(requests[0]!.headers['user-agent']).toMatch(/^cog-node\//);
  });

  it("the temp files made for a prediction are gone once its result is in the caller's hands", async () => {
    const output = await read({ file: `data:text/plain;base64,${Buffer.from('x').toString('base64')}`, files: [`${base}/blob`] });
    const paths = [output.file!, ...output.files!].map((seen) => seen.path);
    expect(paths.every((path) => path.startsWith(privateTmp))).toBe(true);
    expect(paths.filter((path) => existsSync(path))).toEqual([]);
    // Also when the prediction fails.
    class Fails extends BasePredictor {
      static inputs = { file: Type.Path() };
      predict({ file }: { file: Path }): never {
        throw new Error(`failed with ${String(file)}`);
      }
    }
    const response = await (await loadPredictor(Fails)).predict({ file: `${base}/blob` });
    expect(response.status).toBe('failed');
    const path = /failed with (.*)$/.exec(response.error ?? '')![1]!;
    expect(existsSync(path)).toBe(false);
    expect(await inputFolders()).toEqual([]);
  });

  it('a plain path string becomes a Path to that file, left in place', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cog-node-test-'));
    try {
      const local = join(dir, 'local.txt');
      await writeFile(local, 'local bytes');
      const output = (await reads.run({ file: local })) as { file: Seen };
      expect(output.file).toEqual({ isPath: true, path: local, name: 'local.txt', bytes: [...Buffer.from('local bytes')] });
      // Not ours to delete.
      expect(existsSync(local)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed download fails the prediction, naming the URL and status', async () => {
    const response = await reads.predict({ files: [`${base}/blob`, `${base}/missing.bin`] });
    expect(response.status).toBe('failed');
    expect(response.error).toBe(`Input validation error: failed to download ${base}/missing.bin: HTTP 404`);
  });

  it('a malformed data URI fails the prediction', async () => {
    const response = await reads.predict({ file: 'data:image/png;base64,not*base64' });
    expect(response.status).toBe('failed');
    expect(response.error).toMatch(/^Input validation error: invalid data URI/);
  });
});

describe('Path outputs', { timeout: 3000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cog-node-outputs-'));
    await writeFile(join(dir, 'out.png'), PNG);
    await writeFile(join(dir, 'notes.txt'), 'some notes');
    await writeFile(join(dir, 'data.json'), '{"a":1}');
    await writeFile(join(dir, 'weights.unknownext'), BINARY);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  class Writes extends BasePredictor {
    static inputs = { shape: Type.String() };
    static output = Type.Unknown();
    predict({ shape }: { shape: string }): unknown {
      const file = (name: string) => new Path(join(dir, name));
      if (shape === 'single') return file('out.png');
      if (shape === 'list') return [file('notes.txt'), file('data.json')];
      if (shape === 'object') return { image: file('out.png'), seed: 42, extra: [file('weights.unknownext')] };
      return 'unknown shape';
    }
  }
  class Frames extends BasePredictor {
    static output = Type.Iterator(Type.Path());
    *predict(): Generator<Path> {
      yield new Path(join(dir, 'notes.txt'));
      yield new Path(join(dir, 'out.png'));
    }
  }

  const uri = (mime: string, bytes: Buffer | string) => `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;

  it('come back as Path objects by default', async () => {
    const writes = await loadPredictor(Writes);
    const single = await writes.run({ shape: 'single' });
    expect(single).toBeInstanceOf(Path);
    expect(String(single)).toBe(join(dir, 'out.png'));
    const object = (await writes.run({ shape: 'object' })) as { image: Path; seed: number; extra: Path[] };
    expect(object.image).toBeInstanceOf(Path);
    expect(object.seed).toBe(42);
    expect(object.extra[0]).toBeInstanceOf(Path);
  });

  it('as data URIs with the MIME type from the file name, wherever they are, with encodeFile: dataUriEncoder', async () => {
    const writes = await loadPredictor(Writes);
    const options = { encodeFile: dataUriEncoder };
    expect(await writes.run({ shape: 'single' }, options)).toBe(uri('image/png', PNG));
    expect(await writes.run({ shape: 'list' }, options)).toEqual([uri('text/plain', 'some notes'), uri('application/json', '{"a":1}')]);
    expect(await writes.run({ shape: 'object' }, options)).toEqual({
      image: uri('image/png', PNG),
      seed: 42,
      extra: [uri('application/octet-stream', BINARY)],
    });
    const response = await writes.predict({ shape: 'list' }, options);
    expect(JSON.parse(JSON.stringify(response)).output).toEqual([uri('text/plain', 'some notes'), uri('application/json', '{"a":1}')]);
  });

  it('streamed Path items, as Paths or as data URIs', async () => {
    const frames = await loadPredictor(Frames);
    const asPaths: unknown[] = [];
    for await (const item of frames.stream()) asPaths.push(item);
    expect(asPaths.map((item) => item instanceof Path && item.name)).toEqual(['notes.txt', 'out.png']);
    expect(await frames.run({}, { encodeFile: dataUriEncoder })).toEqual([uri('text/plain', 'some notes'), uri('image/png', PNG)]);
  });
});

describe('Secret inputs', () => {
  class UsesKey extends BasePredictor {
    static inputs = {
      api_key: Input(Type.Secret(), { description: 'Your API key' }),
      spare: Type.Optional(Type.Secret()),
      prompt: Type.String(),
    };
    static output = Type.Unknown();
    predict({ api_key, spare, prompt }: Inputs<typeof UsesKey>): unknown {
      console.log('using', api_key);
      console.log(`key: ${api_key}`);
      return {
        isSecret: api_key instanceof Secret,
        length: api_key.getSecretValue().length,
        startsWith: api_key.getSecretValue().slice(0, 3),
        spare: spare === undefined ? 'none' : spare.getSecretValue(),
        prompt,
      };
    }
  }

  it('predict gets a Secret whose value getSecretValue() gives; the response and logs show **********', async () => {
    const usesKey = await loadPredictor(UsesKey);
    const response = await usesKey.predict({ api_key: 'sk-very-secret-value', spare: 'sk-spare-value', prompt: 'hi' });
    expect(response.status, response.error).toBe('succeeded');
    expect(response.output).toEqual({ isSecret: true, length: 20, startsWith: 'sk-', spare: 'sk-spare-value', prompt: 'hi' });
    expect(response.input).toEqual({ api_key: '**********', spare: '**********', prompt: 'hi' });
    expect(response.logs).toBe('using Secret(**********)\nkey: **********\n');
    const everything = JSON.stringify(response);
    expect(everything).not.toContain('sk-very-secret-value');
  });

  it('an omitted optional Secret is undefined', async () => {
    const usesKey = await loadPredictor(UsesKey);
    expect(((await usesKey.run({ api_key: 'k', prompt: 'p' })) as { spare: string }).spare).toBe('none');
  });
});
