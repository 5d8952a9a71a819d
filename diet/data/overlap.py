"""Train/test overlap: test examples whose text (or text pair) also occurs in training, found, reported and dropped."""

from __future__ import annotations

import numpy as np

from diet.data.splits import Split
from diet.data.task import Task

DROP_FIX = "--drop-overlap removes them from the test split (drop_overlap=True in Python)"


def example_keys(split: Split) -> list:
    """What makes two examples the same: the text, or the (text, second text) pair."""
    return list(split.text) if not split.is_pair else list(zip(split.text, split.text_pair))


def overlap_positions(keys, others) -> np.ndarray:
    """Positions in `keys` whose value also occurs in `others`."""
    seen = set(others)
    return np.asarray([i for i, key in enumerate(keys) if key in seen], dtype=np.int64)


def overlap_in_test(task: Task) -> np.ndarray:
    """Positions of the test examples that also occur in the training split."""
    return overlap_positions(example_keys(task.test), example_keys(task.train))


def overlap_message(n: int) -> str:
    """The one line every command that trains or evaluates prints for `n` overlapping test texts."""
    return f"{n:,} test texts also occur in training: test accuracy overstates what the model learned; {DROP_FIX}"


def drop_test_overlap(task: Task) -> Task:
    """The task with the test examples that also occur in training removed."""
    drop = overlap_in_test(task)
    if not len(drop):
        return task
    keep = np.setdiff1d(np.arange(len(task.test)), drop)
    source = f"{task.source}; {len(drop):,} test texts also in training dropped"
    return Task(task.name, task.train, task.test.take(keep), task.label_names, source)
