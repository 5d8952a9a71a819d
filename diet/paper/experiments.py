"""The experiments behind the book's figures: plain functions, each returning a tidy DataFrame.

A notebook turns its parameters into a `Context` (`run_context`), calls one experiment, saves
the table next to the store (`Context.save`) and plots it (`diet.plots.figures`). Every fine-tuning
goes through `diet.Store`, so a rerun loads instead of recomputing, and identical subsets
(e.g. the top 70% in figures 3 and 4) are trained once.
"""

from __future__ import annotations

from dataclasses import dataclass

from pathlib import Path

import numpy as np
import pandas as pd

from diet.paper.claims import CLAIMS, FIGURE_TABLES, claims, comparisons_line, compare, figure_tables, verdict_summary  # noqa: F401 (the summary notebook uses ex.claims)
from diet.model.config import TrainConfig
from diet.paper.context import (  # noqa: F401 (notebooks use ex.run_context)
    FULL,
    ORACLE,
    RANDOM,
    Context,
    Subset,
    repo_root,
    run_context,
    store_root,
)
from diet.errors import DietError
from diet.paper.evidence import Evidence
from diet.data.fingerprint import split_fingerprint
from diet.runs.retraining import RUN
from diet.data.noise import flip_labels
from diet.paper.noise_detection import detection, precision_interval
from diet.runs.predictions import PredictionsRun
from diet.prune.select import class_fractions, select
from diet.scores.table import ScoresTable
from diet.data.task import Task

def evidence(ctx: Context, *tables: pd.DataFrame) -> Evidence:
    """The stored test predictions behind the accuracy rows of `tables` (`diet.paper.evidence`), for a figure's sentence."""
    return Evidence.of(ctx.store, ctx.task.test.labels, tables)


# ---------------------------------------------------------------- subsets


def _random_subsets(ctx: Context, keep: float, size_column: str = "keep", **meta) -> list[Subset]:
    """One random subset of `keep` of the data per retraining seed (the spread includes the draw)."""
    index = pd.Series(0.0, index=ctx.task.train.ids)
    return [
        Subset({"score": RANDOM, **meta, size_column: keep, "subset_seed": seed}, select(index, keep, order="random", seed=seed), (seed,))
        for seed in ctx.preset.retrain_seeds
    ]


def _full_subset(ctx: Context, **meta) -> Subset:
    return Subset({"score": FULL, **meta, "keep": 1.0}, None, ctx.preset.retrain_seeds)


def kept_ids(subsets: list[Subset]) -> pd.DataFrame:
    """Long table of the example ids in each subset (the full-data subset is left out)."""
    frames = [pd.DataFrame({**s.meta, "example_id": np.sort(s.ids)}) for s in subsets if s.ids is not None]
    return pd.concat(frames, ignore_index=True)


def timing_subsets(ctx: Context) -> list[Subset]:
    """Figure 1: top-k by each timing score at each step, random at the same sizes, full data."""
    table, p = ctx.timing_scores(), ctx.preset
    epochs = table.epochs()
    subsets = [
        Subset({"score": name, "step": step, "epoch": epochs[step], "keep": keep}, select(table.mean(name, step), keep), p.retrain_seeds)
        for name in p.timing_scores for step in table.steps for keep in p.timing_fractions
    ]
    for keep in p.timing_fractions:
        subsets += _random_subsets(ctx, keep, step=np.nan, epoch=np.nan)
    return subsets + [_full_subset(ctx, step=np.nan, epoch=np.nan)]


def fraction_subsets(ctx: Context) -> list[Subset]:
    """Figure 3: top-k at the final step for each score and fraction, plain and class-balanced."""
    table, p = ctx.final_scores(), ctx.preset
    step = ctx.step(p.final_step)
    labels = table.labels()
    subsets = [
        Subset({"score": name, "balanced": balanced, "keep": keep}, select(table.mean(name, step), keep, labels=labels, balanced=balanced), p.retrain_seeds)
        for name in p.scores for balanced in (False, True) for keep in p.fractions
    ]
    for keep in p.fractions:
        subsets += _random_subsets(ctx, keep, balanced=False)
    return subsets + [_full_subset(ctx, balanced=False)]


def offset_subsets(ctx: Context, windows=None) -> list[Subset]:
    """Figure 4: keep preset.offset_keep after skipping the top k%, in each reading (preset.offset_windows), plain and balanced."""
    table, p = ctx.final_scores(), ctx.preset
    windows = windows or p.offset_windows
    unknown = set(windows) - {"fixed", "shrinking"}
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
                    subsets.append(Subset({"score": name, "window": window, "balanced": balanced, "offset": offset, "kept": kept}, ids, p.retrain_seeds))
    for (window, offset), kept in random_sizes.items():
        subsets += _random_subsets(ctx, kept, "kept", window=window, balanced=False, offset=offset)
    return subsets + [Subset({"score": FULL, "window": w, "balanced": False, "offset": np.nan, "kept": 1.0}, None, p.retrain_seeds) for w in windows]


# ---------------------------------------------------------------- experiments


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
                    tv = 0.5 * float(np.abs(share - base).sum())
                    for label in range(k):
                        rows.append({"score": name, "step": step, "epoch": epochs[step], "keep": keep, "by": by, "run": run, "label": label,
                                     "class_name": ctx.task.label_names[label], "fraction": share[label], "train_fraction": base[label], "tv_distance": tv})
    return pd.DataFrame(rows)


def preserved_fraction(ctx: Context) -> pd.DataFrame:
    """Accuracy against the fraction kept, per score at the final step, plain and balanced (figure 3).

    Columns: score, balanced, keep, seed, accuracy, n_train (+ subset_seed for random);
    score is also "random" (a fresh random subset per seed) and "full data" (keep = 1).
    """
    return ctx.retrain(fraction_subsets(ctx))


def offset_curve(ctx: Context, windows=None) -> pd.DataFrame:
    """Accuracy after skipping the top `offset` and keeping preset.offset_keep (figure 4).

    Windows (default: preset.offset_windows): "fixed": ranks [offset, offset + keep) (always keep of the data); "shrinking":
    ranks [offset, keep) (keep - offset of the data). Random rows are drawn at the same size
    as each window (`kept`). Columns: score, window, balanced, offset, kept, seed, accuracy, n_train.
    """
    return ctx.retrain(offset_subsets(ctx, windows))


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
    noisy, flipped = flip_labels(ctx.task, p.noise, seed=p.data_seed)
    if len(flipped) == 0:
        raise DietError(f"noise = {p.noise} flips no label of {ctx.n_train} examples; raise the preset's noise")
    removed = sorted(set(removed or (p.noise / 2, p.noise, min(0.95, 2 * p.noise))))
    table = ctx.scores(p.scores, (p.final_step,), task=noisy)
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
        Subset({"score": name, "removed": p.noise}, select(table.mean(name, step), 1 - p.noise, offset=p.noise), p.retrain_seeds)
        for name in p.scores
    ]
    subsets += _random_subsets(ctx, 1 - p.noise, removed=p.noise)
    clean = np.setdiff1d(ctx.task.train.ids, flipped)
    return subsets + [Subset({"score": FULL, "removed": 0.0}, None, p.retrain_seeds), Subset({"score": ORACLE, "removed": len(flipped) / ctx.n_train}, clean, p.retrain_seeds)]


def noisy_kept_ids(ctx: Context) -> pd.DataFrame:
    """The subsets of `noisy_labels` as kept ids (when the preset retrains on them), plus which training examples were flipped."""
    p = ctx.preset
    noisy, flipped = flip_labels(ctx.task, p.noise, seed=p.data_seed)
    flips = pd.DataFrame({"score": "flipped", "example_id": flipped, "noisy_label": noisy.train.select_ids(flipped).labels})
    if not p.noise_retrain:
        return flips
    table = ctx.scores(p.scores, (p.final_step,), task=noisy)
    kept = kept_ids(noisy_subsets(ctx, table, flipped))
    return pd.concat([kept, flips], ignore_index=True)


def predictions(ctx: Context) -> pd.Series:
    """Predicted label of every training example by the first scoring run at the final step (stored)."""
    p, seed, step = ctx.preset, ctx.preset.score_seeds[0], ctx.step(ctx.preset.final_step)
    config = {"task": ctx.task.name, "train": split_fingerprint(ctx.task.train), "model": p.model, "train_config": p.train.key(), "seed": seed, "step": step}
    job = PredictionsRun(ctx.task, p.model, seed, step, p.train, ctx.progress)
    frame = ctx.store.load_or_compute("train_predictions", config, job, job.placeholder)
    return frame.set_index("example_id")["predicted"]


def top_examples(ctx: Context, n: int = 10, scores=None) -> pd.DataFrame:
    """The `n` highest-scored training examples per score (final step, run-averaged).

    Columns: score, rank, example_id, value, gold, predicted, text. `predicted` comes from the
    first scoring run at the final step; gold != predicted marks an example the model gets wrong.
    """
    table = ctx.final_scores()
    step = ctx.step(ctx.preset.final_step)
    predicted = predictions(ctx)
    split = ctx.task.train
    position = {int(e): i for i, e in enumerate(split.ids)}
    names = ctx.task.label_names
    rows = []
    for name in scores or ctx.preset.scores:
        top = table.mean(name, step).sort_values(ascending=False, kind="stable").head(n)
        for rank, (example, value) in enumerate(top.items(), start=1):
            i = position[int(example)]
            text = split.text[i] if split.text_pair is None else f"{split.text[i]} ||| {split.text_pair[i]}"
            rows.append({"score": name, "rank": rank, "example_id": int(example), "value": value, "gold": names[split.labels[i]],
                         "predicted": names[int(predicted.loc[example])], "text": text})
    return pd.DataFrame(rows)


def scores_mean(table: ScoresTable) -> pd.DataFrame:
    """Per-example mean and standard deviation over runs of every score at every step (for download)."""
    grouped = table.frame.groupby(["example_id", "label", "score", "step", "epoch"])["value"]
    out = grouped.agg(mean="mean", sd="std", runs="count").reset_index()
    return out.sort_values(["score", "step", "example_id"], ignore_index=True)


def compute_cost(ctx: Context) -> pd.DataFrame:
    """Wall time behind each stage of this context's figures, from the seconds each stored run recorded.

    Rows: the scoring passes (time spent computing scores; the fine-tuning they ride on is not
    timed separately) and the retrainings of figures 1, 3, 4 and 5. A run shared by two figures
    (the top 70% of figures 3 and 4, random and full-data baselines) counts in each.
    Columns: stage, runs, core-minutes, seconds per run (mean).
    """
    from diet.paper.claims import figure_tables

    p = ctx.preset
    tables, _ = figure_tables(ctx)  # only the figures whose notebooks ran: nothing is computed here
    scoring = {}
    if {1, 2} & set(tables):
        scoring["scoring passes, figures 1-2 (timing)"] = ctx.timing_scores()
    if {3, 4} & set(tables):
        scoring["scoring passes, figures 3-4 (final step)"] = ctx.final_scores()
    if 5 in tables:
        noisy, _ = flip_labels(ctx.task, p.noise, seed=p.data_seed)
        scoring["scoring passes, figure 5 (noisy labels)"] = ctx.scores(p.scores, (p.final_step,), task=noisy)
    rows = []
    for stage, table in scoring.items():
        passes = table.frame.drop_duplicates(["run", "step"])["seconds"]
        rows.append({"stage": stage, "runs": len(passes), "seconds": passes.sum()})
    for figure in (1, 3, 4, 5):
        if figure in tables:
            runs = tables[figure]["seconds"].dropna()  # detection rows of figure 5 have none
            rows.append({"stage": f"retraining, figure {figure}", "runs": len(runs), "seconds": runs.sum()})
    out = pd.DataFrame(rows)
    out["core-minutes"] = (out["seconds"] / 60).round(1)
    out["seconds per run"] = (out["seconds"] / out["runs"].where(out["runs"] > 0)).round(1)
    out["ran on"] = ran_on(ctx)
    return out.drop(columns="seconds")


def ran_on(ctx: Context) -> str:
    """Where this context's runs ran, as its store's jobs log says: "NVIDIA H200, bf16 autocast", "cpu, float32"."""
    cfg = ctx.preset.train
    names = set()
    log = Path(ctx.store.root) / "jobs.jsonl"
    if cfg.device_type == "cuda" and log.is_file():
        import json

        for line in log.read_text().splitlines():
            device = json.loads(line).get("device") if line.strip() else None
            if device and device != "cpu":
                names.add(device)
    where = ", ".join(sorted(names)) or cfg.device_type
    return f"{where}, {cfg.precision}"


# ---------------------------------------------------------------- training dynamics and "Which score?"


def data_map(ctx: Context, task: Task | None = None) -> pd.DataFrame:
    """The data map of `task`'s training set (default: the context's) at the final step, from the scoring seeds'
    records: per example confidence, variability, correctness and region (diet.scores.dynamics.data_map)."""
    from diet.scores.dynamics import data_map as map_of

    return map_of(ctx.records(task), ctx.step(ctx.preset.final_step))


def noisy_data_map(ctx: Context) -> pd.DataFrame:
    """The data map of figure 5's noisy training set; `flipped` marks the examples whose label was changed."""
    noisy, flipped = flip_labels(ctx.task, ctx.preset.noise, seed=ctx.preset.data_seed)
    out = data_map(ctx, noisy)
    return out.assign(flipped=out["example_id"].isin(flipped))


def compare_tables(ctx: Context, task: Task | None = None) -> list[ScoresTable]:
    """preset.compare_scores at the final step, one table per kind of score (one forward pass; the gradient over
    all weights; training dynamics), so that the seconds each table recorded are that kind's own cost."""
    from diet.scores.registry import SCORES, check_score_names

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
        Subset({"score": name, "balanced": balanced, "keep": keep}, select(means[name], keep, labels=labels, balanced=balanced), p.retrain_seeds)
        for name in p.compare_scores for balanced in (False, True) for keep in p.compare_fractions
    ]
    for keep in p.compare_fractions:
        subsets += _random_subsets(ctx, keep, balanced=False)
    return subsets + [_full_subset(ctx, balanced=False)]


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
    noisy, flipped = flip_labels(ctx.task, p.noise, seed=p.data_seed)
    if len(flipped) == 0:
        raise DietError(f"noise = {p.noise} flips no label of {ctx.n_train} examples; raise the preset's noise")
    means = compare_means(ctx, noisy)
    removed = sorted({p.noise, min(0.95, 2 * p.noise)})
    return detection_table({name: means[name] for name in means.columns}, flipped, removed, p.retrain_seeds, noisy.train.ids)


def score_cost(ctx: Context) -> pd.DataFrame:
    """Each compared score's cost per scoring run, from the seconds its runs recorded, in seconds and in training updates.

    A training update's seconds come from the records runs (their fine-tuning, the record passes left out).
    Scores of one kind share a pass: EL2N, head GraNd and loss one forward pass over the training set, the
    training-dynamics scores one forward pass per checkpoint. Columns: score, pass, seconds per run, training updates.
    """
    from diet.scores.registry import SCORES

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


def mean_sd(frame: pd.DataFrame, by: list[str], value: str = "accuracy") -> pd.DataFrame:
    """For reading: "mean ± sd" of `value` and the number of seeds per group, indexed by `by`."""
    grouped = frame.groupby(by, dropna=False, sort=False)[value]
    out = grouped.agg(mean="mean", sd="std", seeds="count")
    out["mean ± sd"] = [f"{m:.3f} ± {s:.3f}" if n > 1 else f"{m:.3f}" for m, s, n in zip(out["mean"], out["sd"], out["seeds"])]
    return out[["seeds", "mean ± sd"]]
