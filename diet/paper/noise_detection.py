"""How well scores find flipped labels (figure 5): precision and recall of the top by score, and claim 5a's interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.scores.ranking import ranked_ids
from diet.stats.intervals import Interval


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
    lie behind it, so the interval's example level is the difference itself (`diet.stats.intervals.Interval`).
    """
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
