"""Test setup: the local data mirror beside the checkout, quiet progress bars, a tiny CSV task."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = ROOT.parent / "shared" / "data"

os.environ.setdefault("DIET_DATA_DIR", str(MIRROR))
# absolute, so that tests which start diet in another folder (cwd=tmp_path) find the same mirror
if os.environ["DIET_DATA_DIR"]:
    os.environ["DIET_DATA_DIR"] = str(Path(os.environ["DIET_DATA_DIR"]).resolve())
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may need the hub


@pytest.fixture
def csv_task(tmp_path: Path) -> Path:
    """A small local task: 24 labelled sentence pairs in one CSV file."""
    rows = ["question,answer,label"]
    words = ["good", "bad", "fine", "awful", "great", "poor"]
    for i in range(24):
        label = ["yes", "no", "maybe"][i % 3]
        rows.append(f"is it {words[i % 6]} {i},it is {words[(i + 1) % 6]} {i},{label}")
    path = tmp_path / "my_task.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> tuple[Path, Path]:
    """The whole smoke-preset book, built once per test session from an empty store: (html folder, store)."""
    from diet.book.build import build_book

    out = tmp_path_factory.mktemp("book")
    return build_book("smoke", out=out / "_build", store=out / "results"), out / "results"
