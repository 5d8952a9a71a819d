"""The experiments behind the book's figures: plain functions, each returning a tidy DataFrame.

A notebook turns its parameters into a `Context` (`run_context`), calls one experiment, saves
the table next to the store (`Context.save`) and plots it (`diet.plots`). Every fine-tuning
goes through `diet.Store`, so a rerun loads instead of recomputing, and identical subsets
(e.g. the top 70% in figures 3 and 4) are trained once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.claims import CLAIMS, claims, compare, verdict_summary  # noqa: F401 (the summary notebook uses ex.claims)
from diet.context import (  # noqa: F401 (notebooks use ex.run_context)
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
from diet.fingerprint import split_fingerprint
from diet.noise import detection, flip_labels
from diet.prune import class_fractions, select
from diet.scores_table import ScoresTable

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

    Long table with columns score, removed, metric, seed, value, n_train:
    - metric "precision" / "recall": the top `removed` fraction by each score (at the final
      step, run-averaged; no seed) or a random draw (one per retraining seed) as a detector of
      the flipped examples, for each fraction in `removed` (default: noise/2, noise, 2*noise);
    - metric "accuracy" (only when preset.noise_retrain): test accuracy per retraining seed after
      removing the top `noise` fraction by each score, a random `noise` fraction, none (full
      noisy data), or exactly the flipped examples (the oracle).
    """
    p = ctx.preset
    noisy, flipped = flip_labels(ctx.task, p.noise, seed=p.data_seed)
    if len(flipped) == 0:
        raise DietError(f"noise = {p.noise} flips no label of {ctx.n_train} examples; raise the preset's noise")
    removed = sorted(set(removed or (p.noise / 2, p.noise, min(0.95, 2 * p.noise))))
    table = ctx.scores(p.scores, (p.final_step,), task=noisy)
    step = table.steps[-1]
    rows = []
    for name in p.scores:
        for k in removed:
            precision, recall = detection(table.mean(name, step), flipped, k)
            rows += [{"score": name, "removed": k, "metric": "precision", "seed": np.nan, "value": precision},
                     {"score": name, "removed": k, "metric": "recall", "seed": np.nan, "value": recall}]
    for seed in p.retrain_seeds:
        order = pd.Series(np.random.default_rng(seed).random(ctx.n_train), index=noisy.train.ids)
        for k in removed:
            precision, recall = detection(order, flipped, k)
            rows += [{"score": RANDOM, "removed": k, "metric": "precision", "seed": seed, "value": precision},
                     {"score": RANDOM, "removed": k, "metric": "recall", "seed": seed, "value": recall}]
    detect = pd.DataFrame(rows).assign(n_train=np.nan, seconds=np.nan)
    if not p.noise_retrain:
        return detect
    acc = ctx.retrain(noisy_subsets(ctx, table, flipped), task=noisy)
    acc = acc.rename(columns={"accuracy": "value"}).assign(metric="accuracy")
    return pd.concat([detect, acc[detect.columns]], ignore_index=True)


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
    from diet.batching import encode
    from diet.encoders import load_encoder, load_tokenizer
    from diet.train import fine_tune, predict

    p, seed, step = ctx.preset, ctx.preset.score_seeds[0], ctx.step(ctx.preset.final_step)
    config = {"task": ctx.task.name, "train": split_fingerprint(ctx.task.train), "model": p.model, "train_config": p.train.key(), "seed": seed, "step": step}

    def compute() -> pd.DataFrame:
        tokenizer = load_tokenizer(p.model)
        data = encode(ctx.task.train, tokenizer, p.train.max_length)
        model = load_encoder(p.model, ctx.task.num_labels, seed)
        fine_tune(model, data, p.train, seed, stop_after=step, progress=ctx.progress)
        return pd.DataFrame({"example_id": data.ids, "predicted": predict(model, data, p.train)})

    frame = ctx.store.load_or_compute("train_predictions", config, compute)
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
    p = ctx.preset
    noisy, _ = flip_labels(ctx.task, p.noise, seed=p.data_seed)
    scoring = {
        "scoring passes, figures 1-2 (timing)": ctx.timing_scores(),
        "scoring passes, figures 3-4 (final step)": ctx.final_scores(),
        "scoring passes, figure 5 (noisy labels)": ctx.scores(p.scores, (p.final_step,), task=noisy),
    }
    rows = []
    for stage, table in scoring.items():
        passes = table.frame.drop_duplicates(["run", "step"])["seconds"]
        rows.append({"stage": stage, "runs": len(passes), "seconds": passes.sum()})
    for figure, notebook in (("fig1_score_timing", "01_score_timing"), ("fig3_preserved_fraction", "03_preserved_fraction"),
                             ("fig4_offset", "04_offset"), ("fig5_noisy_labels", "05_noisy_examples")):
        table = ctx.load(figure, f"{notebook}.ipynb")
        runs = table["seconds"].dropna()  # detection rows of figure 5 have none
        rows.append({"stage": f"retraining, figure {figure[3]}", "runs": len(runs), "seconds": runs.sum()})
    out = pd.DataFrame(rows)
    out["core-minutes"] = (out["seconds"] / 60).round(1)
    out["seconds per run"] = (out["seconds"] / out["runs"].where(out["runs"] > 0)).round(1)
    return out.drop(columns="seconds")


def mean_sd(frame: pd.DataFrame, by: list[str], value: str = "accuracy") -> pd.DataFrame:
    """For reading: "mean ± sd" of `value` and the number of seeds per group, indexed by `by`."""
    grouped = frame.groupby(by, dropna=False, sort=False)[value]
    out = grouped.agg(mean="mean", sd="std", seeds="count")
    out["mean ± sd"] = [f"{m:.3f} ± {s:.3f}" if n > 1 else f"{m:.3f}" for m, s, n in zip(out["mean"], out["sd"], out["seeds"])]
    return out[["seeds", "mean ± sd"]]
