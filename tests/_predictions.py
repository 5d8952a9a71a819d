"""Retraining entries with stored test predictions, made up to have chosen accuracies (no fine-tuning)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.runs.retraining import PREDICTIONS, RUN
from diet.runs.store import Store, config_key

N_TEST = 400
LABELS = np.arange(N_TEST) % 4  # a balanced 4-class test set


def stored_runs(store: Store, name: str, accuracies, seed: int = 0, predictions: bool = True) -> pd.DataFrame:
    """Retraining entries whose models get the first round(acc * N) test examples (shifted per seed) right:
    the accuracy rows a figure table would hold for them."""
    rows = []
    for s, acc in enumerate(accuracies):
        right = np.roll(np.arange(N_TEST) < round(acc * N_TEST), 7 * s + seed)
        predicted = np.where(right, LABELS, (LABELS + 1) % 4).astype(np.int8)
        config = {"task": "synthetic", "subset": name, "shift": seed, "seed": s}
        frame = pd.DataFrame({"seed": [s], "accuracy": [float(right.mean())]})
        store.save("retrain", config, frame.assign(**{PREDICTIONS: [predicted]}) if predictions else frame)
        rows.append({"score": name, "seed": s, "accuracy": float(right.mean()), RUN: config_key(config)})
    return pd.DataFrame(rows)
