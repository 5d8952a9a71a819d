"""Example ids ordered by score: highest or lowest first (ties by id), or a seeded random order."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from diet.errors import DietError

Order = Literal["top", "bottom", "random"]


def ranked_ids(scores: pd.Series, order: Order, seed: int) -> np.ndarray:
    """Example ids from most to least preferred; ties broken by id, so the order is deterministic."""
    ids = scores.index.to_numpy(np.int64)
    values = scores.to_numpy(np.float64)
    if order == "top":
        return ids[np.lexsort((ids, -values))]
    if order == "bottom":
        return ids[np.lexsort((ids, values))]
    if order == "random":
        return np.random.default_rng(seed).permutation(np.sort(ids))
    raise DietError(f"order must be 'top', 'bottom' or 'random', got {order!r}")
