"""The sentence under each figure says what the numbers show, by the results summary's rule."""

from __future__ import annotations

import pandas as pd
import pytest

from diet.paper import findings
from diet.paper.context import FULL, RANDOM


def _timing(el2n_late, random=(0.80, 0.82)) -> pd.DataFrame:
    rows = [{"score": "el2n", "step": step, "epoch": epoch, "keep": 0.7, "seed": seed, "accuracy": acc}
            for step, epoch, accs in ((0, 0.0, (0.60, 0.62)), (4, 1.0, el2n_late), (8, 2.0, (0.70, 0.71))) for seed, acc in enumerate(accs)]
    rows += [{"score": RANDOM, "step": None, "epoch": None, "keep": 0.7, "seed": s, "accuracy": a} for s, a in enumerate(random)]
    rows += [{"score": FULL, "step": None, "epoch": None, "keep": 1.0, "seed": s, "accuracy": a} for s, a in enumerate((0.85, 0.86))]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("late, words", [((0.90, 0.92), "above it at epoch 1 (0.910)"), ((0.80, 0.83), "within noise of it at epoch 1 (0.815)"),
                                         ((0.70, 0.71), "below it at epoch 1 (0.705)")])
def test_score_timing_sentence_follows_the_rule(late, words):
    text = findings.score_timing(_timing(late), majority=0.25)
    assert "EL2N is below random at epoch 0 (0.610)" in text and words in text
    assert "One-class" not in text


def test_flat_lines_at_the_majority_rate_are_called_one_class_models():
    text = findings.score_timing(_timing((0.50, 0.50)), majority=0.5)
    assert "no better than a one-class model, so below it at epoch 1 (0.500)" in text
    assert "One-class models, whose points say nothing about the scores (every run at most the test set's majority-class rate, 0.500, + 0.01): EL2N top 70% at epoch 1." in text


def test_preserved_fraction_groups_fractions_with_the_same_verdict():
    rows = []
    for keep, plain, balanced in ((0.5, (0.40, 0.41), (0.80, 0.81)), (0.7, (0.50, 0.52), (0.86, 0.87))):
        for seed in (0, 1):
            rows += [{"score": "el2n", "balanced": False, "keep": keep, "seed": seed, "accuracy": plain[seed]},
                     {"score": "el2n", "balanced": True, "keep": keep, "seed": seed, "accuracy": balanced[seed]},
                     {"score": RANDOM, "balanced": False, "keep": keep, "seed": seed, "accuracy": (0.80, 0.82)[seed]}]
    rows += [{"score": FULL, "balanced": False, "keep": 1.0, "seed": s, "accuracy": 0.87} for s in (0, 1)]
    text = findings.preserved_fraction(pd.DataFrame(rows), majority=0.25)
    assert "the plain top-k is below random at 50% and 70% kept" in text
    assert "the class-balanced top-k is within noise of random at 50% kept; above random at 70% kept" in text
