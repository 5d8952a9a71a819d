"""The book, built once with the smoke preset: pages, figures, links, no CDN, and screenshots that are not blank."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from diet.book.build import build_book, chapters

GEN = "_generated/ag_news"  # the smoke preset's one task
PAGES = ["index", "methods", "use_your_task", "_generated/own_training", "api", "reproducibility", *(f"{GEN}/{n}" for n in chapters("smoke")), f"{GEN}/downloads"]
FIGURES = [n for n in chapters("smoke") if n != "06_summary"]
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def book(smoke_book) -> Path:
    return smoke_book[0]


def soup(path: Path):
    bs4 = pytest.importorskip("bs4")
    return bs4.BeautifulSoup(path.read_text(), "html.parser")


@pytest.mark.slow
def test_every_page_is_built(book):
    missing = [p for p in PAGES if not (book / f"{p}.html").exists()]
    assert not missing, f"pages missing from {book}: {missing}"
    assert "http-equiv" not in (book / "index.html").read_text()  # the real introduction, not a redirect
    from diet.paper.presets import PRESETS

    intro = " ".join(soup(book / "index.html").get_text().replace("\u2019", "'").split())  # undo smart quotes
    for preset in PRESETS.values():  # the presets table is generated from the code
        assert preset.description in intro
    import yaml

    from diet.book.build import NOTEBOOKS
    from diet.book.toc import book_toc

    built = yaml.safe_load((book.parent / "source" / "_toc.yml").read_text())
    leave_out = set(NOTEBOOKS) - set(chapters("smoke"))
    assert leave_out == {"08_scale"}
    assert built == book_toc(_template(), ["ag_news"], leave_out=leave_out)  # one task: the committed structure, under _generated/ag_news/
    assert "Task ag_news: 320 training and 160 test examples" in intro  # the build box describes the task
    assert "What this build found" in intro and "claim 3a" not in intro
    from diet.paper.claims import CLAIMS

    found = soup(book / "index.html").find("section", id="what-this-build-found")
    rows = found.find("table").find("tbody").find_all("tr")
    assert len(rows) == len(CLAIMS)  # one row per claim, each with a verdict or "not checked"
    assert all(any(v in r.get_text() for v in ("holds", "does not hold", "inconclusive", "not checked")) for r in rows)
    assert found.find("a", href=lambda h: h and h.endswith("06_summary.html"))


@pytest.mark.slow
@pytest.mark.parametrize("name", FIGURES)
def test_figure_chapters_embed_existing_images(book, name):
    page = book / GEN / f"{name}.html"
    images = [img["src"] for img in soup(page).find_all("img") if not img["src"].startswith("data:")]
    assert images, f"{page.name} embeds no figure"
    for src in images:
        assert (page.parent / unquote(src)).resolve().is_file(), f"{page.name}: image {src} does not exist"


@pytest.mark.slow
def test_executed_notebooks_hold_no_errors(book):
    source = book.parent / "source" / GEN
    for name in chapters("smoke"):
        cells = json.loads((source / f"{name}.ipynb").read_text())["cells"]
        errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}.ipynb has error outputs: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        assert any(c["cell_type"] == "code" and c.get("outputs") for c in cells), f"{name}.ipynb was not executed"


@pytest.mark.slow
def test_own_training_page_is_executed_once_with_its_tables(book):
    """The page "Use diet in your own training": executed once (not per task), its tables rendered, `diet prune`'s output shown."""
    executed = book.parent / "source" / "_generated" / "own_training.ipynb"
    cells = json.loads(executed.read_text())["cells"]
    assert not [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not (book.parent / "source" / GEN / "own_training.ipynb").exists()
    page = soup(book / "_generated" / "own_training.html")
    assert page.find("h1").get_text().startswith("Use diet in your own training")
    tables = page.find_all("table")
    assert len(tables) >= 3  # the scores, the seconds, the plain loop's scores
    assert "el2n" in tables[0].get_text() and "grand_head" in tables[0].get_text()
    assert "scoring (diet)" in tables[1].get_text() and "training" in tables[1].get_text()
    text = page.get_text()
    assert "kept 48 of 96 examples" in text and "tiny random BERT" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_downloads_exist_and_are_linked(book):
    page = book / GEN / "downloads.html"
    links = [a["href"] for a in soup(page).find_all("a", href=True) if a["href"].endswith((".csv", ".json"))]
    names = {Path(unquote(h)).name for h in links}
    assert {"fig3_preserved_fraction.csv", "fig3_scores_mean.csv", "fig3_kept_ids.csv", "summary_claims.csv", "summary_verdicts.csv"} <= names
    for href in links:
        assert (page.parent / unquote(href)).resolve().is_file(), f"download {href} is missing"


@pytest.mark.slow
def test_internal_links_resolve(book):
    broken = []
    for page in book.rglob("*.html"):
        for a in soup(page).find_all("a", href=True):
            url = urlparse(a["href"])
            if url.scheme or url.netloc or not url.path:
                continue  # external, mailto or same-page anchor
            target = (page.parent / unquote(url.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(book)} -> {a['href']}")
    assert not broken, f"{len(broken)} broken links, first: {broken[:5]}"


@pytest.mark.slow
def test_no_script_or_stylesheet_from_a_cdn(book):
    remote = []
    for page in book.rglob("*.html"):
        html = soup(page)
        remote += [f"{page.name}: {s['src']}" for s in html.find_all("script", src=True) if urlparse(s["src"]).scheme in ("http", "https")]
        remote += [f"{page.name}: {s['href']}" for s in html.find_all("link", href=True)
                   if urlparse(s["href"]).scheme in ("http", "https") and "stylesheet" in (s.get("rel") or [])]
        remote += [f"{page.name}: inline script loads {url}" for s in html.find_all("script", src=False) for url in ("unpkg.com", "cdn.jsdelivr", "cdnjs") if url in (s.string or "")]
    assert not remote, remote[:5]
    assert (book / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


def _chromium() -> str | None:
    return next((shutil.which(c) for c in CHROMIUM if shutil.which(c)), None)


@pytest.mark.slow
@pytest.mark.parametrize("page", ["index", f"{GEN}/03_preserved_fraction"])
def test_screenshot_is_not_blank(book, page, tmp_path):
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed; CI installs it with `apt-get install -y chromium`")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    image = pytest.importorskip("PIL.Image")
    shot = tmp_path / "shot.png"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
           "--window-size=1280,1800", (book / f"{page}.html").as_uri()]
    assert (book / f"{page}.html").is_file()
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert shot.exists(), f"chromium wrote no screenshot of {page}"
    picture = image.open(shot).convert("L")
    histogram = picture.histogram()
    pixels = sum(histogram)
    assert max(histogram) / pixels < 0.95, f"screenshot of {page} is almost all one colour"
    mean = sum(i * n for i, n in enumerate(histogram)) / pixels
    variance = sum(n * (i - mean) ** 2 for i, n in enumerate(histogram)) / pixels
    assert variance > 100, f"screenshot of {page} is nearly uniform (variance {variance:.0f})"
    text = (book / f"{page}.html").read_text()
    assert "Traceback" not in text and "Error" not in soup(book / f"{page}.html").title.string


# ------------------------------------------------------------ the builder's gates (no full build)


def _notebook(path: Path, code: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('preset = "smoke"\nstore = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


@pytest.mark.slow
def test_a_failing_notebook_stops_the_build_and_is_named(tmp_path):
    from diet.book.build import NOTEBOOKS, BookError, ROOT_FILES

    project = tmp_path / "project"
    project.mkdir()
    for name in ROOT_FILES:
        shutil.copy2(Path(__file__).resolve().parents[1] / name, project / name)
    shutil.copytree(Path(__file__).resolve().parents[1] / "book", project / "book", ignore=shutil.ignore_patterns("_generated"))
    (project / "notebooks").mkdir()
    _notebook(project / "notebooks" / f"{NOTEBOOKS[0]}.ipynb", "raise RuntimeError('broken on purpose')")
    with pytest.raises(BookError, match=rf"{NOTEBOOKS[0]}\.ipynb \(task ag_news\).*broken on purpose"):
        build_book("smoke", out=tmp_path / "out", store=tmp_path / "store", project=project)


def test_error_outputs_are_found(tmp_path):
    import nbformat

    from diet.book.build import error_outputs

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 / 0")
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert error_outputs(tmp_path / "x.ipynb") == ["ZeroDivisionError: division by zero"]


def test_a_sphinx_warning_fails_the_build(tmp_path):  # one page, no notebook: seconds
    from diet.book.build import BookError, sphinx_build

    source = tmp_path / "source"
    source.mkdir()
    (source / "_config.yml").write_text('title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: "off"\n')
    (source / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (source / "index.md").write_text("# Index\n\nA link to {doc}`a page that does not exist <nowhere>`.\n")
    with pytest.raises(BookError, match="nowhere"):
        sphinx_build(source, tmp_path / "out")


# ------------------------------------------------------------ one part per task (no notebook execution)


def _template() -> dict:
    import yaml

    return yaml.safe_load((Path(__file__).resolve().parents[1] / "_toc.yml").read_text())


def test_toc_for_one_task_keeps_the_template_structure():
    from diet.book.toc import book_toc

    template = _template()
    toc = book_toc(template, ["ag_news"])
    assert [p["caption"] for p in toc["parts"]] == [p["caption"] for p in template["parts"]]
    files = [c["file"] for p in toc["parts"] for c in p["chapters"]]
    assert files == [f if f == "_generated/own_training" else f.replace("_generated/", "_generated/ag_news/")
                     for f in (c["file"] for p in template["parts"] for c in p["chapters"])]
    assert toc["root"] == template["root"] and toc["format"] == template["format"]


def test_toc_for_two_tasks_has_one_part_each():
    from diet.book.build import NOTEBOOKS
    from diet.book.toc import book_toc

    template = _template()
    toc = book_toc(template, ["ag_news", "sst2"], ["ag_news", "sst2"])
    captions = [p["caption"] for p in toc["parts"]]
    assert captions == ["Background", "Figures: ag_news", "Figures: sst2", "Your own runs"]
    for part, folder in zip(toc["parts"][1:3], ["ag_news", "sst2"]):
        assert [c["file"] for c in part["chapters"]] == [f"_generated/{folder}/{n}" for n in (*NOTEBOOKS, "downloads")]
    assert template["parts"][1]["chapters"][0]["file"] == "_generated/01_score_timing"  # the template is not changed
    assert [c["file"] for c in toc["parts"][-1]["chapters"]] == ["use_your_task", "_generated/own_training", "api", "reproducibility"]


@pytest.mark.parametrize("notebook", sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_are_valid_with_cell_ids_and_one_parameters_cell(notebook):
    """Every cell has an id (nbformat warns today and will refuse later) and papermill finds exactly one `parameters` cell."""
    import warnings

    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nb = nbformat.read(notebook, as_version=4)
        nbformat.validate(nb)
    assert all(cell.get("id") for cell in nb.cells), f"{notebook.name}: a cell has no id; run nbformat.validator.normalize"
    assert sum("parameters" in cell.metadata.get("tags", []) for cell in nb.cells) == 1


def test_pages_executed_once_are_notebooks_in_the_template():
    from diet.book.toc import ONCE

    files = [c["file"] for p in _template()["parts"] for c in p["chapters"]]
    for name in ONCE:
        assert (Path(__file__).resolve().parents[1] / "notebooks" / f"{name}.ipynb").is_file()
        assert f"_generated/{name}" in files


def test_task_folders_are_safe_and_distinct():
    from diet.book.toc import task_folder, task_folders

    assert task_folder("ag_news") == "ag_news"
    assert task_folder("data/my reviews.csv") == "my_reviews_csv"
    assert task_folder("/home/someone/tasks/../x.tsv") == "x_tsv"  # no personal path in the book
    assert task_folders(["a/my.csv", "b/my.csv", "sst2"]) == ["my_csv", "my_csv-2", "sst2"]


def test_presets_name_their_book_tasks():
    from diet.paper.presets import PRESETS

    assert PRESETS["cpu"].book_tasks == PRESETS["gpu"].book_tasks == ("ag_news", "sst2")
    assert PRESETS["paper"].book_tasks == ("mnli", "ag_news")
    assert PRESETS["smoke"].book_tasks == ("ag_news",) and PRESETS["quick"].book_tasks == ("ag_news",)


def test_build_info_describes_every_task():
    from types import SimpleNamespace

    from diet.book.pages import build_info
    from diet.paper.presets import PRESETS

    def ctx(name, n):
        task = SimpleNamespace(name=name, test=[0] * 10, num_labels=2)
        return SimpleNamespace(preset=PRESETS["cpu"], task=task, n_train=n)

    both = build_info([ctx("ag_news", 500), ctx("sst2", 400)])
    assert "2 tasks, one part of the book each: ag_news, sst2." in both
    assert "**ag_news**: 500 training" in both and "**sst2**: 400 training" in both
    assert both.startswith("```{admonition} This build") and both.rstrip().endswith("```")
    assert "Task **sst2**: 400 training" in build_info([ctx("sst2", 400)])
