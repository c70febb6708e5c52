// Sentence embeddings with all-MiniLM-L6-v2, served end to end: the tokenizer runs in Node
// (Hugging Face's tokenizer.json, read by @huggingface/tokenizers), the model is TorchScript
// traced by trace_minilm.py and runs in libtorch through cog-node/torch. Predictions are batched
// (`static batch`): one padded forward for every sentence of every prediction in the batch;
// `Unbatched` is the same model run one prediction per forward (for comparison, benches/).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { BasePredictor, Input, Type, type BatchPredictor, type Inputs, type Output } from 'cog-node';
import { Tensor, cuda, expectTensor, loadTorchScript, type TorchScriptModule } from 'cog-node/torch';

/** sentence-transformers' max_seq_length for this model. */
const MAX_TOKENS = 256;
const SEP = 102;

/** The input's sentences: one per non-empty line. */
function sentencesOf(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

export class Predictor extends BasePredictor implements BatchPredictor<typeof Predictor> {
  static inputs = {
    text: Input(Type.String(), { description: 'Sentences to embed, one per line' }),
  };
  static output = Type.Array(Type.Array(Type.Number()), { description: 'One unit-length 384-d embedding per sentence' });
  /** Up to 32 predictions per forward; a lone one waits at most 5 ms for company. */
  static batch: { maxSize: number; maxDelayMs: number } | undefined = { maxSize: 32, maxDelayMs: 5 };

  #tokenizer!: Tokenizer;
  #model!: TorchScriptModule;
  #device: 'cpu' | 'cuda' = 'cpu';

  async setup(weights?: string) {
    const dir = weights ?? process.env.MINILM_WEIGHTS ?? join(import.meta.dirname, 'weights');
    const json = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as object;
    this.#tokenizer = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
    this.#device = cuda.isAvailable() ? 'cuda' : 'cpu';
    this.#model = await loadTorchScript(join(dir, 'minilm.pt'), { device: this.#device });
  }

  /** One prediction, one forward (what `Unbatched` serves). */
  async predict({ text }: Inputs<typeof Predictor>): Promise<Output<typeof Predictor>> {
    const ids = sentencesOf(text).map((sentence) => this.#encode(sentence));
    this.recordMetric('tokens', tokenCount(ids));
    return this.#embed(ids);
  }

  /** Every prediction of the batch in one padded forward; each gets the rows of its own sentences. */
  async predictBatch(inputs: Inputs<typeof Predictor>[]): Promise<Output<typeof Predictor>[]> {
    const perItem = inputs.map(({ text }) => sentencesOf(text).map((sentence) => this.#encode(sentence)));
    perItem.forEach((ids, index) => this.scope.items[index]!.recordMetric('tokens', tokenCount(ids)));
    const rows = await this.#embed(perItem.flat());
    let next = 0;
    return perItem.map((ids) => rows.slice(next, (next += ids.length)));
  }

  /** One forward over these token rows, right-padded to the longest: one embedding per row. */
  async #embed(ids: number[][]): Promise<number[][]> {
    if (ids.length === 0) return [];
    const width = Math.max(...ids.map((row) => row.length));
    // Right-padded with [PAD] (id 0) and masked out, as the Python tokenizer pads a batch.
    const tokens = new BigInt64Array(ids.length * width);
    const mask = new BigInt64Array(ids.length * width);
    ids.forEach((row, i) =>
      row.forEach((id, j) => {
        tokens[i * width + j] = BigInt(id);
        mask[i * width + j] = 1n;
      }),
    );
    const shape = [ids.length, width];
    const embeddings = expectTensor(
      await this.#model.forward(Tensor.fromTypedArray(tokens, shape).to(this.#device), Tensor.fromTypedArray(mask, shape).to(this.#device)),
    );
    const [rows = 0, dims = 0] = embeddings.shape;
    const flat = embeddings.toTypedArray() as Float32Array;
    return Array.from({ length: rows }, (_, i) => Array.from(flat.subarray(i * dims, (i + 1) * dims)));
  }

  /** Token ids with [CLS] and [SEP], cut to MAX_TOKENS as sentence-transformers does. */
  #encode(sentence: string): number[] {
    const { ids } = this.#tokenizer.encode(sentence);
    return ids.length <= MAX_TOKENS ? ids : [...ids.slice(0, MAX_TOKENS - 1), SEP];
  }
}

function tokenCount(ids: number[][]): number {
  return ids.reduce((sum, row) => sum + row.length, 0);
}

/** The same model without batching: one forward per prediction (`predict.ts:Unbatched`). */
export class Unbatched extends Predictor {
  static override batch = undefined;
}
