"""The public API: `diet.__all__` is small, importable, and equal to the book's page on it (book/api.md)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import diet

PAGE = Path(__file__).resolve().parent.parent / "book" / "api.md"


def page_rows(section: str) -> dict[str, str]:
    """{name: what it is} from the table under the `## `section`` heading of book/api.md."""
    text = PAGE.read_text()
    part = text.split(f"## `{section}`", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `([\w.]+)` \| (.*?) \| .* \|$", part, re.M)}


def summary(obj) -> str:
    """The first line of an object's docstring."""
    return (inspect.getdoc(obj) or "").splitlines()[0] if inspect.getdoc(obj) else ""


def test_the_page_lists_exactly_the_public_names():
    rows = page_rows("diet")
    assert set(rows) == set(diet.__all__), (
        f"book/api.md and diet.__all__ differ: missing from the page {sorted(set(diet.__all__) - set(rows))}, "
        f"not exported {sorted(set(rows) - set(diet.__all__))}")


def test_each_row_says_what_the_docstring_says():
    for name, said in page_rows("diet").items():
        obj = getattr(diet, name)
        if callable(obj):
            assert said == summary(obj), f"book/api.md's row for {name} should read: {summary(obj)!r}"


def test_every_public_name_is_documented_and_defined_in_the_package():
    for name in diet.__all__:
        obj = getattr(diet, name)
        if callable(obj):
            assert summary(obj), f"diet.{name} has no docstring"
            assert obj.__module__.startswith("diet."), f"diet.{name} comes from {obj.__module__}"


def test_the_surface_stays_small():
    assert len(diet.__all__) <= 15, "diet's public surface grew: put new names in a subpackage, or say why on book/api.md"
