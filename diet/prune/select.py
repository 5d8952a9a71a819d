"""Pruning: which example ids to keep, by score rank (top, bottom, offset windows) or at random."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.scores.ranking import Order, ranked_ids

Window = Literal["fixed", "shrinking"]
TOLERANCE = 1e-9


def check_fractions(keep: float, offset: float = 0.0, window: Window = "fixed") -> None:
    """Fractions lie in [0, 1]; a fixed window must fit in the data, a shrinking one must not be empty."""
    for name, value in (("keep", keep), ("offset", offset)):
        if not 0.0 <= value <= 1.0:
            raise DietError(f"{name} is a fraction of the training set in [0, 1], got {value}")
    if window == "fixed" and offset + keep > 1.0 + TOLERANCE:
        raise DietError(f"offset + keep = {offset} + {keep} > 1: a fixed-size window of {keep:.0%} after skipping {offset:.0%} does not fit; lower one of them")
    if window == "shrinking" and offset > keep + TOLERANCE:
        raise DietError(f"with the shrinking reading the kept ranks are [offset, keep), so offset ({offset}) must not exceed keep ({keep})")
    if window not in ("fixed", "shrinking"):
        raise DietError(f"window must be 'fixed' or 'shrinking', got {window!r}")


def rank_window(n: int, keep: float, offset: float, window: Window) -> slice:
    """Ranks kept out of n: [offset, offset + keep) (fixed) or [offset, keep) (shrinking)."""
    start = round(offset * n)
    stop = start + round(keep * n) if window == "fixed" else round(keep * n)
    return slice(start, min(stop, n))


def select(
    scores: pd.Series,
    keep: float,
    *,
    order: Order = "top",
    offset: float = 0.0,
    window: Window = "fixed",
    labels: pd.Series | None = None,
    balanced: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Sorted ids of the kept examples.

    `scores` is indexed by example id (for random pruning only the index is used). With
    `balanced`, the same fractions are applied within each class of `labels`.
    """
    check_fractions(keep, offset, window)
    if order == "random" and offset:
        raise DietError("offset applies to score-ranked selections; random pruning has no ranks to skip")
    if not pd.api.types.is_numeric_dtype(scores) or pd.api.types.is_bool_dtype(scores):
        raise DietError(f"scores must be numbers, got {scores.dtype} values; pass one score per example id (ScoresTable.mean)")
    values = scores.to_numpy(np.float64)
    if not np.isfinite(values).all():
        counts = {"NaN": int(np.isnan(values).sum()), "+inf": int((values == np.inf).sum()), "-inf": int((values == -np.inf).sum())}
        found = ", ".join(f"{n} are {kind}" for kind, n in counts.items() if n)
        raise DietError(f"{found} of {len(values)} scores: non-finite scores cannot be ranked; rescore before pruning (lower the learning rate if training diverged)")
    if not scores.index.is_unique:
        raise DietError("scores are indexed by example id and must have one value per example; average runs first (ScoresTable.mean)")
    if not balanced:
        return np.sort(ranked_ids(scores, order, seed)[rank_window(len(scores), keep, offset, window)])
    if labels is None:
        raise DietError("balanced selection needs the labels of the examples (labels=...)")
    labels = labels.reindex(scores.index)
    if labels.isna().any():
        raise DietError(f"{int(labels.isna().sum())} scored examples have no label; the labels belong to another dataset")
    kept = [
        ranked_ids(scores[labels == cls], order, seed + int(cls))[rank_window(int((labels == cls).sum()), keep, offset, window)]
        for cls in np.unique(labels.to_numpy())
    ]
    return np.sort(np.concatenate(kept))


def class_fractions(ids: np.ndarray, labels: pd.Series, num_labels: int) -> np.ndarray:
    """Share of each class among the given example ids."""
    counts = np.bincount(labels.loc[ids].to_numpy(np.int64), minlength=num_labels)
    return counts / max(1, counts.sum())
