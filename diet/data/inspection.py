"""`diet tasks PATH`: what diet would train on (sizes, classes, the test split, text lengths) and the problems found."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np

from diet.stats.one_class import class_shares
from diet.data.overlap import overlap_in_test, overlap_message
from diet.data.task import Task

FEW_PER_CLASS = 5  # fewer training examples than this in a class: the models can hardly learn it
PERCENTILES = (50, 90, 99)


@contextmanager
def quiet_tokenizer():
    """Silence the tokenizer's warnings (transformers' logging) while measuring untruncated lengths."""
    logger = logging.getLogger("transformers.tokenization_utils_base")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def class_counts(labels, names) -> str:
    """'neg 120 (40%), pos 180 (60%)'."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(names))
    total = max(1, int(counts.sum()))
    return ", ".join(f"{name} {n:,} ({n / total:.0%})" for name, n in zip(names, counts))


def text_lengths(task: Task, tokenizer=None, model: str | None = None) -> tuple[str, np.ndarray]:
    """(unit, lengths of the training texts): tokens of `tokenizer` (pairs: both texts), else characters."""
    split = task.train
    if tokenizer is not None:
        pairs = (list(split.text), list(split.text_pair)) if split.is_pair else (list(split.text),)
        with quiet_tokenizer():  # no "Token indices sequence length is longer than ..." line: the report says it better
            ids = tokenizer(*pairs, add_special_tokens=True, truncation=False)["input_ids"]
        return f"tokens of the {model or 'model'} tokenizer, special tokens included", np.asarray([len(i) for i in ids])
    texts = list(split.text) if not split.is_pair else [f"{a} {b}" for a, b in zip(split.text, split.text_pair)]
    return "characters (no tokenizer available offline)", np.asarray([len(t) for t in texts])


def problems(task: Task, max_length: int | None = None, lengths: np.ndarray | None = None, token_unit: bool = False) -> list[str]:
    """What may spoil a run on this task (errors that stop it are raised by load_task before this)."""
    found = []
    train = np.bincount(task.train.labels, minlength=task.num_labels)
    test = np.bincount(task.test.labels, minlength=task.num_labels)
    for name, n_train, n_test in zip(task.label_names, train, test):
        if n_train == 0:
            found.append(f"class {name!r} has no training example (declared by --label-names): the models cannot learn it")
        elif n_train < FEW_PER_CLASS:
            found.append(f"class {name!r} has only {n_train} training examples: too few to learn it; add examples or merge classes")
        if n_test == 0:
            found.append(f"class {name!r} has no test example: its accuracy is never measured")
    if len(task.test) < 50:
        found.append(f"the test split has {len(task.test)} examples: one example moves accuracy by {1 / len(task.test):.1%}, so most differences will be noise")
    overlap = len(overlap_in_test(task))
    if overlap:
        found.append(overlap_message(overlap))
    if token_unit and max_length and lengths is not None and len(lengths):
        cut = float((lengths > max_length).mean())
        if cut > 0.05:
            found.append(f"{cut:.0%} of the training texts are longer than --max-length {max_length} tokens and get truncated")
    return found


def report_lines(task: Task, tokenizer=None, model: str | None = None, max_length: int | None = None) -> list[str]:
    """The lines `diet tasks PATH` prints; text lengths in tokens of `tokenizer` (that of `model`) when given."""
    shares = class_shares(task.test.labels, task.num_labels)
    unit, lengths = text_lengths(task, tokenizer, model)
    pct = np.percentile(lengths, PERCENTILES) if len(lengths) else np.zeros(len(PERCENTILES))
    lines = [
        f"task {task.name}: {task.source}",
        f"  train: {len(task.train):,} examples, {task.num_labels} classes: {class_counts(task.train.labels, task.label_names)}",
        f"  test:  {len(task.test):,} examples: {class_counts(task.test.labels, task.label_names)}",
        f"  a model predicting only the majority class ({task.label_names[int(shares.argmax())]}) scores {shares.max():.4f} on this test split: "
        "accuracies at or below it say nothing",
        f"  {'sentence pairs' if task.is_pair else 'single texts'}; text length in {unit}: "
        + ", ".join(f"p{p} {v:.0f}" for p, v in zip(PERCENTILES, pct)) + f", max {lengths.max() if len(lengths) else 0}",
    ]
    found = problems(task, max_length, lengths, unit.startswith("tokens"))
    lines.append("  problems: none found" if not found else "  problems:")
    lines += [f"    - {p}" for p in found]
    return lines
