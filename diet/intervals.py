"""95% intervals for a difference in test accuracy: a paired bootstrap over test examples and seeds.

Side A ("ours", S_a seeds) and side B (the baseline, S_b seeds) are scored on the same N test
examples; X[s, i] = 1 when seed s got example i right. The difference is the mean accuracy of A
minus that of B. It is uncertain for two reasons: the test set is a sample of examples, and the
seeds are a sample of training runs. Resampling both levels naively (seeds and examples
independently, statistic = mean of the resampled cells) counts the seed x example interaction
twice and shrinks true seed effects by (S-1)/S; for 0/1 correctness the interaction is most of the
seed-to-seed noise, so with 3 seeds that interval is too wide. Instead, each replicate is

    replicate = dbar_w + c_a (mean_v(m_a) - mean(m_a)) - c_b (mean_v(m_b) - mean(m_b))

- dbar_w: the per-example difference of seed means, d_i = mean_s A[s, i] - mean_s B[s, i],
  averaged with multinomial weights over the N examples. The same weights serve both sides
  (paired), so examples both sides get right or wrong cancel out. This level carries the example
  variance and the interaction (seed x example) variance, each at its true size.
- m_s: the accuracy of seed s of a side; mean_v: its mean over seeds resampled with replacement.
  c = sqrt(S/(S-1) * max(0, 1 - interaction / (N * var(m_s)))), where `interaction` is the
  two-way residual mean square of that side's X and var(m_s) the seeds' sample variance. So this
  level adds only the seed variance the interaction does not already explain (none, when seeds
  differ by no more than coin flips on uncertain examples would make them), and S/(S-1) undoes
  the bootstrap's shrinking of a variance over S values.

The interval is the 2.5% and 97.5% percentiles of 10,000 replicates. `seeds_low/high` resample
only seeds, examples fixed (all of the seeds' variance on this test set, interaction included);
`examples_low/high` resample only examples, seeds fixed (dbar_w). The interaction is in both, so
the two partial widths do not add up to the full one. A side with one seed has no seed level.

Coverage measured by simulation (tests/test_intervals.py; 3 seeds a side, N = 400): 95% nominal,
about 95% when seed-to-seed differences are interaction noise, and still in 93-97% when a real
per-seed shift is as large as that noise. Limitation: when real seed effects dominate (a large
test set, seeds that differ by more than chance), with 3 seeds the seed variance rests on 2
degrees of freedom per side and no bootstrap of 3 values can be wide enough: coverage falls
towards 85-90%. More seeds fix it; the interval never claims to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from diet.errors import DietError

CONFIDENCE = 0.95
REPLICATES = 10_000
CHUNK_CELLS = 4_000_000  # example weights drawn this many cells (replicates x examples) at a time
CLAIMS = ("higher", "lower", "not higher")


@dataclass(frozen=True)
class Interval:
    """The observed difference (A minus B) and its intervals: both levels, seeds only, examples only."""

    difference: float
    low: float
    high: float
    seeds_low: float
    seeds_high: float
    examples_low: float
    examples_high: float

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def seeds_width(self) -> float:
        return self.seeds_high - self.seeds_low

    @property
    def examples_width(self) -> float:
        return self.examples_high - self.examples_low


class PairedBootstrap:
    """Example-resampling weights shared by every comparison on one test set.

    `correct`: (runs, N) 0/1 matrix, one row per run that will be compared. The weights are drawn
    once (seeded by `seed`) and each run's resampled accuracy is computed once, chunk by chunk;
    `compare` then costs little. Its seed-level weights come from (seed, rows_a, rows_b), so a
    comparison's interval does not depend on which comparisons came before it.
    """

    def __init__(self, correct: np.ndarray, replicates: int = REPLICATES, seed: int = 0, confidence: float = CONFIDENCE):
        self.correct = _zero_one(correct, "correct")
        if self.correct.shape[1] < 2:
            raise DietError(f"correct: need at least 2 test examples, got {self.correct.shape[1]}")
        self.replicates, self.seed, self.confidence = _positive(replicates), int(seed), _confidence(confidence)
        self.resampled = _resampled_accuracies(self.correct, self.replicates, np.random.default_rng(self.seed))

    def compare(self, rows_a: Sequence[int], rows_b: Sequence[int], stream: Sequence[int] | None = None) -> Interval:
        """The interval for mean accuracy of runs `rows_a` minus that of runs `rows_b` (rows of `correct`).

        `stream` (non-negative integers naming the runs, e.g. from their store keys) seeds the seed level
        instead of the row numbers, so that the same runs get the same interval in any matrix."""
        a, b = self._rows(rows_a, "rows_a"), self._rows(rows_b, "rows_b")
        rng = np.random.default_rng([self.seed, *(stream if stream is not None else (len(a), *a, len(b), *b))])
        beyond_a, all_a = _seed_deviations(self.correct[a], self.replicates, rng)
        beyond_b, all_b = _seed_deviations(self.correct[b], self.replicates, rng)
        examples = self.resampled[a].mean(axis=0) - self.resampled[b].mean(axis=0)
        difference = float(self.correct[a].mean() - self.correct[b].mean())
        return Interval(difference, *_percentiles(examples + beyond_a - beyond_b, self.confidence),
                        *_percentiles(difference + all_a - all_b, self.confidence), *_percentiles(examples, self.confidence))

    def accuracy(self, rows: Sequence[int], stream: Sequence[int] | None = None) -> Interval:
        """The interval for the mean accuracy of runs `rows` itself (its `difference` is that accuracy), both levels
        resampled as in `compare`."""
        a = self._rows(rows, "rows")
        rng = np.random.default_rng([self.seed, *(stream if stream is not None else (len(a), *a))])
        beyond, everything = _seed_deviations(self.correct[a], self.replicates, rng)
        examples = self.resampled[a].mean(axis=0)
        observed = float(self.correct[a].mean())
        return Interval(observed, *_percentiles(examples + beyond, self.confidence), *_percentiles(observed + everything, self.confidence),
                        *_percentiles(examples, self.confidence))

    def _rows(self, rows: Sequence[int], name: str) -> list[int]:
        rows = [int(r) for r in rows]
        if not rows:
            raise DietError(f"{name}: need at least one run (seed) on each side, got none")
        if len(set(rows)) < len(rows):
            raise DietError(f"{name}: a run is listed twice: {rows}")
        if min(rows) < 0 or max(rows) >= len(self.correct):
            raise DietError(f"{name}: rows must be in 0..{len(self.correct) - 1}, got {rows}")
        return rows


def paired_interval(correct_a, correct_b, replicates: int = REPLICATES, seed: int = 0, confidence: float = CONFIDENCE) -> Interval:
    """One comparison: `correct_a` (S_a, N) and `correct_b` (S_b, N) 0/1, the same N test examples in the same order."""
    a, b = _zero_one(correct_a, "correct_a"), _zero_one(correct_b, "correct_b")
    if a.shape[1] != b.shape[1]:
        raise DietError(f"correct_a has {a.shape[1]} test examples and correct_b {b.shape[1]}: both sides must be scored on the same test set")
    boot = PairedBootstrap(np.vstack([a, b]), replicates, seed, confidence)
    return boot.compare(range(len(a)), range(len(a), len(a) + len(b)))


def runs_interval(a: Sequence[float], b: Sequence[float], replicates: int = REPLICATES, seed: int = 0,
                  confidence: float = CONFIDENCE, exact_a: bool = False) -> Interval:
    """An interval for mean(a) - mean(b) where no test examples lie behind the values (one value per run).

    Each side's runs are resampled independently, deviations scaled by sqrt(S/(S-1)) as in the
    seed level above (`exact_a`: side A is one deterministic value, not resampled). There is no
    example level: seeds_low/high equal low/high, and examples_low = examples_high = the difference.
    """
    a, b = _values(a, "a"), _values(b, "b")
    rng = np.random.default_rng([int(seed), len(a), len(b)])
    replicates, confidence = _positive(replicates), _confidence(confidence)
    deviation_a = np.zeros(replicates) if exact_a else _resampled_deviation(a, replicates, rng)
    deviation_b = _resampled_deviation(b, replicates, rng)
    difference = float(a.mean() - b.mean())
    low, high = _percentiles(difference + deviation_a - deviation_b, confidence)
    return Interval(difference, low, high, low, high, difference, difference)


def verdict(interval: Interval, claim: str) -> str:
    """'holds', 'does not hold' or 'inconclusive' for `claim` about A minus B: 'higher', 'lower' or 'not higher'."""
    if claim == "higher":
        return "holds" if interval.low > 0 else "does not hold" if interval.high < 0 else "inconclusive"
    if claim == "lower":
        return "holds" if interval.high < 0 else "does not hold" if interval.low > 0 else "inconclusive"
    if claim == "not higher":
        return "does not hold" if interval.low > 0 else "holds"
    raise DietError(f"claim must be one of {', '.join(repr(c) for c in CLAIMS)}, got {claim!r}")


def _resampled_accuracies(correct: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(runs, replicates): each run's accuracy on resampled test sets, the same resampling for every run."""
    runs, n = correct.shape
    chunk = max(1, CHUNK_CELLS // n)
    matrix, out = correct.astype(np.float32), np.empty((runs, replicates))
    for start in range(0, replicates, chunk):
        rows = min(chunk, replicates - start)
        draws = rng.integers(0, n, (rows, n)) + (np.arange(rows) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float32)
        out[:, start:start + rows] = matrix @ counts.T  # exact: integer sums below 2**24
    return out / n


def _seed_deviations(x: np.ndarray, replicates: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Resampled mean seed accuracy minus the observed one: (beyond the interaction, all of it), both scaled."""
    seeds, n = x.shape
    if seeds < 2:
        return np.zeros(replicates), np.zeros(replicates)
    seed_means, example_means = x.mean(axis=1), x.mean(axis=0)
    residual = x - seed_means[:, None] - example_means[None, :] + x.mean()
    interaction = float((residual ** 2).sum()) / ((seeds - 1) * (n - 1))
    seed_var = float(seed_means.var(ddof=1))
    beyond = max(0.0, 1.0 - interaction / (n * seed_var)) if seed_var > 0 else 0.0
    deviation = _resampled_deviation(seed_means, replicates, rng)
    return deviation * np.sqrt(beyond), deviation


def _resampled_deviation(values: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Mean of `values` resampled with replacement, minus their mean, times sqrt(S/(S-1)); zeros for one value."""
    if len(values) < 2:
        return np.zeros(replicates)
    weights = rng.multinomial(len(values), np.full(len(values), 1 / len(values)), size=replicates) / len(values)
    return (weights @ values - values.mean()) * np.sqrt(len(values) / (len(values) - 1))


def _percentiles(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return float(low), float(high)


def _zero_one(values, name: str) -> np.ndarray:
    """`values` as a 2-D float matrix of 0/1 (one row per run; a 1-D array is one run)."""
    matrix = np.atleast_2d(np.asarray(values, dtype=float))
    if matrix.ndim != 2 or matrix.size == 0:
        raise DietError(f"{name}: need a (runs, test examples) matrix with at least one run, got shape {np.shape(values)}")
    if np.isnan(matrix).any():
        raise DietError(f"{name}: contains NaN; every run needs a correct (1) or wrong (0) for every test example")
    if not np.isin(matrix, (0.0, 1.0)).all():
        raise DietError(f"{name}: values must be 0 or 1 (wrong or correct), got e.g. {matrix[~np.isin(matrix, (0.0, 1.0))][0]!r}")
    return matrix


def _values(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise DietError(f"{name}: need at least one run, got none")
    if np.isnan(array).any():
        raise DietError(f"{name}: contains NaN: {array.tolist()}")
    return array


def _positive(replicates: int) -> int:
    if int(replicates) < 1:
        raise DietError(f"replicates must be at least 1, got {replicates}")
    return int(replicates)


def _confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise DietError(f"confidence must be between 0 and 1, got {confidence}")
    return float(confidence)
