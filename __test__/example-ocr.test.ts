// examples/ocr-detect end to end: PP-OCRv4 detection on onnxruntime-node, through loadPredictor,
// on images this test renders (words drawn by sharp's SVG input at known places).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputValidationError, Path, loadPredictor, type LoadedPredictor } from 'cog-node';
import { ROOT } from './helpers/cli.js';

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface Detection {
  boxes: (Rect & { score: number })[];
  annotated: Path;
}

const WIDTH = 800;
const HEIGHT = 480;
const words = [
  { text: 'Invoice 2026', x: 60, y: 110, size: 44 },
  { text: 'cog-node', x: 430, y: 390, size: 56 },
];
const dir = mkdtempSync(join(tmpdir(), 'ocr-detect-test-'));

function svg(items: typeof words): Buffer {
  const text = items
    .map((w) => `<text x="${w.x}" y="${w.y}" font-family="DejaVu Sans, sans-serif" font-size="${w.size}" fill="#111">${w.text}</text>`)
    .join('');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}"><rect width="100%" height="100%" fill="#fff"/>${text}</svg>`,
  );
}

async function render(name: string, items: typeof words): Promise<string> {
  const file = join(dir, name);
  await sharp(svg(items)).png().toFile(file);
  return file;
}

/** Where a word's ink actually is: the dark pixels of the word rendered alone. */
async function inkRect(word: (typeof words)[number]): Promise<Rect> {
  const { data, info } = await sharp(svg([word]))
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  let minX = info.width,
    minY = info.height,
    maxX = -1,
    maxY = -1;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      if (data[y * info.width + x]! < 128) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
  }
  if (maxX < 0) throw new Error(`"${word.text}" rendered no ink: is a font installed (fonts-dejavu-core)?`);
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

function intersection(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

let predictor: LoadedPredictor;
beforeAll(async () => {
  predictor = await loadPredictor(join(ROOT, 'examples', 'ocr-detect'));
});
afterAll(async () => {
  await predictor?.runtime.close();
});

describe('examples/ocr-detect', () => {
  it('finds a box over each word and none over blank paper, and draws them on a PNG of the same size', async () => {
    const image = await render('words.png', words);
    const output = (await predictor.run({ image: new Path(image) })) as Detection;
    const inks = await Promise.all(words.map(inkRect));

    // Each word is one line of text: one box covers (nearly) all of its ink, and not much more.
    for (const [i, ink] of inks.entries()) {
      const best = Math.max(...output.boxes.map((box) => intersection(box, ink)));
      expect(best / (ink.width * ink.height), `ink of "${words[i]!.text}" covered`).toBeGreaterThan(0.9);
      const box = output.boxes.find((b) => intersection(b, ink) === best)!;
      expect(box.width * box.height, `box of "${words[i]!.text}" tight`).toBeLessThan(2.5 * ink.width * ink.height);
      expect(box.score).toBeGreaterThan(0.6);
    }
    // Every box lies over some word: nothing is found in the blank areas.
    for (const box of output.boxes) {
      expect(Math.max(...inks.map((ink) => intersection(box, ink))), `box ${JSON.stringify(box)} over a word`).toBeGreaterThan(0);
    }
    expect(output.boxes).toHaveLength(words.length);

    const annotated = await sharp(output.annotated.path).raw().toBuffer({ resolveWithObject: true });
    const meta = await sharp(output.annotated.path).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([WIDTH, HEIGHT]);
    // The boxes are drawn: a box's top edge is red in the annotated copy.
    const { x, y, width } = output.boxes[0]!;
    const at = (y * WIDTH + x + Math.floor(width / 2)) * annotated.info.channels;
    expect([...annotated.data.subarray(at, at + 3)]).toEqual([0xe5, 0x26, 0x2b]);
  });

  it('finds nothing on a blank page', async () => {
    const output = (await predictor.run({ image: new Path(await render('blank.png', [])) })) as Detection;
    expect(output.boxes).toEqual([]);
    expect((await sharp(output.annotated.path).metadata()).width).toBe(WIDTH);
  });

  it('scales boxes back to the original size when the image is scaled down for detection', async () => {
    const image = await render('words.png', words);
    const small = (await predictor.run({ image: new Path(image), max_side: 480 })) as Detection;
    const inks = await Promise.all(words.map(inkRect));
    for (const ink of inks) {
      expect(Math.max(...small.boxes.map((box) => intersection(box, ink))) / (ink.width * ink.height)).toBeGreaterThan(0.85);
    }
  });

  it('rejects a threshold outside 0..1, naming the field', async () => {
    const image = await render('words.png', words);
    await expect(predictor.run({ image: new Path(image), box_threshold: 1.5 })).rejects.toThrow(InputValidationError);
    await expect(predictor.run({ image: new Path(image), box_threshold: 1.5 })).rejects.toThrow(/box_threshold/);
  });
});
