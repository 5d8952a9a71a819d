"""Verdicts from stored test predictions: the paired interval where every run has them, the seed rule
(said so) where some do not, and the words of the summary and the figures' sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diet.paper import claims as claims_module
from diet.paper import findings
from diet.paper.context import RANDOM
from diet.paper.evidence import INTERVAL_RULE, SEED_RULE, Evidence
from diet.stats.seed_rule import compare
from diet.runs.retraining import RUN
from diet.runs.store import Store

from tests._predictions import LABELS, stored_runs

def test_a_clear_difference_holds_and_the_interval_brackets_it(tmp_path):
    store = Store(tmp_path)
    ours, base = stored_runs(store, "ours", [0.90, 0.91, 0.90]), stored_runs(store, "base", [0.80, 0.81, 0.80], seed=3)
    result = Evidence.of(store, LABELS, [ours, base]).accuracy(ours, base, "higher", floor=0.25)
    assert result["rule"] == INTERVAL_RULE and result["verdict"] == "holds"
    assert result["low"] > 0 and result["low"] < result["difference"] < result["high"]
    assert result["difference"] == pytest.approx(ours["accuracy"].mean() - base["accuracy"].mean())
    assert result["seeds_width"] > 0 and result["examples_width"] > 0


def test_seeds_that_agree_do_not_make_a_small_difference_hold_on_a_small_test_set(tmp_path):
    """The seed rule calls +0.01 on 400 examples "holds" when the seeds agree to 0.0025; the interval counts the test
    set's sampling noise (a standard error of about 0.02 per accuracy) and does not."""
    store = Store(tmp_path)
    ours, base = stored_runs(store, "ours", [0.8100, 0.8125, 0.8100]), stored_runs(store, "base", [0.8000, 0.8025, 0.8000], seed=200)
    result = Evidence.of(store, LABELS, [ours, base]).accuracy(ours, base, "higher")
    assert compare(ours["accuracy"], base["accuracy"], "higher")["verdict"] == "holds"
    assert result["verdict"] == "inconclusive" and result["low"] < 0 < result["high"]


def test_runs_without_predictions_fall_back_to_the_seed_rule_and_say_so(tmp_path):
    store = Store(tmp_path)
    ours = stored_runs(store, "ours", [0.90, 0.91, 0.90])
    base = stored_runs(store, "base", [0.80, 0.81, 0.80], seed=3, predictions=False)
    evidence = Evidence.of(store, LABELS, [ours, base])
    result = evidence.accuracy(ours, base, "higher")
    assert result["rule"] == SEED_RULE and np.isnan(result["low"])
    assert result["note"].startswith("seed rule: 3 of 6 runs have no stored test predictions")
    assert result["verdict"] == compare(ours["accuracy"], base["accuracy"], "higher")["verdict"]
    assert evidence.without_predictions(base[RUN]) == list(base[RUN])
    # rows without a run column at all (tables from before): the seed rule too
    assert evidence.accuracy(ours.drop(columns=RUN), base, "higher")["rule"] == SEED_RULE


def test_one_seed_or_one_class_models_get_no_verdict(tmp_path):
    store = Store(tmp_path)
    ours, base = stored_runs(store, "ours", [0.95]), stored_runs(store, "base", [0.30, 0.31, 0.30], seed=3)
    evidence = Evidence.of(store, LABELS, [ours, base])
    assert evidence.accuracy(ours, base, "higher")["verdict"] == "inconclusive"
    low_a, low_b = stored_runs(store, "a", [0.25, 0.25]), stored_runs(store, "b", [0.25, 0.2525], seed=9)
    result = Evidence.of(store, LABELS, [low_a, low_b]).accuracy(low_a, low_b, "lower", floor=0.25)
    assert result["verdict"] == "inconclusive" and "no signal" in result["note"]


def test_the_same_comparison_gets_the_same_interval_whatever_else_was_loaded(tmp_path):
    store = Store(tmp_path)
    ours, base = stored_runs(store, "ours", [0.85, 0.86, 0.84]), stored_runs(store, "base", [0.83, 0.85, 0.84], seed=5)
    other = stored_runs(store, "other", [0.5, 0.6, 0.7], seed=11)
    alone = Evidence.of(store, LABELS, [ours, base]).accuracy(ours, base, "higher")
    crowded = Evidence.of(store, LABELS, [other, base, ours]).accuracy(ours, base, "higher")
    assert (alone["low"], alone["high"]) == (crowded["low"], crowded["high"])


def test_summary_names_the_rule_and_counts_the_comparisons(tmp_path):
    store = Store(tmp_path)
    ours, base = stored_runs(store, "ours", [0.90, 0.91, 0.90]), stored_runs(store, "base", [0.80, 0.81, 0.80], seed=3)
    evidence = Evidence.of(store, LABELS, [ours, base])
    rows = pd.DataFrame([{"id": "3b", "claim": "x", "setting": "s", **evidence.accuracy(ours, base, "higher")},
                         {"id": "3b", "claim": "x", "setting": "t", **evidence.accuracy(ours.drop(columns=RUN), base, "higher")}])
    summary = claims_module.verdict_summary(rows)
    assert summary["rule"].iloc[0] == f"{INTERVAL_RULE} (1 of 2 settings), {SEED_RULE} (1 of 2 settings)"
    assert "difference +0.100 [" in summary["reason"].iloc[0]
    line = claims_module.comparisons_line(rows)
    assert line.startswith("This summary makes 2 comparisons (1 by the paired interval, 1 by the seed sd)")


def test_a_figure_sentence_says_which_rule_spoke(tmp_path):
    store = Store(tmp_path)
    table = pd.concat([stored_runs(store, "el2n", [0.90, 0.91]).assign(balanced=False, keep=0.5),
                       stored_runs(store, "el2n", [0.90, 0.91], seed=1).assign(balanced=True, keep=0.5),
                       stored_runs(store, RANDOM, [0.80, 0.81], seed=3).assign(balanced=False, keep=0.5),
                       stored_runs(store, "full data", [0.92, 0.92], seed=5).assign(balanced=False, keep=1.0)], ignore_index=True)
    text = findings.preserved_fraction(table, 0.25, Evidence.of(store, LABELS, [table]))
    assert "above random at 50% kept" in text and text.endswith("(A difference counts when its 95% interval, over test examples and seeds, excludes 0.)")
    assert "seed rule" in findings.preserved_fraction(table, 0.25)
