"""What a chapter notebook calls after its `parameters` cell: its run context, and the tables it writes."""

from __future__ import annotations

import pandas as pd

from diet.errors import DietError
from diet.paper.context import Context, run_context
from diet.paper.figures import TABLES

# the names of every chapter's `parameters` cell (papermill's `-p name value`, and what `diet book` passes)
PARAMETERS = ("preset", "task", "model", "n_train", "n_test", "seeds", "retrain_seeds", "fractions", "offsets", "steps", "store", "task_options")


def start_chapter(parameters: dict, describe: bool = True) -> Context:
    """The run context of a chapter's parameters (pass `globals()`), with pandas' columns cut at 120 characters;
    `describe` prints what it runs (the preset, task, model, seeds and where results go)."""
    pd.set_option("display.max_colwidth", 120)
    ctx = run_context(**{name: parameters[name] for name in PARAMETERS})
    if describe:
        print(ctx.describe())
    return ctx


def produce(ctx: Context, name: str) -> pd.DataFrame:
    """Compute the registered table `name` (`diet.paper.figures.TABLES`) for this context, save it beside the store, return it."""
    table = TABLES.get(name)
    if table is None or table.make is None:
        made = sorted(n for n, t in TABLES.items() if t.make is not None)
        raise DietError(f"no table {name!r} is made by a chapter's experiments; these are: {', '.join(made)}")
    frame = table.make(ctx)
    ctx.save(frame, name)
    return frame
