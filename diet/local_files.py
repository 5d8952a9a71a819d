"""A user's own task from CSV, TSV or JSON-lines files (one file, or a folder with train.* and test.*)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.splits import stratified_positions
from diet.tasks import Task, check_labels, make_split

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")


def looks_like_path(name: str) -> bool:
    """True for names that point at files or folders rather than naming a registered task."""
    return Path(name).suffix.lower() in SUFFIXES or "/" in name and Path(name).exists() or Path(name).is_dir()


def read_table(path: Path) -> pd.DataFrame:
    """A data frame from a CSV, TSV or JSON-lines file."""
    if not path.exists():
        raise DietError(f"task file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, keep_default_na=False)
    if suffix == ".tsv":
        return pd.read_csv(path, sep="\t", keep_default_na=False, quoting=3)
    if suffix in (".jsonl", ".json"):
        return pd.read_json(path, lines=True)
    raise DietError(f"task file {path} has suffix {suffix!r}; use one of {', '.join(SUFFIXES)}")


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
) -> Task:
    """A task from local files; without a test file, a stratified `test_fraction` is held out."""
    root = Path(path)
    if root.is_dir():
        train_path = find_split_file(root, "train")
        if train_path is None:
            raise DietError(f"folder {root} has no train file; put train.csv (or .tsv/.jsonl) and test.csv in it")
        found_test = find_split_file(root, "test")
        test_path = Path(test_file) if test_file else found_test
    else:
        train_path, test_path = root, Path(test_file) if test_file else None
    columns = (text_column, pair_column, label_column)
    train = read_table(train_path)
    _check_columns(train, columns, train_path)
    if test_path is not None:
        test = read_table(test_path)
        _check_columns(test, columns, test_path)
    else:
        if not 0.0 < test_fraction < 1.0:
            raise DietError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
        if len(train) < 2:
            raise DietError(f"{train_path} has {len(train)} rows; a task needs at least two to hold one out for testing")
        held = stratified_positions(train[label_column].astype(str).to_numpy(), max(1, round(test_fraction * len(train))), seed)
        test = train.iloc[held].reset_index(drop=True)
        train = train.drop(index=train.index[held]).reset_index(drop=True)
    names, train_labels, test_labels = _encode_labels(train[label_column], test[label_column], label_names)
    splits = []
    for frame, labels, where in ((train, train_labels, f"train ({train_path})"), (test, test_labels, f"test ({test_path or 'held out'})")):
        split = make_split(
            _texts(frame, text_column, where),
            labels,
            text_pair=_texts(frame, pair_column, where) if pair_column else None,
        )
        check_labels(split, len(names), where)
        splits.append(split)
    source = f"local files {train_path}" + (f" + {test_path}" if test_path else f", {test_fraction:.0%} held out as test")
    return Task(train_path.stem if not root.is_dir() else root.name, splits[0], splits[1], tuple(names), source)


def _check_columns(frame: pd.DataFrame, columns, path: Path) -> None:
    if len(frame) == 0:
        raise DietError(f"{path} has no rows: a split needs at least one example")
    for column in columns:
        if column is not None and column not in frame.columns:
            raise DietError(
                f"{path} has no column {column!r}; columns found: {', '.join(map(str, frame.columns))}. "
                "Name the right ones with text_column=, pair_column=, label_column= (CLI: --text-column, --pair-column, --label-column)"
            )


def _texts(frame: pd.DataFrame, column: str, where: str) -> list[str]:
    values = frame[column]
    empty = np.flatnonzero(values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy())
    if len(empty):
        raise DietError(f"{where}: column {column!r} is empty in {len(empty)} rows (first rows: {empty[:5].tolist()}); fill or drop them")
    return values.astype(str).tolist()


def _encode_labels(train: pd.Series, test: pd.Series, names: list[str] | None):
    """Integer labels for both splits; integer columns are kept, strings are mapped to sorted names."""
    if pd.api.types.is_integer_dtype(train) and pd.api.types.is_integer_dtype(test):
        count = max(int(train.max()), int(test.max())) + 1
        names = list(names) if names else [str(i) for i in range(count)]
        return names, train.to_numpy(np.int64), test.to_numpy(np.int64)
    train, test = train.astype(str), test.astype(str)
    names = list(names) if names else sorted(set(train))
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted((set(train) | set(test)) - set(index))
    if unknown:
        raise DietError(f"labels {unknown[:5]} are not in the label set {names}; fix the label column or pass label_names")
    return names, train.map(index).to_numpy(np.int64), test.map(index).to_numpy(np.int64)
