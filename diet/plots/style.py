"""What the book's figures share: their size, each score's and baseline's colour, marker and dashes, and the drawing helpers.

Lines are means over seeds; bands and error bars are ± 1 standard deviation over seeds (seaborn's errorbar="sd").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from diet.paper.context import FULL, ORACLE, RANDOM
from diet.scores.names import label
from diet.stats.one_class import CHANCE_MARGIN

SPREAD = "Lines and points are means over seeds; bands and error bars show ± 1 standard deviation over seeds."
COLORS = {"el2n": "#1f77b4", "grand_head": "#d62728", "grand_full": "#ff7f0e", "loss": "#9467bd", RANDOM: "#7f7f7f", FULL: "#000000", ORACLE: "#2ca02c"}
WIDTH, DPI = 7.2, 144  # inches: about the book's text width, so 10-point labels stay 10 points on the page


def panels(nrows: int, ncols: int, height: float = 3.2) -> tuple[Figure, np.ndarray]:
    """A figure of the book's width with `nrows` x `ncols` panels sharing their y axis."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.85)
    fig = Figure(figsize=(WIDTH, height * nrows + 0.5), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    return fig, axes


def baseline_line(ax, values: pd.Series, name: str, style: str = "--") -> None:
    """A horizontal mean line with a ± 1 sd band (the random baseline or the full-data accuracy)."""
    values = values.dropna()
    if values.empty:
        return
    mean, sd = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
    ax.axhline(mean, color=COLORS.get(name, "k"), linestyle=style, linewidth=1.4, label=f"{label(name)} ({mean:.3f})")
    if sd > 0:
        ax.axhspan(mean - sd, mean + sd, color=COLORS.get(name, "k"), alpha=0.12, linewidth=0)


MARKERS = {"el2n": "o", "grand_head": "s", "grand_full": "^", "loss": "D", RANDOM: "X", FULL: "P", ORACLE: "*"}
# EL2N and head GraNd often rank alike, so their lines coincide: head GraNd is dashed with hollow
# squares around EL2N's filled circles, so both stay visible where they overlap.
DASHES = {"el2n": "", "grand_head": (4, 2), "grand_full": (1, 1.5), "loss": (3, 1, 1, 1), RANDOM: (2, 2), FULL: (1, 1), ORACLE: ""}
HOLLOW = {"grand_head", "grand_full"}


def one_class_line(ax, majority: float | None) -> None:
    """A red dotted line at the test set's majority-class rate: what a model predicting one class scores."""
    if majority is not None:
        ax.axhline(majority, color="#d62728", linestyle=":", linewidth=1.2, label=f"one class ({majority:.3f})")


def one_class_words(majority: float | None) -> str:
    """The caption's words for `one_class_line`."""
    if majority is None:
        return ""
    return (f" Red dotted: the test set's majority-class rate ({majority:.3f}), what a model predicting one class scores; "
            f"points at or below it (+{CHANCE_MARGIN}) come from one-class models and say nothing about the scores.")


def score_lines(ax, frame: pd.DataFrame, x: str, y: str, hue: str = "score", **kwargs) -> None:
    """One line per `hue` level (means over seeds, ± 1 sd band), each with its own colour, marker and dash pattern."""
    if frame.empty:
        return
    data = frame.assign(**{hue: frame[hue].map(label)})
    levels = list(dict.fromkeys(frame[hue]))
    palette = {label(k): v for k, v in COLORS.items()}
    markers = {label(k): MARKERS.get(k, "o") for k in levels}
    dashes = {label(k): DASHES.get(k, "") for k in levels}
    sns.lineplot(data=data, x=x, y=y, hue=hue, style=hue, markers=markers, dashes=dashes, ax=ax, errorbar="sd",
                 palette=palette, err_kws={"alpha": 0.15}, markersize=6, **kwargs)
    hollow_markers(ax.get_lines())


def hollow_markers(lines) -> None:
    """Unfilled markers for the scores in HOLLOW (their marker shapes are unique to them)."""
    shapes = {MARKERS[k] for k in HOLLOW}
    for line in lines:
        if hasattr(line, "get_marker") and line.get_marker() in shapes:
            line.set_markerfacecolor("none")
            line.set_markeredgecolor(line.get_color())
            line.set_markeredgewidth(1.4)


def shared_legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend under the panels, from the union of the panels' entries (readable at book width)."""
    entries = {}
    for ax in axes.flat:
        handles, labels = ax.get_legend_handles_labels()
        for handle, text in zip(handles, labels):
            entries.setdefault(text.split(" (")[0] if text.startswith((label(RANDOM), label(FULL))) else text, handle)
        if ax.get_legend():
            ax.get_legend().remove()
    hollow_markers(entries.values())
    fig.legend(entries.values(), entries.keys(), loc="outside lower center", ncols=min(5, len(entries)), frameon=False)


def percent_axis(ax, axis: str = "x") -> None:
    """Tick labels as percentages."""
    formatter = lambda v, _pos: f"{v:.0%}"
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(formatter)
