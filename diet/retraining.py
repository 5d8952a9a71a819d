"""Retraining on a subset with several seeds; test accuracy per seed, stored and resumable."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from tqdm import tqdm

from diet.batching import Encoded, encode
from diet.config import TrainConfig
from diet.encoders import load_encoder, load_tokenizer
from diet.errors import DietError
from diet.fingerprint import ids_fingerprint, split_fingerprint
from diet.store import Store
from diet.tasks import Task, check_labels
from diet.train import accuracy, fine_tune


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

    Each finished seed is stored at once, so an interrupted call resumes where it stopped.
    """
    cfg = config or TrainConfig()
    train = task.train if train_ids is None else task.train.select_ids(np.asarray(train_ids))
    check_labels(train, task.num_labels, f"{task.name} training subset")
    check_labels(task.test, task.num_labels, f"{task.name} test split")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise DietError("no seeds given: retraining needs at least one run")
    store = store or Store()
    base = {
        "task": task.name,
        "train": split_fingerprint(task.train),
        "test": split_fingerprint(task.test),
        "subset": ids_fingerprint(train.ids),
        "n_subset": len(train),
        "model": model,
        "train_config": cfg.key(),
    }
    encoded: dict[str, Encoded] = {}  # tokenised once, and only if some seed is not stored yet

    def data() -> dict[str, Encoded]:
        if not encoded:
            tokenizer = load_tokenizer(model)
            encoded.update(train=encode(train, tokenizer, cfg.max_length), test=encode(task.test, tokenizer, cfg.max_length))
        return encoded

    rows = []
    for seed in tqdm(seeds, desc=f"retrain {label}".strip(), disable=not progress, leave=False):
        rows.append(store.load_or_compute("retrain", {**base, "seed": seed}, lambda: _one_run(task, data(), model, seed, cfg, progress)))
    return pd.concat(rows, ignore_index=True)


def _one_run(task: Task, data: dict[str, Encoded], model_name: str, seed: int, cfg: TrainConfig, progress: bool) -> pd.DataFrame:
    started = time.perf_counter()
    model = load_encoder(model_name, task.num_labels, seed)
    fine_tune(model, data["train"], cfg, seed, progress=progress, desc=f"train seed {seed}")
    acc = accuracy(model, data["test"], cfg)
    return pd.DataFrame({"seed": [seed], "accuracy": [acc], "n_train": [len(data["train"])], "seconds": [time.perf_counter() - started]})
