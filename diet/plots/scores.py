"""Figures of the training-dynamics scores and the "Which score?" chapter; each returns (figure, caption) like diet.plots.figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from diet.paper.context import FULL, RANDOM
from diet.plots.style import COLORS, DPI, SPREAD, WIDTH
from diet.scores.dynamics import AMBIGUOUS_SHARE, REGIONS
from diet.scores.names import label
HARD_END = ("High is hard for every score: EL2N, GraNd and loss as computed; forgetting counts correct → incorrect transitions "
            "(never learned: above all); low confidence is 1 − the mean gold-label probability; −AUM is minus the mean margin.")


def _theme() -> None:
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.85)


def data_map(frame: pd.DataFrame, about: str = "", title: str = "", highlight: str | None = None) -> tuple[Figure, str]:
    """Confidence against variability, one dot per training example coloured by correctness, the regions marked;
    `highlight` names a boolean column (e.g. "flipped") whose examples are drawn on top as red crosses."""
    _theme()
    fig = Figure(figsize=(WIDTH * 0.8, 4.6), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    dots = ax.scatter(frame["variability"], frame["confidence"], c=frame["correctness"], cmap="viridis", vmin=0, vmax=1, s=9, alpha=0.75, linewidth=0)
    fig.colorbar(dots, ax=ax, label="correctness (share of checkpoints predicted right)")
    if highlight:
        marked = frame[frame[highlight].astype(bool)]
        ax.scatter(marked["variability"], marked["confidence"], marker="x", s=22, color="#d62728", linewidth=1.1, label=f"{highlight} ({len(marked)})")
        ax.legend(loc="lower right", frameon=True)
    ambiguous = frame.loc[frame["region"] == REGIONS[1], "variability"]
    cut = float(ambiguous.min()) if len(ambiguous) else float(frame["variability"].max())
    ax.axvline(cut, color="#555555", linestyle="--", linewidth=1)
    ax.plot([0, cut], [0.5, 0.5], color="#555555", linestyle=":", linewidth=1)
    top = max(float(frame["variability"].max()), cut, 1e-6) * 1.15
    ax.set(xlim=(0, top), ylim=(-0.02, 1.02), xlabel="variability (sd of the gold-label probability)",
           ylabel="confidence (mean gold-label probability)", title=title or "data map")
    box = {"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "linewidth": 0}
    ax.text(cut / 2, 0.97, "easy-to-learn", ha="center", va="top", bbox=box)
    ax.text(cut / 2, 0.03, "hard-to-learn", ha="center", va="bottom", bbox=box)
    ax.text(cut + (ax.get_xlim()[1] - cut) / 2, 0.5, "ambiguous", ha="center", va="center", bbox=box)
    counts = frame["region"].value_counts()
    shares = ", ".join(f"{r} {counts.get(r, 0) / len(frame):.0%}" for r in REGIONS)
    caption = (
        f"Data map (Swayamdipta et al. 2020) of {len(frame):,} training examples: the mean and standard deviation of the "
        "gold-label probability over the checkpoints of fine-tuning up to the final step (averaged over the scoring runs), "
        f"coloured by the share of checkpoints at which the example is predicted right. Right of the dashed line: the "
        f"{AMBIGUOUS_SHARE:.0%} with the highest variability (ambiguous); left of it, above and below confidence 0.5 (dotted): "
        f"easy- and hard-to-learn. Regions: {shares}."
        + (f" Red crosses: the {highlight} examples." if highlight else "") + f" {about}"
    )
    return fig, caption


def _matrix(frame: pd.DataFrame, value: str, order: list[str]) -> pd.DataFrame:
    wide = frame.pivot(index="score", columns="other", values=value).reindex(index=order, columns=order)
    return wide.rename(index=label, columns=label)


def score_agreement(correlations: pd.DataFrame, overlap: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """Two heatmaps: Spearman rank correlation of every two scores, and the Jaccard overlap of their top-k sets."""
    _theme()
    order = list(dict.fromkeys(correlations["score"]))
    fig = Figure(figsize=(WIDTH, 3.9), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, 2)
    keep = float(overlap["keep"].iloc[0])
    for ax, data, title, low in ((axes[0], _matrix(correlations, "spearman", order), "Spearman rank correlation", -1.0),
                                 (axes[1], _matrix(overlap, "jaccard", order), f"overlap (Jaccard) of the top {keep:.0%}", 0.0)):
        sns.heatmap(data, ax=ax, vmin=low, vmax=1, cmap="vlag" if low < 0 else "mako_r", annot=True, fmt=".2f", annot_kws={"size": 6.5},
                    square=True, cbar=False, linewidths=0.5)
        ax.set(title=title, xlabel="", ylabel="")
        ax.tick_params(axis="x", labelrotation=90)
    caption = (
        "How alike the scores rank the training examples (scores at the final step, averaged over runs). Left: Spearman "
        f"rank correlation (blank: a score that is constant here). Right: |A ∩ B| / |A ∪ B| for the top {keep:.0%} by two "
        f"scores (the set the harsher pruning of the next figure keeps; random sets would overlap about {keep / (2 - keep):.2f}). "
        f"{HARD_END} {about}"
    )
    return fig, caption


def which_score(frame: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """Test accuracy after keeping the top-k by each score, one column per kept fraction, plain and class-balanced."""
    _theme()
    keeps = sorted(k for k in frame["keep"].unique() if k < 1)
    scores = [s for s in dict.fromkeys(frame["score"]) if s not in (RANDOM, FULL)]
    fig = Figure(figsize=(WIDTH, 0.33 * len(scores) + 1.9), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(keeps), sharey=True, squeeze=False)[0]
    full = frame.loc[frame["score"] == FULL, "accuracy"].dropna()
    y = np.arange(len(scores))
    for ax, keep in zip(axes, keeps):
        random = frame.loc[(frame["score"] == RANDOM) & (frame["keep"] == keep), "accuracy"].dropna()
        if len(random):
            ax.axvspan(random.mean() - random.std(ddof=1 if len(random) > 1 else 0), random.mean() + random.std(ddof=1 if len(random) > 1 else 0),
                       color=COLORS[RANDOM], alpha=0.15, linewidth=0)
            ax.axvline(random.mean(), color=COLORS[RANDOM], linestyle="--", linewidth=1.2, label="random (± sd)")
        if len(full):
            ax.axvline(full.mean(), color=COLORS[FULL], linestyle=":", linewidth=1.2, label="full data")
        for offset, balanced, marker in ((-0.15, False, "o"), (0.15, True, "s")):
            part = frame[(frame["keep"] == keep) & (frame["balanced"].astype(bool) == balanced)]
            stats = part.groupby("score")["accuracy"].agg(["mean", "std"]).reindex(scores)
            ax.errorbar(stats["mean"], y + offset, xerr=stats["std"].fillna(0), fmt=marker, color="#1f77b4" if not balanced else "#2ca02c",
                        markersize=5, capsize=2, linewidth=1, label="class-balanced top-k" if balanced else "top-k")
        ax.set(title=f"keep the top {keep:.0%}", xlabel="test accuracy")
    axes[0].set_yticks(y, [label(s) for s in scores])
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    caption = (
        f"Test accuracy after retraining on the top {' and the top '.join(f'{k:.0%}' for k in keeps)} of the training set by each "
        "score (circles; squares: the same fraction within each class), against random subsets of the same size (dashed, band: ± 1 sd) "
        f"and all training data (dotted). Scores at the final step, averaged over runs. {SPREAD} {HARD_END} {about}"
    )
    return fig, caption


def flipped_recall(frame: pd.DataFrame, about: str = "", noise: float | None = None) -> tuple[Figure, str]:
    """Recall of the flipped labels by the top `removed` of each score (bars), random draws beside them."""
    _theme()
    recall = frame[frame["metric"] == "recall"].copy()
    noise = float(recall["removed"].min()) if noise is None else noise
    recall["score"] = recall["score"].map(label)
    recall["top"] = recall["removed"].map(lambda k: f"top {k:.0%}")
    fig = Figure(figsize=(WIDTH, 0.3 * recall["score"].nunique() + 1.6), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=recall, y="score", x="value", hue="top", errorbar="sd", ax=ax, palette="Blues_d")
    ax.set(xlim=(0, 1), xlabel="recall: share of all flipped examples among the top k", ylabel="", title="finding the flipped labels")
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    ax.legend(loc="lower right", frameon=True)
    caption = (
        f"{noise:.0%} of the training labels were flipped (as in figure 5) and the noisy set scored by each score. Bars: the share "
        "of the flipped examples found among the top k by each score (run-averaged, so no spread); random: mean ± 1 sd over "
        f"draws, which find k of them on average. With k = {noise:.0%}, recall equals precision. {HARD_END} {about}"
    )
    return fig, caption
