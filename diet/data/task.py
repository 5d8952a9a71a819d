"""A task (train and test splits with label names), the registry of named tasks, and split checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from diet.data.splits import Split
from diet.errors import DietError


@dataclass(frozen=True)
class Task:
    """A classification task: train and test splits plus the names of its labels."""

    name: str
    train: Split
    test: Split
    label_names: tuple[str, ...]
    source: str = ""

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def is_pair(self) -> bool:
        return self.train.is_pair

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.train):,} train / {len(self.test):,} test, "
            f"{self.num_labels} labels ({', '.join(self.label_names)}), "
            f"{'sentence pairs' if self.is_pair else 'single texts'}; {self.source}"
        )


TaskLoader = Callable[[Path | None], Task]
TASKS: dict[str, TaskLoader] = {}


def register_task(name: str) -> Callable[[TaskLoader], TaskLoader]:
    """Register a loader `f(mirror_dir or None) -> Task` under a name."""

    def wrap(fn: TaskLoader) -> TaskLoader:
        TASKS[name] = fn
        return fn

    return wrap


def check_labels(split: Split, num_labels: int, where: str) -> None:
    """Refuse empty splits and labels outside 0..num_labels-1."""
    if len(split) == 0:
        raise DietError(f"{where} is empty: it needs at least one example")
    bad = split.labels[(split.labels < 0) | (split.labels >= num_labels)]
    if len(bad):
        raise DietError(f"{where} has labels outside 0..{num_labels - 1}: {sorted(set(bad.tolist()))[:5]}; fix the label column or the label names")


def make_split(text, labels, text_pair=None, ids=None) -> Split:
    labels = np.asarray(labels, dtype=np.int64)
    return Split(
        text=tuple(text),
        labels=labels,
        ids=np.arange(len(labels), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64),
        text_pair=None if text_pair is None else tuple(text_pair),
    )
