"""The scale chapter's picture: each claim's difference and its 95% interval against the training-set size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from diet.plots.style import DPI, WIDTH
from diet.plots.claims import UNITS, error_bars

VERDICT_MARKERS = {"holds": dict(marker="o"), "does not hold": dict(marker="X"), "inconclusive": dict(marker="o", markerfacecolor="white")}


def short_labels(keys: list[str]) -> dict[str, str]:
    """Each key without the comma-separated parts that every key of the panel shares."""
    parts = {k: k.split(", ") for k in keys}
    common = set.intersection(*(set(p) for p in parts.values())) if parts else set()
    return {k: ", ".join(x for x in p if x not in common) or k for k, p in parts.items()}


LEGEND_LINE_INCHES = 0.16


def legend_columns(settings: int) -> int:
    return 1 if settings <= 2 else 2


def legend_rows(settings: int) -> int:
    return int(np.ceil(settings / legend_columns(settings)))


def by_size(rows: pd.DataFrame, about: str = "") -> tuple[Figure, str]:
    """One panel per claim (ids in their order): per setting, a line through its difference
    (ours − baseline) at each training-set size, with its 95% interval (`error_bars`); the marker says the
    setting's verdict at that size. Sizes on a log axis, 0 marked."""
    rows = rows.dropna(subset=["difference"])
    if rows.empty:
        raise ValueError("no compared setting to plot: every claim lacks a difference")
    ids = list(dict.fromkeys(rows["id"]))
    sizes = sorted(rows["n_train"].unique())
    ncols = 2
    nrows = int(np.ceil(len(ids) / ncols))
    keys_of = {claim_id: list(dict.fromkeys(rows.loc[rows["id"] == claim_id, "key"])) for claim_id in ids}  # settings in order
    settings = [len(keys_of[claim_id]) for claim_id in ids]
    legend_lines = [max(legend_rows(n) for n in settings[r * ncols:(r + 1) * ncols]) for r in range(nrows)]
    heights = [2.1 + LEGEND_LINE_INCHES * n for n in legend_lines]  # each row's legends sit below its panels, off the data
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.75)
    fig = Figure(figsize=(WIDTH, sum(heights) + 0.4), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={"height_ratios": heights})
    shift = np.exp(np.linspace(-0.06, 0.06, 12))  # settings side by side at each size, not on top of each other
    for ax, claim_id in zip(axes.flat, ids):
        part = rows[rows["id"] == claim_id]
        keys = keys_of[claim_id]
        labels = short_labels(keys)
        palette = sns.color_palette("tab10" if len(keys) <= 10 else "tab20")  # no two settings of a panel share a colour
        for i, key in enumerate(keys):
            line = part[part["key"] == key].sort_values("n_train")
            x = line["n_train"].to_numpy(dtype=float) * shift[int(i * (len(shift) - 1) / max(len(keys) - 1, 1))]
            color = palette[i % len(palette)]
            ax.plot(x, line["difference"], color=color, linewidth=1, label=labels[key])
            below, above = error_bars(line)
            ax.errorbar(x, line["difference"], yerr=[below, above], fmt="none", ecolor=color, elinewidth=0.8, capsize=2)
            for verdict, style in VERDICT_MARKERS.items():
                on = (line["verdict"] == verdict).to_numpy()
                if on.any():
                    ax.plot(x[on], line["difference"][on], linestyle="", color=color, markersize=5, markeredgecolor=color, **style)
        ax.axhline(0, color="#000000", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.minorticks_off()
        ax.set_xlim(sizes[0] / 1.5, sizes[-1] * 1.5)
        ax.set_title(f"claim {claim_id}" if claim_id[0].isdigit() else "class-balanced − plain", fontsize="medium")
        ax.set_ylabel(UNITS.get(claim_id, "accuracy") + " difference", fontsize="small")
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False,
                  ncols=legend_columns(len(keys)))
    for ax in axes.flat[len(ids):]:
        ax.set_visible(False)
    fig.supxlabel("training examples (log axis)", fontsize="small")  # below the last row's legends
    marks = [Line2D([], [], color="#444444", linestyle="", markersize=5, label=v, **s) for v, s in VERDICT_MARKERS.items()]
    fig.legend(handles=marks, loc="outside upper center", ncols=3, fontsize="small", frameon=False)
    caption = ("Each claim's comparisons against the number of training examples (log axis): one line per setting, "
               "its difference ours − baseline (test accuracy, except claim 2, total variation distance of the class mix, "
               "and 5a, the share of flipped labels among the top-scored) with its 95% interval as a bar (± the spread over seeds "
               "where a size's runs were stored without test predictions and the seed rule judged them); the marker "
               "gives the setting's verdict at that size (filled circle: holds; cross: does not hold; hollow circle: inconclusive). "
               "Settings are drawn slightly apart at each size so that their bars do not cover each other."
               + (f" {about}" if about else ""))
    return fig, caption

