"""MiniLM in Python torch for the batching bench: the same TorchScript file and tokenizer.json as
examples/minilm (cog-node), tokenized by Hugging Face `tokenizers`, cut to 256 tokens and padded
to the longest sentence as the Node predictor does. Used by the coglet and LitServe servers."""
import os
from pathlib import Path

import torch
from tokenizers import Tokenizer

WEIGHTS = Path(os.environ.get("MINILM_WEIGHTS", Path(__file__).resolve().parents[3] / "examples" / "minilm" / "weights"))
MAX_TOKENS = 256


class MiniLM:
    def __init__(self) -> None:
        # The same intra-op thread count as cog-node's libtorch (BENCH_THREADS, set by run.ts).
        threads = int(os.environ.get("BENCH_THREADS", "0"))
        if threads > 0:
            torch.set_num_threads(threads)
        self.tokenizer = Tokenizer.from_file(str(WEIGHTS / "tokenizer.json"))
        # tokenizer.json pads and cuts to a fixed 128; the Node predictor pads to the longest
        # sentence and cuts at sentence-transformers' 256 (with [SEP] kept last): so here too.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.model = torch.jit.load(str(WEIGHTS / "minilm.pt"), map_location="cpu").eval()

    def embed(self, sentences: list[str]) -> list[list[float]]:
        """One padded forward for all sentences: one unit-length 384-d embedding each."""
        if not sentences:
            return []
        encoded = self.tokenizer.encode_batch(sentences)
        ids = torch.tensor([e.ids for e in encoded], dtype=torch.int64)
        mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.int64)
        with torch.inference_mode():
            return self.model(ids, mask).tolist()


def lines(text: str) -> list[str]:
    """The Node predictor's input rule: one sentence per non-empty line."""
    return [line.strip() for line in text.split("\n") if line.strip()]
