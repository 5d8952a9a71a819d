"""Checking the files of a local data mirror against its SHA256SUMS (see ../shared/data/README.md); text_tables.read_rows reads them."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from diet.errors import DietError, warn


@lru_cache(maxsize=None)
def _expected_sums(root: Path) -> dict[str, str]:
    sums_file = root / "SHA256SUMS"
    if not sums_file.exists():
        warn(f"the data mirror {root} has no SHA256SUMS file, so its files are not verified; copy SHA256SUMS from the original mirror")
        return {}
    sums = {}
    for number, line in enumerate(sums_file.read_text(errors="replace").splitlines(), 1):
        if line.strip():
            if len(line.split(maxsplit=1)) != 2:
                raise DietError(f"{sums_file}, line {number} is not '<sha256> <file>'; restore SHA256SUMS from the original mirror")
            digest, name = line.split(maxsplit=1)
            sums[name.strip().removeprefix("./").lstrip("*")] = digest
    return sums


@lru_cache(maxsize=None)
def verified(root: Path, relative: str) -> Path:
    """The mirror file, after checking it exists and matches SHA256SUMS when the mirror has one."""
    path = root / relative
    if not path.exists():
        raise DietError(f"mirror file {path} is missing; DIET_DATA_DIR must name a folder laid out like ../shared/data")
    expected = _expected_sums(root).get(relative)
    if expected is not None:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise DietError(
                f"mirror file {path} fails its checksum (sha256 {actual[:12]}…, SHA256SUMS says {expected[:12]}…); "
                "the copy is damaged or edited: restore it from the original mirror"
            )
    return path

