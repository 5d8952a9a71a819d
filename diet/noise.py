"""Label noise: flip a seeded fraction of training labels, and measure how well scores find them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.prune import ranked_ids
from diet.splits import Split
from diet.tasks import Task


def flip_labels(task: Task, fraction: float, seed: int = 0) -> tuple[Task, np.ndarray]:
    """A copy of `task` with round(fraction * n) training labels changed to another class.

    Each flipped example gets a different class drawn uniformly from the other classes; the
    test split is untouched. Returns the noisy task and the sorted ids of the flipped examples.
    """
    if not 0.0 <= fraction < 1.0:
        raise DietError(f"noise is the fraction of training labels to flip, in [0, 1), got {fraction}")
    if task.num_labels < 2:
        raise DietError(f"flipping labels needs at least 2 classes; {task.name} has {task.num_labels}")
    train = task.train
    n_flip = round(fraction * len(train))
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(len(train), size=n_flip, replace=False))
    labels = train.labels.copy()
    shift = rng.integers(1, task.num_labels, size=n_flip)  # 1..K-1: never the original class
    labels[positions] = (labels[positions] + shift) % task.num_labels
    noisy = Split(text=train.text, labels=labels, ids=train.ids, text_pair=train.text_pair)
    name = f"{task.name}+noise{fraction:g}"
    source = f"{task.source}; {n_flip} training labels flipped (seed {seed})"
    return replace(task, name=name, train=noisy, source=source), np.sort(train.ids[positions])


def detection(scores: pd.Series, flipped: np.ndarray, removed: float) -> tuple[float, float]:
    """Precision and recall of the top `removed` fraction by score as a detector of flipped labels."""
    n_top = round(removed * len(scores))
    if n_top == 0 or len(flipped) == 0:
        return float("nan"), float("nan")
    top = ranked_ids(scores, "top", seed=0)[:n_top]
    caught = np.isin(top, flipped).sum()
    return caught / n_top, caught / len(flipped)


def precision_interval(runs: pd.DataFrame, flipped: np.ndarray, removed: float, random_precisions, replicates: int = 10_000,
                       seed: int = 0, confidence: float = 0.95):
    """The 95% interval for the share of flipped labels among the top `removed` by the run-averaged score,
    minus the mean share among random draws (claim 5a).

    `runs`: one column per scoring run, indexed by example id. Each replicate averages the runs resampled
    with replacement, ranks by that mean (ties by id, as `select`) and counts the flipped examples in
    its top; the random side resamples `random_precisions` (one share per random draw). No test examples
    lie behind it, so the interval's example level is the difference itself (`diet.intervals.Interval`).
    """
    from diet.intervals import Interval

    rng = np.random.default_rng(seed)
    values, ids = runs.to_numpy(np.float64), runs.index.to_numpy(np.int64)
    n_top, is_flipped = round(removed * len(ids)), np.isin(ids, flipped)
    draws = np.asarray(random_precisions, dtype=float)
    if n_top == 0 or len(draws) == 0:
        raise DietError(f"no interval for the top {removed:.0%} of {len(ids)} examples against {len(draws)} random draws")
    weights = rng.multinomial(values.shape[1], np.full(values.shape[1], 1 / values.shape[1]), size=replicates)
    distinct, which = np.unique(weights, axis=0, return_inverse=True)  # few: 5 runs have 126 multisets
    caught = np.array([is_flipped[np.lexsort((ids, -(values @ w)))[:n_top]].mean() for w in distinct])
    random = rng.multinomial(len(draws), np.full(len(draws), 1 / len(draws)), size=replicates) @ draws / len(draws)
    observed = float(is_flipped[np.lexsort((ids, -values.mean(axis=1)))[:n_top]].mean() - draws.mean())
    low, high = np.quantile(caught[which.ravel()] - random, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(observed, float(low), float(high), float(low), float(high), observed, observed)
