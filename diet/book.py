"""Build the companion book: execute every figure notebook with papermill, then Jupyter Book 1.x.

The committed sources stay untouched: `build_book` copies book/ into OUT/source, executes
notebooks/*.ipynb into OUT/source/_generated/, adds a downloads page with the tables the
notebooks wrote, and builds OUT/html with warnings as errors.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from diet.errors import DietError

NOTEBOOKS = ("01_score_timing", "02_label_balance", "03_preserved_fraction", "04_offset", "05_noisy_examples", "06_summary")
KERNEL = "python3"
ROOT_FILES = ("_config.yml", "_toc.yml")  # at the project root; copied into the book's source folder
DOWNLOADS = {
    "fig1_score_timing.csv": "Figure 1: test accuracy per seed after training on the top-k by each score at each step, random and full data",
    "fig1_scores_mean.csv": "Per-example scores at every scoring step: mean, sd and number of runs (figures 1 and 2)",
    "fig1_kept_ids.csv": "Figure 1: the example ids of every subset trained on",
    "fig2_label_balance.csv": "Figure 2: class shares of each top-k selection, from run-averaged and from single-run scores",
    "fig3_preserved_fraction.csv": "Figure 3: test accuracy per seed against the fraction kept, plain and class-balanced, random and full data",
    "fig3_scores_mean.csv": "Per-example scores at the final step (all scores): mean, sd and number of runs (figures 3 and 4)",
    "fig3_kept_ids.csv": "Figure 3: the example ids of every subset trained on",
    "fig4_offset.csv": "Figure 4: test accuracy per seed after skipping the top k, both readings, random at the same sizes and full data",
    "fig4_kept_ids.csv": "Figure 4: the example ids of every subset trained on",
    "fig5_noisy_labels.csv": "Figure 5: precision and recall of the top-k as a detector of flipped labels; accuracy after removing them",
    "fig5_kept_ids.csv": "Figure 5: the subsets of the noisy training set, and the ids (with their noisy labels) of the flipped examples",
    "top_examples.csv": "The highest-scored training examples with gold and predicted labels",
    "summary_claims.csv": "The results summary: each claim, our numbers, the baseline, the verdict",
    "context.json": "What produced these tables: the preset with all its settings, the task, the training-set fingerprint",
}


class BookError(DietError):
    """The book could not be built: a notebook failed, or Sphinx reported a warning."""


def build_book(
    preset: str = "smoke",
    task: str | None = None,
    out: str | Path = "_build",
    store: str | Path | None = None,
    parameters: dict | None = None,
    project: str | Path | None = None,
) -> Path:
    """Execute the notebooks with `-p preset ...`, build the HTML book, and return its folder (OUT/html).

    `parameters` are further notebook parameters (n_train, seeds, ...). Progress goes to stderr,
    one line per notebook. Raises BookError naming the notebook when one fails or holds an
    error output, and when the Sphinx build reports any warning.
    """
    from diet.experiments import repo_root, run_context, store_root
    from diet.local_files import looks_like_path

    root = Path(project).resolve() if project else repo_root()
    for needed in (*ROOT_FILES, "book", "notebooks"):
        if not (root / needed).exists():
            raise BookError(f"{root / needed} is missing: build_book needs the project folder (with _config.yml, _toc.yml, book/, notebooks/); pass project=")
    out = Path(out).resolve()
    if out == root or out in root.parents:
        raise BookError(f"out={out} would hold the project folder; give a build folder such as {root / '_build'}")
    source = out / "source"
    _remove_previous(source, marker="_toc.yml")
    shutil.copytree(root / "book", source, ignore=shutil.ignore_patterns("_generated", "_build", ".ipynb_checkpoints"))
    for name in ROOT_FILES:  # Jupyter Book wants them inside the source folder
        shutil.copy2(root / name, source / name)
    generated = source / "_generated"
    generated.mkdir()
    if task and looks_like_path(task):
        task = str(Path(task).resolve())  # the notebooks run in the project folder
    store_path = store_root(preset, store).resolve()
    if store_path.is_relative_to(root):  # the notebooks run in the project folder: no personal absolute paths in the book
        store_path = store_path.relative_to(root)
    params = {"preset": preset, "task": task, "store": str(store_path), **(parameters or {})}
    params = {k: v for k, v in params.items() if v is not None}
    started = time.perf_counter()
    for name in NOTEBOOKS:
        execute(root / "notebooks" / f"{name}.ipynb", generated / f"{name}.ipynb", params, cwd=root)
    executed = time.perf_counter() - started
    ctx = run_context(**{**params, "store": str(root / params["store"])})  # this process may run elsewhere
    write_downloads(ctx.tables, generated)
    (generated / "build_info.md").write_text(build_info(ctx))
    (generated / "presets.md").write_text(presets_table())
    started = time.perf_counter()
    html = sphinx_build(source, out)
    print(f"[book] jupyter-book: {time.perf_counter() - started:.1f} s (notebooks: {executed:.1f} s); open {html / 'index.html'}", file=sys.stderr)
    return html


def execute(notebook: Path, output: Path, params: dict, cwd: Path) -> None:
    """Run one notebook with papermill; fail with its name if a cell raises or leaves an error output."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    env = {"PYTHONWARNINGS": "ignore:IProgress not found"}  # tqdm.auto without ipywidgets; progress bars are off anyway
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=params, kernel_name=KERNEL, cwd=str(cwd), progress_bar=False)
    except PapermillExecutionError as error:
        raise BookError(f"notebook {notebook.name} failed in cell {error.exec_count}: {error.ename}: {error.evalue}. The executed copy, with the traceback, is {output}") from None
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    errors = error_outputs(output)
    if errors:
        raise BookError(f"notebook {notebook.name} holds {len(errors)} error outputs (first: {errors[0]}); see {output}")
    print(f"[book] {notebook.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def error_outputs(notebook: Path) -> list[str]:
    """'ename: evalue' of every error output in an executed notebook."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


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


def build_info(ctx) -> str:
    """The box on the introduction page that says what this build ran (included by book/index.md)."""
    p = ctx.preset
    warning = " Its numbers check that the code runs; they say nothing about the paper's claims." if p.model == "tiny" else ""
    return "\n".join([
        "```{admonition} This build",
        ":class: note",
        f"Preset `{p.name}`: {p.description}.{warning}",
        f"Task {ctx.task.name}: {ctx.n_train:,} training and {len(ctx.task.test):,} test examples, {ctx.task.num_labels} classes. "
        f"Model `{p.model}`; fine-tuning for {p.train.epochs:g} epochs, batch {p.train.batch_size}, learning rate {p.train.lr:g}, "
        f"maximum length {p.train.max_length}. Scores averaged over {len(p.score_seeds)} runs, computed at steps "
        f"{', '.join(p.steps)} (final: {p.final_step}); every subset retrained with {len(p.retrain_seeds)} seeds.",
        "```",
        "",
    ])


def presets_table() -> str:
    """The presets as a Markdown table, from diet.PRESETS (so the book never disagrees with the code)."""
    from diet.presets import PRESETS

    rows = ["| preset | task | model | train / test | scoring runs | retraining seeds | what it is for |", "|---|---|---|---|---|---|---|"]
    for p in PRESETS.values():
        sizes = f"{p.n_train or 'all'} / {p.n_test or 'all'}"
        rows.append(f"| `{p.name}` | {p.task} | `{p.model}` | {sizes} | {len(p.score_seeds)} | {len(p.retrain_seeds)} | {p.description} |")
    return "\n".join(rows) + "\n"


def sphinx_build(source: Path, out: Path) -> Path:
    """Jupyter Book's Sphinx configuration for `source`, then sphinx-build with every warning an error."""
    bin_dir = Path(sys.executable).parent
    jb = shutil.which("jupyter-book", path=str(bin_dir)) or shutil.which("jupyter-book")
    if jb is None:
        raise BookError("jupyter-book is not installed: pip install 'jupyter-book>=1.0.4,<2' (or pip install -e '.[book]')")
    run([jb, "config", "sphinx", str(source)], "jupyter-book config sphinx")
    html = out / "html"
    _remove_previous(html, marker=".buildinfo")
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-n", "--keep-going", "-q", "-d", str(out / "doctrees"), str(source), str(html)]
    run(cmd, "sphinx-build (warnings are errors)")
    return html


def _remove_previous(folder: Path, marker: str) -> None:
    """Delete a folder of an earlier build; refuse to delete anything else that happens to be there."""
    if not folder.exists():
        return
    if not (folder / marker).exists():
        raise BookError(f"{folder} exists but is not from an earlier book build (no {marker}); move it away or choose another out folder")
    shutil.rmtree(folder)


def run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or result.stderr.strip():  # -q: Sphinx prints only warnings and errors
        raise BookError(f"{what} failed (exit {result.returncode}):\n{result.stderr.strip() or result.stdout.strip()}")
