"""MiniLM behind Cog's own server (coglet), no batching: one forward per prediction. `async` so
that coglet accepts COG_MAX_CONCURRENCY > 1 (concurrent clients wait in its event loop instead of
getting 409); the forward itself blocks, so predictions run one at a time, as in cog-node's
unbatched predictor with one slot."""
from cog import BasePredictor, Input

from minilm import MiniLM, lines


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.model = MiniLM()

    async def predict(self, text: str = Input(description="Sentences to embed, one per line")) -> list[list[float]]:
        return self.model.embed(lines(text))
