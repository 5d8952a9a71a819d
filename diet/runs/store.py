"""A results store: artifacts keyed by their full config, written atomically, reloaded on rerun."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd
from pyarrow import ArrowException

from diet.errors import DietError
from diet.files import DiskFullError, jsonable, read_parquet, remove_stale_tmp, write_json, write_table

STORE_ENV = "DIET_STORE"
READONLY_ENV = "DIET_STORE_READONLY"  # "1": load what is stored, never compute (`diet book --no-compute`)
KEEP_OUTDATED_ENV = "DIET_STORE_KEEP_OUTDATED"  # "1": load entries that lack a required column as they are (`diet book`)
# Columns an entry of a kind must hold to count as finished. An entry stored before a column was added
# is recomputed by a writable store (and listed as pending by `diet plan`); a read-only one loads it as it is.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {"retrain": ("predictions",)}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (another file, a lock), or gone
        pass


def config_key(config: dict) -> str:
    """A short, stable hash of a JSON-able config."""
    text = json.dumps(config, sort_keys=True, default=jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _about(config: dict) -> str:
    """A few identifying fields of a run config, for error messages."""
    keys = ("task", "model", "seed", "n_subset", "steps", "scores")
    return ", ".join(f"{k} {config[k]}" for k in keys if k in config) or "no task fields"


class MissingRunError(DietError):
    """A read-only store was asked for a run it does not hold; `what` names the run, without what to do about it."""

    def __init__(self, what: str, message: str | None = None):
        super().__init__(message or what)
        self.what = what

    def __reduce__(self):
        return type(self), (self.what, str(self))


class Store:
    """Folder of artifacts: <root>/<kind>/<hash>/{config.json, data.parquet}.

    A read-only store (`readonly=True`, or DIET_STORE_READONLY=1 in the environment) loads what
    it holds and raises MissingRunError instead of computing anything. An entry stored before its
    kind required a column (REQUIRED_COLUMNS: a retraining's test predictions) is recomputed, unless
    the store is read-only or keeps outdated entries (`keep_outdated=True`, or DIET_STORE_KEEP_OUTDATED=1,
    as `diet book` sets it): then it is loaded as it is.
    """

    def __init__(self, root: str | Path | None = None, readonly: bool | None = None, keep_outdated: bool | None = None):
        self.root = Path(root or os.environ.get(STORE_ENV) or "runs")
        self.readonly = _env_flag(READONLY_ENV) if readonly is None else readonly
        self.keep_outdated = _env_flag(KEEP_OUTDATED_ENV) if keep_outdated is None else keep_outdated

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def folder(self, kind: str, config: dict) -> Path:
        return self.root / kind / config_key(config)

    def load(self, kind: str, config: dict) -> pd.DataFrame | None:
        """The stored frame for this exact config, or None.

        A damaged data.parquet (truncated, empty) is reported on stderr, renamed to
        data.parquet.damaged-<time> and treated as missing, so that it is recomputed.
        """
        folder = self.folder(kind, config)
        data = folder / "data.parquet"
        if not self.readonly:
            remove_stale_tmp(folder)
        if not data.exists():
            return None
        try:
            return read_parquet(data)
        except PermissionError as error:
            raise DietError(f"cannot read the stored run {data}: {error.strerror}; give this user read access to {self.root}") from error
        except (OSError, ValueError, ArrowException) as error:  # ArrowInvalid and kin: not a whole parquet file
            return self._set_aside(data, error)

    def _set_aside(self, data: Path, error: Exception) -> None:
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'unreadable'}"
        if self.readonly:
            raise DietError(
                f"the stored run {data} is damaged ({reason}) and the store is read-only: "
                f"restore the file (e.g. from git) or rebuild without --no-compute / {READONLY_ENV}"
            ) from error
        aside = data.with_name(f"{data.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        try:
            os.replace(data, aside)
        except FileNotFoundError:  # another process set it aside first
            return None
        except OSError as move_error:
            raise DietError(f"the stored run {data} is damaged ({reason}) and cannot be moved aside ({move_error.strerror}); delete it to recompute it") from error
        print(f"diet: warning: damaged stored run {data} ({reason}); moved it to {aside.name} and recomputing it", file=sys.stderr)
        return None

    def load_key(self, kind: str, key: str) -> pd.DataFrame | None:
        """The stored frame of the entry named by its key (`config_key`), or None; as `load`, damage reported."""
        config_path = self.root / kind / key / "config.json"
        if not config_path.exists():
            return None
        return self.load(kind, json.loads(config_path.read_text()))

    @staticmethod
    def complete(kind: str, frame: pd.DataFrame | None) -> bool:
        """Whether a stored frame is a finished entry of `kind`: it holds every column REQUIRED_COLUMNS names."""
        return frame is not None and all(column in frame.columns for column in REQUIRED_COLUMNS.get(kind, ()))

    def save(self, kind: str, config: dict, frame: pd.DataFrame) -> Path:
        """Store `frame` for `config`. On a full disk: DiskFullError, and no new partial entry is left
        (an entry it was replacing stays as it was)."""
        folder = self.folder(kind, config)
        new = not (folder / "config.json").exists()
        try:
            write_json(folder / "config.json", config)
            write_table(folder / "data.parquet", frame)  # written last: its presence marks a finished artifact
        except DiskFullError:
            if new and not (folder / "data.parquet").exists():
                (folder / "config.json").unlink(missing_ok=True)
                _remove_if_empty(folder)
            raise
        return folder

    def result(self, job) -> pd.DataFrame:
        """The stored frame of a job (a diet.runs.jobs.StoredJob), else run it and store it (`load_or_compute`)."""
        return self.load_or_compute(job.kind, job.key(), job, job.placeholder)

    def load_or_compute(
        self,
        kind: str,
        config: dict,
        compute: Callable[[], pd.DataFrame],
        placeholder: Callable[[int], pd.DataFrame] | None = None,
    ) -> pd.DataFrame:
        """The stored frame for `config`, else `compute()` it and store it.

        `compute` should be a picklable job (diet.runs.jobs.StoredJob, as `result` passes it), so that a plan
        can send it to another process; `placeholder(variant)` makes a stand-in frame of the same shape for planning.
        While one process computes an entry, another asking for it waits and then loads it.
        """
        cached = self.load(kind, config)
        if self.complete(kind, cached) or (cached is not None and (self.readonly or self.keep_outdated)):  # an outdated entry as it is
            return cached
        if self.readonly:
            what = f"the store {self.root} holds no {kind} run {config_key(config)} ({_about(config)})"
            raise MissingRunError(what, f"{what} and is read-only ({READONLY_ENV}=1 or --no-compute): fill it first with "
                                        "`diet precompute`, or build without --no-compute")
        from diet.runs.locks import claim

        with claim(self.root, kind, config_key(config), wait=True):
            cached = self.load(kind, config)  # another process may have finished it while we waited
            if self.complete(kind, cached):
                return cached
            frame = compute()
            self.save(kind, config, frame)
        return frame
