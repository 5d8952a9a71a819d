"""The book, built once with the smoke preset: pages, figures, links, no CDN, and screenshots that are not blank."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from diet.book import NOTEBOOKS, build_book

pytestmark = pytest.mark.slow

PAGES = ["index", "methods", "use_your_task", "reproducibility", *(f"_generated/{n}" for n in NOTEBOOKS), "_generated/downloads"]
FIGURES = [n for n in NOTEBOOKS if n != "06_summary"]
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    return build_book("smoke", out=out / "_build", store=out / "results")


def soup(path: Path):
    bs4 = pytest.importorskip("bs4")
    return bs4.BeautifulSoup(path.read_text(), "html.parser")


def test_every_page_is_built(book):
    missing = [p for p in PAGES if not (book / f"{p}.html").exists()]
    assert not missing, f"pages missing from {book}: {missing}"
    assert "http-equiv" not in (book / "index.html").read_text()  # the real introduction, not a redirect
    from diet.presets import PRESETS

    intro = " ".join(soup(book / "index.html").get_text().replace("\u2019", "'").split())  # undo smart quotes
    for preset in PRESETS.values():  # the presets table is generated from the code
        assert preset.description in intro


@pytest.mark.parametrize("name", FIGURES)
def test_figure_chapters_embed_existing_images(book, name):
    page = book / "_generated" / f"{name}.html"
    images = [img["src"] for img in soup(page).find_all("img") if not img["src"].startswith("data:")]
    assert images, f"{page.name} embeds no figure"
    for src in images:
        assert (page.parent / unquote(src)).resolve().is_file(), f"{page.name}: image {src} does not exist"


def test_executed_notebooks_hold_no_errors(book):
    source = book.parent / "source" / "_generated"
    for name in NOTEBOOKS:
        cells = json.loads((source / f"{name}.ipynb").read_text())["cells"]
        errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{name}.ipynb has error outputs: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        assert any(c["cell_type"] == "code" and c.get("outputs") for c in cells), f"{name}.ipynb was not executed"


def test_downloads_exist_and_are_linked(book):
    page = book / "_generated" / "downloads.html"
    links = [a["href"] for a in soup(page).find_all("a", href=True) if a["href"].endswith((".csv", ".json"))]
    names = {Path(unquote(h)).name for h in links}
    assert {"fig3_preserved_fraction.csv", "fig3_scores_mean.csv", "fig3_kept_ids.csv", "summary_claims.csv"} <= names
    for href in links:
        assert (page.parent / unquote(href)).resolve().is_file(), f"download {href} is missing"


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


@pytest.mark.parametrize("page", ["index", "_generated/03_preserved_fraction"])
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


def test_a_failing_notebook_stops_the_build_and_is_named(tmp_path):
    from diet.book import BookError, ROOT_FILES

    project = tmp_path / "project"
    project.mkdir()
    for name in ROOT_FILES:
        shutil.copy2(Path(__file__).resolve().parents[1] / name, project / name)
    shutil.copytree(Path(__file__).resolve().parents[1] / "book", project / "book", ignore=shutil.ignore_patterns("_generated"))
    (project / "notebooks").mkdir()
    _notebook(project / "notebooks" / f"{NOTEBOOKS[0]}.ipynb", "raise RuntimeError('broken on purpose')")
    with pytest.raises(BookError, match=rf"{NOTEBOOKS[0]}\.ipynb.*broken on purpose"):
        build_book("smoke", out=tmp_path / "out", store=tmp_path / "store", project=project)


def test_error_outputs_are_found(tmp_path):
    import nbformat

    from diet.book import error_outputs

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 / 0")
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert error_outputs(tmp_path / "x.ipynb") == ["ZeroDivisionError: division by zero"]


def test_a_sphinx_warning_fails_the_build(tmp_path):
    from diet.book import BookError, sphinx_build

    source = tmp_path / "source"
    source.mkdir()
    (source / "_config.yml").write_text('title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: "off"\n')
    (source / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (source / "index.md").write_text("# Index\n\nA link to {doc}`a page that does not exist <nowhere>`.\n")
    with pytest.raises(BookError, match="nowhere"):
        sphinx_build(source, tmp_path / "out")
