"""Figure 5: flip some training labels, score the noisy set, and ask what the top scores catch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.data.noise import flip_labels
from diet.data.task import Task
from diet.errors import DietError
from diet.paper.context import FULL, ORACLE, RANDOM, Context, Subset
from diet.paper.experiments.subsets import kept_ids, random_subsets
from diet.paper.noise_detection import detection, precision_interval
from diet.prune.select import select
from diet.runs.retraining import RUN
from diet.scores.table import ScoresTable


def noisy_task(ctx: Context) -> tuple[Task, np.ndarray]:
    """The task with preset.noise of its training labels flipped (seeded), and the ids of the flipped examples."""
    p = ctx.preset
    noisy, flipped = flip_labels(ctx.task, p.noise, seed=p.data_seed)
    if len(flipped) == 0:
        raise DietError(f"noise = {p.noise} flips no label of {ctx.n_train} examples; raise the preset's noise")
    return noisy, flipped


def noisy_scores(ctx: Context, noisy: Task) -> ScoresTable:
    """preset.scores of the noisy training set at the final step."""
    return ctx.scores(ctx.preset.scores, (ctx.preset.final_step,), task=noisy)


def noisy_labels(ctx: Context, removed=None) -> pd.DataFrame:
    """Flip preset.noise of the training labels, score the noisy set, and ask what the top scores catch.

    Long table with columns score, removed, metric, seed, value, n_train, seconds, low, high, run:
    - metric "precision" / "recall": the top `removed` fraction by each score (at the final
      step, run-averaged; no seed) or a random draw (one per retraining seed) as a detector of
      the flipped examples, for each fraction in `removed` (default: noise/2, noise, 2*noise);
      a score's precision row has low and high: the 95% interval of its precision minus the random
      draws' mean (`with_precision_intervals`);
    - metric "accuracy" (only when preset.noise_retrain): test accuracy per retraining seed after
      removing the top `noise` fraction by each score, a random `noise` fraction, none (full
      noisy data), or exactly the flipped examples (the oracle); run names its store entry.
    """
    p = ctx.preset
    noisy, flipped = noisy_task(ctx)
    removed = sorted(set(removed or (p.noise / 2, p.noise, min(0.95, 2 * p.noise))))
    table = noisy_scores(ctx, noisy)
    step = table.steps[-1]
    means = {name: table.mean(name, step) for name in p.scores}
    detect = detection_table(means, flipped, removed, p.retrain_seeds, noisy.train.ids).assign(n_train=np.nan, seconds=np.nan)
    detect = with_precision_intervals(detect, table, step, flipped)
    if not p.noise_retrain:
        return detect
    acc = ctx.retrain(noisy_subsets(ctx, table, flipped), task=noisy)
    acc = acc.rename(columns={"accuracy": "value"}).assign(metric="accuracy")
    return pd.concat([detect, acc.reindex(columns=[*detect.columns, RUN])], ignore_index=True)  # run: each retraining's store entry


def detection_table(means: dict, flipped: np.ndarray, removed, seeds, ids: np.ndarray) -> pd.DataFrame:
    """Precision and recall of the top `removed` fractions as detectors of the flipped examples: by each
    score of `means` (name -> values by example id; seed NaN), and by a random order per seed of `seeds`."""
    orders = [(name, np.nan, values) for name, values in means.items()]
    orders += [(RANDOM, seed, pd.Series(np.random.default_rng(seed).random(len(ids)), index=ids)) for seed in seeds]
    rows = []
    for name, seed, values in orders:
        for k in removed:
            precision, recall = detection(values, flipped, k)
            rows += [{"score": name, "removed": k, "metric": "precision", "seed": seed, "value": precision},
                     {"score": name, "removed": k, "metric": "recall", "seed": seed, "value": recall}]
    return pd.DataFrame(rows)


def with_precision_intervals(detect: pd.DataFrame, table: ScoresTable, step: int, flipped: np.ndarray) -> pd.DataFrame:
    """`detect` with columns low and high on each score's precision rows: the 95% interval of its share of flipped
    labels minus the random draws' mean share, over resampled scoring runs and random draws (`noise_detection.precision_interval`)."""
    detect = detect.assign(low=np.nan, high=np.nan)
    at_step = table.frame[table.frame["step"] == step]
    for i, row in detect[(detect["metric"] == "precision") & (detect["score"] != RANDOM)].iterrows():
        runs = at_step[at_step["score"] == row["score"]].pivot(index="example_id", columns="run", values="value")
        draws = detect[(detect["metric"] == "precision") & (detect["score"] == RANDOM) & np.isclose(detect["removed"], row["removed"])]["value"]
        interval = precision_interval(runs, flipped, row["removed"], draws)
        detect.loc[i, ["low", "high"]] = interval.low, interval.high
    return detect


def noisy_subsets(ctx: Context, table: ScoresTable, flipped: np.ndarray) -> list[Subset]:
    """Subsets of the noisy training set: minus the top `noise` by each score, minus random, all, minus the flipped."""
    p = ctx.preset
    step = table.steps[-1]
    subsets = [
        Subset.same({"score": name, "removed": p.noise}, select(table.mean(name, step), 1 - p.noise, offset=p.noise), p.retrain_seeds)
        for name in p.scores
    ]
    subsets += random_subsets(ctx, 1 - p.noise, removed=p.noise)
    clean = np.setdiff1d(ctx.task.train.ids, flipped)
    return subsets + [Subset.same({"score": FULL, "removed": 0.0}, None, p.retrain_seeds), Subset.same({"score": ORACLE, "removed": len(flipped) / ctx.n_train}, clean, p.retrain_seeds)]


def noisy_kept_ids(ctx: Context) -> pd.DataFrame:
    """The subsets of `noisy_labels` as kept ids (when the preset retrains on them), plus which training examples were flipped."""
    p = ctx.preset
    noisy, flipped = flip_labels(ctx.task, p.noise, seed=p.data_seed)
    flips = pd.DataFrame({"score": "flipped", "example_id": flipped, "noisy_label": noisy.train.select_ids(flipped).labels})
    if not p.noise_retrain:
        return flips
    kept = kept_ids(noisy_subsets(ctx, noisy_scores(ctx, noisy), flipped))
    return pd.concat([kept, flips], ignore_index=True)
