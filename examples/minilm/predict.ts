// Sentence embeddings with all-MiniLM-L6-v2, served end to end: the tokenizer runs in Node
// (Hugging Face's tokenizer.json, read by @huggingface/tokenizers), the model is TorchScript
// traced by trace_minilm.py and runs in libtorch through cog-node/torch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { BasePredictor, Input, Type, type Inputs } from 'cog-node';
import { Tensor, cuda, expectTensor, loadTorchScript, type TorchScriptModule } from 'cog-node/torch';

/** sentence-transformers' max_seq_length for this model. */
const MAX_TOKENS = 256;
const SEP = 102;

export class Predictor extends BasePredictor {
  static inputs = {
    text: Input(Type.String(), { description: 'Sentences to embed, one per line' }),
  };
  static output = Type.Array(Type.Array(Type.Number()), { description: 'One unit-length 384-d embedding per sentence' });

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

  async predict({ text }: Inputs<typeof Predictor>) {
    const sentences = text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
    if (sentences.length === 0) return [];
    const ids = sentences.map((sentence) => this.#encode(sentence));
    const width = Math.max(...ids.map((row) => row.length));
    // Right-padded with [PAD] (id 0) and masked out, as the Python tokenizer pads a batch.
    const tokens = new BigInt64Array(sentences.length * width);
    const mask = new BigInt64Array(sentences.length * width);
    ids.forEach((row, i) =>
      row.forEach((id, j) => {
        tokens[i * width + j] = BigInt(id);
        mask[i * width + j] = 1n;
      }),
    );
    const shape = [sentences.length, width];
    const embeddings = expectTensor(
      await this.#model.forward(Tensor.fromTypedArray(tokens, shape).to(this.#device), Tensor.fromTypedArray(mask, shape).to(this.#device)),
    );
    const [rows = 0, dims = 0] = embeddings.shape;
    const flat = embeddings.toTypedArray() as Float32Array;
    this.recordMetric(
      'tokens',
      ids.reduce((sum, row) => sum + row.length, 0),
    );
    return Array.from({ length: rows }, (_, i) => Array.from(flat.subarray(i * dims, (i + 1) * dims)));
  }

  /** Token ids with [CLS] and [SEP], cut to MAX_TOKENS as sentence-transformers does. */
  #encode(sentence: string): number[] {
    const { ids } = this.#tokenizer.encode(sentence);
    return ids.length <= MAX_TOKENS ? ids : [...ids.slice(0, MAX_TOKENS - 1), SEP];
  }
}
