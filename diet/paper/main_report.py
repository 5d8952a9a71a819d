"""What `diet run` prints: the comparison table with each selection's class mix, and a reading computed from it.

The reading uses the results summary's rule (`diet.paper.evidence`): each selection's difference to random
has a 95% interval (the test examples and the seeds resampled together, from the runs' stored test
predictions), and it is below or above random only when that interval excludes 0; with one seed
there is no verdict. A model whose every run stays at the test set's majority-class rate
(+ CHANCE_MARGIN) is a one-class model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.stats.one_class import CHANCE_MARGIN
from diet.paper.evidence import SEED_RULE, Evidence
from diet.stats.one_class import all_one_class

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


def interval_text(low: float, high: float, signed: bool = False) -> str:
    return "" if np.isnan(low) else f"[{low:+.3f}, {high:+.3f}]" if signed else f"[{low:.3f}, {high:.3f}]"


def table_lines(summary: pd.DataFrame, base: pd.Series, title: str, majority: float, intervals: pd.DataFrame | None = None) -> list[str]:
    """The comparison: selection, examples kept, test accuracy (mean ± sd over seeds, and its 95% interval from `intervals`,
    columns low and high by selection), class mix (or the class furthest off) and TV distance."""
    seeds = int(summary["seeds"].max())
    width = max(len(s) for s in summary.index) + 2
    acc_head = "test accuracy" + ("" if seeds > 1 else " (1 seed: no spread)")
    acc_width = max(len(acc_head), 15)
    bounds = intervals if intervals is not None else pd.DataFrame({"low": np.nan, "high": np.nan}, index=summary.index)
    ci_width = 16 if bounds["low"].notna().any() else 0
    ci_head = f"{'95% interval':<{ci_width}}  " if ci_width else ""
    classes = list(base.index)
    many = len(classes) > MAX_CLASS_COLUMNS
    widths = [max(len(c), 4) for c in classes]
    mix_head = "class furthest from its training share" if many else "  ".join(f"{c:>{w}}" for c, w in zip(classes, widths))
    lines = [title, f"  {'':<{width}}{'kept':>6}  {acc_head:<{acc_width}}  {ci_head}{mix_head}  {'TV':>5}"]
    train = "  ".join(f"{base[c]:>{w}.0%}" for c, w in zip(classes, widths)) if not many else ""
    if not many:
        lines.append(f"  {'(training set)':<{width}}{'':>6}  {'':<{acc_width}}  {'':<{ci_width + 2 if ci_width else 0}}{train}  {0:>5.2f}")
    for name, row in summary.iterrows():
        if many:
            off = max(classes, key=lambda c: abs(row[f"share: {c}"] - base[c]))
            mix = f"{off} {row[f'share: {off}']:.0%} (training {base[off]:.0%})"
        else:
            mix = "  ".join(f"{row[f'share: {c}']:>{w}.0%}" for c, w in zip(classes, widths))
        flag = "  one-class model: says nothing" if row["mean"] <= majority + CHANCE_MARGIN else ""
        ci = f"{interval_text(bounds.at[name, 'low'], bounds.at[name, 'high']):<{ci_width}}  " if ci_width else ""
        lines.append(f"  {name:<{width}}{int(row['n_train']):>6,}  {accuracy_text(row['mean'], row['sd']):<{acc_width}}  {ci}{mix}  {row['tv_distance']:>5.2f}{flag}")
    lines.append(f"  TV: total variation distance of the class mix from the training set's (0 = same mix, 1 = disjoint classes); "
                 f"a one-class model scores {majority:.4f} on this test set (its majority-class rate)")
    return lines


def accuracy_intervals(accuracies: pd.DataFrame, evidence: Evidence) -> pd.DataFrame:
    """Each selection's 95% interval of its mean test accuracy (columns low, high, by selection; NaN without stored predictions)."""
    rows = {}
    for name, part in accuracies.groupby("selection", sort=False):
        interval = evidence.accuracy_interval(part)
        rows[name] = (np.nan, np.nan) if interval is None else (interval.low, interval.high)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["low", "high"])


def verdicts(accuracies: pd.DataFrame, majority: float, evidence: Evidence | None = None) -> pd.DataFrame:
    """Each selection against random by `diet.paper.evidence`'s rule (the seed rule without `evidence`): difference, its interval
    (low, high; the widths with only seeds or only test examples resampled), the rule, and where it lands ("below",
    "within noise", "above"; "no signal, both one-class" when both sit at the majority-class rate), and whether it is a
    one-class model (every run at most the majority rate + CHANCE_MARGIN)."""
    evidence = evidence or Evidence.of(None, np.zeros(0, dtype=np.int64))
    random = accuracies[accuracies["selection"] == _random_name(accuracies)]
    rows = []
    for name, part in accuracies.groupby("selection", sort=False):
        result = evidence.accuracy(part, random, "higher", floor=majority)
        both_one_class = all_one_class(pd.concat([part["accuracy"], random["accuracy"]]), majority)
        where = {"holds": "above", "does not hold": "below"}.get(result["verdict"], "no signal, both one-class" if both_one_class else "within noise")
        rows.append({"selection": name, **{k: result[k] for k in ("difference", "low", "high", "seeds_width", "examples_width", "spread", "rule")},
                     "where": where, "one_class": bool(part["accuracy"].max() <= majority + CHANCE_MARGIN)})
    return pd.DataFrame(rows).set_index("selection")


def _random_name(accuracies: pd.DataFrame) -> str:
    return accuracies.loc[accuracies["kind"] == "random", "selection"].iloc[0]


def reading_lines(accuracies: pd.DataFrame, summary: pd.DataFrame, majority: float, evidence: Evidence | None = None) -> list[str]:
    """Three to five lines computed from the numbers: where each selection lands against random and by which rule,
    what would narrow the intervals, which models predict one class, what the class mix explains; then where the
    book goes deeper."""
    v = verdicts(accuracies, majority, evidence)
    random = _random_name(accuracies)
    others = v.drop(index=random)
    r = summary.loc[random]
    by_interval = (others["rule"] != SEED_RULE).all()
    lines = []
    if summary["seeds"].max() < 2:
        lines.append(f"1 seed: no spread over seeds, so no selection can be told apart from {random} (rerun with --seeds 0 1 2); "
                     f"differences to it{' with their 95% intervals over the test examples alone' if by_interval else ''}: "
                     + "; ".join(_difference(n, row) for n, row in others.iterrows()) + ".")
    else:
        parts = []
        for where in ("below", "within noise", "above", "no signal, both one-class"):
            names = others[others["where"] == where]
            if len(names):
                parts.append(f"{where}: " + "; ".join(_difference(n, row) for n, row in names.iterrows()))
        rule = ("the difference with its 95% interval (test examples and seeds resampled together); below or above random "
                "only where the interval excludes 0" if by_interval else
                "runs stored without test predictions: a difference counts only beyond the larger seed sd (the seed rule, "
                "which leaves out the test set's own noise; rerun into a new --out for intervals)")
        lines.append(f"against {random} ({accuracy_text(r['mean'], r['sd'])}), {rule}. " + ". ".join(parts) + ".")
    if by_interval:
        lines.append(narrowing_line(others, accuracies["seed"].nunique(), len(evidence.test_labels)))
    one_class = list(v.index[v["one_class"]])
    if one_class:
        lines.append(f"one-class models (every run at the test set's majority-class rate, {majority:.4f}, or below): {'; '.join(one_class)}.")
    lines.append(class_mix_line(summary, v))
    return lines + [BOOK]


def _difference(name: str, row: pd.Series) -> str:
    return f"{name} ({row['difference']:+.4f}{' ' + interval_text(row['low'], row['high'], signed=True) if not np.isnan(row['low']) else ''})"


def narrowing_line(others: pd.DataFrame, seeds: int, n_test: int) -> str:
    """How wide the intervals are, what makes them so, and what would narrow them."""
    half = float(((others["high"] - others["low"]) / 2).median())
    examples, seed_part = float(others["examples_width"].median()), float(others["seeds_width"].median())
    source = "the test examples" if examples >= seed_part else "the seeds"
    return (f"these intervals are wide (half-width about {half:.3f} on {n_test:,} test examples, with {seeds} seed{'s' if seeds > 1 else ''}; most of it from "
            f"{source}): a larger test set (--n-test) and more seeds (--seeds 0 1 2 ...) narrow them.")


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
