"""The chapters' registry (diet.paper.figures) agrees with the notebooks, the plots, the claims, the plan and the book."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest
import yaml

from diet import DietError
from diet.book.build import NOTEBOOKS, chapters
from diet.book.pages import DOWNLOADS
from diet.book.toc import ONCE
from diet.grid.plan import book_figures, check_figures
from diet.paper import PARAMETERS, produce
from diet.paper.claims import CLAIMS
from diet.paper.figures import CHAPTERS, CHECKED, FIGURES, TABLES
from diet.paper.presets import PRESETS, SCALE_PRESETS
from diet.plots import figures as drawings

ROOT = Path(__file__).resolve().parents[1]


def code_cells(chapter) -> list[dict]:
    cells = json.loads((ROOT / "notebooks" / f"{chapter.notebook}.ipynb").read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


def calls(chapter, name: str) -> list[list]:
    """The literal arguments of every call to `name` (a function or a method) in the chapter's code cells."""
    found = []
    for cell in code_cells(chapter):
        source = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name:
                found.append([a.value if isinstance(a, ast.Constant) else None for a in node.args])
    return found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.notebook)
def test_each_chapter_writes_exactly_its_registered_tables(chapter):
    produced = [args[1] for args in calls(chapter, "produce")]
    saved = [args[1] for args in calls(chapter, "save")]
    assert None not in produced + saved, f"{chapter.notebook} names a table by a variable: name it literally"
    assert sorted(produced + saved) == sorted(t.name for t in chapter.tables)
    assert all(TABLES[name].make is not None for name in produced) and all(TABLES[name].make is None for name in saved)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.notebook)
def test_each_chapter_has_its_parameters_cell_and_shows_its_own_figure(chapter):
    first = code_cells(chapter)[0]
    assert "parameters" in first["metadata"].get("tags", [])
    assigned = {t.id for node in ast.parse("".join(first["source"])).body for t in node.targets}
    assert set(PARAMETERS) <= assigned, f"{chapter.notebook}: the parameters cell lacks {set(PARAMETERS) - assigned}"
    shown = [args[1] for args in calls(chapter, "show_figure")]
    assert shown == ([chapter.id] if chapter.plot else [])


def test_the_registry_is_the_books_order_and_its_downloads():
    template = yaml.safe_load((ROOT / "_toc.yml").read_text())
    generated = [c["file"].removeprefix("_generated/") for p in template["parts"] for c in p["chapters"] if c["file"].startswith("_generated/")]
    assert [g for g in generated if g not in ("downloads", *ONCE)] == list(NOTEBOOKS)  # ONCE: pages executed once per build
    assert [c.id for c in CHAPTERS] == [n.split("_")[0].lstrip("0") for n in NOTEBOOKS] and list(FIGURES) == [c.id for c in CHAPTERS]
    assert len(TABLES) == sum(len(c.tables) for c in CHAPTERS), "two chapters register one table name"
    assert set(DOWNLOADS) == {f"{name}.csv" for name in TABLES} | {"context.json"}


def test_plots_findings_and_claims_are_wired():
    for chapter in CHAPTERS:
        if chapter.plot:
            parameters = inspect.signature(getattr(drawings, chapter.plot)).parameters
            assert set(chapter.plot_with) <= set(parameters) and chapter.finding is not None
    assert [c.id for c in CHECKED] == ["1", "2", "3", "4", "5"] and all(c.claims and c.table.make for c in CHECKED)
    assert list(CLAIMS) == ["1a", "1b", "2", "3a", "3b", "4a", "4b", "4c", "5a", "5b"]
    assert all(CLAIMS[claim_id][0] == c.id for c in CHECKED for claim_id in c.claims)


def test_the_plan_and_the_book_read_the_chapters_a_preset_shows():
    assert check_figures(["1", 7]) == ["1", "7"]
    with pytest.raises(DietError, match="figures with runs: 1, 3, 4, 5, 7"):
        check_figures(["2"])
    for preset in PRESETS.values():
        shown = chapters(preset.name)
        assert ("07_which_score" in shown) == preset.dynamics and ("08_scale" in shown) == (preset.name in SCALE_PRESETS)
        assert book_figures(preset) == [c.id for c in CHAPTERS if c.run and c.notebook in shown]


def test_produce_refuses_a_table_no_experiment_makes(tmp_path):
    with pytest.raises(DietError, match="no table 'summary_claims' is made"):
        produce(None, "summary_claims")
