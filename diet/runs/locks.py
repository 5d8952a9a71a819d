"""Claims on store entries, so that two processes never compute the same run at the same time.

A claim is an exclusive `flock` on `<root>/.locks/<kind>-<key>.lock`. The kernel drops it when
the holding process exits for any reason (kill -9 included), so a claim left by a dead
process never blocks a rerun. The lock files themselves are empty and stay behind.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class Claimed(Exception):
    """Another live process holds the claim on this entry."""


def lock_path(root: Path, kind: str, key: str) -> Path:
    return Path(root) / ".locks" / f"{kind}-{key}.lock"


@contextmanager
def claim(root: Path, kind: str, key: str, wait: bool = False) -> Iterator[None]:
    """Hold the claim on one entry for the duration of the block.

    With `wait=False`, raise `Claimed` at once when another process holds it; with `wait=True`,
    block until that process releases it (it finished the run, or died).
    """
    path = lock_path(root, kind, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as error:
            raise Claimed(f"{kind} {key} is being computed by another process") from error
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
