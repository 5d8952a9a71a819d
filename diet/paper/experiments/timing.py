"""Figures 1 and 2: when the scores are taken, and what that does to the selection's accuracy and class mix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.paper.context import Context, Subset
from diet.paper.experiments.subsets import full_subset, random_subsets, total_variation
from diet.prune.select import class_fractions, select


def timing_subsets(ctx: Context) -> list[Subset]:
    """Figure 1: top-k by each timing score at each step, random at the same sizes, full data."""
    table, p = ctx.timing_scores(), ctx.preset
    epochs = table.epochs()
    subsets = [
        Subset.same({"score": name, "step": step, "epoch": epochs[step], "keep": keep}, select(table.mean(name, step), keep), p.retrain_seeds)
        for name in p.timing_scores for step in table.steps for keep in p.timing_fractions
    ]
    for keep in p.timing_fractions:
        subsets += random_subsets(ctx, keep, step=np.nan, epoch=np.nan)
    return subsets + [full_subset(ctx, step=np.nan, epoch=np.nan)]


def score_timing(ctx: Context) -> pd.DataFrame:
    """Accuracy after training on the top-k by each timing score computed at each step (figure 1).

    Columns: score, step, epoch, keep, seed, accuracy, n_train (+ subset_seed for random).
    Random and full-data rows have no step (NaN): they do not depend on when scores are taken.
    """
    return ctx.retrain(timing_subsets(ctx))


def label_balance(ctx: Context) -> pd.DataFrame:
    """Class distribution of the top-k by each timing score at each step (figure 2).

    `by` = "mean" is the selection made from run-averaged scores (what figure 1 trains on);
    `by` = "run" rows select by a single run's scores, one per scoring seed (their spread).
    Columns: score, step, epoch, keep, by, run, label, class_name, fraction, train_fraction,
    tv_distance (total variation distance of the selection's class distribution from the
    training set's, the same for all classes of one selection).
    """
    table, p = ctx.timing_scores(), ctx.preset
    labels, epochs, k = table.labels(), table.epochs(), ctx.task.num_labels
    base = class_fractions(labels.index.to_numpy(), labels, k)
    frame = table.frame
    rows = []
    for name in p.timing_scores:
        for step in table.steps:
            sources = [("mean", -1, table.mean(name, step))]
            at = frame[(frame["score"] == name) & (frame["step"] == step)]
            sources += [("run", int(run), part.set_index("example_id")["value"]) for run, part in at.groupby("run")]
            for keep in p.timing_fractions:
                for by, run, values in sources:
                    share = class_fractions(select(values, keep), labels, k)
                    tv = total_variation(share, base)
                    for label in range(k):
                        rows.append({"score": name, "step": step, "epoch": epochs[step], "keep": keep, "by": by, "run": run, "label": label,
                                     "class_name": ctx.task.label_names[label], "fraction": share[label], "train_fraction": base[label], "tv_distance": tv})
    return pd.DataFrame(rows)
