"""The results summary's forest plot: every setting of every claim as its difference and 95% interval, coloured by verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from diet.plots.style import DPI, WIDTH

VERDICT_COLORS = {"holds": "#1b7837", "does not hold": "#b2182b", "inconclusive": "#8c8c8c"}
UNITS = {"2": "TV distance", "5a": "share flipped"}  # every other claim compares test accuracies


def error_bars(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(below, above) each difference: to the ends of its 95% interval, or ± the spread where it has none (the seed rule)."""
    diff, spread = rows["difference"].to_numpy(dtype=float), rows["spread"].fillna(0.0).to_numpy(dtype=float)
    low = rows["low"].to_numpy(dtype=float) if "low" in rows else np.full(len(rows), np.nan)
    high = rows["high"].to_numpy(dtype=float) if "high" in rows else np.full(len(rows), np.nan)
    return np.where(np.isnan(low), spread, diff - low), np.where(np.isnan(high), spread, high - diff)


def forest(verdicts: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """One row per compared setting (the rows of `diet.paper.claims.claims`), grouped by claim: the difference
    ours − baseline as a dot and its 95% interval as a bar, 0 marked. A setting judged by the seed rule
    (runs stored without test predictions) shows ± the spread instead, with a hollow dot."""
    rows = verdicts.dropna(subset=["difference"]).reset_index(drop=True)
    if rows.empty:
        raise ValueError("no compared setting to plot: every claim lacks a difference")
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.8)
    fig = Figure(figsize=(WIDTH, 0.2 * len(rows) + 1.4), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(rows))
    interval = rows["low"].notna().to_numpy() if "low" in rows else np.zeros(len(rows), dtype=bool)
    diff = rows["difference"].to_numpy(dtype=float)
    below, above = error_bars(rows)
    for verdict, color in VERDICT_COLORS.items():
        for by_interval in (True, False):
            on = (rows["verdict"] == verdict).to_numpy() & (interval == by_interval)
            if on.any():
                ax.errorbar(diff[on], y[on], xerr=[below[on], above[on]], fmt="o", color=color, markersize=4, capsize=2, linewidth=1,
                            markerfacecolor=color if by_interval else "white")
    ax.axvline(0, color="#000000", linewidth=0.8)
    labels = [f"{r.id} · {r.setting}" + (f" ({UNITS[r.id]})" if r.id in UNITS else "") for r in rows.itertuples()]
    ax.set(yticks=y, ylim=(len(rows) - 0.5, -0.5), xlabel="difference, ours − baseline (bar: 95% interval)")
    ax.set_yticklabels(labels, fontsize="small")
    for start in np.flatnonzero(rows["id"].ne(rows["id"].shift()).to_numpy())[1:]:
        ax.axhline(start - 0.5, color="#bbbbbb", linewidth=0.6)
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=v) for v, c in VERDICT_COLORS.items() if (rows["verdict"] == v).any()]
    if not interval.all():
        handles.append(Line2D([], [], marker="o", linestyle="", color="#555555", markerfacecolor="white", label="seed rule: ± spread"))
    ax.legend(handles=handles, loc="best", fontsize="small", frameon=True)
    fallback = (f" {int((~interval).sum())} of {len(rows)} settings have runs stored without test predictions: their hollow dots "
                "show ± the spread over seeds (the larger of the two standard deviations) and the seed rule judged them."
                if not interval.all() else "")
    caption = ("Every compared setting of every claim, grouped by claim (ids as in the table above): the difference "
               "ours − baseline (test accuracy, except claim 2, total variation distance of the class mix, and claim 5a, "
               "the share of flipped labels) as a dot, its 95% interval as a bar (test examples and seeds resampled; for claims 2 "
               "and 5a, runs), coloured by the setting's verdict. A setting holds a claim that ours is higher when its whole bar lies "
               "right of 0, lower (1a) when it lies left of 0, not higher (3a, 4c) unless it lies right of 0." + fallback
               + (f" {about}" if about else ""))
    return fig, caption
