"""The committed results: the default book renders both tasks from them without any fine-tuning, and every
committed real-data store is complete, with the verdicts its runs give."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diet.book.build import LARGEST_CPU_FIRST, build_book, chapters
from diet.paper.claims import CLAIMS
from diet.paper.presets import PRESETS
from diet.paper.scale import SCALE_PRESETS

ROOT = Path(__file__).resolve().parents[1] / "results"
DEFAULT = LARGEST_CPU_FIRST[0]  # cpu-2k: what `diet book` renders once its store holds every run (it does)
RESULTS = ROOT / DEFAULT
TASKS = PRESETS[DEFAULT].book_tasks
STORED = [(preset, task) for preset in SCALE_PRESETS for task in PRESETS[preset].book_tasks]  # cpu, cpu-2k, gpu


def test_diet_book_defaults_to_the_largest_complete_cpu_results(monkeypatch):
    from diet.book.build import default_preset

    monkeypatch.delenv("DIET_STORE", raising=False)
    name, why = default_preset()
    assert name == DEFAULT, why


@pytest.fixture(scope="module")
def default_book(tmp_path_factory) -> Path:
    """The default preset's book from a copy of the committed runs, with the store read-only (a missing run fails at once)."""
    out = tmp_path_factory.mktemp(DEFAULT)
    store = out / "results"
    for kind in ("scores", "retrain", "train_predictions", "dynamics"):
        if (RESULTS / kind).is_dir():
            shutil.copytree(RESULTS / kind, store / kind)
    return build_book(DEFAULT, out=out / "_build", store=store, compute=False)


def soup(path: Path):
    bs4 = pytest.importorskip("bs4")
    return bs4.BeautifulSoup(path.read_text(), "html.parser")


@pytest.mark.slow
def test_default_book_renders_every_task_from_committed_runs(default_book):
    for task in TASKS:
        for name in chapters(DEFAULT):  # "Verdicts and scale" included: it reads the cpu and gpu stores too
            page = default_book / "_generated" / task / f"{name}.html"
            assert page.is_file(), f"{page} was not built"
        chapter = default_book / "_generated" / task / "03_preserved_fraction.html"
        assert [img for img in soup(chapter).find_all("img")], f"{chapter.name} of {task} embeds no figure"


@pytest.mark.slow
def test_default_verdicts_are_on_the_introduction(default_book):
    found = soup(default_book / "index.html").find("section", id="what-this-build-found")
    table = found.find("table")
    header = [th.get_text(strip=True) for th in table.find("thead").find_all("th")]
    assert header == ["claim", *TASKS]
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == len(CLAIMS)
    assert "One epoch here is ag_news: 125 updates of batch 16; sst2: 125 updates of batch 16" in found.get_text()  # 2,000 examples / 16
    verdicts = pd.read_csv(default_book.parent / "source" / "_generated" / TASKS[0] / "data" / "summary_verdicts.csv")
    assert set(verdicts["verdict"]) <= {"holds", "does not hold", "inconclusive"} and verdicts["reason"].str.len().gt(0).all()
    assert {"1a", "1b", "2", "3a", "3b", "4a", "5a"} <= set(verdicts["id"])


@pytest.mark.slow
def test_committed_tables_match_what_the_book_computes(default_book):
    """The tables committed beside the runs (results/cpu-2k/<task>/) are the ones this build wrote from them."""
    for task in TASKS:
        committed, built = RESULTS / task, default_book.parent / "source" / "_generated" / task / "data"
        for name in ("fig1_score_timing.csv", "fig3_preserved_fraction.csv", "fig4_offset.csv", "summary_verdicts.csv"):
            assert (committed / name).is_file(), f"{committed / name} is not committed; rebuild with `diet book` and commit {RESULTS}"
            pd.testing.assert_frame_equal(pd.read_csv(committed / name), pd.read_csv(built / name), check_exact=False, rtol=1e-9)


def test_compact_parquet_reads_back_exactly(tmp_path):
    """write_parquet narrows float64 columns only where no value changes and read_parquet restores them: same values, same dtypes."""
    import pyarrow.parquet as pq

    from diet.files import read_parquet, write_parquet

    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame({
        "example_id": np.arange(n, dtype=np.int64),                                # many distinct ints: deltas
        "label": rng.integers(0, 4, n),                                            # few: dictionary
        "score": rng.choice(["el2n", "grand_head"], n),
        "value": rng.random(n).astype(np.float32).astype(np.float64),              # float32 values in float64: narrowed
        "accuracy": rng.random(n),                                                 # true float64: kept
        "with_nan": np.where(rng.random(n) < 0.1, np.nan, rng.random(n).astype(np.float32)).astype(np.float64),
        "already32": rng.random(n).astype(np.float32),                             # float32 stays float32
        "flag": rng.random(n) < 0.5,
    })
    path = tmp_path / "t.parquet"
    write_parquet(frame, path)
    back = read_parquet(path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert list(back.dtypes) == list(frame.dtypes)
    stored = pq.read_schema(path)
    assert str(stored.field("value").type) == "float" and str(stored.field("accuracy").type) == "double"
    assert str(stored.field("with_nan").type) == "float" and str(stored.field("already32").type) == "float"
    one_row = pd.DataFrame({"seed": [0], "accuracy": [0.8125], "n_train": [250], "seconds": [12.5]})
    write_parquet(one_row, path)
    pd.testing.assert_frame_equal(read_parquet(path), one_row, check_exact=True)


@pytest.mark.slow  # reads every committed entry (about 2,000 files)
def test_committed_entries_read_back_as_float64():
    """Every committed store entry reads through read_parquet with no float32 column left (scores stored narrowed)."""
    from diet.files import read_parquet

    files = sorted(ROOT.glob("*/*/*/data.parquet"))
    assert len(files) > 600
    for path in files:
        frame = read_parquet(path)
        assert not [c for c in frame.columns if frame[c].dtype == np.float32], path


@pytest.mark.slow
@pytest.mark.parametrize("preset,task", STORED)
def test_stored_results_are_complete_and_their_verdicts_reproduce(preset, task):
    """results/<preset> holds every run of that preset's book for each task (500 examples: cpu, 2,000: cpu-2k,
    up to 10,000: gpu), and its committed verdicts are what those runs give (figure tables recomputed read-only
    from the store, on the CPU, then claims() and verdict_summary())."""
    from diet.paper.claims import claims, verdict_summary
    from diet.paper.context import run_context
    from diet.grid.plan import make_plan
    from diet.paper.scale import stored_figure_tables

    ctx = run_context(preset, task=task, store=str(ROOT / preset))
    plan = make_plan(ctx)
    assert not plan.unstored and not plan.blocked, f"results/{preset} misses {plan.unstored} runs of {task}"
    tables, missing = stored_figure_tables(ctx)
    assert not missing and set(tables) == {"1", "2", "3", "4", "5"}
    computed = verdict_summary(claims(ctx, tables))
    committed = pd.read_csv(ROOT / preset / task / "summary_verdicts.csv")
    pd.testing.assert_frame_equal(committed[["id", "verdict", "settings"]], computed[["id", "verdict", "settings"]].reset_index(drop=True))
