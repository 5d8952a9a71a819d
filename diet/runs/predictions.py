"""A stored job: fine-tune with one seed for some updates, then predict every training example (figure 5's examples)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from diet.data.task import Task
from diet.model.config import TrainConfig
from diet.runs.jobs import StoredJob, fingerprint

KIND = "train_predictions"


@dataclass(frozen=True)
class PredictionsRun(StoredJob):
    """A picklable job: fine-tune with `seed` for `step` updates, predict every training example."""

    kind = KIND
    feeds_plan = False  # the predictions label examples in a table, they pick no run

    task: Task
    model: str
    seed: int
    step: int
    cfg: TrainConfig
    progress: bool = False

    def key(self) -> dict:
        return {"task": self.task.name, "train": fingerprint(self.task.train), "model": self.model, "train_config": self.cfg.key(),
                "seed": self.seed, "step": self.step}

    def work(self) -> float:
        return self._passes(len(self.task.train), self.step, 1 / 3)

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
