"""The figure experiments on the smoke preset at tiny sizes: table shapes, baselines, subset sizes, noise, verdicts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import diet.paper.experiments as ex
from diet import DietError, load_task
from diet.paper.claims import claims, verdict_summary
from diet.paper.context import repo_root, run_context, store_root
from diet.paper.cost import compute_cost
from diet.stats.seed_rule import compare
from diet.data.noise import flip_labels
from diet.paper.noise_detection import detection

N_TRAIN, N_TEST = 48, 48
SMALL = dict(n_train=N_TRAIN, n_test=N_TEST, seeds=[0], retrain_seeds=[0, 1], steps=["0", "1ep"], fractions=[0.5, 0.8],
             timing_fractions=[0.5], offsets=[0.0, 0.1, 0.2])
VERDICTS = {"holds", "does not hold", "inconclusive"}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return run_context("smoke", store=tmp_path_factory.mktemp("store"), **SMALL)


@pytest.fixture(scope="module")
def tables(ctx):
    """Every experiment once (the store makes later calls loads), saved as the notebooks do."""
    out = {
        "fig1_score_timing": ex.score_timing(ctx),
        "fig2_label_balance": ex.label_balance(ctx),
        "fig3_preserved_fraction": ex.preserved_fraction(ctx),
        "fig4_offset": ex.offset_curve(ctx),
        "fig5_noisy_labels": ex.noisy_labels(ctx),
    }
    for name, frame in out.items():
        ctx.save(frame, name)
    return out


# ------------------------------------------------------------ context and store layout


def test_run_context_applies_overrides_and_keeps_tables_apart(ctx, tmp_path, monkeypatch):
    assert len(ctx.task.train) == N_TRAIN and len(ctx.task.test) == N_TEST
    assert ctx.preset.score_seeds == (0,) and ctx.preset.retrain_seeds == (0, 1) and ctx.preset.steps == ("0", "1ep")
    assert ctx.tables.parent == ctx.store.root and ctx.tables.name.startswith("ag_news-")  # overrides get their own folder
    plain = run_context("smoke", store=tmp_path)
    assert plain.tables == tmp_path / "ag_news"
    monkeypatch.setenv("DIET_STORE", str(tmp_path / "env"))
    assert store_root("smoke") == tmp_path / "env"
    assert store_root("smoke", tmp_path / "given") == tmp_path / "given"
    monkeypatch.delenv("DIET_STORE")
    assert store_root("cpu") == repo_root() / "results" / "cpu"


def test_run_context_loads_a_local_csv_task(csv_task, tmp_path):
    options = {"text_column": "question", "pair_column": "answer"}
    ctx = run_context("smoke", task=str(csv_task), store=tmp_path, task_options=options)
    assert ctx.task.name == "my_task" and ctx.tables == tmp_path / "my_task"
    assert ctx.task.num_labels == 3 and ctx.task.is_pair


def test_unknown_preset_field_is_refused():
    with pytest.raises(DietError, match="unknown preset fields"):
        run_context("smoke", n_train=N_TRAIN, colour="blue")


# ------------------------------------------------------------ the experiment tables


def test_score_timing_has_every_step_and_both_baselines(ctx, tables):
    t = tables["fig1_score_timing"]
    assert {"score", "step", "epoch", "keep", "seed", "accuracy", "n_train"} <= set(t.columns)
    scored = t[t["step"].notna()]
    assert set(scored["score"]) == set(ctx.preset.timing_scores)
    assert sorted(scored["epoch"].unique()) == [0.0, 1.0]
    assert (scored.groupby(["score", "step", "keep"]).size() == 2).all()  # one row per retraining seed
    random = t[t["score"] == ex.RANDOM]
    assert len(random) == 2 and random["step"].isna().all() and (random["n_train"] == N_TRAIN // 2).all()
    assert sorted(random["subset_seed"]) == [0, 1]  # a new random subset per seed
    full = t[t["score"] == ex.FULL]
    assert len(full) == 2 and (full["n_train"] == N_TRAIN).all() and (full["keep"] == 1.0).all()
    assert t["accuracy"].between(0, 1).all()


def test_label_balance_fractions_sum_to_one(ctx, tables):
    t = tables["fig2_label_balance"]
    sums = t.groupby(["score", "step", "keep", "by", "run"])["fraction"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    assert set(t["by"]) == {"mean", "run"} and set(t["class_name"]) == set(ctx.task.label_names)
    np.testing.assert_allclose(t.groupby("label")["train_fraction"].first().sum(), 1.0)
    assert t["tv_distance"].between(0, 1).all()


def test_preserved_fraction_covers_scores_fractions_and_baselines(ctx, tables):
    t = tables["fig3_preserved_fraction"]
    scored = t[~t["score"].isin([ex.RANDOM, ex.FULL])]
    assert set(scored["score"]) == set(ctx.preset.scores) == {"el2n", "grand_head", "grand_full"}
    assert set(scored["balanced"]) == {False, True} and set(scored["keep"]) == {0.5, 0.8}
    plain = scored[~scored["balanced"]]
    assert (plain["n_train"] == (plain["keep"] * N_TRAIN).round().astype(int)).all()
    assert set(t.loc[t["score"] == ex.RANDOM, "keep"]) == {0.5, 0.8}
    assert (t.loc[t["score"] == ex.FULL, "n_train"] == N_TRAIN).all()


def test_offset_curve_window_sizes(ctx, tables):
    t = tables["fig4_offset"]
    scored = t[~t["score"].isin([ex.RANDOM, ex.FULL]) & ~t["balanced"]]
    fixed, shrinking = scored[scored["window"] == "fixed"], scored[scored["window"] == "shrinking"]
    assert (fixed["n_train"] == round(0.7 * N_TRAIN)).all()
    expected = round(0.7 * N_TRAIN) - (shrinking["offset"] * N_TRAIN).round().astype(int)
    assert (shrinking["n_train"] == expected).all()
    assert set(scored["offset"]) == {0.0, 0.1, 0.2}
    random = t[t["score"] == ex.RANDOM]
    assert (random["n_train"] == (random["kept"] * N_TRAIN).round().astype(int)).all()  # same size as each window
    assert set(t.loc[t["score"] == ex.FULL, "window"]) == {"fixed", "shrinking"}


def test_offset_zero_reuses_the_top_70_percent_of_figure_3(ctx, tables):
    ids3 = ex.kept_ids(ex.fraction_subsets(ctx))
    ids4 = ex.kept_ids(ex.offset_subsets(ctx))
    fixed0 = ids4[(ids4["score"] == "el2n") & (ids4["window"] == "fixed") & (ids4["offset"] == 0.0) & ~ids4["balanced"]]
    assert len(fixed0) == round(0.7 * N_TRAIN)
    assert set(ids3.columns) >= {"score", "keep", "balanced", "example_id"}


def test_noisy_labels_metrics(ctx, tables):
    t = tables["fig5_noisy_labels"]
    assert set(t["metric"]) == {"precision", "recall", "accuracy"}
    detect = t[t["metric"] != "accuracy"]
    assert detect["value"].between(0, 1).all()
    assert set(detect["score"]) == set(ctx.preset.scores) | {ex.RANDOM}
    acc = t[t["metric"] == "accuracy"]
    n_flip = round(ctx.preset.noise * N_TRAIN)
    assert (acc.loc[acc["score"] == ex.ORACLE, "n_train"] == N_TRAIN - n_flip).all()
    assert (acc.loc[acc["score"] == ex.FULL, "n_train"] == N_TRAIN).all()
    assert (acc.loc[acc["score"] == "el2n", "n_train"] == N_TRAIN - round(ctx.preset.noise * N_TRAIN)).all()


def test_top_examples_are_the_highest_scored(ctx, tables):
    top = ex.top_examples(ctx, n=4)
    assert list(top.columns) == ["score", "rank", "example_id", "value", "gold", "predicted", "text"]
    for name, part in top.groupby("score"):
        assert len(part) == 4 and part["value"].is_monotonic_decreasing
        mean = ctx.final_scores().mean(name, ctx.step("1ep"))
        assert part["value"].iloc[0] == pytest.approx(mean.max())
    assert set(top["gold"]) | set(top["predicted"]) <= set(ctx.task.label_names)


def test_rerun_loads_from_the_store(ctx, tables):
    again = ex.preserved_fraction(ctx)
    pd.testing.assert_frame_equal(again, tables["fig3_preserved_fraction"], check_dtype=False)


def test_claims_from_saved_tables(ctx, tables):
    verdicts = claims(ctx)
    assert set(verdicts["verdict"]) <= VERDICTS
    assert {"1a", "1b", "2", "3a", "3b", "4a", "4c", "5a", "5b"} <= set(verdicts["id"])
    assert list(verdicts.columns) == ["id", "figure", "claim", "setting", "ours", "baseline", "difference", "low", "high", "seeds_width",
                                      "examples_width", "spread", "rule", "verdict", "note", "key"]
    # the smoke runs store their test predictions: every accuracy comparison is judged by the paired interval
    accuracy = verdicts[~verdicts["id"].isin(["2", "5a"])]
    assert (accuracy["rule"] == "paired interval").all() and accuracy[["low", "high"]].notna().all(axis=None)
    assert (verdicts.loc[verdicts["id"].isin(["2", "5a"]), "rule"] == "interval over runs").all()
    judged = verdicts[verdicts["low"].notna()]  # claim 2 with one scoring run at a step has no interval (and no verdict)
    assert len(judged) >= len(accuracy) and (verdicts.loc[verdicts["low"].isna(), "verdict"] == "inconclusive").all()
    assert ((judged["low"] <= judged["difference"] + 1e-12) & (judged["difference"] <= judged["high"] + 1e-12)).all()
    no_steps = verdicts[verdicts["id"].isin(["1a", "1b", "2", "4a", "4c"])]
    assert not no_steps["key"].str.contains(r"step \d|k = \d", regex=True).any()  # followed across sizes by diet.paper.scale
    assert (verdicts.loc[verdicts["id"].isin(["3a", "3b"]), "key"] == verdicts.loc[verdicts["id"].isin(["3a", "3b"]), "setting"]).all()


def test_claims_name_the_missing_notebook(tmp_path):
    ctx = run_context("smoke", store=tmp_path)
    with pytest.raises(DietError, match="01_score_timing.ipynb"):
        claims(ctx)


def test_tables_of_another_run_are_refused(tmp_path):
    one = run_context("smoke", store=tmp_path, n_train=40)
    other = run_context("smoke", store=tmp_path, n_train=40, retrain_seeds=[5])
    one.save(pd.DataFrame({"a": [1]}), "fig1_score_timing")
    assert one.load("fig1_score_timing", "01_score_timing.ipynb")["a"].tolist() == [1]
    other = dataclasses.replace(other, tables=one.tables)  # the same folder, as with a shared DIET_STORE
    with pytest.raises(DietError, match="other parameters.*01_score_timing.ipynb"):
        other.load("fig1_score_timing", "01_score_timing.ipynb")
    import os

    relative = run_context("smoke", store=os.path.relpath(tmp_path), n_train=40)  # the same store, spelled another way
    assert relative.load("fig1_score_timing", "01_score_timing.ipynb")["a"].tolist() == [1]


# ------------------------------------------------------------ noise and the verdict rule (no training)


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_flip_labels_flips_exactly_and_always_changes_the_class(fraction):
    task = load_task("ag_news", n_train=160, n_test=40)
    noisy, flipped = flip_labels(task, fraction, seed=3)
    assert len(flipped) == round(fraction * 160) and len(set(flipped)) == len(flipped)
    changed = noisy.train.labels != task.train.labels
    assert changed.sum() == len(flipped)
    assert set(task.train.ids[changed]) == set(flipped)
    assert np.array_equal(noisy.test.labels, task.test.labels) and noisy.train.text == task.train.text
    again, flipped_again = flip_labels(task, fraction, seed=3)
    assert np.array_equal(flipped, flipped_again) and np.array_equal(again.train.labels, noisy.train.labels)
    assert not np.array_equal(flip_labels(task, fraction, seed=4)[1], flipped)


def test_flip_labels_refuses_bad_fractions():
    task = load_task("ag_news", n_train=20, n_test=8)
    with pytest.raises(DietError, match="fraction of training labels"):
        flip_labels(task, 1.0)


def test_detection_precision_and_recall():
    scores = pd.Series([0.9, 0.8, 0.1, 0.2, 0.7, 0.3], index=[10, 11, 12, 13, 14, 15])
    assert detection(scores, np.array([10, 11]), 2 / 6) == (1.0, 1.0)
    precision, recall = detection(scores, np.array([10, 12]), 3 / 6)
    assert precision == pytest.approx(1 / 3) and recall == pytest.approx(0.5)


@pytest.mark.parametrize(
    "a, b, claim, verdict",
    [
        ([0.9, 0.92], [0.5, 0.52], "higher", "holds"),
        ([0.5, 0.52], [0.9, 0.92], "higher", "does not hold"),
        ([0.5, 0.6], [0.52, 0.58], "higher", "inconclusive"),
        ([0.5, 0.52], [0.9, 0.92], "lower", "holds"),
        ([0.5, 0.6], [0.52, 0.58], "not higher", "holds"),
        ([0.9, 0.92], [0.5, 0.52], "not higher", "does not hold"),
        ([0.9], [0.5], "higher", "inconclusive"),  # one seed: no spread to judge by
    ],
)
def test_compare_rule(a, b, claim, verdict):
    result = compare(a, b, claim)
    assert result["verdict"] == verdict
    assert result["difference"] == pytest.approx(np.mean(a) - np.mean(b))


def test_compare_exact_value_against_random_draws():
    assert compare([0.5], [0.1, 0.12, 0.08], "higher", exact_a=True)["verdict"] == "holds"


def test_verdict_summary_rule():
    rows = [("1b", "holds", 0.1), ("1b", "holds", 0.2), ("1b", "inconclusive", 0.0),
            ("3a", "holds", 0.0), ("3a", "does not hold", 0.3),
            ("4a", "does not hold", -0.1), ("4a", "inconclusive", 0.01),
            ("5a", "holds", 0.1), ("5a", "inconclusive", 0.0), ("5a", "inconclusive", 0.0),
            ("5b", "inconclusive", 0.0)]
    frame = pd.DataFrame([{"id": i, "claim": f"claim {i}", "setting": f"{i} #{n}", "ours": f"{0.5 + d:.3f}", "baseline": "0.500",
                           "difference": d, "verdict": v, "note": "at the majority rate" if i == "5b" else ""} for n, (i, v, d) in enumerate(rows)])
    summary = verdict_summary(frame).set_index("id")
    assert summary["verdict"].to_dict() == {"1b": "holds", "3a": "inconclusive", "4a": "does not hold", "5a": "inconclusive", "5b": "inconclusive"}
    assert summary.loc["1b", "settings"] == "2 hold, 0 do not, 1 inconclusive (of 3)"
    assert summary.loc["1b", "difference"] == "+0.000 to +0.200"
    assert summary.loc["1b", "reason"].endswith("clearest: 1b #1: 0.700 vs 0.500")  # the largest difference among those that hold
    assert "disagree" in summary.loc["3a", "reason"] and "3a #4: 0.800 vs 0.500" in summary.loc["3a", "reason"]
    assert summary.loc["5a", "reason"] == "holds in only 1 of 3 settings (5a #7: 0.600 vs 0.500); the other differences stay within the spread over seeds"
    assert summary.loc["5b", "reason"].startswith("in 1 of 1 settings, at the majority rate")
    partial = frame[frame["id"] == "4a"].assign(verdict=["does not hold", "inconclusive"]).pipe(lambda f: pd.concat([f, f.assign(verdict="inconclusive")]))
    assert verdict_summary(partial).loc[0, "verdict"] == "inconclusive"
    assert verdict_summary(partial).loc[0, "reason"].startswith("goes the other way in only 1 of 4 settings (4a #5: 0.400 vs 0.500)")


def test_offset_subsets_follow_the_presets_windows_and_scores(ctx, tables):
    narrow = dataclasses.replace(ctx, preset=ctx.preset.with_overrides(offset_windows=["fixed"], offset_scores=["el2n"]))
    subsets = ex.offset_subsets(narrow)
    scored = [s.meta for s in subsets if s.meta["score"] not in (ex.RANDOM, ex.FULL)]
    assert {m["window"] for m in scored} == {"fixed"} and {m["score"] for m in scored} == {"el2n"}
    assert len(scored) == 2 * len(narrow.preset.offsets)  # plain and balanced per offset
    bad = dataclasses.replace(ctx, preset=ctx.preset.with_overrides(offset_windows=["sliding"]))
    with pytest.raises(DietError, match="unknown offset windows"):
        ex.offset_subsets(bad)


def test_compute_cost_sums_the_stored_runs(ctx, tables):
    cost = compute_cost(ctx).set_index("stage")
    assert list(cost.index) == ["scoring passes, figures 1-2 (timing)", "scoring passes, figures 3-4 (final step)", "scoring passes, figure 5 (noisy labels)",
                                "retraining, figure 1", "retraining, figure 3", "retraining, figure 4", "retraining, figure 5"]
    assert cost.loc["retraining, figure 3", "runs"] == len(tables["fig3_preserved_fraction"])
    assert cost.loc["scoring passes, figures 1-2 (timing)", "runs"] == len(ctx.preset.score_seeds) * len(ctx.preset.steps)
    assert (cost["seconds per run"] >= 0).all() and cost["core-minutes"].sum() > 0


def test_noisy_labels_without_retraining_shows_detection_only(ctx, tables):
    from diet.plots import figures as plots

    detect_only = dataclasses.replace(ctx, preset=ctx.preset.with_overrides(noise_retrain=False))
    t = ex.noisy_labels(detect_only)
    assert set(t["metric"]) == {"precision", "recall"}
    full = tables["fig5_noisy_labels"]
    detection = full[full["metric"] != "accuracy"].reset_index(drop=True)
    assert detection["run"].isna().all()  # only retrainings name a store entry
    pd.testing.assert_frame_equal(t.reset_index(drop=True), detection.drop(columns="run"))
    assert set(ex.noisy_kept_ids(detect_only)["score"]) == {"flipped"}
    fig, caption = plots.noisy_labels(t, noise=detect_only.preset.noise)
    assert len(fig.axes) == 1 and "no accuracy panel" in caption and "10%" in caption


def test_compare_calls_runs_at_the_majority_rate_inconclusive():
    both_constant = compare([0.51, 0.51, 0.49], [0.51, 0.51, 0.51], "not higher", floor=0.51)
    assert both_constant["verdict"] == "inconclusive" and "majority-class rate" in both_constant["note"]
    one_learns = compare([0.51, 0.51], [0.60, 0.62], "lower", floor=0.51)
    assert one_learns["verdict"] == "holds" and one_learns["note"] == "ours: one-class models, every run at the majority-class rate (0.510) or below"
    other_side = compare([0.70, 0.72], [0.50, 0.51], "higher", floor=0.51)
    assert other_side["verdict"] == "holds" and other_side["note"].startswith("baseline: one-class models")
    both_learn = compare([0.70, 0.72], [0.60, 0.62], "higher", floor=0.51)
    assert both_learn["note"] == ""
    # the verdict page names it beside the clearest setting
    rows = pd.DataFrame([{"id": "3b", "claim": "c", "setting": "el2n, keep 80%", **compare([0.49, 0.49, 0.50], [0.76, 0.74, 0.78], "higher", floor=0.49)}])
    summary = verdict_summary(rows).iloc[0]
    assert summary["verdict"] == "does not hold" and summary["reason"].endswith("(ours: one-class models, every run at the majority-class rate (0.490) or below)")


def test_forest_plot_has_one_row_per_compared_setting():
    """The summary's forest plot: a labelled row for each setting with a difference, claims 2 and 5a marked with their units."""
    from diet.plots.claims import forest

    rows = pd.DataFrame([
        {"id": "1a", "setting": "el2n, top 50%, step 0", "difference": -0.15, "spread": 0.02, "verdict": "holds"},
        {"id": "2", "setting": "el2n, top 50%, step 0 vs 32", "difference": -0.12, "spread": 0.07, "verdict": "does not hold"},
        {"id": "3b", "setting": "el2n, keep 90%", "difference": 0.001, "spread": np.nan, "verdict": "inconclusive"},
        {"id": "4b", "setting": "not checked", "difference": np.nan, "spread": np.nan, "verdict": "inconclusive"},
    ])
    fig, caption = forest(rows, "Task t.")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["1a · el2n, top 50%, step 0", "2 · el2n, top 50%, step 0 vs 32 (TV distance)", "3b · el2n, keep 90%"]
    assert caption.endswith("Task t.") and "spread over seeds" in caption
    with pytest.raises(ValueError, match="no compared setting"):
        forest(rows.iloc[3:])
