"""The "Which score?" chapter: preset.compare_scores (training-dynamics scores beside EL2N and GraNd) compared, and the data maps."""

from __future__ import annotations

import pandas as pd

from diet.data.noise import flip_labels
from diet.data.task import Task
from diet.paper.context import Context, Subset
from diet.paper.experiments.noisy import detection_table, noisy_task
from diet.paper.experiments.subsets import full_subset, random_subsets
from diet.prune.select import select
from diet.scores.dynamics import data_map as map_of
from diet.scores.registry import SCORES, check_score_names
from diet.scores.table import ScoresTable


def data_map(ctx: Context, task: Task | None = None) -> pd.DataFrame:
    """The data map of `task`'s training set (default: the context's) at the final step, from the scoring seeds'
    records: per example confidence, variability, correctness and region (diet.scores.dynamics.data_map)."""
    return map_of(ctx.records(task), ctx.step(ctx.preset.final_step))


def noisy_data_map(ctx: Context) -> pd.DataFrame:
    """The data map of figure 5's noisy training set; `flipped` marks the examples whose label was changed."""
    noisy, flipped = flip_labels(ctx.task, ctx.preset.noise, seed=ctx.preset.data_seed)
    out = data_map(ctx, noisy)
    return out.assign(flipped=out["example_id"].isin(flipped))


def compare_tables(ctx: Context, task: Task | None = None) -> list[ScoresTable]:
    """preset.compare_scores at the final step, one table per kind of score (one forward pass; the gradient over
    all weights; training dynamics), so that the seconds each table recorded are that kind's own cost."""
    groups: dict[str, list[str]] = {}
    for name in check_score_names(ctx.preset.compare_scores):
        groups.setdefault(SCORES[name].kind, []).append(name)
    return [ctx.scores(tuple(names), (ctx.preset.final_step,), task=task) for names in groups.values()]


def compare_means(ctx: Context, task: Task | None = None) -> pd.DataFrame:
    """Every compared score at the final step, averaged over runs: one column per score, indexed by example id."""
    means = {name: table.mean(name) for table in compare_tables(ctx, task) for name in table.names}
    return pd.DataFrame(means)[list(ctx.preset.compare_scores)]


def which_score_subsets(ctx: Context) -> list[Subset]:
    """The top preset.compare_fractions by each compared score, plain and class-balanced; random and full data as in figure 3."""
    p = ctx.preset
    means = compare_means(ctx)
    labels = pd.Series(ctx.task.train.labels, index=ctx.task.train.ids)
    subsets = [
        Subset.same({"score": name, "balanced": balanced, "keep": keep}, select(means[name], keep, labels=labels, balanced=balanced), p.retrain_seeds)
        for name in p.compare_scores for balanced in (False, True) for keep in p.compare_fractions
    ]
    for keep in p.compare_fractions:
        subsets += random_subsets(ctx, keep, balanced=False)
    return subsets + [full_subset(ctx, balanced=False)]


def which_score(ctx: Context) -> pd.DataFrame:
    """Test accuracy after training on the top-k by each compared score ("Which score?").

    Columns: score, balanced, keep, seed, accuracy, n_train, seconds (+ subset_seed for random), as in figure 3.
    """
    return ctx.retrain(which_score_subsets(ctx))


def score_correlations(ctx: Context) -> pd.DataFrame:
    """Spearman rank correlation of every two compared scores (final step, run-averaged). Columns: score, other, spearman."""
    corr = compare_means(ctx).corr(method="spearman")
    return corr.rename_axis(index="score", columns=None).reset_index().melt(id_vars="score", var_name="other", value_name="spearman")


def topk_overlap(ctx: Context, keep: float | None = None) -> pd.DataFrame:
    """Jaccard overlap |A & B| / |A | B| of the top `keep` (default: the smaller of preset.compare_fractions)
    by every two compared scores. Columns: score, other, keep, jaccard."""
    keep = min(ctx.preset.compare_fractions) if keep is None else keep
    means = compare_means(ctx)
    tops = {name: set(select(means[name], keep).tolist()) for name in means.columns}
    rows = [{"score": a, "other": b, "keep": keep, "jaccard": len(tops[a] & tops[b]) / max(1, len(tops[a] | tops[b]))} for a in tops for b in tops]
    return pd.DataFrame(rows)


def flipped_recall(ctx: Context) -> pd.DataFrame:
    """Each compared score, and random draws, as a detector of figure 5's flipped labels: precision and recall
    of the top `noise` and 2 x `noise` of the noisy training set (columns as `detection_table`)."""
    p = ctx.preset
    noisy, flipped = noisy_task(ctx)
    means = compare_means(ctx, noisy)
    removed = sorted({p.noise, min(0.95, 2 * p.noise)})
    return detection_table({name: means[name] for name in means.columns}, flipped, removed, p.retrain_seeds, noisy.train.ids)


def score_cost(ctx: Context) -> pd.DataFrame:
    """Each compared score's cost per scoring run, from the seconds its runs recorded, in seconds and in training updates.

    A training update's seconds come from the records runs (their fine-tuning, the record passes left out).
    Scores of one kind share a pass: EL2N, head GraNd and loss one forward pass over the training set, the
    training-dynamics scores one forward pass per checkpoint. Columns: score, pass, seconds per run, training updates.
    """
    records = ctx.records()
    runs = records.groupby("run").agg(train=("train_seconds", "first"), updates=("step", "max"))
    update = float((runs["train"] / runs["updates"]).mean())
    what = {"output": "1 forward pass", "gradient": "1 forward and backward pass",
            "dynamics": f"{records['step'].nunique()} forward passes (checkpoints)"}
    rows = [{"score": "one training update", "pass": f"forward and backward, batch {ctx.preset.train.batch_size}", "seconds per run": update}]
    for table in compare_tables(ctx):
        for name in table.names:
            seconds = table.frame.loc[table.frame["score"] == name].drop_duplicates("run")["seconds"].mean()
            rows.append({"score": name, "pass": what[SCORES[name].kind], "seconds per run": seconds})
    out = pd.DataFrame(rows).set_index("score").loc[["one training update", *ctx.preset.compare_scores]].reset_index()
    return out.assign(**{"training updates": out["seconds per run"] / update})
