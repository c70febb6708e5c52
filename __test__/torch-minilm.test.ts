// The MiniLM example end to end: traced by Python, tokenized in Node, run by libtorch through
// the real predictor, compared with sentence-transformers' embeddings (cosine >= 0.9999).
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPredictor, type LoadedPredictor } from '../src/embed.js';
import { repoRoot, runPython, torchPython } from './helpers/torch.js';

const example = join(repoRoot, 'examples', 'minilm');
const sentences = [
  'The cat sits outside',
  'A man is playing guitar.',
  'Café déjà vu: ÜBER naïve façades!',
  'Cog runs models 🤖 in 日本語 too',
  // Longer than the 256 tokens the model reads: both sides must cut it the same way.
  Array.from({ length: 300 }, (_, i) => `word${i % 17}`).join(' '),
];

let golden: number[][];
let predictor: LoadedPredictor;

beforeAll(async () => {
  if (!existsSync(join(example, 'weights', 'minilm.pt'))) runPython(join(example, 'trace_minilm.py'), []);
  golden = JSON.parse(
    execFileSync(torchPython(), [join(example, 'python_embeddings.py')], {
      cwd: tmpdir(),
      input: JSON.stringify(sentences),
      encoding: 'utf8',
      timeout: 180_000,
    }),
  ) as number[][];
  predictor = await loadPredictor(example);
}, 300_000);

const cosine = (a: number[], b: number[]) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    dot += x * b[i]!;
    na += x * x;
    nb += b[i]! * b[i]!;
  });
  return dot / Math.sqrt(na * nb);
};

describe('examples/minilm', () => {
  it('embeds sentences as sentence-transformers does', async () => {
    const output = (await predictor.run({ text: sentences.join('\n') })) as number[][];
    expect(output).toHaveLength(sentences.length);
    output.forEach((embedding, i) => {
      expect(embedding).toHaveLength(384);
      expect(cosine(embedding, golden[i]!)).toBeGreaterThanOrEqual(0.9999);
    });
  });

  it('gives the same embedding alone as within a padded batch', async () => {
    const [alone] = (await predictor.run({ text: sentences[0]! })) as number[][];
    expect(cosine(alone!, golden[0]!)).toBeGreaterThanOrEqual(0.9999);
  });

  it('batches concurrent predictions into one padded forward, each getting its own sentences', async () => {
    // All started at once: they join the batch former together (maxSize 32, maxDelayMs 5).
    const responses = await Promise.all(sentences.map((sentence) => predictor.predict({ text: sentence })));
    responses.forEach((response, i) => {
      expect(response.status).toBe('succeeded');
      const [embedding, ...rest] = response.output as number[][];
      expect(rest).toEqual([]);
      expect(cosine(embedding!, golden[i]!)).toBeGreaterThanOrEqual(0.9999);
      expect(response.metrics.tokens).toBeGreaterThan(2);
    });
    expect(Math.max(...responses.map((response) => response.metrics.batch_size as number))).toBeGreaterThan(1);
    // An item of several sentences and an empty one in the same batch.
    const [several, empty] = await Promise.all([predictor.run({ text: sentences.slice(0, 3).join('\n') }), predictor.run({ text: ' ' })]);
    (several as number[][]).forEach((embedding, i) => expect(cosine(embedding, golden[i]!)).toBeGreaterThanOrEqual(0.9999));
    expect(empty).toEqual([]);
  });

  it('Unbatched, one forward per prediction, gives the same embeddings', async () => {
    const { Unbatched } = (await import(join(example, 'predict.ts'))) as { Unbatched: Parameters<typeof loadPredictor>[0] };
    const unbatched = await loadPredictor(Unbatched);
    try {
      expect(unbatched.runtime.target.batch).toBeUndefined();
      const response = await unbatched.predict({ text: sentences.join('\n') });
      expect(response.metrics.batch_size).toBeUndefined();
      (response.output as number[][]).forEach((embedding, i) => expect(cosine(embedding, golden[i]!)).toBeGreaterThanOrEqual(0.9999));
    } finally {
      await unbatched.runtime.close();
    }
  });

  it('returns no embeddings for empty text', async () => {
    expect(await predictor.run({ text: '\n  \n' })).toEqual([]);
  });
});
