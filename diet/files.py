"""Files written atomically (JSON, parquet, CSV), read back as written; a full disk as a clear error."""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from diet.errors import DietError

TMP_SUFFIX = ".tmp"  # atomic_write's temporary files: .<name>.<random>.tmp beside the target
STALE_TMP_SECONDS = 15 * 60  # a temporary file untouched this long was left by a killed write
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
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=True, default=jsonable) + "\n"))


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

def jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} in a config")
