"""One seaborn figure per experiment table (diet.experiments), each with its caption.

Every function takes the tidy table and `about` (what was run: task, model, sizes, seeds;
`Context.caption()`), and returns (figure, caption). Lines are means over seeds; bands and
error bars are ± 1 standard deviation over seeds (seaborn's errorbar="sd").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from diet.experiments import FULL, ORACLE, RANDOM

SPREAD = "Lines and points are means over seeds; bands and error bars show ± 1 standard deviation over seeds."
COLORS = {"el2n": "#1f77b4", "grand_head": "#d62728", "grand_full": "#ff7f0e", "loss": "#9467bd", RANDOM: "#7f7f7f", FULL: "#000000", ORACLE: "#2ca02c"}
LABELS = {"el2n": "EL2N", "grand_head": "GraNd (head)", "grand_full": "GraNd (all weights)", "loss": "loss", RANDOM: "random", FULL: "full data", ORACLE: "flipped removed (oracle)"}


WIDTH, DPI = 7.2, 144  # inches: about the book's text width, so 10-point labels stay 10 points on the page


def _figure(nrows: int, ncols: int, height: float = 3.2) -> tuple[Figure, np.ndarray]:
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.85)
    fig = Figure(figsize=(WIDTH, height * nrows + 0.5), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    return fig, axes


def _label(name: str) -> str:
    return LABELS.get(name, name)


def _hline(ax, values: pd.Series, name: str, style: str = "--") -> None:
    """A horizontal mean line with a ± 1 sd band (the random baseline or the full-data accuracy)."""
    values = values.dropna()
    if values.empty:
        return
    mean, sd = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
    ax.axhline(mean, color=COLORS.get(name, "k"), linestyle=style, linewidth=1.4, label=f"{_label(name)} ({mean:.3f})")
    if sd > 0:
        ax.axhspan(mean - sd, mean + sd, color=COLORS.get(name, "k"), alpha=0.12, linewidth=0)


def _lines(ax, frame: pd.DataFrame, x: str, y: str, hue: str = "score", **kwargs) -> None:
    if frame.empty:
        return
    data = frame.assign(**{hue: frame[hue].map(_label)})
    palette = {_label(k): v for k, v in COLORS.items()}
    sns.lineplot(data=data, x=x, y=y, hue=hue, ax=ax, errorbar="sd", marker="o", palette=palette, err_kws={"alpha": 0.15}, **kwargs)


def _legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend under the panels, from the union of the panels' entries (readable at book width)."""
    entries = {}
    for ax in axes.flat:
        handles, labels = ax.get_legend_handles_labels()
        for handle, label in zip(handles, labels):
            entries.setdefault(label.split(" (")[0] if label.startswith((_label(RANDOM), _label(FULL))) else label, handle)
        if ax.get_legend():
            ax.get_legend().remove()
    fig.legend(entries.values(), entries.keys(), loc="outside lower center", ncols=min(5, len(entries)), frameon=False)


def _pct(ax, axis: str = "x") -> None:
    formatter = lambda v, _pos: f"{v:.0%}"
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(formatter)


def score_timing(frame: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """Figure 1: accuracy after training on the top-k against the epoch the scores were taken at."""
    keeps = sorted(k for k in frame["keep"].unique() if k < 1)
    fig, axes = _figure(1, len(keeps))
    for ax, keep in zip(axes[0], keeps):
        part = frame[frame["keep"] == keep]
        _lines(ax, part[part["step"].notna()], "epoch", "accuracy")
        _hline(ax, part.loc[part["score"] == RANDOM, "accuracy"], RANDOM)
        _hline(ax, frame.loc[frame["score"] == FULL, "accuracy"], FULL, ":")
        ax.set(title=f"train on the top {keep:.0%}", xlabel="epoch at which the scores were computed", ylabel="test accuracy")
    _legend(fig, axes)
    caption = (
        "Figure 1 (score timing). Test accuracy after retraining on the highest-scored examples, against the point in "
        "fine-tuning at which the scores were computed (0 = before any update). Dashed grey: a random subset of the same "
        f"size (a new draw per seed); dotted black: all training data. {SPREAD} {about}"
    )
    return fig, caption


def label_balance(frame: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """Figure 2: class shares among the top-k against the scoring epoch."""
    scores, keeps = list(dict.fromkeys(frame["score"])), sorted(frame["keep"].unique())
    fig, axes = _figure(len(scores), len(keeps), height=2.7)
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
            ax.set(title=f"{_label(name)}, top {keep:.0%}", xlabel="epoch at which the scores were computed" if row == len(scores) - 1 else "", ylabel="share of the selection", ylim=(0, None))
            _pct(ax, "y")
    _legend(fig, axes)
    caption = (
        "Figure 2 (label balance). Share of each class among the highest-scored examples, against the point in fine-tuning "
        "at which the scores were computed. Lines: the selection from run-averaged scores (the one figure 1 trains on); "
        "bands: ± 1 standard deviation over selections made from each single scoring run (cut at 0 and 100%); dotted: each class's share of the "
        f"whole training set (a balanced selection would follow them). {about}"
    )
    return fig, caption


def preserved_fraction(frame: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """Figure 3: accuracy against the fraction kept, plain and class-balanced."""
    fig, axes = _figure(1, 2)
    full = frame.loc[frame["score"] == FULL, "accuracy"]
    random = frame[frame["score"] == RANDOM]
    for ax, balanced in zip(axes[0], (False, True)):
        part = frame[(frame["balanced"].astype(bool) == balanced) & ~frame["score"].isin([RANDOM, FULL])]
        _lines(ax, pd.concat([part, random]), "keep", "accuracy")
        _hline(ax, full, FULL, ":")
        ax.set(title="class-balanced top-k" if balanced else "top-k", xlabel="fraction of the training set kept", ylabel="test accuracy")
        _pct(ax)
    _legend(fig, axes)
    caption = (
        "Figure 3 (preserved fraction). Test accuracy after retraining on the top-scored fraction of the training set "
        "(scores at the final scoring step, averaged over runs), against that fraction. Left: top-k over the whole set; "
        "right: the same fraction taken within each class. Grey: random subsets of the same size (in both panels); "
        f"dotted black: all training data. {SPREAD} {about}"
    )
    return fig, caption


def offset_curve(frame: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """Figure 4: accuracy after skipping the top `offset` and keeping a window, one column per reading in the table."""
    windows = list(dict.fromkeys(frame["window"]))
    scored = frame[frame["offset"].notna()]
    fixed = scored["window"] == "fixed"  # fixed windows keep `keep`; shrinking ones keep `keep - offset`
    keep = (scored["kept"] + np.where(fixed, 0.0, scored["offset"])).max()
    fig, axes = _figure(2, len(windows), height=2.8)
    random = frame[frame["score"] == RANDOM]
    for col, window in enumerate(windows):
        for row, balanced in enumerate((False, True)):
            ax = axes[row, col]
            part = frame[(frame["window"] == window) & (frame["balanced"].astype(bool) == balanced) & ~frame["score"].isin([RANDOM, FULL])]
            _lines(ax, pd.concat([part, random[random["window"] == window]]), "offset", "accuracy")
            _hline(ax, frame.loc[(frame["score"] == FULL) & (frame["window"] == window), "accuracy"], FULL, ":")
            reading = f"fixed: ranks [k, k + {keep:.0%})" if window == "fixed" else f"shrinking: ranks [k, {keep:.0%})"
            title = f"{window}, class-balanced" if balanced else reading
            ax.set(title=title, xlabel="top fraction skipped first (k)" if row == 1 else "", ylabel="test accuracy")
            _pct(ax)
    _legend(fig, axes)
    readings = {
        "fixed": f"keeping the next {keep:.0%} of the data (a fixed-size window, ranks [k, k + {keep:.0%}))",
        "shrinking": f"keeping the ranks from k to {keep:.0%} (a shrinking set of {keep:.0%} − k)",
    }
    shown = [readings[w] + (f" ({side} column)" if len(windows) > 1 else "") for w, side in zip(windows, ("left", "right"))]
    caption = (
        f"Figure 4 (offset). Test accuracy after first removing the top k of the examples by score and "
        f"{' or '.join(shown)}. Top row: ranks over the whole set; bottom row: within each class. Grey: random subsets of the same size as "
        f"each window; dotted black: all training data. {SPREAD} {about}"
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
    _lines(left, detect, "removed", "value")
    left.set(title="flipped labels among the top k", xlabel="top fraction k (by score)", ylabel="precision")
    left.set_ylim(bottom=0)  # a precision below 0 would only be the sd band of the random draws
    _pct(left)
    _pct(left, "y")
    if left.get_legend():
        left.get_legend().remove()
    if len(acc):
        right = axes[1]
        order = [FULL, RANDOM] + [s for s in dict.fromkeys(acc["score"]) if s not in (FULL, RANDOM, ORACLE)] + [ORACLE]
        order = [s for s in order if s in set(acc["score"])]
        acc["condition"] = acc["score"].map(_label)
        sns.barplot(data=acc, y="condition", x="value", order=[_label(s) for s in order], errorbar="sd", ax=right,
                    hue="condition", palette={_label(s): COLORS.get(s, "#333333") for s in order}, legend=False)
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
