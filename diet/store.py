"""A results store: artifacts keyed by their full config, written atomically, reloaded on rerun."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from diet.errors import DietError

STORE_ENV = "DIET_STORE"
READONLY_ENV = "DIET_STORE_READONLY"  # "1": load what is stored, never compute (`diet book --no-compute`)
KEEP_OUTDATED_ENV = "DIET_STORE_KEEP_OUTDATED"  # "1": load entries that lack a required column as they are (`diet book`)
TMP_SUFFIX = ".tmp"  # atomic_write's temporary files: .<name>.<random>.tmp beside the target
STALE_TMP_SECONDS = 15 * 60  # a temporary file untouched this long was left by a killed write
# Columns an entry of a kind must hold to count as finished. An entry stored before a column was added
# is recomputed by a writable store (and listed as pending by `diet plan`); a read-only one loads it as it is.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {"retrain": ("predictions",)}
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(DietError):
    """A write failed because the disk (or the user's quota) is full; nothing partial was left."""


def no_space(path: Path, error: OSError) -> DiskFullError:
    """The error for a write to `path` that ran out of space, naming the path and the fix."""
    return DiskFullError(f"no space left to write {path} ({error.strerror}): free space on that disk (or point --store / --out "
                         "elsewhere) and rerun the same command; everything finished before it is kept and the rerun resumes")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename: never a half-written file.

    The file gets the mode a plain write would give: that of the file it replaces, else 0666 less the umask.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    except OSError as error:
        if error.errno in NO_SPACE:
            raise no_space(path, error) from error
        raise
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, _plain_mode(path))
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if _is_no_space(error):
            raise no_space(path, error) from error
        raise


def _is_no_space(error: BaseException) -> bool:
    """A full disk, whether the OSError itself or one that pyarrow or pandas wrapped (its message names ENOSPC's text)."""
    if isinstance(error, OSError) and error.errno in NO_SPACE:
        return True
    text = str(error)
    return isinstance(error, (OSError, ArrowException)) and ("No space left on device" in text or "Disk quota exceeded" in text)


def _plain_mode(path: Path) -> int:
    """The permission bits an ordinary open(path, "w") would leave: kept if it exists, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n"))


NARROWED_KEY = b"diet.float64_as_float32"  # parquet metadata: float64 columns stored as float32 because no value changes


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Parquet for .parquet paths (compact, see `write_parquet`), CSV otherwise."""
    if Path(path).suffix == ".parquet":
        atomic_write(path, lambda p: write_parquet(frame, p))
    else:
        atomic_write(path, lambda p: frame.to_csv(p, index=False))


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet about half the size of pandas' default, read back equal by `read_parquet`.

    Float64 columns whose every value is a float32 (scores are computed in float32) are stored as
    float32 and named in the file's metadata, so `read_parquet` restores them bit for bit; numeric
    columns with many distinct values are stored by byte-stream split (floats) or deltas (integers,
    e.g. example ids) instead of a dictionary; zstd compression."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    narrowed = [c for c in frame.columns if frame[c].dtype == np.float64 and _float32_exact(frame[c].to_numpy())]
    table = pa.Table.from_pandas(frame.astype({c: np.float32 for c in narrowed}), preserve_index=False)
    # no pandas schema (half of a one-row file): the Arrow types read back as the same dtypes, the tests check it
    table = table.replace_schema_metadata({NARROWED_KEY: json.dumps(narrowed).encode()} if narrowed else None)
    encodings = {}
    for name in frame.columns:
        kind = frame[name].dtype.kind
        if kind in "fiu" and len(frame) >= 64 and frame[name].nunique() > len(frame) // 4:
            encodings[name] = "BYTE_STREAM_SPLIT" if kind == "f" else "DELTA_BINARY_PACKED"
    plain = [n for n in table.column_names if n not in encodings]
    pq.write_table(table, path, compression="zstd", use_dictionary=plain, column_encoding=encodings or None)


def _float32_exact(values: np.ndarray) -> bool:
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.array_equal(values.astype(np.float32).astype(np.float64), values, equal_nan=True))


def read_parquet(path: Path) -> pd.DataFrame:
    """A parquet table as written: float64 columns that `write_parquet` stored as float32 come back as float64."""
    import pyarrow.parquet as pq

    frame = pd.read_parquet(path)
    narrowed = json.loads((pq.read_schema(path).metadata or {}).get(NARROWED_KEY, b"[]"))
    return frame.astype({c: np.float64 for c in narrowed if c in frame.columns}) if narrowed else frame


def read_table(path: Path) -> pd.DataFrame:
    return read_parquet(path) if Path(path).suffix == ".parquet" else pd.read_csv(path)


def remove_stale_tmp(folder: Path, older_than: float = STALE_TMP_SECONDS) -> list[Path]:
    """Delete temporary files of atomic_write that a killed write left in `folder` (untouched for `older_than` s)."""
    removed = []
    now = time.time()
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}") if Path(folder).is_dir() else ():
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # gone already, or not ours to delete
            continue
    return removed


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (another file, a lock), or gone
        pass


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

    def load_or_compute(
        self,
        kind: str,
        config: dict,
        compute: Callable[[], pd.DataFrame],
        placeholder: Callable[[int], pd.DataFrame] | None = None,
    ) -> pd.DataFrame:
        """The stored frame for `config`, else `compute()` it and store it.

        `compute` should be a picklable job (see diet.plan), so that a plan can send it to another
        process; `placeholder(variant)` makes a stand-in frame of the same shape for planning.
        While one process computes an entry, another asking for it waits and then loads it.
        """
        cached = self.load(kind, config)
        if self.complete(kind, cached) or (cached is not None and (self.readonly or self.keep_outdated)):  # an outdated entry as it is
            return cached
        if self.readonly:
            raise MissingRunError(
                f"the store {self.root} holds no {kind} run {config_key(config)} ({_about(config)}) and is read-only "
                f"({READONLY_ENV}=1 or --no-compute): fill it first with `diet precompute`, or build without --no-compute"
            )
        from diet.job_locks import claim

        with claim(self.root, kind, config_key(config), wait=True):
            cached = self.load(kind, config)  # another process may have finished it while we waited
            if self.complete(kind, cached):
                return cached
            frame = compute()
            self.save(kind, config, frame)
        return frame
