"""From notebook parameters to a run context: the effective preset, the task, the store, the tables folder."""

from __future__ import annotations

import json
import os
import re
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.data.fingerprint import split_fingerprint
from diet.paper.evidence import Evidence
from diet.paper.presets import Preset, get_preset
from diet.runs.retraining import retrain
from diet.scores.table import ScoresTable
from diet.runs.scoring import score
from diet.model.steps import resolve_step
from diet.runs.store import STORE_ENV, Store, config_key
from diet.files import read_table, write_json, write_table
from diet.data.tasks import load_task
from diet.data.task import Task
from diet.stats.one_class import majority_rate

RANDOM = "random"
FULL = "full data"
ORACLE = "flipped removed (oracle)"


@dataclass(frozen=True)
class Subset:
    """A training subset to retrain on: its labels (the result table's columns) and the ids each retraining seed trains on (None: all)."""

    meta: dict
    ids: dict[int, np.ndarray | None]

    @classmethod
    def same(cls, meta: dict, ids: np.ndarray | None, seeds) -> "Subset":
        """A subset that every one of `seeds` trains on."""
        return cls(meta, {int(seed): ids for seed in seeds})

    @property
    def label(self) -> str:
        """How a progress line names it: its "selection" label where it has one, else all its labels."""
        return str(self.meta.get("selection", self.meta))


@dataclass(frozen=True)
class Context:
    """What every experiment needs: the effective preset, the loaded task, the store and the tables folder."""

    preset: Preset
    task: Task
    store: Store
    tables: Path
    progress: bool = False
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_train(self) -> int:
        return len(self.task.train)

    @property
    def majority(self) -> float:
        """The test set's majority-class rate: the accuracy of a model that predicts one class."""
        return majority_rate(self.task.test.labels, self.task.num_labels)

    def step(self, spec: str) -> int:
        return resolve_step(spec, self.n_train, self.preset.train.batch_size)

    def evidence(self, *tables: pd.DataFrame) -> Evidence:
        """The stored test predictions behind the accuracy rows of `tables` (`diet.paper.evidence`)."""
        return Evidence.of(self.store, self.task.test.labels, tables)

    def scores(self, names, steps, task: Task | None = None) -> ScoresTable:
        """Scores of `task` (default: the context's), averaged later; computed once, then loaded."""
        task = task or self.task
        key = (task.name, tuple(names), tuple(steps))
        if key not in self._cache:
            p = self.preset
            self._cache[key] = score(task, p.model, p.score_seeds, list(steps), list(names), p.train, self.store, p.grand_method, self.progress,
                                     dynamics_per_epoch=p.dynamics_per_epoch)
        return self._cache[key]

    def records(self, task: Task | None = None) -> pd.DataFrame:
        """Training-dynamics records of `task` (default: the context's) up to the final step, one run per scoring seed."""
        from diet.runs.dynamics import records

        task = task or self.task
        key = ("records", task.name)
        if key not in self._cache:
            p = self.preset
            self._cache[key] = records(task, p.model, p.score_seeds, [self.step(p.final_step)], p.train, self.store, p.dynamics_per_epoch, self.progress)
        return self._cache[key]

    def timing_scores(self) -> ScoresTable:
        """preset.timing_scores at every step in preset.steps (figures 1 and 2)."""
        return self.scores(self.preset.timing_scores, self.preset.steps)

    def final_scores(self) -> ScoresTable:
        """preset.scores at preset.final_step (figures 3-5); reuses the timing runs when they hold them."""
        p = self.preset
        final = self.step(p.final_step)
        if set(p.scores) <= set(p.timing_scores) and final in {self.step(s) for s in p.steps}:
            return self.timing_scores()
        return self.scores(p.scores, (p.final_step,))

    def retrain(self, subsets: list[Subset], task: Task | None = None) -> pd.DataFrame:
        """Test accuracy (and the run's wall seconds) per seed for each subset, with the subset's labels as columns."""
        task, p = task or self.task, self.preset
        frame = pd.concat([retrain(task, p.model, ids, [seed], p.train, self.store, self.progress, label=s.label).assign(**s.meta)
                           for s in subsets for seed, ids in s.ids.items()], ignore_index=True)
        first = list(subsets[0].meta)
        return frame[first + [c for c in frame.columns if c not in first]]

    def save(self, frame: pd.DataFrame, name: str) -> Path:
        """Write a tidy table as <tables>/<name>.csv, with context.json (what produced it) beside it.

        tables.json records which context wrote each table, so `load` never mixes runs.
        """
        path = self.tables / f"{name}.csv"
        write_table(path, frame)
        write_json(self.tables / "context.json", self.describe_dict())
        manifest = self.tables / "tables.json"
        written = json.loads(manifest.read_text()) if manifest.exists() else {}
        write_json(manifest, {**written, name: self.tables_key()})
        return path

    def load(self, name: str, notebook: str) -> pd.DataFrame:
        """A table saved by `notebook` with this same context; refuses a missing one or one from another run."""
        path, manifest = self.tables / f"{name}.csv", self.tables / "tables.json"
        rerun = f"run notebooks/{notebook} with the same parameters first (or build the whole book with `diet book`)"
        if not path.exists():
            raise DietError(f"{path} is missing: {rerun}")
        written = json.loads(manifest.read_text()) if manifest.exists() else {}
        if written.get(name) != self.tables_key():
            raise DietError(f"{path} was written by a run with other parameters (preset, sizes, seeds or data): {rerun}")
        return read_table(path)

    def describe(self) -> str:
        """A few lines for the top of a notebook: preset, task, where results go."""
        p = self.preset
        lines = [
            f"preset {p.name}: {p.describe()}",
            f"task {self.task.describe()}",
            f"model {p.model}; scoring runs (seeds) {list(p.score_seeds)}; retraining seeds {list(p.retrain_seeds)}; scoring steps {list(p.steps)}, final {p.final_step}",
            f"fine-tuning {p.train.describe()}",
            f"store {_short(self.store.root)}; tables {_short(self.tables)}",
        ]
        return "\n".join(textwrap.fill(line, 80, subsequent_indent="    ") for line in lines)

    def tables_key(self) -> str:
        """What a saved table must have been made with: everything in describe_dict but where the store lies."""
        return config_key({k: v for k, v in self.describe_dict().items() if k != "store"})

    def describe_dict(self) -> dict:
        # the preset with TrainConfig.to_dict(), which leaves out fields added after tables were committed while at their defaults
        preset = {**self.preset.to_dict(), "train": self.preset.train.to_dict()}
        return {"preset": preset, "task": self.task.describe(), "train_fingerprint": split_fingerprint(self.task.train), "store": str(self.store.root)}

    def caption(self) -> str:
        """The facts a figure caption needs: task, model, sizes, seeds."""
        p = self.preset
        return (
            f"Task {self.task.name} ({self.n_train:,} train / {len(self.task.test):,} test examples, {self.task.num_labels} classes), "
            f"model {p.model}, preset {p.name!r}; scores averaged over {len(p.score_seeds)} fine-tuning runs "
            f"(seeds {', '.join(map(str, p.score_seeds))}); each subset retrained with seeds {', '.join(map(str, p.retrain_seeds))}."
        )


def _short(path: Path) -> str:
    """A path relative to the working folder when it lies under it (no personal absolute paths in outputs)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def repo_root(start: Path | None = None) -> Path:
    """The project folder (holding pyproject.toml and _toc.yml) above `start` or the working folder; else the working folder."""
    for base in (Path(start or Path.cwd()).resolve(), Path(__file__).resolve().parent):
        for folder in (base, *base.parents):
            if (folder / "pyproject.toml").exists() and (folder / "_toc.yml").exists():
                return folder
    return Path.cwd()


def store_root(preset: str, store: str | Path | None = None) -> Path:
    """`store` if given, else $DIET_STORE, else results/<preset> under the project folder."""
    if store:
        return Path(store)
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV])
    return repo_root() / "results" / preset


def run_context(
    preset: str | Preset = "smoke",
    task: str | None = None,
    model: str | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    seeds=None,
    retrain_seeds=None,
    fractions=None,
    steps=None,
    store: str | Path | None = None,
    task_options: dict | None = None,
    progress: bool = False,
    threads: int | None = None,
    **overrides,
) -> Context:
    """Notebook parameters -> Context. None means "the preset's value"; `seeds` are the scoring runs' seeds.

    `task_options` go to `load_task` for a task of your own files (text_column, pair_column,
    label_column, ...); other keyword arguments override preset fields (e.g. offsets=[0, 0.1]).

    `threads` sets torch's CPU threads; by default 1 for the tiny smoke model, whose small
    matrices run slower (much slower on a busy machine) when split over threads.
    """
    import torch

    base = get_preset(preset)
    p = base.with_overrides(task=task, model=model, n_train=n_train, n_test=n_test, score_seeds=seeds,
                            retrain_seeds=retrain_seeds, fractions=fractions, steps=steps, **overrides)
    if threads or p.model == "tiny":
        torch.set_num_threads(threads or 1)
    loaded = load_task(p.task, p.n_train, p.n_test, p.data_seed, **(task_options or {}))
    root = store_root(base.name, store)
    folder = re.sub(r"[^A-Za-z0-9_.+-]+", "_", loaded.name)
    reference = base.with_overrides(task=p.task)
    if p != reference:  # non-default sizes, model or seeds: keep their tables apart
        changed = {k: v for k, v in asdict(p).items() if v != asdict(reference)[k]}
        folder += "-" + config_key(changed)[:8]
    if (task_options or {}).get("drop_overlap"):  # another test split: its tables beside, not over, the full one's
        folder += "-no-overlap"
    return Context(p, loaded, Store(root), root / folder, progress)
