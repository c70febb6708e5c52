import asyncio
import pathlib

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """As ../node-async: says it has started, then awaits 30 s that cancellation cuts short."""

    async def predict(self, started_file: str = Input(description="Touched once predict runs")) -> str:
        pathlib.Path(started_file).touch()
        await asyncio.sleep(30)
        return "slept"
