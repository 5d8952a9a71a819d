"""Subset files: the example ids `diet prune` writes (CSV or parquet) and the .json beside them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from diet.errors import DietError, line_ranges
from diet.files import read_parquet

ID_COLUMN = "example_id"
INTEGER = re.compile(r"\s*[+-]?\d+\s*")


def read_subset(path: str | Path) -> tuple[np.ndarray, dict]:
    """The example ids of a subset file, and what its .json says about how it was made ({} when absent)."""
    path = Path(path)
    fix = f"make one with `diet prune --out {path}`"
    if not path.exists():
        raise DietError(f"subset file {path} does not exist; {fix}")
    if not path.is_file():
        raise DietError(f"subset {path} is not a file; name the .csv or .parquet file `diet prune --out` wrote")
    values, lines = _parquet_ids(path) if path.suffix.lower() == ".parquet" else _csv_ids(path)
    if len(values) == 0:
        raise DietError(f"subset file {path} lists no example ids; {fix} with a larger --keep")
    bad = [line for value, line in zip(values, lines) if not INTEGER.fullmatch(value)]
    if bad:
        raise DietError(f"subset file {path}: {len(bad)} example ids are not whole numbers ({_where(path, bad)}); the {ID_COLUMN} column holds the ids `diet prune` wrote")
    huge = [line for value, line in zip(values, lines) if abs(int(value)) >= 2**63]
    if huge:
        raise DietError(f"subset file {path}: example ids too large to be ids ({_where(path, huge)}); the {ID_COLUMN} column holds the ids `diet prune` wrote")
    ids = np.asarray([int(v) for v in values], dtype=np.int64)
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DietError(f"subset file {path} lists the ids {unique[counts > 1][:5].tolist()} more than once; list each example once")
    return ids, _meta(path.with_suffix(".json"))


def _csv_ids(path: Path) -> tuple[list[str], list[int]]:
    from diet.data.text_tables import read_rows

    rows = read_rows(path, kind=".csv", what="subset file")
    _check_column(path, list(rows.columns))
    return [str(v) for v in rows.columns[ID_COLUMN]], rows.lines.tolist()


def _parquet_ids(path: Path) -> tuple[list[str], list[int]]:
    try:
        frame = read_parquet(path)
    except (OSError, ValueError, ArrowException) as error:
        raise DietError(f"subset file {path} is not a readable parquet file ({type(error).__name__}); rebuild it with `diet prune --out {path}`") from error
    _check_column(path, list(frame.columns))
    column = frame[ID_COLUMN]
    values = ["" if pd.isna(v) else str(int(v)) if isinstance(v, float) and float(v).is_integer() else str(v) for v in column]
    return values, list(range(1, len(values) + 1))


def _check_column(path: Path, columns: list) -> None:
    if ID_COLUMN not in columns:
        raise DietError(
            f"subset file {path} has no {ID_COLUMN!r} column (columns: {', '.join(map(str, columns)) or 'none'}); "
            f"use a file written by `diet prune --out`, or give the ids to train on in a column named {ID_COLUMN}"
        )


def _where(path: Path, lines: list[int]) -> str:
    return f"rows {line_ranges(lines)}" if path.suffix.lower() == ".parquet" else f"file lines {line_ranges(lines)}"


def _meta(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f"line {error.lineno}: {error.msg}" if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        raise DietError(f"{path} (how the subset was made) is not valid JSON ({where}); restore it, or delete it and pass --task and --n-train as given to `diet score`") from error
    if not isinstance(meta, dict):
        raise DietError(f"{path} holds a JSON {type(meta).__name__}, not the object `diet prune` writes; delete it and pass --task and --n-train as given to `diet score`")
    return meta
