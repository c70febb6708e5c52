// DB (Differentiable Binarization) post-processing for PP-OCR's detector: from the probability
// map to text boxes in the original image's pixels, as PaddleOCR's DBPostProcess does for boxes.

export interface TextBox {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Mean text probability inside the component, 0..1. */
  score: number;
}

export interface DbOptions {
  /** A pixel is text when its probability is above this (PaddleOCR's `thresh`, 0.3). */
  binarizeThreshold: number;
  /** A component is kept when its mean probability reaches this (`box_thresh`, 0.6). */
  boxThreshold: number;
  /** How far the shrunk text kernel is grown back (`unclip_ratio`, 1.5). */
  unclipRatio: number;
  /** Components or boxes with a side shorter than this many map pixels are noise (`min_size`, 3). */
  minSize: number;
}

export const PADDLE_DEFAULTS: DbOptions = { binarizeThreshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, minSize: 3 };

/**
 * Boxes from a `width` x `height` probability map, scaled by `scaleX`/`scaleY` to the original image
 * and clipped to `imageWidth` x `imageHeight`.
 *
 * One documented simplification: PaddleOCR boxes each contour by its minimum-area (rotated)
 * rectangle; here each 8-connected component gets its axis-aligned bounding box, so slanted text
 * gets the upright box around it. For an upright rectangle, unclipping by
 * `area * unclipRatio / perimeter` on every side is exactly what PaddleOCR's polygon offset gives.
 */
export function boxesFromProbabilityMap(
  map: Float32Array,
  width: number,
  height: number,
  scale: { scaleX: number; scaleY: number; imageWidth: number; imageHeight: number },
  options: DbOptions = PADDLE_DEFAULTS,
): TextBox[] {
  const label = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  const boxes: TextBox[] = [];
  let next = 0;
  for (let start = 0; start < map.length; start++) {
    if (label[start] !== 0 || map[start]! <= options.binarizeThreshold) continue;
    next++;
    // Iterative flood fill (8-connected): an image full of text must not overflow the call stack.
    let top = 0;
    stack[top++] = start;
    label[start] = next;
    let minX = width,
      minY = height,
      maxX = -1,
      maxY = -1,
      sum = 0,
      count = 0;
    while (top > 0) {
      const at = stack[--top]!;
      const px = at % width;
      const py = (at - px) / width;
      sum += map[at]!;
      count++;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= width) continue;
          const n = ny * width + nx;
          if (label[n] === 0 && map[n]! > options.binarizeThreshold) {
            label[n] = next;
            stack[top++] = n;
          }
        }
      }
    }
    const w = maxX - minX + 1;
    const h = maxY - minY + 1;
    if (Math.min(w, h) < options.minSize) continue;
    const score = sum / count;
    if (score < options.boxThreshold) continue;
    // The detector predicts a shrunk kernel of each text region; grow it back by the offset
    // distance PaddleOCR uses: area * ratio / perimeter.
    const grow = (w * h * options.unclipRatio) / (2 * (w + h));
    if (Math.min(w, h) + 2 * grow < options.minSize + 2) continue;
    const x0 = Math.max(0, (minX - grow) * scale.scaleX);
    const y0 = Math.max(0, (minY - grow) * scale.scaleY);
    const x1 = Math.min(scale.imageWidth, (maxX + 1 + grow) * scale.scaleX);
    const y1 = Math.min(scale.imageHeight, (maxY + 1 + grow) * scale.scaleY);
    boxes.push({
      x: Math.round(x0),
      y: Math.round(y0),
      width: Math.round(x1) - Math.round(x0),
      height: Math.round(y1) - Math.round(y0),
      score: Math.round(score * 1000) / 1000,
    });
  }
  // Reading order: top to bottom, then left to right.
  return boxes.sort((a, b) => a.y - b.y || a.x - b.x);
}
