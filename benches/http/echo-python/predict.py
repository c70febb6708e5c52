from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """The same echo as ../echo-node/predict.ts."""

    async def predict(self, text: str = Input(description="What to echo")) -> str:
        return text
