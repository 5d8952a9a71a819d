"""The results summary's forest plot: every setting of every claim as its difference ± spread, coloured by verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from diet.plots import DPI, WIDTH

VERDICT_COLORS = {"holds": "#1b7837", "does not hold": "#b2182b", "inconclusive": "#8c8c8c"}
UNITS = {"2": "TV distance", "5a": "share flipped"}  # every other claim compares test accuracies


def forest(verdicts: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """One row per compared setting (the rows of `diet.claims.claims`), grouped by claim: the
    difference ours − baseline as a dot, ± the spread (the larger sd over seeds) as a bar, 0 marked."""
    rows = verdicts.dropna(subset=["difference"]).reset_index(drop=True)
    if rows.empty:
        raise ValueError("no compared setting to plot: every claim lacks a difference")
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.8)
    fig = Figure(figsize=(WIDTH, 0.2 * len(rows) + 1.4), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(rows))
    spread = rows["spread"].fillna(0.0).to_numpy()
    for verdict, color in VERDICT_COLORS.items():
        on = (rows["verdict"] == verdict).to_numpy()
        if on.any():
            ax.errorbar(rows["difference"][on], y[on], xerr=spread[on], fmt="o", color=color, markersize=4, capsize=2, linewidth=1)
    ax.axvline(0, color="#000000", linewidth=0.8)
    labels = [f"{r.id} · {r.setting}" + (f" ({UNITS[r.id]})" if r.id in UNITS else "") for r in rows.itertuples()]
    ax.set(yticks=y, ylim=(len(rows) - 0.5, -0.5), xlabel="difference, ours − baseline (± spread over seeds)")
    ax.set_yticklabels(labels, fontsize="small")
    for start in np.flatnonzero(rows["id"].ne(rows["id"].shift()).to_numpy())[1:]:
        ax.axhline(start - 0.5, color="#bbbbbb", linewidth=0.6)
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=v) for v, c in VERDICT_COLORS.items() if (rows["verdict"] == v).any()]
    ax.legend(handles=handles, loc="best", fontsize="small", frameon=True)
    caption = ("Every compared setting of every claim, grouped by claim (ids as in the table above): the difference "
               "ours − baseline (test accuracy, except claim 2, total variation distance of the class mix, and claim 5a, "
               "the share of flipped labels) as a dot, the spread over seeds (the larger of the two standard deviations) as a bar, "
               "coloured by the setting's verdict. A setting holds a claim that ours is higher when its whole bar lies right of 0, "
               "lower (1a) when it lies left of 0, not higher (3a, 4c) unless it lies right of 0."
               + (f" {about}" if about else ""))
    return fig, caption
