// `GET /playground` in a real browser: headless Chromium (Debian's, driven by playwright-core)
// against real `cog-node serve` processes: the form from /openapi.json, SSE streaming, cancel,
// validation errors, file upload, and the OCR example's image output. Screenshots are kept in
// $COG_NODE_TEST_ARTIFACTS (default .vitest/artifacts/playground/).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startServer, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';
import { ROOT } from './helpers/cli.js';

const CHROMIUM = process.env.COG_NODE_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = process.env.COG_NODE_TEST_ARTIFACTS ?? join(ROOT, '.vitest', 'artifacts', 'playground');

let browser: Browser;
// The server and page of the running describe block (blocks run one after another).
let server: ServerProcess;
let page: Page;

beforeAll(async () => {
  // No skip: CI installs Debian's chromium (.ci/run); a missing browser is a failure to fix.
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set COG_NODE_CHROMIUM)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
});

async function open(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (message) => {
    // A 422 is the answer the validation test asks for; Chromium logs every 4xx as an error.
    if (message.type() === 'error' && !/status of 422/.test(message.text())) problems.push(message.text());
  });
  // Everything the page asks for stays on this server (no CDN).
  page.on('request', (request) => {
    if (!request.url().startsWith(url) && !request.url().startsWith('data:')) problems.push(`off-server request: ${request.url()}`);
  });
  (page as Page & { problems: string[] }).problems = problems;
  await page.goto(`${url}/playground`);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

/** `cog-node serve` on a fixture folder (relative to __test__/fixtures/server), READY, its playground open. */
async function servePlayground(fixture: string): Promise<{ server: ServerProcess; page: Page }> {
  const server = await startServer(fixture);
  await waitForHealth(server.url, ['READY']);
  return { server, page: await open(server.url) };
}

async function stop(server: ServerProcess | undefined, page: Page | undefined): Promise<void> {
  await page?.close();
  await server?.kill();
}

const problems = (page: Page) => (page as Page & { problems: string[] }).problems;
const output = (page: Page) => page.locator('#output').innerText();
/** The little of the DOM that in-page functions use (this project's TypeScript has no DOM library). */
interface InPage {
  document: {
    getElementById(id: string): { textContent: string | null; disabled?: boolean };
    body: { getAttribute(name: string): string | null };
  };
  MutationObserver: new (callback: () => void) => { observe(node: unknown, options: Record<string, boolean>): void };
  states: string[];
}
const outputContains = (page: Page, text: string) =>
  page.waitForFunction((wanted) => (globalThis as unknown as InPage).document.getElementById('output').textContent!.includes(wanted), text);
const finished = (page: Page) =>
  page.waitForSelector('body:is([data-status="succeeded"], [data-status="failed"], [data-status="canceled"], [data-status="invalid"])');

describe('playground on a predictor with every kind of input', () => {
  beforeAll(async () => ({ server, page } = await servePlayground('playground')));
  afterAll(() => stop(server, page));

  it('serves one self-contained HTML page with a strict CSP', async () => {
    const response = await fetch(`${server.url}/playground`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await response.text();
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="(?!data:)/);
  });

  it('is left out when COG_NODE_PLAYGROUND=0', async () => {
    const off = await startServer('playground', { env: { COG_NODE_PLAYGROUND: '0' } });
    try {
      expect((await json(`${off.url}/playground`)).status).toBe(404);
      expect((await json(`${off.url}/openapi.json`)).status).not.toBe(404);
    } finally {
      await off.kill();
    }
  });

  it('builds one field per input, in x-order, of the kind the schema says', async () => {
    const names = await page.locator('.field').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-field')));
    const { body: schema } = await json(`${server.url}/openapi.json`);
    const properties = schema.components.schemas.Input.properties as Record<string, { 'x-order': number }>;
    expect(names).toEqual(Object.keys(properties).sort((a, b) => properties[a]!['x-order'] - properties[b]!['x-order']));
    expect(names).toEqual(['prompt', 'count', 'shout', 'style', 'attachment', 'api_key', 'gap_ms', 'tags']);

    const count = page.locator('#input-count');
    expect(await Promise.all(['type', 'min', 'max', 'step'].map((name) => count.getAttribute(name)))).toEqual(['number', '1', '10', '1']);
    expect(await count.inputValue()).toBe('3');
    expect(await page.locator('#input-shout').getAttribute('type')).toBe('checkbox');
    expect(await page.locator('#input-style option').allInnerTexts()).toEqual(['plain', 'fancy', 'terse']);
    expect(await page.locator('#input-style').inputValue()).toBe('"plain"');
    expect(await page.locator('#input-attachment').getAttribute('type')).toBe('file');
    expect(await page.locator('#input-api_key').getAttribute('type')).toBe('password');
    expect(await page.locator('.field[data-field="prompt"] .required').count()).toBe(1);
    expect(await page.locator('.field[data-field="count"] .required').count()).toBe(0);
    expect(await page.locator('.field[data-field="style"] .description').count()).toBe(0);
  });

  it('streams a ConcatenateIterator as text while it runs, then shows logs, metrics and timing', async () => {
    await page.fill('#input-prompt', 'hi');
    await page.fill('#input-count', '4');
    await page.fill('#input-gap_ms', '250');
    await page.check('#input-shout');
    await page.selectOption('#input-style', '"fancy"');
    await page.fill('#input-tags', 'red\nblue');
    await page.fill('#input-api_key', 'sk-not-shown');
    // Every state the output panel goes through, recorded in the page as it changes.
    await page.evaluate(() => {
      const page = globalThis as unknown as InPage;
      const box = page.document.getElementById('output');
      page.states = [];
      new page.MutationObserver(() => page.states.push(box.textContent ?? '')).observe(box, {
        childList: true,
        subtree: true,
        characterData: true,
      });
    });
    await page.click('#run');
    // Mid-stream, read in the page the moment the first word shows: not all words there yet, the
    // prediction still processing, Cancel offered.
    const seen = await page.waitForFunction(() => {
      const { document } = globalThis as unknown as InPage;
      const text = document.getElementById('output').textContent!;
      return (
        text.includes('HI0') && {
          text,
          status: document.body.getAttribute('data-status'),
          cancel: !document.getElementById('cancel').disabled,
        }
      );
    });
    const partial = (await seen.jsonValue()) as { text: string; status: string; cancel: boolean };
    expect(partial.text).not.toContain('HI3');
    expect(partial).toMatchObject({ status: 'processing', cancel: true });
    await page.screenshot({ path: join(ARTIFACTS, 'streaming.png') });

    await finished(page);
    expect(await page.getAttribute('body', 'data-status')).toBe('succeeded');
    const final = '[fancy shout tags=red+blue key=yes] HI0 HI1 HI2 HI3';
    expect(await output(page)).toBe(final);
    const states = await page.evaluate(() => (globalThis as unknown as InPage).states);
    const intermediate = states.filter((state) => state.startsWith('[fancy') && state !== final);
    expect(intermediate.length).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#logs').innerText()).toContain('predicting 4 words');
    expect(await page.locator('dd[data-metric="words"]').innerText()).toBe('4');
    const predictTime = Number.parseFloat(await page.locator('dd[data-metric="predict_time"]').innerText());
    expect(predictTime).toBeGreaterThan(0.9);
    expect(await page.locator('dd[data-metric="round trip"]').innerText()).toMatch(/^\d+\.\d{3} s$/);
    expect(await page.isEnabled('#cancel')).toBe(false);
    await page.screenshot({ path: join(ARTIFACTS, 'succeeded.png'), fullPage: true });
  });

  it('cancels a long prediction', async () => {
    await page.fill('#input-count', '10');
    await page.fill('#input-gap_ms', '400');
    await page.click('#run');
    await outputContains(page, 'HI0');
    const id = await page.getAttribute('body', 'data-prediction');
    await page.click('#cancel');
    await finished(page);
    expect(await page.getAttribute('body', 'data-status')).toBe('canceled');
    // 'canceled' is the status of the server's own `completed` event, for the prediction it started.
    expect(id).toMatch(/\S/);
    expect(await output(page)).not.toContain('HI9');
  });

  it('shows a validation error next to the field it names', async () => {
    await page.fill('#input-count', '99');
    await page.click('#run');
    await finished(page);
    expect(await page.getAttribute('body', 'data-status')).toBe('invalid');
    const error = page.locator('.field[data-field="count"] .field-error');
    expect(await error.innerText()).toMatch(/10/);
    expect(await page.locator('.field[data-field="count"]').getAttribute('class')).toContain('invalid');
    expect(await page.locator('.field[data-field="prompt"] .field-error').innerText()).toBe('');
    await page.screenshot({ path: join(ARTIFACTS, 'validation.png') });
    await page.fill('#input-count', '1');
  });

  it('sends a picked file as a data URI that the predictor reads', async () => {
    await page.fill('#input-gap_ms', '0');
    await page.setInputFiles('#input-attachment', { name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from a file') });
    await page.click('#run');
    await finished(page);
    expect(await page.getAttribute('body', 'data-status')).toBe('succeeded');
    expect(await output(page)).toMatch(/file=[^:]+:17:hello from a file/);
    expect(problems(page)).toEqual([]);
  });
});

describe('playground on examples/ocr-detect (an image in, an image and JSON out)', () => {
  beforeAll(async () => ({ server, page } = await servePlayground('../../../examples/ocr-detect')));
  afterAll(() => stop(server, page));

  it('uploads an image and shows the annotated image inline and the boxes as JSON', async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="320"><rect width="100%" height="100%" fill="#fff"/><text x="40" y="120" font-family="DejaVu Sans, sans-serif" font-size="48">Playground</text></svg>';
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    expect(await page.locator('#input-image').getAttribute('accept')).toBe('image/*');
    await page.setInputFiles('#input-image', { name: 'words.png', mimeType: 'image/png', buffer: png });
    await page.click('#run');
    await finished(page);
    expect(await page.getAttribute('body', 'data-status')).toBe('succeeded');
    const image = page.locator('#output img');
    await image.waitFor();
    expect(
      await image.evaluate((img) => {
        const { complete, naturalWidth, naturalHeight } = img as unknown as {
          complete: boolean;
          naturalWidth: number;
          naturalHeight: number;
        };
        return [complete, naturalWidth, naturalHeight];
      }),
    ).toEqual([true, 640, 320]);
    const boxes = JSON.parse(await page.locator('#output pre.json').innerText()) as { x: number; width: number }[];
    expect(boxes).toHaveLength(1);
    expect(boxes[0]!.x).toBeLessThan(60);
    expect(await page.locator('dd[data-metric="boxes"]').innerText()).toBe('1');
    await page.screenshot({ path: join(ARTIFACTS, 'ocr-detect.png'), fullPage: true });
    expect(problems(page)).toEqual([]);
  });
});

describe('playground on an Iterator of files', () => {
  beforeAll(async () => ({ server, page } = await servePlayground('playground-media')));
  afterAll(() => stop(server, page));

  it('lists the items: an image and a playable audio inline, other files as download links', async () => {
    await page.fill('#input-width', '40');
    await page.click('#run');
    await finished(page);
    expect(await page.getAttribute('body', 'data-status')).toBe('succeeded');
    expect(await page.locator('#output ol.items > li').count()).toBe(3);
    const image = page.locator('#output li:nth-child(1) img');
    expect(await image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(40);
    const audio = page.locator('#output li:nth-child(2) audio');
    expect(await audio.getAttribute('src')).toMatch(/^data:audio\//);
    // Chromium decodes it: the metadata gives the tone's length.
    const duration = await audio.evaluate(
      (element) =>
        new Promise<number>((resolve) => {
          const media = element as unknown as {
            duration: number;
            readyState: number;
            addEventListener(name: string, listener: () => void): void;
          };
          if (media.readyState >= 1) resolve(media.duration);
          else media.addEventListener('loadedmetadata', () => resolve(media.duration));
        }),
    );
    expect(duration).toBeCloseTo(0.25, 2);
    const link = page.locator('#output li:nth-child(3) a.download');
    expect(await link.getAttribute('download')).toBe('output-2.txt');
    const href = (await link.getAttribute('href'))!;
    expect(Buffer.from(href.slice(href.indexOf(',') + 1), 'base64').toString()).toBe('three files');
    await page.screenshot({ path: join(ARTIFACTS, 'media.png'), fullPage: true });
  });

  it("shows a failed prediction's error with the items it made before", async () => {
    await page.check('#input-fail');
    await page.click('#run');
    await finished(page);
    expect(await page.getAttribute('body', 'data-status')).toBe('failed');
    expect(await page.locator('#error').innerText()).toContain('the media predictor was asked to fail');
    expect(await page.locator('#output ol.items > li').count()).toBe(3);
    expect(problems(page)).toEqual([]);
  });
});
