"""How each claim's verdict moves with the training-set size: the claims of several presets' stored
results on one task, side by side (the book's chapter "Verdicts and scale", notebooks/08_scale.ipynb).

Each preset's figure tables are computed again from its store, read-only (nothing is fine-tuned),
and checked by `diet.paper.claims.claims`; a figure whose runs are not all stored is left out for that
preset, with the reason. The rows of every size are matched by `key`, the setting without what
depends on the size (step numbers, the best offset).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from diet.errors import DietError
from diet.model.steps import steps_per_epoch
from diet.paper.claims import CLAIM_COLUMNS, claims, verdict_summary
from diet.paper.context import RANDOM, Context, run_context
from diet.paper.figures import CHECKED
from diet.paper.presets import SCALE_PRESETS
from diet.runs.store import MissingRunError, Store

BALANCED = "bal"  # the id of the one comparison that is not a paper claim: class-balanced against plain selection (figure 3)
BALANCED_TEXT = "Class-balanced selection beats plain selection by the same score at the same fraction (figure 3; not a claim of the paper)."


def readonly(ctx: Context) -> Context:
    """The same context over a read-only view of its store: loads what is stored, never fine-tunes."""
    return dataclasses.replace(ctx, store=Store(ctx.store.root, readonly=True), _cache={})


def stored_figure_tables(ctx: Context) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """({figure: table} computed from the stored runs, {figure: why not} for figures with a run missing)."""
    ctx = readonly(ctx)
    found, missing = {}, {}
    for figure in CHECKED:
        try:
            found[figure.id] = figure.compute(ctx)
        except MissingRunError as error:  # the store does not hold every run of this figure
            missing[figure.id] = error.what
        except DietError as error:
            missing[figure.id] = str(error)
    return found, missing


def balanced_rows(ctx: Context, fig3: pd.DataFrame) -> list[dict]:
    """Class-balanced minus plain selection, per score and kept fraction below 1, with `diet.paper.evidence`'s verdict."""
    floor, evidence = ctx.majority, ctx.evidence(fig3)
    rows = []
    balanced = fig3["balanced"].astype(bool)
    for name in [s for s in fig3["score"].unique() if s != RANDOM]:
        for keep in sorted(k for k in fig3.loc[fig3["score"] == name, "keep"].unique() if k < 1):
            at = (fig3["score"] == name) & (fig3["keep"] == keep)
            if not (at & balanced).any() or not (at & ~balanced).any():
                continue
            setting = f"{name}, keep {keep:.0%}"
            result = evidence.accuracy(fig3[at & balanced], fig3[at & ~balanced], "higher", floor=floor)
            rows.append({"id": BALANCED, "figure": "3", "claim": BALANCED_TEXT, "setting": setting, **result, "key": setting})
    return rows


def size_label(ctx: Context) -> str:
    """How a size is named in the chapter: '2,000 (cpu-2k)'."""
    return f"{ctx.n_train:,} ({ctx.preset.name})"


def scale_contexts(preset: str = "cpu", task: str | None = None, presets=None, sizes=None, store=None,
                   task_options: dict | None = None, **parameters) -> tuple[list[Context], dict[str, str]]:
    """The contexts to compare, smallest training set first, and {name: why it is left out}.

    `sizes` (training-set sizes): `preset` with `parameters` at each size, all from `store`.
    Otherwise `presets` (default: SCALE_PRESETS when `preset` is one of them, else `preset` alone):
    `preset` with `parameters` from `store`, every other one at its registered settings from its
    own store (results/<name>). `task_options` go to every one. A preset whose store holds nothing
    for the task, or that cannot load it, is left out with the reason.
    """
    if sizes:
        entries = [(f"{preset}, n_train {n}", preset, {**parameters, "n_train": n}, store) for n in sizes]
    else:
        names = list(presets or (SCALE_PRESETS if preset in SCALE_PRESETS else (preset,)))
        entries = [(name, name, parameters if name == preset else {}, store if name == preset else None) for name in names]
    contexts, skipped = [], {}
    for label, name, settings, root in entries:
        try:
            ctx = run_context(name, task=task, store=root, task_options=task_options, **settings)
        except DietError as error:
            skipped[label] = str(error)
            continue
        if not (ctx.store.root / "scores").exists():
            skipped[label] = f"nothing stored in {ctx.store.root} (fill it with `diet precompute --preset {name} --task {ctx.preset.task}`)"
            continue
        contexts.append(ctx)
    return sorted(contexts, key=lambda c: c.n_train), skipped


def scale_claims(contexts: list[Context]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every setting of every claim at every size, with columns size, n_train, preset; the figures left
    out at each size, with columns preset, n_train, figure, reason)."""
    frames, gaps = [], []
    for ctx in contexts:
        tables, missing = stored_figure_tables(ctx)
        if not tables:  # nothing complete for this task: one line, not one per figure
            first = next(iter(missing.values()))
            gaps.append({"preset": ctx.preset.name, "n_train": ctx.n_train, "figure": "all", "reason": f"no figure complete; first missing: {first}"})
            continue
        gaps += [{"preset": ctx.preset.name, "n_train": ctx.n_train, "figure": f, "reason": r} for f, r in missing.items()]
        rows = claims(ctx, tables)
        extra = pd.DataFrame(balanced_rows(ctx, tables["3"]) if "3" in tables else [], columns=rows.columns)
        frames.append(pd.concat([rows, extra], ignore_index=True).assign(size=size_label(ctx), n_train=ctx.n_train, preset=ctx.preset.name))
    columns = [*CLAIM_COLUMNS, "size", "n_train", "preset"]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return rows, pd.DataFrame(gaps, columns=["preset", "n_train", "figure", "reason"])


def verdicts_by_size(rows: pd.DataFrame) -> pd.DataFrame:
    """One verdict per claim and size (`verdict_summary`'s rule): claims as rows, sizes as columns,
    each cell 'verdict (h/n hold)'; a claim not checked at a size is '–'."""
    cells = []
    for (size, n), part in rows.groupby(["size", "n_train"], sort=False):
        held = part["verdict"].eq("holds").groupby(part["id"]).agg(["sum", "size"])
        for claim_id, verdict in verdict_summary(part)[["id", "verdict"]].itertuples(index=False):
            cells.append({"id": claim_id, "size": size, "n_train": n, "cell": f"{verdict} ({held.at[claim_id, 'sum']}/{held.at[claim_id, 'size']} hold)"})
    if not cells:
        return pd.DataFrame()
    frame = pd.DataFrame(cells)
    order = frame.drop_duplicates("size").sort_values("n_train")["size"].tolist()
    table = frame.pivot(index="id", columns="size", values="cell").reindex(columns=order).fillna("–")
    ids = list(dict.fromkeys(rows["id"]))
    return table.reindex(ids).rename_axis(index="claim", columns=None)


def changes(rows: pd.DataFrame) -> pd.DataFrame:
    """The settings whose verdict differs between the smallest and the largest size at which they
    were checked: id, key, and the verdict and difference at each end."""
    out = []
    for (claim_id, key), part in rows.sort_values("n_train").groupby(["id", "key"], sort=False):
        if part["n_train"].nunique() < 2:
            continue
        first, last = part.iloc[0], part.iloc[-1]
        if first["verdict"] != last["verdict"]:
            out.append({"id": claim_id, "setting": key, "from": f"{first['verdict']} at {first['n_train']:,} ({first['difference']:+.3f})",
                        "to": f"{last['verdict']} at {last['n_train']:,} ({last['difference']:+.3f})"})
    return pd.DataFrame(out, columns=["id", "setting", "from", "to"])


def setup_table(contexts: list[Context]) -> pd.DataFrame:
    """What else differs between the sizes: test set, batch, learning rate, length, precision, updates per epoch."""
    rows = []
    for ctx in contexts:
        t = ctx.preset.train
        rows.append({"size": size_label(ctx), "test examples": len(ctx.task.test), "model": ctx.preset.model,
                     "scoring runs": len(ctx.preset.score_seeds), "retraining seeds": len(ctx.preset.retrain_seeds),
                     "epochs": t.epochs, "batch": t.batch_size, "lr": f"{t.lr:g}", "max length": t.max_length,
                     "device": t.device_type, "precision": t.precision, "updates per epoch": steps_per_epoch(ctx.n_train, t.batch_size)})
    return pd.DataFrame(rows).set_index("size")
