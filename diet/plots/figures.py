"""One seaborn figure per figure table (`diet.paper.figures`), each with its caption, and `diet run`'s figure.

Every function takes the tidy table and `about` (what was run: task, model, sizes, seeds;
`Context.caption()`), and returns (figure, caption). Lines are means over seeds; bands and
error bars are ± 1 standard deviation over seeds (seaborn's errorbar="sd").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from diet.paper.context import FULL, ORACLE, RANDOM
from diet.plots.style import (COLORS, DPI, SPREAD, WIDTH, baseline_line, label, one_class_line, one_class_words, panels, percent_axis,
                              score_lines, shared_legend)


def score_timing(frame: pd.DataFrame, about: str = "", majority: float | None = None) -> tuple[Figure, str]:
    """Figure 1: accuracy after training on the top-k against the epoch the scores were taken at (`majority`: see _one_class)."""
    keeps = sorted(k for k in frame["keep"].unique() if k < 1)
    fig, axes = panels(1, len(keeps))
    for ax, keep in zip(axes[0], keeps):
        part = frame[frame["keep"] == keep]
        score_lines(ax, part[part["step"].notna()], "epoch", "accuracy")
        baseline_line(ax, part.loc[part["score"] == RANDOM, "accuracy"], RANDOM)
        baseline_line(ax, frame.loc[frame["score"] == FULL, "accuracy"], FULL, ":")
        one_class_line(ax, majority)
        ax.set(title=f"train on the top {keep:.0%}", xlabel="epoch at which the scores were computed", ylabel="test accuracy")
    shared_legend(fig, axes)
    caption = (
        "Figure 1 (score timing). Test accuracy after retraining on the highest-scored examples, against the point in "
        "fine-tuning at which the scores were computed (0 = before any update). Dashed grey: a random subset of the same "
        f"size (a new draw per seed); dotted black: all training data.{one_class_words(majority)} {SPREAD} {about}"
    )
    return fig, caption


def label_balance(frame: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """Figure 2: class shares among the top-k against the scoring epoch."""
    scores, keeps = list(dict.fromkeys(frame["score"])), sorted(frame["keep"].unique())
    fig, axes = panels(len(scores), len(keeps), height=2.7)
    palette = dict(zip(frame["class_name"].unique(), sns.color_palette("colorblind")))
    for row, name in enumerate(scores):
        for col, keep in enumerate(keeps):
            ax = axes[row, col]
            part = frame[(frame["score"] == name) & (frame["keep"] == keep)]
            mean = part[part["by"] == "mean"]
            runs = part[part["by"] == "run"]
            sns.lineplot(data=mean, x="epoch", y="fraction", hue="class_name", palette=palette, marker="o", ax=ax, errorbar=None)
            spread = runs.groupby(["class_name", "epoch"])["fraction"].agg(["mean", "std"]).reset_index()
            for cls, band in spread.groupby("class_name"):
                sd = band["std"].fillna(0)
                low, high = (band["mean"] - sd).clip(0, 1), (band["mean"] + sd).clip(0, 1)  # shares stay in [0, 1]
                ax.fill_between(band["epoch"], low, high, color=palette[cls], alpha=0.12, linewidth=0)
            for cls, share in mean.groupby("class_name")["train_fraction"].first().items():
                ax.axhline(share, color=palette[cls], linestyle=":", linewidth=1)
            ax.set(title=f"{label(name)}, top {keep:.0%}", xlabel="epoch at which the scores were computed" if row == len(scores) - 1 else "", ylabel="share of the selection", ylim=(0, None))
            percent_axis(ax, "y")
    shared_legend(fig, axes)
    caption = (
        "Figure 2 (label balance). Share of each class among the highest-scored examples, against the point in fine-tuning "
        "at which the scores were computed. Lines: the selection from run-averaged scores (the one figure 1 trains on); "
        "bands: ± 1 standard deviation over selections made from each single scoring run (cut at 0 and 100%); dotted: each class's share of the "
        f"whole training set (a balanced selection would follow them). {about}"
    )
    return fig, caption


def preserved_fraction(frame: pd.DataFrame, about: str = "", majority: float | None = None) -> tuple[Figure, str]:
    """Figure 3: accuracy against the fraction kept, plain and class-balanced."""
    fig, axes = panels(1, 2)
    full = frame.loc[frame["score"] == FULL, "accuracy"]
    random = frame[frame["score"] == RANDOM]
    for ax, balanced in zip(axes[0], (False, True)):
        part = frame[(frame["balanced"].astype(bool) == balanced) & ~frame["score"].isin([RANDOM, FULL])]
        score_lines(ax, pd.concat([part, random]), "keep", "accuracy")
        baseline_line(ax, full, FULL, ":")
        one_class_line(ax, majority)
        ax.set(title="class-balanced top-k" if balanced else "top-k", xlabel="fraction of the training set kept", ylabel="test accuracy")
        percent_axis(ax)
    shared_legend(fig, axes)
    caption = (
        "Figure 3 (preserved fraction). Test accuracy after retraining on the top-scored fraction of the training set "
        "(scores at the final scoring step, averaged over runs), against that fraction. Left: top-k over the whole set; "
        "right: the same fraction taken within each class. Grey: random subsets of the same size (in both panels); "
        f"dotted black: all training data.{one_class_words(majority)} {SPREAD} {about}"
    )
    return fig, caption


def offset_curve(frame: pd.DataFrame, about: str = "", majority: float | None = None) -> tuple[Figure, str]:
    """Figure 4: accuracy after skipping the top `offset` and keeping a window, one column per reading in the table."""
    windows = list(dict.fromkeys(frame["window"]))
    scored = frame[frame["offset"].notna()]
    fixed = scored["window"] == "fixed"  # fixed windows keep `keep`; shrinking ones keep `keep - offset`
    keep = (scored["kept"] + np.where(fixed, 0.0, scored["offset"])).max()
    fig, axes = panels(2, len(windows), height=2.8)
    random = frame[frame["score"] == RANDOM]
    for col, window in enumerate(windows):
        for row, balanced in enumerate((False, True)):
            ax = axes[row, col]
            part = frame[(frame["window"] == window) & (frame["balanced"].astype(bool) == balanced) & ~frame["score"].isin([RANDOM, FULL])]
            score_lines(ax, pd.concat([part, random[random["window"] == window]]), "offset", "accuracy")
            baseline_line(ax, frame.loc[(frame["score"] == FULL) & (frame["window"] == window), "accuracy"], FULL, ":")
            one_class_line(ax, majority)
            reading = f"fixed: ranks [k, k + {keep:.0%})" if window == "fixed" else f"shrinking: ranks [k, {keep:.0%})"
            title = f"{window}, class-balanced" if balanced else reading
            ax.set(title=title, xlabel="top fraction skipped first (k)" if row == 1 else "", ylabel="test accuracy")
            percent_axis(ax)
    shared_legend(fig, axes)
    readings = {
        "fixed": f"keeping the next {keep:.0%} of the data (a fixed-size window, ranks [k, k + {keep:.0%}))",
        "shrinking": f"keeping the ranks from k to {keep:.0%} (a shrinking set of {keep:.0%} − k)",
    }
    shown = [readings[w] + (f" ({side} column)" if len(windows) > 1 else "") for w, side in zip(windows, ("left", "right"))]
    caption = (
        f"Figure 4 (offset). Test accuracy after first removing the top k of the examples by score and "
        f"{' or '.join(shown)}. Top row: ranks over the whole set; bottom row: within each class. Grey: random subsets of the same size as "
        f"each window; dotted black: all training data.{one_class_words(majority)} {SPREAD} {about}"
    )
    return fig, caption


def noisy_labels(frame: pd.DataFrame, about: str = "", noise: float | None = None) -> tuple[Figure, str]:
    """Figure 5: how many flipped labels the top scores catch, and (if retrained) accuracy after removing them.

    `noise` is the flipped fraction (default: read from the random-removal rows, else the middle `removed`).
    """
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.85)
    acc = frame[frame["metric"] == "accuracy"].copy()
    if noise is None:
        removed = acc.loc[acc["score"] == RANDOM, "removed"] if len(acc) else frame["removed"]
        noise = float(removed.max() if len(acc) else removed.median())
    fig = Figure(figsize=(WIDTH if len(acc) else WIDTH * 0.55, 3.8), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=[1, 1.2]) if len(acc) else [fig.subplots(1, 1)]
    left = axes[0]
    detect = frame[frame["metric"] == "precision"]
    score_lines(left, detect, "removed", "value")
    left.set(title="flipped labels among the top k", xlabel="top fraction k (by score)", ylabel="precision")
    left.set_ylim(bottom=0)  # a precision below 0 would only be the sd band of the random draws
    percent_axis(left)
    percent_axis(left, "y")
    if left.get_legend():
        left.get_legend().remove()
    if len(acc):
        right = axes[1]
        order = [FULL, RANDOM] + [s for s in dict.fromkeys(acc["score"]) if s not in (FULL, RANDOM, ORACLE)] + [ORACLE]
        order = [s for s in order if s in set(acc["score"])]
        acc["condition"] = acc["score"].map(label)
        sns.barplot(data=acc, y="condition", x="value", order=[label(s) for s in order], errorbar="sd", ax=right,
                    hue="condition", palette={label(s): COLORS.get(s, "#333333") for s in order}, legend=False)
        low = max(0.0, acc["value"].min() - 0.1)
        right.set(title="test accuracy after removing", xlabel="test accuracy", ylabel="", xlim=(low, min(1.0, acc["value"].max() + 0.05)))
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower left", ncols=len(labels) if len(acc) else 2, frameon=False)
    accuracy = (
        f"Right: test accuracy after removing the top {noise:.0%} by each score, a random fraction of the same size, nothing "
        "(full noisy data), or exactly the flipped examples (oracle). "
        if len(acc) else "This preset does not retrain on the noisy set, so there is no accuracy panel. "
    )
    caption = (
        f"Figure 5 (noisy labels). {noise:.0%} of the training labels were flipped to another class, the noisy set was scored, "
        f"and the top-scored examples were compared with the flipped ones. {'Left: p' if len(acc) else 'P'}recision (share of flipped labels) of the top k "
        f"by each score; random draws catch {noise:.0%} on average. {accuracy}"
        f"{SPREAD} Scores are from run-averaged values, so their precision has no spread. {about}"
    )
    return fig, caption


KIND_COLORS = {"full": COLORS[FULL], "random": COLORS[RANDOM], "top": COLORS["el2n"], "per class": "#2ca02c", "skip top": "#9467bd"}


def main_comparison(accuracies: pd.DataFrame, summary: pd.DataFrame, base: pd.Series, majority: float, title: str = "") -> tuple[Figure, str]:
    """`diet run`'s figure: test accuracy of each selection (seeds as dots, mean ± sd) beside its class mix.

    `summary` is `diet.paper.main_report.summarize` (with the class shares), `base` the training set's
    share of each class, `majority` the test set's majority-class rate.
    """
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.8)
    names = list(summary.index)
    fig = Figure(figsize=(WIDTH, 0.42 * len(names) + 1.6), dpi=110, layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[1.3, 1])
    y = np.arange(len(names))
    for i, (name, row) in enumerate(summary.iterrows()):
        color = KIND_COLORS.get(row["kind"], "#333333")
        runs = accuracies.loc[accuracies["selection"] == name, "accuracy"]
        left.scatter(runs, np.full(len(runs), i), s=14, color=color, alpha=0.45, linewidth=0)
        sd = 0.0 if np.isnan(row["sd"]) else row["sd"]
        left.errorbar(row["mean"], i, xerr=sd, fmt="D", color=color, markersize=6, capsize=3)
    random = summary.loc[summary["kind"] == "random", "mean"].iloc[0]
    left.axvline(random, color=COLORS[RANDOM], linestyle="--", linewidth=1, label=f"random ({random:.3f})")
    left.axvline(majority, color="#000000", linestyle=":", linewidth=1, label=f"one class ({majority:.3f})")
    left.set(yticks=y, yticklabels=names, xlabel="test accuracy (dots: seeds)", title="test accuracy, mean ± sd")
    left.invert_yaxis()
    left.legend(loc="best", fontsize="small", frameon=True)
    palette = sns.color_palette("colorblind", len(base))
    start = np.zeros(len(names))
    for c, (cls, color) in enumerate(zip(base.index, palette)):
        share = summary[f"share: {cls}"].to_numpy()
        right.barh(y, share, left=start, color=color, label=cls, height=0.7)
        start = start + share
        if c < len(base) - 1:
            right.axvline(base.iloc[: c + 1].sum(), color="#000000", linestyle=":", linewidth=0.8)
    for i, tv in enumerate(summary["tv_distance"]):
        right.text(1.01, i, f"TV {tv:.2f}", va="center", fontsize="small")
    right.set(xlim=(0, 1), xlabel="share of the selection", title="class mix (dotted: training set)")
    percent_axis(right)
    handles, labels = right.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(base), 6), fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    caption = (f"{title}. Left: test accuracy after retraining on each selection; dashed: random subsets of the same size; "
               f"dotted: a model that predicts one class ({majority:.3f}). Right: each selection's class shares; dotted lines "
               "mark the training set's, TV is the total variation distance from them.")
    return fig, caption
