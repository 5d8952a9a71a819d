"""What the experiments share: the baseline subsets, a subset's class mix, and tables for download and reading."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.paper.context import FULL, RANDOM, Context, Subset
from diet.prune.select import select
from diet.scores.table import ScoresTable


def random_subsets(ctx: Context, keep: float, size_column: str = "keep", **meta) -> list[Subset]:
    """One random subset of `keep` of the data per retraining seed (the spread includes the draw)."""
    index = pd.Series(0.0, index=ctx.task.train.ids)
    return [
        Subset.same({"score": RANDOM, **meta, size_column: keep, "subset_seed": seed}, select(index, keep, order="random", seed=seed), (seed,))
        for seed in ctx.preset.retrain_seeds
    ]


def full_subset(ctx: Context, **meta) -> Subset:
    """All the training data, with every retraining seed."""
    return Subset.same({"score": FULL, **meta, "keep": 1.0}, None, ctx.preset.retrain_seeds)


def kept_ids(subsets: list[Subset]) -> pd.DataFrame:
    """Long table of the example ids in each subset (the full-data subset is left out); an experiment's subset is the same for each of its seeds."""
    kept = [(s.meta, next(iter(s.ids.values()))) for s in subsets]
    frames = [pd.DataFrame({**meta, "example_id": np.sort(ids)}) for meta, ids in kept if ids is not None]
    return pd.concat(frames, ignore_index=True)


def total_variation(shares: np.ndarray, base: np.ndarray) -> float:
    """Total variation distance of a selection's class shares from the training set's (0: the same mix, 1: disjoint classes)."""
    return 0.5 * float(np.abs(shares - base).sum())


def scores_mean(table: ScoresTable) -> pd.DataFrame:
    """Per-example mean and standard deviation over runs of every score at every step (for download)."""
    grouped = table.frame.groupby(["example_id", "label", "score", "step", "epoch"])["value"]
    out = grouped.agg(mean="mean", sd="std", runs="count").reset_index()
    return out.sort_values(["score", "step", "example_id"], ignore_index=True)


def mean_sd(frame: pd.DataFrame, by: list[str], value: str = "accuracy") -> pd.DataFrame:
    """For reading: "mean ± sd" of `value` and the number of seeds per group, indexed by `by`."""
    grouped = frame.groupby(by, dropna=False, sort=False)[value]
    out = grouped.agg(mean="mean", sd="std", seeds="count")
    out["mean ± sd"] = [f"{m:.3f} ± {s:.3f}" if n > 1 else f"{m:.3f}" for m, s, n in zip(out["mean"], out["sd"], out["seeds"])]
    return out[["seeds", "mean ± sd"]]
