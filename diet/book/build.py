"""Build the companion book: execute every figure notebook with papermill, then Jupyter Book 1.x.

The committed sources stay untouched: `build_book` copies book/ into OUT/source, executes
notebooks/*.ipynb for each task of the build into OUT/source/_generated/<task folder>/, adds
each task's downloads page with the tables the notebooks wrote, writes the build's _toc.yml
from the committed one (one part per task when there are several), and builds OUT/html with
warnings as errors.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from diet.errors import DietError
from diet.runs.store import KEEP_OUTDATED_ENV, READONLY_ENV

NOTEBOOKS = ("01_score_timing", "02_label_balance", "03_preserved_fraction", "04_offset", "05_noisy_examples", "06_summary", "07_which_score", "08_scale")
WHICH_SCORE = "07_which_score"  # needs training-dynamics runs: left out where the preset has none (`Preset.dynamics`)
SCALE = "08_scale"  # compares the real-data presets' stores (diet.paper.scale.SCALE_PRESETS): only in their books
LARGEST_CPU_FIRST = ("cpu-2k", "cpu")  # `diet book` without --preset renders the first whose store holds every run
KERNEL = "python3"
# The kernel's own log only says that it runs over local TCP without encryption, and that the interrupt
# jupyter_client sends before every shutdown was caught; errors in cells still come back as error outputs.
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]
ROOT_FILES = ("_config.yml", "_toc.yml")  # at the project root; _config.yml is copied into the book's source folder, _toc.yml is its template
DOWNLOADS = {
    "fig1_score_timing.csv": "Figure 1: test accuracy per seed after training on the top-k by each score at each step, random and full data",
    "fig1_scores_mean.csv": "Per-example scores at every scoring step: mean, sd and number of runs (figures 1 and 2)",
    "fig1_kept_ids.csv": "Figure 1: the example ids of every subset trained on",
    "fig2_label_balance.csv": "Figure 2: class shares of each top-k selection, from run-averaged and from single-run scores",
    "fig3_preserved_fraction.csv": "Figure 3: test accuracy per seed against the fraction kept, plain and class-balanced, random and full data",
    "fig3_scores_mean.csv": "Per-example scores at the final step (all scores): mean, sd and number of runs (figures 3 and 4)",
    "fig3_kept_ids.csv": "Figure 3: the example ids of every subset trained on",
    "fig4_offset.csv": "Figure 4: test accuracy per seed after skipping the top k, each reading the preset runs, random at the same sizes and full data",
    "fig4_kept_ids.csv": "Figure 4: the example ids of every subset trained on",
    "fig5_noisy_labels.csv": "Figure 5: precision and recall of the top-k as a detector of flipped labels; accuracy after removing them",
    "fig5_kept_ids.csv": "Figure 5: the subsets of the noisy training set, and the ids (with their noisy labels) of the flipped examples",
    "top_examples.csv": "The highest-scored training examples with gold and predicted labels",
    "summary_claims.csv": "The results summary: each claim in each setting, our numbers, the baseline, the verdict",
    "summary_verdicts.csv": "The results summary: one verdict per claim, with how its settings came out",
    "fig5_data_map.csv": "Figure 5: the data map of the noisy training set (confidence, variability, correctness, region), flipped examples marked",
    "which_data_map.csv": "Which score?: the data map of the training set, per example",
    "which_scores_mean.csv": "Which score?: every compared score per example (final step, mean over runs; high = hard)",
    "which_correlations.csv": "Which score?: Spearman rank correlation of every two scores",
    "which_overlap.csv": "Which score?: Jaccard overlap of the top-k sets of every two scores",
    "which_score.csv": "Which score?: test accuracy per seed after keeping the top-k by each score, plain and class-balanced, random and full data",
    "which_kept_ids.csv": "Which score?: the example ids of every subset trained on",
    "which_flipped_recall.csv": "Which score?: precision and recall of each score's top-k as a detector of flipped labels",
    "which_cost.csv": "Which score?: seconds per scoring run of each score, and as training updates",
    "scale_claims.csv": "Verdicts and scale: every setting of every claim at each training-set size compared (from each preset's store)",
    "scale_verdicts.csv": "Verdicts and scale: one verdict per claim at each training-set size",
    "context.json": "What produced these tables: the preset with all its settings, the task, the training-set fingerprint",
}


class BookError(DietError):
    """The book could not be built: a notebook failed, or Sphinx reported a warning."""


def announce_cost(preset: str, task: str, store: str, parameters: dict | None = None) -> None:
    """Say on stderr how many fine-tunings the book still needs for `task`, and about how long they take."""
    from diet.paper.experiments import run_context
    from diet.grid.plan import check_can_compute, make_plan

    ctx = run_context(**{"preset": preset, "task": task, "store": store, **{k: v for k, v in (parameters or {}).items() if v is not None}})
    plan = make_plan(ctx)
    check_can_compute(ctx, plan)
    left = plan.unstored
    if left:
        print(f"{task_label(task)}: {left} of {len(plan.done) + len(plan.ready) + len(plan.blocked)} fine-tuning runs still to compute, about "
              f"{plan.estimate_seconds(outdated=False) / 60:.0f} core-minutes (an estimate; `diet precompute --workers N` runs them in parallel)",
              file=sys.stderr, flush=True)


def build_book(
    preset: str = "cpu",
    task: str | None = None,
    out: str | Path = "_build",
    store: str | Path | None = None,
    parameters: dict | None = None,
    project: str | Path | None = None,
    compute: bool = True,
) -> Path:
    """Execute the notebooks with `-p preset ...` for each task, build the HTML book, and return its folder (OUT/html).

    Without `task` the book shows every task of the preset (`Preset.book_tasks`), one part each;
    with `task` it shows that one. Each task's executed notebooks, downloads page and build info go
    to OUT/source/_generated/<task folder>/ (`task_folder`). `parameters` are further notebook
    parameters (n_train, seeds, ...). Progress goes to stderr, one line per notebook. Raises
    BookError naming the notebook and the task when one fails or holds an error output, and when
    the Sphinx build reports any warning. `compute=False` makes the store read-only: the build
    only renders what `diet precompute` (or an earlier build) stored, and fails at once naming
    the first missing run instead of fine-tuning.
    """
    from diet.paper.experiments import repo_root, run_context, store_root
    from diet.data.local_files import looks_like_path
    from diet.paper.presets import get_preset

    root = Path(project).resolve() if project else repo_root()
    for needed in (*ROOT_FILES, "book", "notebooks"):
        if not (root / needed).exists():
            raise BookError(f"{root / needed} is missing: build_book needs the project folder (with _config.yml, _toc.yml, book/, notebooks/); pass project=")
    out = Path(out).resolve()
    if out == root or out in root.parents:
        raise BookError(f"out={out} would hold the project folder; give a build folder such as {root / '_build'}")
    tasks = [task] if task else list(get_preset(preset).book_tasks)
    tasks = [str(Path(t).resolve()) if looks_like_path(t) else t for t in tasks]  # the notebooks run in the project folder
    folders = task_folders(tasks)
    source = out / "source"
    _remove_previous(source, marker="_toc.yml")
    shutil.copytree(root / "book", source, ignore=shutil.ignore_patterns("_generated", "_build", ".ipynb_checkpoints"))
    shutil.copy2(root / "_config.yml", source / "_config.yml")  # Jupyter Book wants it inside the source folder
    import yaml  # Jupyter Book's dependency, like papermill's

    template = yaml.safe_load((root / "_toc.yml").read_text())
    notebooks = chapters(preset)
    toc = book_toc(template, folders, [task_label(t) for t in tasks], leave_out=set(NOTEBOOKS) - set(notebooks))
    (source / "_toc.yml").write_text(TOC_HEADER + yaml.safe_dump(toc, sort_keys=False))
    _point_links_at(source / "index.md", folders[0])
    generated = source / "_generated"
    generated.mkdir()
    store_path = store_root(preset, store).resolve()
    if store_path.is_relative_to(root):  # the notebooks run in the project folder: no personal absolute paths in the book
        store_path = store_path.relative_to(root)
    if compute:
        for name in tasks:
            announce_cost(preset, name, str(root / store_path), parameters)
    contexts = []
    started = time.perf_counter()
    for name, folder in zip(tasks, folders):
        params = {"preset": preset, "task": name, "store": str(store_path), **(parameters or {})}
        params = {k: v for k, v in params.items() if v is not None}
        (generated / folder).mkdir()
        for notebook in notebooks:
            execute(root / "notebooks" / f"{notebook}.ipynb", generated / folder / f"{notebook}.ipynb", params, cwd=root, task=task_label(name), compute=compute)
        ctx = run_context(**{**params, "store": str(root / params["store"])})  # this process may run elsewhere
        write_downloads(ctx.tables, generated / folder)
        (generated / folder / "build_info.md").write_text(build_info([ctx]))
        contexts.append(ctx)
    executed = time.perf_counter() - started
    (generated / "build_info.md").write_text(build_info(contexts))
    (generated / "verdicts.md").write_text(verdicts_table(contexts, folders))
    (generated / "presets.md").write_text(presets_table())
    started = time.perf_counter()
    html = sphinx_build(source, out)
    print(f"[book] jupyter-book: {time.perf_counter() - started:.1f} s (notebooks: {executed:.1f} s); open {html / 'index.html'}", file=sys.stderr)
    return html


MNLI_TRAIN = 392_702  # training pairs of full MNLI (../shared/PAPER.md)
TOC_HEADER = "# Generated by diet.book.build.build_book from the project's _toc.yml; edit that one.\n"
GENERATED = "_generated/"


def task_label(task: str) -> str:
    """How the book names a task: its registered name, or the file or folder name of a task of your own."""
    return Path(task).name if ("/" in task or "\\" in task) else task


def task_folder(task: str) -> str:
    """A filesystem- and Sphinx-safe folder name for a task: its label with other characters as '_'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", task_label(task)).strip("_") or "task"


def task_folders(tasks: list[str]) -> list[str]:
    """`task_folder` of each task, with -2, -3, ... added where two tasks would share a folder."""
    folders: list[str] = []
    for t in tasks:
        base = folder = task_folder(t)
        n = 1
        while folder in folders:
            n += 1
            folder = f"{base}-{n}"
        folders.append(folder)
    return folders


def chapters(preset: str) -> tuple[str, ...]:
    """The notebooks a build executes: all, less "Which score?" where the preset leaves out training dynamics
    (`Preset.dynamics`), less "Verdicts and scale" for presets other than the real-data ones it compares."""
    from diet.paper.presets import get_preset
    from diet.paper.scale import SCALE_PRESETS

    p = get_preset(preset)
    leave_out = {WHICH_SCORE} if not p.dynamics else set()
    leave_out |= {SCALE} if p.name not in SCALE_PRESETS else set()
    return tuple(n for n in NOTEBOOKS if n not in leave_out)


def default_preset(tasks: list[str] | None = None) -> tuple[str, str]:
    """The preset `diet book` renders when none is named: the largest CPU preset (LARGEST_CPU_FIRST) whose
    store holds every run of its book's tasks (or of `tasks`), else the last; and a line saying why."""
    from diet.paper.experiments import run_context
    from diet.grid.plan import make_plan
    from diet.paper.presets import get_preset

    *larger, fallback = LARGEST_CPU_FIRST
    incomplete = []
    for name in larger:
        gaps = []
        for task in tasks or get_preset(name).book_tasks:
            plan = make_plan(run_context(name, task=task))
            if plan.unstored:
                gaps.append(f"{task} {plan.unstored} of {len(plan.done) + len(plan.ready) + len(plan.blocked)} runs")
        if not gaps:
            return name, f"preset {name}: its store holds every run (the largest complete CPU results)"
        incomplete.append(f"the larger {name} is not complete ({', '.join(gaps)} still to compute; `diet precompute --preset {name}` fills it)")
    return fallback, f"preset {fallback}: " + "; ".join(incomplete)


def book_toc(template: dict, folders: list[str], labels: list[str] | None = None, leave_out=()) -> dict:
    """The build's table of contents from the committed one: its generated chapters moved under each task's folder.

    With one task the structure stays the template's (`_generated/x` becomes `_generated/<folder>/x`).
    With several, the parts holding generated chapters are replaced, where the first of them stood,
    by one part per task, captioned "Figures: <label>", holding all those chapters in order.
    Generated chapters named in `leave_out` (notebooks the build does not execute) are dropped.
    """
    labels = labels or folders
    toc = copy.deepcopy(template)
    dropped = {GENERATED + name for name in leave_out}
    for part in toc.get("parts", []):
        part["chapters"] = [c for c in part.get("chapters", []) if c.get("file") not in dropped]
    parts = toc.get("parts", [])

    def generated(part: dict) -> bool:
        return any(str(c.get("file", "")).startswith(GENERATED) for c in part.get("chapters", []))

    def moved(chapters: list[dict], folder: str) -> list[dict]:
        return [{**c, "file": GENERATED + folder + "/" + c["file"][len(GENERATED):]} if str(c.get("file", "")).startswith(GENERATED) else dict(c)
                for c in chapters]

    if len(folders) == 1:
        toc["parts"] = [{**p, "chapters": moved(p["chapters"], folders[0])} if generated(p) else p for p in parts]
        return toc
    chapters = [c for p in parts if generated(p) for c in p["chapters"] if str(c.get("file", "")).startswith(GENERATED)]
    first = next((i for i, p in enumerate(parts) if generated(p)), len(parts))
    per_task = [{"caption": f"Figures: {label}", "chapters": moved(chapters, folder)} for folder, label in zip(folders, labels)]
    toc["parts"] = [p for p in parts[:first] if not generated(p)] + per_task + [p for p in parts[first:] if not generated(p)]
    return toc


def _point_links_at(page: Path, folder: str) -> None:
    """Rewrite a copied page's links to generated chapters (`<_generated/NN_name>`) to the first task's folder."""
    text = page.read_text()
    names = "|".join(re.escape(n) for n in (*NOTEBOOKS, "downloads"))
    page.write_text(re.sub(rf"<{GENERATED}({names})>", rf"<{GENERATED}{folder}/\1>", text))


def execute(notebook: Path, output: Path, params: dict, cwd: Path, task: str | None = None, compute: bool = True) -> None:
    """Run one notebook with papermill; fail with its name (and the task) if a cell raises or leaves an error output."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    which = f"notebook {notebook.name}" + (f" (task {task})" if task else "")
    started = time.perf_counter()
    # tqdm.auto without ipywidgets; progress bars are off anyway. Runs stored without test predictions render as they
    # are (their verdicts by the seed rule, said so); `diet precompute` is what recomputes them.
    env = {"PYTHONWARNINGS": "ignore:IProgress not found", KEEP_OUTDATED_ENV: "1"}
    if not compute:
        env[READONLY_ENV] = "1"  # the kernel inherits it: its stores load and never fine-tune
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=params, kernel_name=KERNEL, cwd=str(cwd), progress_bar=False,
                                   extra_arguments=KERNEL_ARGS)
    except PapermillExecutionError as error:
        raise BookError(f"{which} failed in cell {error.exec_count}: {error.ename}: {error.evalue}. The executed copy, with the traceback, is {output}") from None
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    errors = error_outputs(output)
    if errors:
        raise BookError(f"{which} holds {len(errors)} error outputs (first: {errors[0]}); see {output}")
    print(f"[book] {task + ': ' if task else ''}{notebook.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


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
    import pandas as pd

    from diet.paper.claims import CLAIMS

    frames = {}
    for ctx, folder in zip(contexts, folders):
        path = ctx.tables / "summary_verdicts.csv"
        if not path.exists():
            raise BookError(f"{path} is missing: notebook 06_summary.ipynb did not write it for task {ctx.task.name}")
        frames[(ctx.task.name, folder)] = pd.read_csv(path).set_index("id")
    header = "| claim | " + " | ".join(f"{{doc}}`{name} <{GENERATED}{folder}/06_summary>`" for name, folder in frames) + " |"
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
    from diet.paper.presets import PRESETS

    rows = ["| preset | tasks | model | train / test | scoring runs | retraining seeds | what it is for |", "|---|---|---|---|---|---|---|"]
    for p in PRESETS.values():
        sizes = f"{p.n_train or 'all'} / {p.n_test or 'all'}"
        rows.append(f"| `{p.name}` | {', '.join(p.book_tasks)} | `{p.model}` | {sizes} | {len(p.score_seeds)} | {len(p.retrain_seeds)} | {p.description} |")
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
