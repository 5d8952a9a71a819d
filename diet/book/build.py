"""Build the companion book: execute every chapter notebook with papermill, then Jupyter Book 1.x.

The committed sources stay untouched: `build_book` copies book/ into OUT/source, executes
notebooks/*.ipynb for each task of the build into OUT/source/_generated/<task folder>/ (and those of
`diet.book.toc.ONCE` once, into OUT/source/_generated/), adds
each task's downloads page with the tables the notebooks wrote, writes the build's _toc.yml
from the committed one (one part per task when there are several), and builds OUT/html with
warnings as errors. The chapters, and which a preset's book has, come from `diet.paper.figures`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from diet.book import BookError
from diet.book.pages import build_info, presets_table, verdicts_table, write_downloads
from diet.book.toc import ONCE, TOC_HEADER, book_toc, point_links_at, task_folders, task_label
from diet.paper.context import Context, repo_root, run_context, store_root
from diet.paper.figures import CHAPTERS, FIGURES
from diet.paper.presets import get_preset
from diet.runs.store import KEEP_OUTDATED_ENV, READONLY_ENV

NOTEBOOKS = tuple(chapter.notebook for chapter in CHAPTERS)
WHICH_SCORE = FIGURES["7"].notebook  # needs training-dynamics runs: left out where the preset has none (`Preset.dynamics`)
SCALE = FIGURES["8"].notebook  # compares the real-data presets' stores (diet.paper.presets.SCALE_PRESETS): only in their books
LARGEST_CPU_FIRST = ("cpu-2k", "cpu")  # `diet book` without --preset renders the first whose store holds every run
KERNEL = "python3"
# The kernel's own log only says that it runs over local TCP without encryption, and that the interrupt
# jupyter_client sends before every shutdown was caught; errors in cells still come back as error outputs.
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]
ROOT_FILES = ("_config.yml", "_toc.yml")  # at the project root; _config.yml is copied into the book's source folder, _toc.yml is its template


def announce_cost(preset: str, task: str, store: str, parameters: dict | None = None) -> None:
    """Say on stderr how many fine-tunings the book still needs for `task`, and about how long they take."""
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
    from diet.data.local_files import looks_like_path

    root = Path(project).resolve() if project else repo_root()
    out = _check_folders(root, Path(out).resolve())
    tasks = [task] if task else list(get_preset(preset).book_tasks)
    tasks = [str(Path(t).resolve()) if looks_like_path(t) else t for t in tasks]  # the notebooks run in the project folder
    folders = task_folders(tasks)
    source = _copy_sources(root, out, preset, tasks, folders)
    store_path = store_root(preset, store).resolve()
    if store_path.is_relative_to(root):  # the notebooks run in the project folder: no personal absolute paths in the book
        store_path = store_path.relative_to(root)
    if compute:
        for name in tasks:
            announce_cost(preset, name, str(root / store_path), parameters)
    generated, contexts = source / "_generated", []
    started = time.perf_counter()
    for name, folder in zip(tasks, folders):
        params = {k: v for k, v in {"preset": preset, "task": name, "store": str(store_path), **(parameters or {})}.items() if v is not None}
        contexts.append(_execute_chapters(root, generated / folder, params, compute))
    for notebook in ONCE:  # pages of their own (a tiny training of their own, no store): once, not per task
        execute(root / "notebooks" / f"{notebook}.ipynb", generated / f"{notebook}.ipynb", {}, cwd=root, compute=compute)
    executed = time.perf_counter() - started
    (generated / "build_info.md").write_text(build_info(contexts))
    (generated / "verdicts.md").write_text(verdicts_table(contexts, folders))
    (generated / "presets.md").write_text(presets_table())
    started = time.perf_counter()
    html = sphinx_build(source, out)
    print(f"[book] jupyter-book: {time.perf_counter() - started:.1f} s (notebooks: {executed:.1f} s); open {html / 'index.html'}", file=sys.stderr)
    return html


def _check_folders(root: Path, out: Path) -> Path:
    """`out`, once the project folder holds what a build needs and `out` does not hold the project."""
    for needed in (*ROOT_FILES, "book", "notebooks"):
        if not (root / needed).exists():
            raise BookError(f"{root / needed} is missing: build_book needs the project folder (with _config.yml, _toc.yml, book/, notebooks/); pass project=")
    if out == root or out in root.parents:
        raise BookError(f"out={out} would hold the project folder; give a build folder such as {root / '_build'}")
    return out


def _copy_sources(root: Path, out: Path, preset: str, tasks: list[str], folders: list[str]) -> Path:
    """OUT/source: the committed book/ and _config.yml, this build's _toc.yml, and an empty _generated/ folder."""
    import yaml  # Jupyter Book's dependency, like papermill's

    source = out / "source"
    _remove_previous(source, marker="_toc.yml")
    shutil.copytree(root / "book", source, ignore=shutil.ignore_patterns("_generated", "_build", ".ipynb_checkpoints"))
    shutil.copy2(root / "_config.yml", source / "_config.yml")  # Jupyter Book wants it inside the source folder
    template = yaml.safe_load((root / "_toc.yml").read_text())
    toc = book_toc(template, folders, [task_label(t) for t in tasks], leave_out=set(NOTEBOOKS) - set(chapters(preset)))
    (source / "_toc.yml").write_text(TOC_HEADER + yaml.safe_dump(toc, sort_keys=False))
    point_links_at(source / "index.md", folders[0])
    (source / "_generated").mkdir()
    return source


def _execute_chapters(root: Path, folder: Path, params: dict, compute: bool) -> Context:
    """Execute a preset's chapters for one task into `folder`, with its downloads page and build box; the task's context."""
    folder.mkdir()
    for notebook in chapters(params["preset"]):
        execute(root / "notebooks" / f"{notebook}.ipynb", folder / f"{notebook}.ipynb", params, cwd=root, task=task_label(params["task"]), compute=compute)
    ctx = run_context(**{**params, "store": str(root / params["store"])})  # this process may run elsewhere
    write_downloads(ctx.tables, folder)
    (folder / "build_info.md").write_text(build_info([ctx]))
    return ctx


def chapters(preset: str) -> tuple[str, ...]:
    """The notebooks a build executes: the chapters a preset's book has (`Figure.shown`): all, less "Which score?" where
    the preset leaves out training dynamics, less "Verdicts and scale" for presets other than the real-data ones it compares."""
    p = get_preset(preset)
    return tuple(chapter.notebook for chapter in CHAPTERS if chapter.shown(p))


def default_preset(tasks: list[str] | None = None) -> tuple[str, str]:
    """The preset `diet book` renders when none is named: the largest CPU preset (LARGEST_CPU_FIRST) whose
    store holds every run of its book's tasks (or of `tasks`), else the last; and a line saying why."""
    from diet.grid.plan import make_plan

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
