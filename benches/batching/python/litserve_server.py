"""MiniLM behind LitServe with its own dynamic batching (max_batch_size=32, batch_timeout=5 ms),
on Cog's request shape: POST /predictions {"input": {"text": ...}} -> {"output": [[...384]]}, so
the same load generator drives every contender.  PORT (env) is the port."""
import os
import sys
from pathlib import Path

import litserve as ls

sys.path.insert(0, str(Path(__file__).resolve().parent))
from minilm import MiniLM, lines  # noqa: E402

MAX_BATCH_SIZE = int(os.environ.get("BENCH_MAX_BATCH", "32"))
BATCH_TIMEOUT_S = float(os.environ.get("BENCH_BATCH_TIMEOUT", "0.005"))


class MiniLMAPI(ls.LitAPI):
    def setup(self, device):
        self.model = MiniLM()

    def decode_request(self, request):
        return lines(request["input"]["text"])

    def batch(self, inputs):
        return inputs

    def predict(self, batch):
        # One padded forward over every sentence of every request in the batch.
        flat = [sentence for sentences in batch for sentence in sentences]
        embeddings = self.model.embed(flat)
        out, at = [], 0
        for sentences in batch:
            out.append(embeddings[at : at + len(sentences)])
            at += len(sentences)
        return out

    def unbatch(self, output):
        return output

    def encode_response(self, output):
        return {"status": "succeeded", "output": output}


if __name__ == "__main__":
    api = MiniLMAPI(max_batch_size=MAX_BATCH_SIZE, batch_timeout=BATCH_TIMEOUT_S, api_path="/predictions")
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1, timeout=60)
    server.run(host="127.0.0.1", port=int(os.environ["PORT"]), generate_client_file=False, log_level="warning")
