"""A results store: artifacts keyed by their full config, written atomically, reloaded on rerun."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from diet.errors import DietError

STORE_ENV = "DIET_STORE"
READONLY_ENV = "DIET_STORE_READONLY"  # "1": load what is stored, never compute (`diet book --no-compute`)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n"))


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Parquet for .parquet paths, CSV otherwise."""
    if Path(path).suffix == ".parquet":
        atomic_write(path, lambda p: frame.to_parquet(p, index=False))
    else:
        atomic_write(path, lambda p: frame.to_csv(p, index=False))


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if Path(path).suffix == ".parquet" else pd.read_csv(path)


def config_key(config: dict) -> str:
    """A short, stable hash of a JSON-able config."""
    text = json.dumps(config, sort_keys=True, default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _about(config: dict) -> str:
    """A few identifying fields of a run config, for error messages."""
    keys = ("task", "model", "seed", "n_subset", "steps", "scores")
    return ", ".join(f"{k} {config[k]}" for k in keys if k in config) or "no task fields"


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} in a config")


class MissingRunError(DietError):
    """A read-only store was asked for a run it does not hold."""


class Store:
    """Folder of artifacts: <root>/<kind>/<hash>/{config.json, data.parquet}.

    A read-only store (`readonly=True`, or DIET_STORE_READONLY=1 in the environment) loads what
    it holds and raises MissingRunError instead of computing anything.
    """

    def __init__(self, root: str | Path | None = None, readonly: bool | None = None):
        self.root = Path(root or os.environ.get(STORE_ENV) or "runs")
        self.readonly = os.environ.get(READONLY_ENV, "") not in ("", "0") if readonly is None else readonly

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def folder(self, kind: str, config: dict) -> Path:
        return self.root / kind / config_key(config)

    def load(self, kind: str, config: dict) -> pd.DataFrame | None:
        """The stored frame for this exact config, or None."""
        data = self.folder(kind, config) / "data.parquet"
        return pd.read_parquet(data) if data.exists() else None

    def save(self, kind: str, config: dict, frame: pd.DataFrame) -> Path:
        folder = self.folder(kind, config)
        write_json(folder / "config.json", config)
        write_table(folder / "data.parquet", frame)  # written last: its presence marks a finished artifact
        return folder

    def load_or_compute(self, kind: str, config: dict, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        cached = self.load(kind, config)
        if cached is not None:
            return cached
        if self.readonly:
            raise MissingRunError(
                f"the store {self.root} holds no {kind} run {config_key(config)} ({_about(config)}) and is read-only "
                f"({READONLY_ENV}=1 or --no-compute): fill it first with `diet precompute`, or build without --no-compute"
            )
        frame = compute()
        self.save(kind, config, frame)
        return frame
