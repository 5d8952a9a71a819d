"""A figure chapter's figure in its notebook: the plot, its caption, and the sentence on what this build shows."""

from __future__ import annotations

import pandas as pd

from diet.paper.context import Context
from diet.paper.figures import FIGURES
from diet.plots import figures as drawings


def draw(ctx: Context, figure: str, table: pd.DataFrame):
    """(figure, caption) of the registered figure `figure` ("1" to "5") from its table, by its `Figure.plot` function."""
    entry = FIGURES[figure]
    facts = {"majority": ctx.majority, "noise": ctx.preset.noise}
    return getattr(drawings, entry.plot)(table, ctx.caption(), **{name: facts[name] for name in entry.plot_with})


def show_figure(ctx: Context, figure: str, table: pd.DataFrame) -> None:
    """Display the figure, its caption, its note on this build's settings (if any) and "What this build shows"."""
    from IPython.display import Markdown, display

    entry = FIGURES[figure]
    fig, caption = draw(ctx, figure, table)
    display(fig)
    display(Markdown(caption))
    if entry.note:
        display(Markdown(entry.note(ctx)))
    display(Markdown(f"**What this build shows.** {entry.finding(ctx, table)}"))
