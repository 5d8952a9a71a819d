"""Figures 3 and 4: accuracy against the fraction kept, and after skipping the very top first."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.paper.context import FULL, Context, Subset
from diet.paper.experiments.subsets import full_subset, random_subsets
from diet.prune.select import select

WINDOWS = {"fixed": "fixed-size window", "shrinking": "shrinking set"}  # figure 4's readings of "skip the top k": ranks [k, k + keep) or [k, keep)


def fraction_subsets(ctx: Context) -> list[Subset]:
    """Figure 3: top-k at the final step for each score and fraction, plain and class-balanced."""
    table, p = ctx.final_scores(), ctx.preset
    step = ctx.step(p.final_step)
    labels = table.labels()
    subsets = [
        Subset.same({"score": name, "balanced": balanced, "keep": keep}, select(table.mean(name, step), keep, labels=labels, balanced=balanced), p.retrain_seeds)
        for name in p.scores for balanced in (False, True) for keep in p.fractions
    ]
    for keep in p.fractions:
        subsets += random_subsets(ctx, keep, balanced=False)
    return subsets + [full_subset(ctx, balanced=False)]


def preserved_fraction(ctx: Context) -> pd.DataFrame:
    """Accuracy against the fraction kept, per score at the final step, plain and balanced (figure 3).

    Columns: score, balanced, keep, seed, accuracy, n_train (+ subset_seed for random);
    score is also "random" (a fresh random subset per seed) and "full data" (keep = 1).
    """
    return ctx.retrain(fraction_subsets(ctx))


def offset_subsets(ctx: Context, windows=None) -> list[Subset]:
    """Figure 4: keep preset.offset_keep after skipping the top k%, in each reading (preset.offset_windows), plain and balanced."""
    table, p = ctx.final_scores(), ctx.preset
    windows = windows or p.offset_windows
    unknown = set(windows) - set(WINDOWS)
    if unknown:
        raise DietError(f"unknown offset windows {sorted(unknown)}; use 'fixed' (ranks [k, k + keep)) and/or 'shrinking' (ranks [k, keep))")
    step, keep = ctx.step(p.final_step), p.offset_keep
    labels = table.labels()
    subsets, random_sizes = [], {}
    for window in windows:
        for offset in p.offsets:
            if (window == "fixed" and offset + keep > 1 + 1e-9) or (window == "shrinking" and offset >= keep):
                continue  # the window does not fit (fixed) or would be empty (shrinking)
            kept = keep if window == "fixed" else round(keep - offset, 10)
            random_sizes[(window, offset)] = kept
            for name in p.offset_scores or p.scores:
                for balanced in (False, True):
                    ids = select(table.mean(name, step), keep, offset=offset, window=window, labels=labels, balanced=balanced)
                    subsets.append(Subset.same({"score": name, "window": window, "balanced": balanced, "offset": offset, "kept": kept}, ids, p.retrain_seeds))
    for (window, offset), kept in random_sizes.items():
        subsets += random_subsets(ctx, kept, "kept", window=window, balanced=False, offset=offset)
    return subsets + [Subset.same({"score": FULL, "window": w, "balanced": False, "offset": np.nan, "kept": 1.0}, None, p.retrain_seeds) for w in windows]


def offset_curve(ctx: Context, windows=None) -> pd.DataFrame:
    """Accuracy after skipping the top `offset` and keeping preset.offset_keep (figure 4).

    Windows (default: preset.offset_windows): "fixed": ranks [offset, offset + keep) (always keep of the data); "shrinking":
    ranks [offset, keep) (keep - offset of the data). Random rows are drawn at the same size
    as each window (`kept`). Columns: score, window, balanced, offset, kept, seed, accuracy, n_train.
    """
    return ctx.retrain(offset_subsets(ctx, windows))
