// The bytes on the wire: whole floats as Cog writes them (`-10.0`) in every place an output goes,
// `predict_time` to the microsecond, and the malformed-JSON 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BasePredictor, Input, Type, type Inputs } from '../src/index.js';
import { Peer, waitFor } from './fixtures/server/harness.js';
import { serveLocally, type LocalApp } from './helpers/app.js';

class Score extends BasePredictor {
  static inputs = { value: Input(Type.Number()) };
  static output = Type.Number();
  async predict({ value }: Inputs<typeof Score>): Promise<number> {
    return value;
  }
}

class Report extends BasePredictor {
  static output = Type.Object({
    score: Type.Number(),
    count: Type.Integer(),
    scores: Type.Array(Type.Number()),
    label: Type.String(),
    maybe: Type.Union([Type.Number(), Type.Null()]),
  });
  async predict(): Promise<unknown> {
    return { score: 3, count: 3, scores: [1, 2.5, -0, 1e21], label: '7', maybe: 2 };
  }
}

class Counter extends BasePredictor {
  static inputs = { pause: Input(Type.Number(), { default: 0 }) };
  static output = Type.Iterator(Type.Number());
  async *predict({ pause }: Inputs<typeof Counter>): AsyncGenerator<number> {
    yield 1;
    await new Promise((resolve) => setTimeout(resolve, pause * 1000));
    yield -2;
  }
}

class Whole extends BasePredictor {
  static output = Type.Integer();
  async predict(): Promise<number> {
    return 7;
  }
}

class Echo extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();
  async predict({ text }: Inputs<typeof Echo>): Promise<string> {
    return text;
  }
}

let score: LocalApp;
let report: LocalApp;
let counter: LocalApp;
let whole: LocalApp;
let echo: LocalApp;
let peer: Peer;

beforeAll(async () => {
  [score, report, counter, whole, echo, peer] = await Promise.all([
    serveLocally(Score),
    serveLocally(Report),
    serveLocally(Counter),
    serveLocally(Whole),
    serveLocally(Echo),
    new Peer().start(),
  ]);
});
afterAll(async () => {
  await Promise.all([score, report, counter, whole, echo].map((app) => app?.stop()));
  await peer?.stop();
});

async function raw(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, text: await response.text() };
}

describe('whole-number floats', () => {
  it('a Number output is written -10.0 in the sync response', async () => {
    const { status, text } = await raw(`${score.url}/predictions`, { input: { value: -10 } });
    expect(status).toBe(200);
    expect(text).toContain('"output":-10.0,');
    expect(JSON.parse(text)).toMatchObject({ status: 'succeeded', output: -10 });
    expect((await raw(`${score.url}/predictions`, { input: { value: 2.5 } })).text).toContain('"output":2.5,');
  });

  it('Number fields of an object and items of its arrays get the decimal point; integers and strings do not', async () => {
    const { text } = await raw(`${report.url}/predictions`, {});
    expect(text).toContain('"output":{"score":3.0,"count":3,"scores":[1.0,2.5,-0.0,1e+21],"label":"7","maybe":2.0}');
    expect((await raw(`${whole.url}/predictions`, {})).text).toContain('"output":7,');
  });

  it('iterator items: in the sync response, the SSE output and completed events, and the webhooks', async () => {
    expect((await raw(`${counter.url}/predictions`, {})).text).toContain('"output":[1.0,-2.0]');

    const sse = await raw(`${counter.url}/predictions`, {}, { accept: 'text/event-stream' });
    expect(sse.text).toContain('event: output\ndata: {"chunk":1.0,"index":0}\n');
    expect(sse.text).toContain('event: output\ndata: {"chunk":-2.0,"index":1}\n');
    expect(sse.text).toMatch(/event: completed\ndata: \{[^\n]*"output":\[1\.0,-2\.0\]/);

    const started = await raw(
      `${counter.url}/predictions`,
      { id: 'floats-async', webhook: `${peer.url}/floats` },
      { prefer: 'respond-async' },
    );
    expect(started.status).toBe(202);
    const completed = await waitFor(
      () => peer.requests.find((r) => r.url === '/floats' && JSON.parse(r.body.toString()).status === 'succeeded'),
      'completed webhook',
    );
    expect(completed.body.toString()).toContain('"output":[1.0,-2.0]');
    const outputs = peer.requests.filter(
      (r) => r.url === '/floats' && JSON.parse(r.body.toString()).status === 'processing' && r.body.includes('"output"'),
    );
    expect(outputs.map((r) => /"output":(\[[^\]]*\])/.exec(r.body.toString())?.[1])).toContain('[1.0]');
  });

  it('a PUT for an id in flight answers with the items so far written as floats', async () => {
    const first = await raw(`${counter.url}/predictions/floats-put`, { input: { pause: 1 } }, { prefer: 'respond-async' }, 'PUT');
    expect(first.status).toBe(202);
    const again = await waitFor(async () => {
      const answer = await raw(`${counter.url}/predictions/floats-put`, { input: { pause: 1 } }, {}, 'PUT');
      return answer.text.includes('"output"') ? answer : undefined;
    }, 'the first item');
    expect(again.status).toBe(202);
    expect(again.text).toContain('"output":[1.0]');
  });
});

describe('predict_time', () => {
  it('is in seconds to the microsecond, never 0 for a fast prediction', async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { text } = await raw(`${echo.url}/predictions`, { input: { text: 'fast' } });
      const written = /"predict_time":([0-9.e-]+)/.exec(text)![1]!;
      const seconds = Number(written);
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(1);
      // At most six decimals: microseconds, as Cog reports them.
      expect(written.split('.')[1]?.length ?? 0).toBeLessThanOrEqual(6);
      times.push(seconds);
    }
    // Rounded to milliseconds, five sub-second times would all be multiples of 0.001.
    expect(times.some((t) => Math.abs(t * 1000 - Math.round(t * 1000)) > 1e-9)).toBe(true);
  });
});

describe('malformed JSON', () => {
  it("is a 400 with a JSON body: the parser's message after a fixed prefix, and status failed", async () => {
    const response = await fetch(`${echo.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"input": {"text": ',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json');
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['error', 'status']);
    expect(body).toEqual({ error: expect.stringMatching(/^Malformed JSON in request body: \S.*/), status: 'failed' });
  });
});
