"""Training-dynamics records: every training example's gold-label probability, predicted label and margin
at dense checkpoints of a fine-tuning run, one eval-mode forward pass per checkpoint (the cost of EL2N).

A records run is its own stored kind ("dynamics"), keyed by the task, model, seed, fine-tuning config
and checkpoint steps; the scores built from it (diet.scores.dynamics) go through diet.score like any
other, so scoring runs of the other scores keep their keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from diet.model.batching import encode
from diet.model.config import TrainConfig
from diet.model.encoders import load_encoder, load_tokenizer
from diet.errors import DietError
from diet.model.steps import steps_per_epoch
from diet.scores.records import checkpoint_steps, record_pass
from diet.runs.jobs import StoredJob, fingerprint
from diet.runs.store import Store
from diet.data.task import Task
from diet.model.train import fine_tune

KIND = "dynamics"


def record_run(task: Task, model_name: str, seed: int, checkpoints: list[int], cfg: TrainConfig, progress: bool = False) -> pd.DataFrame:
    """Fine-tune with `seed` up to the last checkpoint, recording every training example at each checkpoint.

    Columns: example_id, label, run, step, epoch, gold_prob, predicted, margin, seconds (of that
    checkpoint's pass), train_seconds (the run's fine-tuning, the passes left out).
    """
    if task.num_labels < 2:
        raise DietError(f"margins need at least 2 classes; {task.name} has {task.num_labels}")
    data = encode(task.train, load_tokenizer(model_name), cfg.max_length)
    model = load_encoder(model_name, task.num_labels, seed)
    per_epoch = steps_per_epoch(len(data), cfg.batch_size)
    rows, passes = [], []

    def record(net, step: int) -> None:
        started = time.perf_counter()
        values = record_pass(net, data, cfg)
        passes.append(time.perf_counter() - started)
        rows.append(pd.DataFrame({"example_id": data.ids, "label": data.labels, "run": np.int64(seed), "step": np.int64(step),
                                  "epoch": step / per_epoch, **values, "seconds": passes[-1]}))

    started = time.perf_counter()
    fine_tune(model, data, cfg, seed, callbacks={s: record for s in checkpoints}, stop_after=max(checkpoints), progress=progress, desc=f"dynamics {seed}")
    train_seconds = time.perf_counter() - started - sum(passes)
    return pd.concat(rows, ignore_index=True).assign(train_seconds=train_seconds)


@dataclass(frozen=True)
class DynamicsRun(StoredJob):
    """One records run as a picklable job: fine-tune with `seed`, record every example at `checkpoints`."""

    kind = KIND

    task: Task
    model: str
    seed: int
    checkpoints: tuple[int, ...]
    cfg: TrainConfig
    progress: bool = False

    def key(self) -> dict:
        return {"task": self.task.name, "train": fingerprint(self.task.train), "n_train": len(self.task.train), "model": self.model,
                "train_config": self.cfg.key(), "checkpoints": list(self.checkpoints), "seed": self.seed}

    def work(self) -> float:
        return self._passes(len(self.task.train), max(self.checkpoints), len(self.checkpoints) / 3)

    def __call__(self) -> pd.DataFrame:
        return record_run(self.task, self.model, self.seed, list(self.checkpoints), self.cfg, self.progress)

    def placeholder(self, variant: int) -> pd.DataFrame:
        """Random records of the right shape (for planning which runs follow from these scores)."""
        split, per_epoch = self.task.train, steps_per_epoch(len(self.task.train), self.cfg.batch_size)
        rng = np.random.default_rng([variant, self.seed, len(split)])
        n = len(split)
        return pd.concat([
            pd.DataFrame({"example_id": split.ids, "label": split.labels, "run": np.int64(self.seed), "step": np.int64(step),
                          "epoch": step / per_epoch, "gold_prob": rng.random(n), "predicted": rng.integers(0, self.task.num_labels, n),
                          "margin": rng.normal(size=n), "seconds": 0.0, "train_seconds": 0.0})
            for step in self.checkpoints
        ], ignore_index=True)


def records(task: Task, model: str, seeds, steps: list[int], cfg: TrainConfig, store: Store, per_epoch_checkpoints: int = 8,
            progress: bool = False) -> pd.DataFrame:
    """The records of every seed at the checkpoints up to max(steps) (`checkpoint_steps`); stored runs are reloaded."""
    checkpoints = checkpoint_steps(steps, steps_per_epoch(len(task.train), cfg.batch_size), per_epoch_checkpoints)
    frames = [store.result(DynamicsRun(task, model, int(seed), tuple(checkpoints), cfg, progress)) for seed in seeds]
    return pd.concat(frames, ignore_index=True)


def dynamics_scores(task: Task, model: str, seeds, steps: list[int], names: list[str], cfg: TrainConfig, store: Store,
                    per_epoch_checkpoints: int = 8, progress: bool = False) -> pd.DataFrame:
    """The named dynamics scores of every run at each step (from its checkpoints up to that step), in ScoresTable form."""
    from diet.scores.dynamics import scores_from_records

    if min(steps) < 1:
        raise DietError(f"{', '.join(names)} summarize training up to a step, and step 0 comes before any: "
                        "ask for them at later steps (e.g. --steps 1ep), apart from scores at step 0")
    return scores_from_records(records(task, model, seeds, steps, cfg, store, per_epoch_checkpoints, progress), names, steps)
