"""Label noise: flip a seeded fraction of a task's training labels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diet.errors import DietError
from diet.data.splits import Split
from diet.data.task import Task


def flip_labels(task: Task, fraction: float, seed: int = 0) -> tuple[Task, np.ndarray]:
    """A copy of `task` with round(fraction * n) training labels changed to another class.

    Each flipped example gets a different class drawn uniformly from the other classes; the
    test split is untouched. Returns the noisy task and the sorted ids of the flipped examples.
    """
    if not 0.0 <= fraction < 1.0:
        raise DietError(f"noise is the fraction of training labels to flip, in [0, 1), got {fraction}")
    if task.num_labels < 2:
        raise DietError(f"flipping labels needs at least 2 classes; {task.name} has {task.num_labels}")
    train = task.train
    n_flip = round(fraction * len(train))
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(len(train), size=n_flip, replace=False))
    labels = train.labels.copy()
    shift = rng.integers(1, task.num_labels, size=n_flip)  # 1..K-1: never the original class
    labels[positions] = (labels[positions] + shift) % task.num_labels
    noisy = Split(text=train.text, labels=labels, ids=train.ids, text_pair=train.text_pair)
    name = f"{task.name}+noise{fraction:g}"
    source = f"{task.source}; {n_flip} training labels flipped (seed {seed})"
    return replace(task, name=name, train=noisy, source=source), np.sort(train.ids[positions])
