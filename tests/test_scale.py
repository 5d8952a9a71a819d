"""The scale chapter: the claims of several training-set sizes from their stores, read-only, matched by setting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import diet.paper.experiments as ex
from diet.paper.context import run_context
from diet.plots import scale as plots_scale
from diet.paper import scale
from diet.paper.claims import claims
from diet.paper.figures import CHECKED
from diet.runs.store import MissingRunError

SIZES = (24, 48)
SETTINGS = dict(n_test=32, seeds=[0, 1], retrain_seeds=[0, 1], steps=["0", "1ep"], fractions=[0.5, 0.8], offsets=[0.0, 0.2])


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A smoke store holding every figure's runs at both sizes, and the claims checked the notebooks' way (the oracle)."""
    store = tmp_path_factory.mktemp("store")
    oracle = {}
    for n in SIZES:
        ctx = run_context("smoke", n_train=n, store=store, **SETTINGS)
        for figure in CHECKED:
            ctx.save(figure.compute(ctx), figure.table.name)
        oracle[n] = claims(ctx)
    return store, oracle


def contexts(store):
    return scale.scale_contexts("smoke", sizes=list(reversed(SIZES)), store=store, **SETTINGS)


@pytest.mark.slow  # `filled` runs every figure at two sizes: about 45 s of one core (measured)
def test_each_size_has_the_claims_its_saved_tables_give(filled):
    store, oracle = filled
    found, skipped = contexts(store)
    assert [c.n_train for c in found] == list(SIZES) and not skipped  # smallest first
    rows, gaps = scale.scale_claims(found)
    assert gaps.empty
    for n in SIZES:
        at = rows[(rows["n_train"] == n) & (rows["id"] != scale.BALANCED)].drop(columns=["size", "n_train", "preset"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(at, oracle[n], check_dtype=False)
    assert set(rows["size"]) == {"24 (smoke)", "48 (smoke)"}
    keys = rows.groupby(["id", "key"])["n_train"].nunique()
    assert (keys == 2).all(), "every setting is followed across both sizes"


@pytest.mark.slow  # `filled` runs every figure at two sizes: about 45 s of one core (measured)
def test_a_figure_with_a_missing_run_is_left_out_and_nothing_is_trained(filled, tmp_path):
    import shutil

    store, oracle = filled
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    from diet.data.fingerprint import ids_fingerprint

    small = run_context("smoke", n_train=SIZES[0], store=copy, **SETTINGS)
    skip = next(s for s in ex.offset_subsets(small) if s.meta["score"] == "el2n" and s.meta["offset"] == 0.2)  # in figure 4 only
    subset = ids_fingerprint(small.task.train.select_ids(np.asarray(skip.ids[0])).ids)
    gone = [f for f in (copy / "retrain").iterdir() if json.loads((f / "config.json").read_text())["subset"] == subset]
    assert len(gone) == len(SETTINGS["retrain_seeds"])
    shutil.rmtree(gone[0])
    before = sorted(p.name for p in (copy / "retrain").iterdir())
    rows, gaps = scale.scale_claims(contexts(copy)[0])
    assert list(gaps["figure"]) == ["4"] and list(gaps["n_train"]) == [SIZES[0]] and "holds no retrain run" in gaps["reason"].iloc[0]
    assert not rows[(rows["n_train"] == SIZES[0]) & (rows["figure"] == "4")].size and len(rows[(rows["n_train"] == SIZES[1]) & (rows["figure"] == "4")])
    assert sorted(p.name for p in (copy / "retrain").iterdir()) == before  # read-only: the missing run was not computed
    with pytest.raises(MissingRunError):
        ex.offset_curve(scale.readonly(small))


def test_presets_without_results_are_named_not_fatal(tmp_path):
    found, skipped = scale.scale_contexts("smoke", presets=["smoke", "nonesuch"], store=tmp_path / "empty")
    assert not found
    assert "nothing stored" in skipped["smoke"] and "diet precompute --preset smoke" in skipped["smoke"]
    assert "unknown preset 'nonesuch'" in skipped["nonesuch"]
    assert scale.verdicts_by_size(scale.scale_claims(found)[0]).empty


def test_verdicts_by_size_and_changes():
    rows = pd.DataFrame([
        {"id": "1b", "claim": "c1", "key": "el2n, top 50%, final step", "setting": "s", "size": "500 (cpu)", "n_train": 500, "difference": -0.4, "spread": 0.01, "verdict": "does not hold"},
        {"id": "1b", "claim": "c1", "key": "el2n, top 50%, final step", "setting": "s", "size": "2,000 (cpu-2k)", "n_train": 2000, "difference": 0.02, "spread": 0.01, "verdict": "holds"},
        {"id": "3a", "claim": "c3", "key": "el2n, keep 30%", "setting": "s", "size": "500 (cpu)", "n_train": 500, "difference": -0.1, "spread": 0.01, "verdict": "holds"},
        {"id": "3a", "claim": "c3", "key": "el2n, keep 30%", "setting": "s", "size": "2,000 (cpu-2k)", "n_train": 2000, "difference": -0.05, "spread": 0.01, "verdict": "holds"},
        {"id": "5a", "claim": "c5", "key": "el2n, top 10%", "setting": "s", "size": "500 (cpu)", "n_train": 500, "difference": 0.5, "spread": 0.1, "verdict": "holds"},
    ]).assign(ours="", baseline="", note="")
    table = scale.verdicts_by_size(rows)
    assert list(table.columns) == ["500 (cpu)", "2,000 (cpu-2k)"] and list(table.index) == ["1b", "3a", "5a"]
    assert table.loc["1b", "500 (cpu)"] == "does not hold (0/1 hold)" and table.loc["1b", "2,000 (cpu-2k)"] == "holds (1/1 hold)"
    assert table.loc["5a", "2,000 (cpu-2k)"] == "–"
    moved = scale.changes(rows)
    assert moved.to_dict("records") == [{"id": "1b", "setting": "el2n, top 50%, final step",
                                         "from": "does not hold at 500 (-0.400)", "to": "holds at 2,000 (+0.020)"}]


@pytest.mark.slow  # `filled` runs every figure at two sizes: about 45 s of one core (measured)
def test_balanced_rows_compare_balanced_with_plain(filled):
    store, _ = filled
    ctx = run_context("smoke", n_train=SIZES[1], store=store, **SETTINGS)
    fig3 = ex.preserved_fraction(scale.readonly(ctx))
    rows = pd.DataFrame(scale.balanced_rows(ctx, fig3))
    assert set(rows["key"]) == {f"{s}, keep {k:.0%}" for s in ctx.preset.scores for k in SETTINGS["fractions"]}
    one = rows[rows["key"] == "el2n, keep 50%"].iloc[0]
    at = (fig3["score"] == "el2n") & (fig3["keep"] == 0.5)
    expect = fig3.loc[at & fig3["balanced"].astype(bool), "accuracy"].mean() - fig3.loc[at & ~fig3["balanced"].astype(bool), "accuracy"].mean()
    assert np.isclose(one["difference"], expect)


@pytest.mark.slow  # `filled` runs every figure at two sizes: about 45 s of one core (measured)
def test_plot_has_a_panel_per_claim(filled):
    store, _ = filled
    rows, _ = scale.scale_claims(contexts(store)[0])
    fig, caption = plots_scale.by_size(rows, "about this")
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(panels) == rows.dropna(subset=["difference"])["id"].nunique()
    assert caption.endswith("about this") and "log axis" in caption
    assert plots_scale.short_labels(["el2n, top 50%, final step", "el2n, top 70%, final step"]) == {
        "el2n, top 50%, final step": "top 50%", "el2n, top 70%, final step": "top 70%"}


@pytest.mark.slow
def test_the_scale_notebook_runs_on_two_sizes(filled, tmp_path):
    from diet.book.build import execute
    from diet.paper.context import repo_root

    store, _ = filled
    out = tmp_path / "08.ipynb"
    execute(repo_root() / "notebooks" / "08_scale.ipynb", out, {"preset": "smoke", "store": str(store), "sizes": list(SIZES), **SETTINGS},
            cwd=repo_root(), compute=False)
    text = json.dumps(json.loads(out.read_text()))
    assert "comparing 24 (smoke), 48 (smoke)" in text and "image/png" in text
    own = run_context("smoke", store=store, **SETTINGS)  # the book's own context (the preset's n_train): its tables
    saved = pd.read_csv(own.tables / "scale_verdicts.csv")
    assert list(saved.columns) == ["claim", "24 (smoke)", "48 (smoke)"]


def test_the_default_book_falls_back_while_the_larger_cpu_store_is_incomplete(tmp_path, monkeypatch):
    from diet.book.build import LARGEST_CPU_FIRST, default_preset

    assert LARGEST_CPU_FIRST == ("cpu-2k", "cpu")
    monkeypatch.setenv("DIET_STORE", str(tmp_path / "empty"))  # every preset's store: nothing stored
    name, why = default_preset(["sst2"])
    assert name == "cpu"
    assert "cpu-2k is not complete (sst2 " in why and "runs still to compute" in why and "diet precompute --preset cpu-2k" in why
