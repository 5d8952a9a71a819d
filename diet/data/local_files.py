"""A user's own task from CSV, TSV or JSON-lines files (one file, or a folder with train.* and test.*)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from diet.errors import DietError, line_ranges, warn
from diet.data.splits import stratified_positions
from diet.data.task import Task, check_labels, make_split
from diet.data.text_tables import SUFFIXES, Rows, read_rows

INTEGER = re.compile(r"[+-]?\d+")
LABEL_NAMES_FIX = "declare every class with --label-names (label_names= in Python)"


def looks_like_path(name: str) -> bool:
    """True for names that point at files or folders rather than naming a registered task."""
    return Path(name).suffix.lower() in SUFFIXES or "/" in name and Path(name).exists() or Path(name).is_dir()


def find_split_file(folder: Path, split: str) -> Path | None:
    found = [folder / f"{split}{s}" for s in SUFFIXES if (folder / f"{split}{s}").exists()]
    return found[0] if found else None


def load_file_task(
    path: str,
    seed: int = 0,
    text_column: str = "text",
    pair_column: str | None = None,
    label_column: str = "label",
    test_file: str | None = None,
    test_fraction: float = 0.2,
    label_names: list[str] | None = None,
    encoding: str = "utf-8",
) -> Task:
    """A task from local files; without a test file, a stratified `test_fraction` is held out.

    The classes are the labels present in the training file (or `label_names`, in that order;
    integer labels then index the names). Empty texts and labels are refused with their file lines.
    """
    root = Path(path)
    if root.is_dir():
        train_path = find_split_file(root, "train")
        if train_path is None:
            raise DietError(f"folder {root} has no train file; put train.csv (or .tsv/.jsonl) and test.csv in it")
        test_path = Path(test_file) if test_file else find_split_file(root, "test")
    else:
        train_path, test_path = root, Path(test_file) if test_file else None
    texts = [c for c in (text_column, pair_column) if c]
    train = _read(train_path, texts, label_column, encoding)
    test = _read(test_path, texts, label_column, encoding) if test_path is not None else None
    missing = f"folder {root} has no test.* file" if root.is_dir() else f"{train_path} is a single file"
    source = f"local files {train_path}" + (f" + {test_path}" if test_path else f", {test_fraction:.0%} held out as test")
    name = train_path.stem if not root.is_dir() else root.name
    return rows_task(name, source, train, test, missing, seed, text_column, pair_column, label_column, test_fraction, label_names)


def rows_task(name, source, train: Rows, test: Rows | None, missing: str, seed: int, text_column: str, pair_column: str | None,
              label_column: str, test_fraction: float, label_names) -> Task:
    """A task from checked training (and test) rows; without test rows, a stratified `test_fraction` is held out (`missing` says why)."""
    names, train_y, test_y = encode_labels(train, test, label_column, label_names)
    check_classes(names, train_y, test_y, train.path, test.path if test is not None else None)
    test_path = test.path if test is not None else None
    if test is None:
        held = _hold_out(train, label_column, test_fraction, seed, missing)
        rest = np.setdiff1d(np.arange(len(train)), held)
        train, test, train_y, test_y = train.take(rest), train.take(held), train_y[rest], train_y[held]
    splits = []
    for rows, labels, where in ((train, train_y, f"train ({train.path})"), (test, test_y, f"test ({test_path or 'held out'})")):
        split = make_split(rows.columns[text_column], labels, text_pair=rows.columns[pair_column] if pair_column else None)
        check_labels(split, len(names), where)
        splits.append(split)
    return Task(name, splits[0], splits[1], tuple(names), source)


def check_classes(names, train_y: np.ndarray, test_y: np.ndarray | None, train_path: Path, test_path: Path | None) -> None:
    """Refuse a training file with fewer than two classes, and test classes no training example has (declared names included)."""
    present = sorted(set(train_y.tolist()))
    if len(present) < 2:
        raise DietError(f"{train_path} holds one class ({names[present[0]]!r}) of the {len(names)} declared; a classifier needs training examples of at least two: fix the label column")
    if test_y is not None:
        unseen = sorted(set(test_y.tolist()) - set(present))
        if unseen:
            raise DietError(f"{test_path} has test examples of classes {[names[i] for i in unseen]} that no training example has: "
                            "the models can never learn them; add training examples of them, or drop them from the test file")


def _read(path: Path, texts: list[str], label_column: str, encoding: str) -> Rows:
    """A file's records with its columns checked and its texts as non-empty strings."""
    return check_rows(read_rows(path, encoding), texts, label_column)


def check_rows(rows: Rows, texts: list[str], label_column: str) -> Rows:
    """The records with their columns checked and their texts as non-empty strings."""
    path = rows.path
    if len(rows) == 0:
        raise DietError(f"{path} has no rows: a split needs at least one example")
    for column in (*texts, label_column):
        if column not in rows.columns:
            raise DietError(
                f"{path} has no column {column!r}; columns found: {', '.join(map(str, rows.columns))}. "
                "Name the right ones with text_column=, pair_column=, label_column= (CLI: --text-column, --pair-column, --label-column)"
            )
    for column in (*texts, label_column):
        nested = [line for value, line in zip(rows.columns[column], rows.lines) if isinstance(value, (list, dict))]
        if nested:
            raise DietError(f"{path}: column {column!r} holds JSON lists or objects on file lines {line_ranges(nested)}; it needs plain text (or a label) in every row")
    for column in texts:
        empty = [line for value, line in zip(rows.columns[column], rows.lines) if _is_empty(value)]
        if empty:
            raise DietError(f"{path}: column {column!r} is empty in {len(empty)} rows (file lines {line_ranges(empty)}); fill or drop them")
        rows.columns[column] = [str(value) for value in rows.columns[column]]
    return rows


def _hold_out(train: Rows, label_column: str, fraction: float, seed: int, what: str) -> np.ndarray:
    """Positions of a stratified test sample drawn from the training file, announced on stderr."""
    if not 0.0 < fraction < 1.0:
        raise DietError(f"test_fraction must lie strictly between 0 and 1, got {fraction}")
    if len(train) < 2:
        raise DietError(f"{train.path} has {len(train)} rows; a task needs at least two to hold one out for testing, or a test file (--test-file)")
    n = max(1, round(fraction * len(train)))
    warn(f"{what}: holding out a stratified {fraction:.0%} of {train.path.name} ({n} of {len(train)} rows, seed {seed}) as the test split; pass --test-file to use a test file of your own")
    labels = np.asarray([str(_label_value(v)) for v in train.columns[label_column]])
    return stratified_positions(labels, n, seed)


def encode_labels(train: Rows, test: Rows | None, column: str, names: list[str] | None):
    """(names, train labels, test labels) as class indices; the classes are exactly those present, or `names`."""
    splits = [(rows, _labels(rows, column)) for rows in (train, test) if rows is not None]
    if all(isinstance(v, int) for _, labels in splits for v in labels):
        kind = "integer"
    else:
        kind, splits = "text", [(rows, [str(v) for v in labels]) for rows, labels in splits]
    declared = bool(names)
    if declared:
        names = [str(n).strip() for n in names]
        if "" in names:
            raise DietError(f"label names {names} include an empty name; name every class (--label-names a,b)")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DietError(f"label names {names} repeat {repeated}; give each class once (--label-names a,b)")
        index = {i: i for i in range(len(names))} if kind == "integer" else {n: i for i, n in enumerate(names)}
    else:
        classes = sorted(set(splits[0][1]))
        if len(classes) < 2:
            raise DietError(f"{train.path}: the label column {column!r} holds one class ({classes[0]!r}); a classifier needs at least two, fix the label column")
        names, index = [str(c) for c in classes], {c: i for i, c in enumerate(classes)}
    for rows, labels in splits:
        unknown = [(v, line) for v, line in zip(labels, rows.lines) if v not in index]
        if unknown:
            found = sorted({v for v, _ in unknown}, key=str)[:5]
            if declared:
                what = f"labels outside 0..{len(names) - 1}: {found} (integer labels index the label names)" if kind == "integer" else f"labels {found} that are not in the label set {names}"
            else:
                what = f"labels {found} that never occur in the training file {train.path} (classes {names})"
            raise DietError(f"{rows.path} has {what}, on file lines {line_ranges([line for _, line in unknown])}; fix the label column or {LABEL_NAMES_FIX}")
    if len(names) < 2:
        raise DietError(f"label names {names}: a classifier needs at least two classes; declare them all (--label-names a,b)")
    encoded = [np.asarray([index[v] for v in labels], dtype=np.int64) for _, labels in splits]
    return names, encoded[0], encoded[1] if len(encoded) > 1 else None


def _labels(rows: Rows, column: str) -> list:
    """The label column as ints (whole numbers) or stripped strings; empty and fractional labels are refused."""
    values = rows.columns[column]
    empty = [line for value, line in zip(values, rows.lines) if _is_empty(value)]
    if empty:
        raise DietError(f"{rows.path}: the label column {column!r} is empty in {len(empty)} rows (file lines {line_ranges(empty)}); give every example a label, or drop those rows")
    labels = [_label_value(v) for v in values]
    fractional = [(v, line) for v, line in zip(labels, rows.lines) if isinstance(v, float)]
    if fractional:
        raise DietError(
            f"{rows.path}: the label column {column!r} holds fractional numbers (file line {fractional[0][1]}: {fractional[0][0]}); "
            "labels are classes (names or whole numbers): map a numeric target to classes first"
        )
    return labels


def _label_value(value):
    """An int for whole numbers (1, 1.0, "1"), a float for other numbers, else the stripped text."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    text = str(value).strip()
    if INTEGER.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number if math.isfinite(number) else text


def _is_empty(value) -> bool:
    return value is None or isinstance(value, float) and math.isnan(value) or isinstance(value, str) and not value.strip()
