"""What `diet run` prints: the comparison table with each selection's class mix, and a reading computed from it.

The reading uses the results summary's rule (`diet.claims.compare`): a difference to random counts
only beyond the larger of the two standard deviations over seeds, there is no spread with one
seed, and a model whose every run stays at the test set's majority-class rate (+ CHANCE_MARGIN) is
a one-class model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.claims import CHANCE_MARGIN, compare

MAX_CLASS_COLUMNS = 6  # more classes than this: print the class furthest from its training share instead of all
BOOK = ("deeper: the book's chapters Label balance, Preserved fraction and Offset (figures 2-4: notebooks/02_label_balance.ipynb, "
        "03_preserved_fraction.ipynb, 04_offset.ipynb); `diet book` renders them from the committed results into _build/html/")


def summarize(accuracies: pd.DataFrame, class_mix: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per selection (in the order first seen): kind, score, n_train, seeds, mean, sd (NaN with one
    seed), and with `class_mix` the mean total variation distance and the mean share of each class."""
    order = list(dict.fromkeys(accuracies["selection"]))
    grouped = accuracies.groupby("selection", sort=False)
    out = grouped.agg(n_train=("n_train", "first"), seeds=("seed", "count"), mean=("accuracy", "mean"), sd=("accuracy", "std"))
    for column in ("kind", "score", "tv_distance"):
        if column in accuracies:
            out[column] = grouped[column].first() if column != "tv_distance" else grouped[column].mean()
    if class_mix is not None:
        shares = class_mix.groupby(["selection", "class_name"], sort=False)["fraction"].mean().unstack("class_name")
        names = list(dict.fromkeys(class_mix["class_name"]))
        out = out.join(shares[names].add_prefix("share: "))
    return out.loc[order]


def train_mix(class_mix: pd.DataFrame) -> pd.Series:
    """Each class's share of the whole training set, by class name."""
    first = class_mix.drop_duplicates("class_name")
    return pd.Series(first["train_fraction"].to_numpy(), index=first["class_name"].to_numpy())


def accuracy_text(mean: float, sd: float) -> str:
    return f"{mean:.4f}" if np.isnan(sd) else f"{mean:.4f} ± {sd:.4f}"


def table_lines(summary: pd.DataFrame, base: pd.Series, title: str, majority: float) -> list[str]:
    """The comparison: selection, examples kept, test accuracy, class mix (or the class furthest off) and TV distance."""
    seeds = int(summary["seeds"].max())
    width = max(len(s) for s in summary.index) + 2
    acc_head = "test accuracy" + ("" if seeds > 1 else " (1 seed: no spread)")
    acc_width = max(len(acc_head), 15)
    classes = list(base.index)
    many = len(classes) > MAX_CLASS_COLUMNS
    widths = [max(len(c), 4) for c in classes]
    mix_head = "class furthest from its training share" if many else "  ".join(f"{c:>{w}}" for c, w in zip(classes, widths))
    lines = [title, f"  {'':<{width}}{'kept':>6}  {acc_head:<{acc_width}}  {mix_head}  {'TV':>5}"]
    train = "  ".join(f"{base[c]:>{w}.0%}" for c, w in zip(classes, widths)) if not many else ""
    if not many:
        lines.append(f"  {'(training set)':<{width}}{'':>6}  {'':<{acc_width}}  {train}  {0:>5.2f}")
    for name, row in summary.iterrows():
        if many:
            off = max(classes, key=lambda c: abs(row[f"share: {c}"] - base[c]))
            mix = f"{off} {row[f'share: {off}']:.0%} (training {base[off]:.0%})"
        else:
            mix = "  ".join(f"{row[f'share: {c}']:>{w}.0%}" for c, w in zip(classes, widths))
        flag = "  one-class model: says nothing" if row["mean"] <= majority + CHANCE_MARGIN else ""
        lines.append(f"  {name:<{width}}{int(row['n_train']):>6,}  {accuracy_text(row['mean'], row['sd']):<{acc_width}}  {mix}  {row['tv_distance']:>5.2f}{flag}")
    lines.append(f"  TV: total variation distance of the class mix from the training set's (0 = same mix, 1 = disjoint classes); "
                 f"a one-class model scores {majority:.4f} on this test set (its majority-class rate)")
    return lines


def verdicts(accuracies: pd.DataFrame, majority: float) -> pd.DataFrame:
    """Each selection against random by `compare`'s rule: difference, spread, and where it lands
    ("below", "within noise", "above"; "no signal, both one-class" when both sit at the majority-class rate), and
    whether it is a one-class model (every run at most the majority rate + CHANCE_MARGIN)."""
    runs = accuracies.groupby("selection", sort=False)["accuracy"]
    random = runs.get_group(_random_name(accuracies))
    rows = []
    for name, values in runs:
        result = compare(values, random, "higher", floor=majority)
        where = {"holds": "above", "does not hold": "below"}.get(result["verdict"], "no signal, both one-class" if result["note"] else "within noise")
        rows.append({"selection": name, "difference": result["difference"], "spread": result["spread"], "where": where,
                     "one_class": bool(values.max() <= majority + CHANCE_MARGIN)})
    return pd.DataFrame(rows).set_index("selection")


def _random_name(accuracies: pd.DataFrame) -> str:
    return accuracies.loc[accuracies["kind"] == "random", "selection"].iloc[0]


def reading_lines(accuracies: pd.DataFrame, summary: pd.DataFrame, majority: float) -> list[str]:
    """Two to four lines computed from the numbers: what is within noise of random, which models
    predict one class, what the class mix explains; then where the book goes deeper."""
    v = verdicts(accuracies, majority)
    random = _random_name(accuracies)
    others = v.drop(index=random)
    r = summary.loc[random]
    lines = []
    if summary["seeds"].max() < 2:
        diffs = "; ".join(f"{n} ({d:+.4f})" for n, d in others["difference"].items())
        lines.append(f"1 seed: no spread, so no selection can be told apart from {random} (rerun with --seeds 0 1 2); differences to it: {diffs}.")
    else:
        parts = []
        for where in ("below", "within noise", "above", "no signal, both one-class"):
            names = others[others["where"] == where]
            if len(names):
                parts.append(f"{where}: " + "; ".join(f"{n} ({d:+.4f})" for n, d in names["difference"].items()))
        lines.append(f"against {random} ({accuracy_text(r['mean'], r['sd'])}), a difference counts only beyond the larger seed sd. "
                     + ". ".join(parts) + ".")
    one_class = list(v.index[v["one_class"]])
    if one_class:
        lines.append(f"one-class models (every run at the test set's majority-class rate, {majority:.4f}, or below): {'; '.join(one_class)}.")
    lines.append(class_mix_line(summary, v))
    return lines + [BOOK]


def class_mix_line(summary: pd.DataFrame, v: pd.DataFrame) -> str:
    """Which plain top-k is most imbalanced, and how much of its gap to random the per-class top-k and the skipped top recover."""
    tops = summary[summary["kind"] == "top"]
    worst = tops["tv_distance"].idxmax()
    tv_list = ", ".join(f"{row['score']} {row['tv_distance']:.2f}" for _, row in tops.iterrows())
    others = summary[~summary["kind"].isin(["top", "full"])]
    line = (f"class mix: the plain top-k is the most imbalanced selection ({worst}: TV {tops.loc[worst, 'tv_distance']:.2f}; TV by score: {tv_list}; "
            f"the others {others['tv_distance'].min():.2f}-{others['tv_distance'].max():.2f})"
            if tops["tv_distance"].max() >= others["tv_distance"].max() else
            f"class mix: the plain top-k (TV by score: {tv_list}) is no more imbalanced than the other selections (up to {others['tv_distance'].max():.2f})")
    first = summary[summary["kind"] == "per class"]["score"].iloc[0]
    top = summary[(summary["kind"] == "top") & (summary["score"] == first)].index[0]
    if v.loc[top, "where"] != "below":
        return line + f"; {top} is not below random beyond the noise, so there is no loss for the class mix to explain."
    gap = summary.loc[_random_of(summary), "mean"] - summary.loc[top, "mean"]
    fixes, recovered = [], {}
    for kind, how in (("per class", "taking it within each class"), ("skip top", "skipping the very top first")):
        name = summary.index[(summary["kind"] == kind) & (summary["score"] == first)][0]
        recovered[kind] = (summary.loc[name, "mean"] - summary.loc[top, "mean"]) / gap
        fixes.append(f"{how} ({name}, TV {summary.loc[name, 'tv_distance']:.2f}) recovers {recovered[kind]:.0%} of that gap")
    share = recovered["per class"]
    explains = "most of" if share >= 0.75 else "part of" if share >= 0.25 else "little of"
    return line + f"; {top} is below random by {gap:.4f}: " + ", ".join(fixes) + f", so the class mix explains {explains} the loss."


def _random_of(summary: pd.DataFrame) -> str:
    return summary.index[summary["kind"] == "random"][0]
