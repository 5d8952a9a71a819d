"""The book's generated pages: each task's downloads page, the build box, the verdicts on the introduction, the presets table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from diet.book import BookError
from diet.book.toc import GENERATED
from diet.paper.claims import CLAIMS
from diet.paper.figures import CHAPTERS, FIGURES
from diet.paper.presets import PRESETS

MNLI_TRAIN = 392_702  # training pairs of full MNLI (../shared/PAPER.md)
DOWNLOADS = {**{f"{t.name}.csv": t.about for chapter in CHAPTERS for t in chapter.tables},
             "context.json": "What produced these tables: the preset with all its settings, the task, the training-set fingerprint"}


def write_downloads(tables: Path, generated: Path) -> Path:
    """Copy the notebooks' tables next to the chapters and write the downloads page that links them."""
    if not tables.is_dir():
        raise BookError(f"the notebooks wrote no tables to {tables}; was the store parameter changed between notebooks?")
    data = generated / "data"
    data.mkdir(exist_ok=True)
    rows = []
    for name, what in DOWNLOADS.items():
        if (tables / name).exists():
            shutil.copy2(tables / name, data / name)
            size = (tables / name).stat().st_size
            lines = sum(1 for _ in open(tables / name)) - 1 if name.endswith(".csv") else None
            rows.append(f"| {{download}}`{name} <data/{name}>` | {what} | {'' if lines is None else f'{lines:,}'} | {size / 1024:,.0f} KiB |")
    context = json.loads((tables / "context.json").read_text()) if (tables / "context.json").exists() else {}
    preset = context.get("preset", {})
    page = [
        "# Downloads",
        "",
        "```{include} build_info.md",
        "```",
        "",
        f"The tables behind every figure of this build (preset `{preset.get('name', '?')}`, task {context.get('task', '?')}), "
        "as written by the notebooks. Each CSV is long-form: one row per example, subset, seed or comparison, with the settings "
        "that produced it as columns. Example ids are the row numbers of the task's source training file, so a subset can be "
        "reused with `diet train --subset` after keeping the rows of one selection (and its `example_id` column).",
        "",
        "| file | what it holds | rows | size |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    path = generated / "downloads.md"
    path.write_text("\n".join(page))
    return path


def build_info(contexts) -> str:
    """The box that says what this build ran, for all its tasks (one context each).

    The one for all tasks is included by book/index.md; each task's own goes on its downloads page.
    """
    contexts = list(contexts) if isinstance(contexts, (list, tuple)) else [contexts]
    p = contexts[0].preset
    warning = " Its numbers check that the code runs; they say nothing about the paper's claims." if p.model == "tiny" else ""
    names = ", ".join(c.task.name for c in contexts)
    lines = [
        "```{admonition} This build",
        ":class: note",
        f"Preset `{p.name}`: {p.describe()}.{warning}",
        "",
    ]
    if len(contexts) > 1:
        lines += [f"{len(contexts)} tasks, one part of the book each: {names}.", ""]
    for ctx in contexts:
        q = ctx.preset
        lines += [
            f"{'Task ' if len(contexts) == 1 else ''}**{ctx.task.name}**: {ctx.n_train:,} training and {len(ctx.task.test):,} test examples, {ctx.task.num_labels} classes. "
            f"Model `{q.model}`; fine-tuning for {q.train.epochs:g} epochs, batch {q.train.batch_size}, learning rate {q.train.lr:g}, "
            f"maximum length {q.train.max_length}. Scores averaged over {len(q.score_seeds)} runs, computed at steps "
            f"{', '.join(q.steps)} (final: {q.final_step}); every subset retrained with {len(q.retrain_seeds)} seeds.",
            "",
        ]
    return "\n".join([*lines[:-1], "```", ""])


def verdicts_table(contexts, folders: list[str]) -> str:
    """Markdown table of each claim's verdict per task (from each task's summary_verdicts.csv), for the introduction."""
    frames = {}
    for ctx, folder in zip(contexts, folders):
        path = ctx.tables / "summary_verdicts.csv"
        if not path.exists():
            raise BookError(f"{path} is missing: notebook {FIGURES['6'].notebook}.ipynb did not write it for task {ctx.task.name}")
        frames[(ctx.task.name, folder)] = pd.read_csv(path).set_index("id")
    header = "| claim | " + " | ".join(f"{{doc}}`{name} <{GENERATED}{folder}/{FIGURES['6'].notebook}>`" for name, folder in frames) + " |"
    rows = [header, "|---|" + "---|" * len(frames)]
    for claim_id, (figure, text) in CLAIMS.items():
        cells = []
        for table in frames.values():
            if claim_id in table.index:
                row = table.loc[claim_id]
                rule = f"; {row['rule']}" if "rule" in row and isinstance(row["rule"], str) else ""
                cells.append(f"**{row['verdict']}**: {row['reason']} (ours − baseline: {row['difference']}{rule})")
            else:
                cells.append("not checked")
        rows.append(f"| {claim_id} (figure {figure}): {text} | " + " | ".join(cells) + " |")
    scale = [f"{ctx.task.name}: {ctx.step('1ep')} updates of batch {ctx.preset.train.batch_size}" for ctx in contexts]
    rows += ["", f"\"After one epoch\" is a count of passes, not of updates. One epoch here is {'; '.join(scale)}; "
                 f"on full MNLI at batch 32 (the paper) it is {MNLI_TRAIN // 32:,} updates."]
    return "\n".join(rows) + "\n"


def presets_table() -> str:
    """The presets as a Markdown table, from diet.PRESETS (so the book never disagrees with the code)."""
    rows = ["| preset | tasks | model | train / test | scoring runs | retraining seeds | what it is for |", "|---|---|---|---|---|---|---|"]
    for p in PRESETS.values():
        sizes = f"{p.n_train or 'all'} / {p.n_test or 'all'}"
        rows.append(f"| `{p.name}` | {', '.join(p.book_tasks)} | `{p.model}` | {sizes} | {len(p.score_seeds)} | {len(p.retrain_seeds)} | {p.description} |")
    return "\n".join(rows) + "\n"
