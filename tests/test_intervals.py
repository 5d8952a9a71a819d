"""The paired bootstrap's intervals: coverage of a known difference, verdicts, pairing, edge cases and input errors."""

from __future__ import annotations

import numpy as np
import pytest

from diet.errors import DietError
from diet.stats.intervals import Interval, PairedBootstrap, paired_interval, runs_interval, verdict

SEEDS, N, REPLICATES = 3, 400, 2_000


def _population(changed: float, shift: float, size: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Latent logits of A and B for a population of test examples: 70% easy, 10% hopeless, 20% uncertain.

    B's logit differs from A's on a share `changed` of the examples, by `shift` on average.
    """
    rng = np.random.default_rng(0)
    kind = rng.choice(3, size, p=[0.7, 0.1, 0.2])
    logit_a = np.choose(kind, [rng.normal(4.5, 1, size), rng.normal(-4, 1, size), rng.normal(0, 1.5, size)])
    logit_b = logit_a + (rng.random(size) < changed) * rng.normal(shift, 1.5, size)
    return logit_a, logit_b


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _truth(logit_a: np.ndarray, logit_b: np.ndarray, seed_sd: float) -> float:
    """Expected mean accuracy of A minus B over the population and over seeds (a per-seed logit shift ~ N(0, seed_sd))."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    return float(sum(w * (_sigmoid(logit_a + seed_sd * z).mean() - _sigmoid(logit_b + seed_sd * z).mean()) for z, w in zip(nodes, weights)))


def _simulations(logit_a, logit_b, seed_sd: float, sims: int, seed: int, per_test_set: int = 100) -> list[Interval]:
    """Intervals for `sims` independent test sets of N examples, each scored by SEEDS seeds of A and of B.

    Like a book, `per_test_set` comparisons share one PairedBootstrap (one set of example weights);
    several of them keep one unlucky draw of weights from deciding the coverage.
    """
    rng = np.random.default_rng(seed)
    intervals = []
    for group in range(0, sims, per_test_set):
        size = min(per_test_set, sims - group)
        examples = rng.integers(0, len(logit_a), (size, N))
        seeds_a = _sigmoid(logit_a[examples][:, None, :] + seed_sd * rng.normal(size=(size, SEEDS, 1)))
        seeds_b = _sigmoid(logit_b[examples][:, None, :] + seed_sd * rng.normal(size=(size, SEEDS, 1)))
        correct = rng.random((size, 2 * SEEDS, N)) < np.concatenate([seeds_a, seeds_b], axis=1)
        boot = PairedBootstrap(correct.reshape(size * 2 * SEEDS, N), replicates=REPLICATES, seed=seed * 1_000 + group)
        intervals += [boot.compare(range(2 * SEEDS * k, 2 * SEEDS * k + SEEDS), range(2 * SEEDS * k + SEEDS, 2 * SEEDS * (k + 1)))
                      for k in range(size)]
    return intervals


@pytest.mark.parametrize("seed_sd, band", [(0.0, (0.95, 0.98)), (0.2, (0.93, 0.97))],
                         ids=["interaction only", "seed shift as large as the interaction"])
def test_the_interval_covers_the_true_difference_95_percent_of_the_time(seed_sd, band):
    """The claims of diet.stats.intervals' docstring: slightly conservative when seeds differ only by interaction
    noise (97.0% of 10,000 simulations), 94.5% with a real per-seed shift; 2,000 simulations here."""
    logit_a, logit_b = _population(changed=0.05, shift=-1.0)
    truth = _truth(logit_a, logit_b, seed_sd)
    intervals = _simulations(logit_a, logit_b, seed_sd, sims=2_000, seed=1)
    coverage = np.mean([i.low <= truth <= i.high for i in intervals])
    assert band[0] <= coverage <= band[1], coverage
    examples_only = np.mean([i.examples_low <= truth <= i.examples_high for i in intervals])
    if seed_sd:  # the test can fail: leaving the seed level out misses the truth far too often
        assert examples_only < 0.90, examples_only


@pytest.mark.parametrize("changed, reversed_, expected", [(0.3, False, "holds"), (0.0, False, "inconclusive"), (0.3, True, "does not hold")])
def test_verdicts_follow_the_true_difference(changed, reversed_, expected):
    logit_a, logit_b = _population(changed=changed, shift=-4.0)  # A ahead by 0.11 where B differs on 30% of examples
    intervals = _simulations(logit_b, logit_a, 0.2, sims=200, seed=2) if reversed_ else _simulations(logit_a, logit_b, 0.2, sims=200, seed=2)
    verdicts = [verdict(interval, "higher") for interval in intervals]
    assert np.mean([v == expected for v in verdicts]) >= (0.9 if expected == "inconclusive" else 0.98)


def test_pairing_narrows_the_interval_when_models_agree_on_most_examples():
    rng = np.random.default_rng(3)
    a = rng.random((SEEDS, N)) < _sigmoid(rng.normal(1.5, 2, N))
    b = a.copy()
    b[:, rng.choice(N, N // 50, replace=False)] ^= True  # the models differ on 2% of the examples
    paired = paired_interval(a, b, replicates=REPLICATES)
    weights_a, weights_b = (rng.multinomial(N, np.full(N, 1 / N), size=REPLICATES) for _ in range(2))
    unpaired = np.quantile((weights_a @ a.mean(axis=0) - weights_b @ b.mean(axis=0)) / N, [0.025, 0.975])
    assert paired.width < (unpaired[1] - unpaired[0]) / 2 and paired.low <= paired.difference <= paired.high


def test_identical_sides_give_zero_and_no_width_when_seeds_agree():
    row = np.random.default_rng(4).random(N) < 0.7
    same = paired_interval(np.tile(row, (SEEDS, 1)), np.tile(row, (SEEDS, 1)))
    assert same.difference == 0 and same.low == same.high == 0
    assert same.width == same.seeds_width == same.examples_width == 0
    noisy = np.random.default_rng(5).random((SEEDS, N)) < 0.7  # the same runs on both sides: seeds still disagree
    both = paired_interval(noisy, noisy)
    assert both.difference == 0 and both.low <= 0 <= both.high and both.examples_width == 0


def test_one_seed_a_side_has_no_seed_level():
    rng = np.random.default_rng(6)
    interval = paired_interval(rng.random(N) < 0.8, rng.random((1, N)) < 0.7)
    assert interval.seeds_width == 0 and interval.seeds_low == interval.difference
    assert interval.examples_low < interval.difference < interval.examples_high


def test_intervals_are_reproducible_and_independent_of_comparison_order():
    correct = np.random.default_rng(7).random((12, N)) < 0.75
    first, second = PairedBootstrap(correct, replicates=500, seed=3), PairedBootstrap(correct, replicates=500, seed=3)
    x, y = first.compare([0, 1, 2], [3, 4, 5]), first.compare([6, 7], [8, 9, 10, 11])
    assert second.compare([6, 7], [8, 9, 10, 11]) == y and second.compare([0, 1, 2], [3, 4, 5]) == x
    assert PairedBootstrap(correct, replicates=500, seed=4).compare([0, 1, 2], [3, 4, 5]) != x
    assert paired_interval(correct[:3], correct[3:6], replicates=500, seed=3) == paired_interval(correct[:3], correct[3:6], replicates=500, seed=3)


def test_runs_interval_resamples_runs_only():
    interval = runs_interval([0.30, 0.32, 0.31], [0.20, 0.25, 0.22])
    assert interval.difference == pytest.approx(0.31 - 0.67 / 3) and 0 < interval.low < interval.difference < interval.high
    assert (interval.seeds_low, interval.seeds_high) == (interval.low, interval.high)
    assert interval.examples_low == interval.examples_high == interval.difference
    assert runs_interval([0.4, 0.4], [0.1, 0.1]).width == 0
    exact = runs_interval([0.3], [0.2, 0.25, 0.22], exact_a=True)
    assert exact.low < exact.difference < exact.high and runs_interval([0.3], [0.2], exact_a=True).width == 0
    assert runs_interval([0.1, 0.12], [0.3, 0.31, 0.29]) == runs_interval([0.1, 0.12], [0.3, 0.31, 0.29])


@pytest.mark.parametrize("low, high, higher, lower, not_higher", [(0.01, 0.03, "holds", "does not hold", "does not hold"),
                                                                  (-0.01, 0.03, "inconclusive", "inconclusive", "holds"),
                                                                  (-0.03, -0.01, "does not hold", "holds", "holds")])
def test_verdict_reads_the_interval(low, high, higher, lower, not_higher):
    interval = Interval((low + high) / 2, low, high, low, high, low, high)
    assert (verdict(interval, "higher"), verdict(interval, "lower"), verdict(interval, "not higher")) == (higher, lower, not_higher)
    with pytest.raises(DietError, match="'higher', 'lower', 'not higher'"):
        verdict(interval, "better")


@pytest.mark.parametrize("a, b, message", [(np.ones((3, 10)), np.ones((3, 11)), "same test set"),
                                           (np.ones((3, 10)), np.full((3, 10), 2.0), "0 or 1"),
                                           (np.ones((3, 10)), np.array([[1.0] * 9 + [np.nan]]), "NaN"),
                                           (np.ones((0, 10)), np.ones((3, 10)), "at least one run")])
def test_bad_input_is_refused_with_a_clear_message(a, b, message):
    with pytest.raises(DietError, match=message):
        paired_interval(a, b, replicates=10)


def test_bad_rows_and_run_values_are_refused():
    boot = PairedBootstrap(np.ones((4, 10)), replicates=10)
    for rows_a, message in (([], "at least one run"), ([0, 0], "listed twice"), ([5], r"0\.\.3")):
        with pytest.raises(DietError, match=message):
            boot.compare(rows_a, [1])
    with pytest.raises(DietError, match="NaN"):
        runs_interval([0.1, float("nan")], [0.2])
    with pytest.raises(DietError, match="at least one run"):
        runs_interval([], [0.2])
    with pytest.raises(DietError, match="0 < confidence < 1"):
        runs_interval([0.1], [0.2], confidence=95)
