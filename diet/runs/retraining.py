"""Retraining on a subset with several seeds; test accuracy per seed, stored and resumable."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from diet.progress import bars_off
from diet.model.batching import encode
from diet.model.config import TrainConfig
from diet.model.encoders import load_encoder, load_tokenizer
from diet.errors import DietError
from diet.data.fingerprint import ids_fingerprint
from diet.runs.jobs import StoredJob, fingerprint
from diet.runs.store import Store, config_key
from diet.data.task import Task, check_labels
from diet.stats.one_class import TOP_SHARE, top_share
from diet.model.train import fine_tune, predict

KIND = "retrain"  # the store kind of a retraining
PREDICTIONS = "predictions"  # its column of test predictions (one array per seed), required since they exist (store.REQUIRED_COLUMNS)
RUN = "run"  # the column of `retrain`'s frame with each seed's store key


def retrain(
    task: Task,
    model: str,
    train_ids=None,
    seeds=(0, 1, 2),
    config: TrainConfig | None = None,
    store: Store | None = None,
    progress: bool = True,
    label: str = "",
) -> pd.DataFrame:
    """Fine-tune on the examples with `train_ids` (None = all) per seed; test accuracy per seed.

    Each finished seed is stored at once, with its test predictions, so an interrupted call resumes
    where it stopped. The frame has one row per seed (seed, accuracy, n_train, seconds, top_share)
    and `run`, the store key of the seed's entry, from which `stored_predictions` loads its predictions.
    """
    cfg = config or TrainConfig()
    train = task.train if train_ids is None else task.train.select_ids(np.asarray(train_ids))
    check_labels(train, task.num_labels, f"{task.name} training subset")
    check_labels(task.test, task.num_labels, f"{task.name} test split")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise DietError("no seeds given: retraining needs at least one run")
    store = store or Store()
    rows = []
    for seed in tqdm(seeds, desc=f"retrain {label}".strip(), disable=bars_off(progress), leave=False):
        job = RetrainRun(task, None if train_ids is None else train.ids, model, seed, cfg, progress)
        frame = store.result(job)
        rows.append(frame.drop(columns=PREDICTIONS, errors="ignore").assign(**{RUN: config_key(job.key())}))
    return pd.concat(rows, ignore_index=True)


def stored_predictions(store: Store, run: str) -> np.ndarray | None:
    """The test predictions (class ids, in the test split's order) of the retraining stored under key `run`
    (the `run` column of `retrain`'s frame); None when that entry is missing or predates stored predictions."""
    frame = store.load_key(KIND, run)
    if frame is None or PREDICTIONS not in frame.columns:
        return None
    return np.asarray(frame[PREDICTIONS].iloc[0], dtype=np.int64)


@dataclass(frozen=True)
class RetrainRun(StoredJob):
    """One retraining as a picklable job: fine-tune on `train_ids` (None = all) with `seed`, test accuracy."""

    kind = KIND
    feeds_plan = False  # its accuracy picks no other run

    task: Task
    train_ids: np.ndarray | None
    model: str
    seed: int
    cfg: TrainConfig
    progress: bool = False

    @property
    def n_train(self) -> int:
        return len(self.task.train) if self.train_ids is None else len(self.train_ids)

    def key(self) -> dict:
        ids = self.task.train.ids if self.train_ids is None else self.train_ids
        return {"task": self.task.name, "train": fingerprint(self.task.train), "test": fingerprint(self.task.test),
                "subset": ids_fingerprint(ids), "n_subset": self.n_train, "model": self.model, "train_config": self.cfg.key(), "seed": self.seed}

    def work(self) -> float:
        return self.cfg.max_length / 64 * (self.n_train * self.cfg.epochs + len(self.task.test) / 3)

    def wall_seconds(self, frame: pd.DataFrame) -> float | None:
        return float(frame["seconds"].sum()) if "seconds" in frame.columns else None

    def __call__(self) -> pd.DataFrame:
        started = time.perf_counter()
        train = self.task.train if self.train_ids is None else self.task.train.select_ids(self.train_ids)
        tokenizer = load_tokenizer(self.model)  # encode() keeps recent splits: the test split is tokenised once per process
        data = {"train": encode(train, tokenizer, self.cfg.max_length), "test": encode(self.task.test, tokenizer, self.cfg.max_length)}
        model = load_encoder(self.model, self.task.num_labels, self.seed)
        fine_tune(model, data["train"], self.cfg, self.seed, progress=self.progress, desc=f"train seed {self.seed}")
        predicted = predict(model, data["test"], self.cfg)
        acc = float((predicted == data["test"].labels).mean())
        share = top_share(predicted, self.task.num_labels)  # 1.0: the model predicts one class only
        return pd.DataFrame({"seed": [self.seed], "accuracy": [acc], "n_train": [len(train)], "seconds": [time.perf_counter() - started],
                             TOP_SHARE: [share], PREDICTIONS: [compact_labels(predicted, self.task.num_labels)]})

    def placeholder(self, variant: int) -> pd.DataFrame:
        """A row of the right shape with no accuracy (for planning)."""
        return pd.DataFrame({"seed": [self.seed], "accuracy": [np.nan], "n_train": [self.n_train], "seconds": [np.nan], TOP_SHARE: [np.nan],
                             PREDICTIONS: [np.zeros(0, dtype=np.int8)]})


def compact_labels(labels: np.ndarray, num_labels: int) -> np.ndarray:
    """Class ids in the smallest integer type that holds them (int8 up to 127 classes): a stored column of one byte per test example."""
    return np.asarray(labels).astype(np.int8 if num_labels <= np.iinfo(np.int8).max else np.int32)
