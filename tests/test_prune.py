"""Pruning: sizes, rank order, both offset readings, class balance, seeded random, bad fractions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from diet import DietError, select
from diet.prune.select import class_fractions

N = 200
IDS = np.arange(1000, 1000 + N)
SCORES = pd.Series(np.random.default_rng(0).permutation(N).astype(float), index=IDS)  # distinct values 0..199
LABELS = pd.Series(np.r_[np.zeros(150, int), np.ones(50, int)], index=IDS)


def ranked(scores=SCORES):
    return scores.sort_values(ascending=False).index.to_numpy()


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.3, 0.5, 0.7, 1.0])
def test_top_and_bottom_sizes_and_order(keep):
    top, bottom = select(SCORES, keep), select(SCORES, keep, order="bottom")
    assert len(top) == len(bottom) == round(keep * N)
    assert set(top) == set(ranked()[: round(keep * N)])
    assert set(bottom) == set(ranked()[::-1][: round(keep * N)])
    assert np.all(np.diff(top) > 0)  # sorted ids


def test_top_and_bottom_split_the_data():
    top, rest = select(SCORES, 0.3), select(SCORES, 0.7, order="bottom")
    assert not set(top) & set(rest) and len(set(top) | set(rest)) == N


def test_fixed_offset_window_is_a_slice_of_the_ranking():
    kept = select(SCORES, 0.5, offset=0.2)
    assert len(kept) == 100 and set(kept) == set(ranked()[40:140])


def test_shrinking_offset_drops_the_top_from_the_kept_set():
    kept = select(SCORES, 0.7, offset=0.2, window="shrinking")
    assert len(kept) == 100 and set(kept) == set(ranked()[40:140])
    assert set(select(SCORES, 0.7, offset=0.0, window="shrinking")) == set(select(SCORES, 0.7))


def test_balanced_keeps_the_fraction_within_each_class():
    kept = select(SCORES, 0.4, labels=LABELS, balanced=True)
    assert np.bincount(LABELS.loc[kept]).tolist() == [60, 20]
    for cls, count in ((0, 60), (1, 20)):
        members = SCORES[LABELS == cls]
        assert set(LABELS.loc[kept][LABELS.loc[kept] == cls].index) == set(members.sort_values(ascending=False).index[:count])
    np.testing.assert_allclose(class_fractions(kept, LABELS, 2), [0.75, 0.25])


def test_balanced_offset_applies_per_class():
    kept = select(SCORES, 0.5, offset=0.2, labels=LABELS, balanced=True)
    zero = SCORES[LABELS == 0].sort_values(ascending=False).index
    assert set(kept) & set(zero) == set(zero[30:105])


def test_random_is_reproducible_by_seed():
    a, b, c = (select(SCORES, 0.3, order="random", seed=s) for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c) and len(a) == 60
    balanced = select(SCORES, 0.3, order="random", labels=LABELS, balanced=True, seed=1)
    assert np.bincount(LABELS.loc[balanced]).tolist() == [45, 15]


def test_ties_are_broken_by_id():
    flat = pd.Series(np.ones(10), index=np.arange(10))
    assert select(flat, 0.3).tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"keep": 1.2}, r"keep is a fraction of the training set in \[0, 1\], got 1.2"),
        ({"keep": -0.1}, "keep is a fraction"),
        ({"keep": 0.5, "offset": 1.5}, "offset is a fraction"),
        ({"keep": 0.8, "offset": 0.3}, "offset \\+ keep = 0.3 \\+ 0.8 > 1"),
        ({"keep": 0.2, "offset": 0.3, "window": "shrinking"}, "must not exceed keep"),
        ({"keep": 0.5, "offset": 0.1, "order": "random"}, "random pruning has no ranks"),
        ({"keep": 0.5, "balanced": True}, "needs the labels"),
    ],
)
def test_bad_fractions_are_refused(kwargs, message):
    with pytest.raises(DietError, match=message):
        select(SCORES, **kwargs)


def test_nan_scores_are_refused():
    with pytest.raises(DietError, match="NaN"):
        select(SCORES.where(SCORES > 3), 0.5)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_scores_are_refused(bad):
    """An infinite score would be ranked first (or last) without a word."""
    scores = SCORES.copy()
    scores.iloc[5] = bad
    with pytest.raises(DietError, match=re.escape(f"1 are {bad:+} of 200 scores: non-finite scores cannot be ranked")):
        select(scores, 0.5)
