"""A stored job: fine-tune with one seed for some updates, then predict every training example (figure 5's examples)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from diet.data.task import Task
from diet.model.config import TrainConfig


@dataclass(frozen=True)
class PredictionsRun:
    """A picklable job: fine-tune with `seed` for `step` updates, predict every training example."""

    task: Task
    model: str
    seed: int
    step: int
    cfg: TrainConfig
    progress: bool = False

    def __call__(self) -> pd.DataFrame:
        from diet.model.batching import encode
        from diet.model.encoders import load_encoder, load_tokenizer
        from diet.model.train import fine_tune, predict

        data = encode(self.task.train, load_tokenizer(self.model), self.cfg.max_length)
        model = load_encoder(self.model, self.task.num_labels, self.seed)
        fine_tune(model, data, self.cfg, self.seed, stop_after=self.step, progress=self.progress)
        return pd.DataFrame({"example_id": data.ids, "predicted": predict(model, data, self.cfg)})

    def placeholder(self, variant: int) -> pd.DataFrame:
        return pd.DataFrame({"example_id": self.task.train.ids, "predicted": self.task.train.labels})
