import pathlib
import time

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """Sync: says it has started, then sleeps 30 s in 1 ms steps (coglet's cancellation is
    raised in this thread at the next bytecode, so after the current time.sleep returns)."""

    def predict(self, started_file: str = Input(description="Touched once predict runs")) -> str:
        pathlib.Path(started_file).touch()
        for _ in range(30_000):
            time.sleep(0.001)
        return "slept"
