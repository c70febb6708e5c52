from typing import Iterator

import cog
from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """The same generator as ../tokens-node/predict.ts: n short string tokens, no delay."""

    @cog.streaming
    def predict(self, n: int = Input(description="How many tokens", default=1000)) -> Iterator[str]:
        for i in range(n):
            yield f"tok{i % 1000}"
