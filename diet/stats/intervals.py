"""95% intervals for a difference in test accuracy: a paired bootstrap over test examples and seeds.

Side A ("ours", S_a seeds) and side B (the baseline, S_b seeds) are scored on the same N test
examples; X[s, i] = 1 when seed s got example i right. The difference is the mean accuracy of A
minus that of B. It is uncertain because the test set is a sample of examples and the seeds a
sample of training runs. Resampling both naively (seeds and examples independently, statistic =
mean of the resampled cells) counts the seed x example interaction twice and shrinks true seed
effects by (S-1)/S; for 0/1 correctness the interaction is most of the seed-to-seed noise, so
with 3 seeds that interval covered 99.7% instead of 95% in simulation. Here each replicate is

    difference + k * (dbar_w - difference + sqrt(share_a) dev_a - sqrt(share_b) dev_b)

- dbar_w: the per-example difference of seed means, d_i = mean_s A[s, i] - mean_s B[s, i],
  averaged with multinomial weights over the N examples. The same weights serve both sides
  (paired: examples both get right or wrong cancel out), and every comparison on one test set.
  This level carries the example variance and the interaction variance, each at its true size.
- dev: a side's mean seed accuracy over seeds resampled with replacement, minus the observed one,
  times sqrt(S/(S-1)) (which undoes the bootstrap's shrinking of a variance over S values).
  share = max(0, 1 - interaction / (N var(m_s))): the part of the seeds' variance var(m_s) that
  the interaction (the two-way residual mean square of X) does not explain. So the seed level
  adds only real seed effects, nothing when seeds differ by no more than coin flips on uncertain
  examples make them differ.
- k = t quantile / normal quantile at the Welch-Satterthwaite degrees of freedom of the total
  variance: the example variance counts as known, each side's seed variance beyond the
  interaction as estimated on (S-1) * share df (a small difference of two noisy variances is
  worth less than S-1 df). No bootstrap of 3 seeds has heavy enough tails; k supplies them, as a
  Welch t-test does. k = 1 when the seeds add nothing beyond the interaction.

The interval is the 2.5% and 97.5% percentiles of the replicates. `seeds_low/high` resample only
seeds (examples fixed: all of the seeds' variance on this test set, interaction included, k at
S-1 df); `examples_low/high` only examples (seeds fixed: dbar_w). The interaction is in both, so
the partial widths do not add up to the full one. A side with one seed has no seed level: its
seed effect is missed (coverage 90% for 1 against 3 seeds with a real per-seed shift).

Coverage of the true (population) difference in simulation, 3 seeds a side, N = 400; the first
two are checked by tests/test_intervals.py. Seeds differing only by interaction noise (the usual
case for fine-tuned models): 97%, slightly conservative, as 2 df per side cannot rule out a seed
effect (the estimate is positive 37% of the time when there is none). A per-seed shift as large
as the interaction noise: 94.5%. Seed effects 4-5x the interaction: 93.5% (the limitation: with
3 seeds their size is a guess); 16x or more: 95%. With 2 seeds a side: 97.5% and 94.3%; with 5:
96.8% and 94.6%. Without k the shift cases fall to 93% and 89%; with k on S-1 df they fall to
93.9% and 92.5%; with the textbook Satterthwaite df, (S-1) * share**2, the first rises to 97.3%.
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
        self.replicates, self.seed, self.confidence = _settings(replicates, seed, confidence)
        self.resampled = _resampled_accuracies(self.correct, self.replicates, np.random.default_rng(self.seed))

    def compare(self, rows_a: Sequence[int], rows_b: Sequence[int], stream: Sequence[int] | None = None) -> Interval:
        """The interval for mean accuracy of runs `rows_a` minus that of runs `rows_b` (rows of `correct`).

        `stream` (non-negative integers naming the runs, e.g. from their store keys) seeds the seed level
        instead of the row numbers, so that the same runs get the same interval in any matrix."""
        a, b = self._rows(rows_a, "rows_a"), self._rows(rows_b, "rows_b")
        rng = np.random.default_rng([self.seed, *(stream if stream is not None else (len(a), *a, len(b), *b))])
        side_a, side_b = _SeedLevel(self.correct[a], self.replicates, rng), _SeedLevel(self.correct[b], self.replicates, rng)
        per_example = self.correct[a].mean(axis=0) - self.correct[b].mean(axis=0)
        difference = float(per_example.mean())
        examples = self.resampled[a].mean(axis=0) - self.resampled[b].mean(axis=0)
        k = _widening([side_a.beyond, side_b.beyond], self.confidence, known=float(per_example.var(ddof=1)) / len(per_example))
        both = difference + k * (examples - difference + side_a.beyond_deviation - side_b.beyond_deviation)
        k_seeds = _widening([side_a.all, side_b.all], self.confidence)
        seeds = difference + k_seeds * (side_a.deviation - side_b.deviation)
        return Interval(difference, *_percentiles(np.stack([both, seeds, examples]), self.confidence))

    def accuracy(self, rows: Sequence[int], stream: Sequence[int] | None = None) -> Interval:
        """The interval for the mean accuracy of runs `rows` itself (its `difference` is that accuracy), resampled as in `compare`."""
        a = self._rows(rows, "rows")
        rng = np.random.default_rng([self.seed, *(stream if stream is not None else (len(a), *a))])
        side = _SeedLevel(self.correct[a], self.replicates, rng)
        per_example = self.correct[a].mean(axis=0)
        observed = float(per_example.mean())
        examples = self.resampled[a].mean(axis=0)
        k = _widening([side.beyond], self.confidence, known=float(per_example.var(ddof=1)) / len(per_example))
        both = observed + k * (examples - observed + side.beyond_deviation)
        seeds = observed + _widening([side.all], self.confidence) * side.deviation
        return Interval(observed, *_percentiles(np.stack([both, seeds, examples]), self.confidence))

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
    """One comparison: `correct_a` (S_a, N) and `correct_b` (S_b, N) 0/1, the same N test examples in the same order.

    A 1-D array is one run (seed)."""
    a, b = _zero_one(correct_a, "correct_a"), _zero_one(correct_b, "correct_b")
    if a.shape[1] != b.shape[1]:
        raise DietError(f"correct_a has {a.shape[1]} test examples and correct_b {b.shape[1]}: both sides must be scored on the same test set")
    boot = PairedBootstrap(np.vstack([a, b]), replicates, seed, confidence)
    return boot.compare(range(len(a)), range(len(a), len(a) + len(b)))


def runs_interval(a: Sequence[float], b: Sequence[float], replicates: int = REPLICATES, seed: int = 0,
                  confidence: float = CONFIDENCE, exact_a: bool = False) -> Interval:
    """An interval for mean(a) - mean(b) where no test examples lie behind the values (one value per run).

    Each side's runs are resampled independently, like the seed level above with share = 1:
    deviations times sqrt(S/(S-1)), then times k at Welch df (`exact_a`: side A is one deterministic
    value, not resampled; a side with one value is not resampled either). There is no example
    level: seeds_low/high equal low/high, and examples_low = examples_high = the difference.
    """
    a, b = _values(a, "a"), _values(b, "b")
    replicates, seed, confidence = _settings(replicates, seed, confidence)
    rng = np.random.default_rng([seed, len(a), len(b)])
    deviation_a = np.zeros(replicates) if exact_a else _resampled_deviation(a, replicates, rng)
    deviation_b = _resampled_deviation(b, replicates, rng)
    k = _widening([(0.0 if exact_a or len(a) < 2 else float(a.var(ddof=1)) / len(a), len(a) - 1),
                   (float(b.var(ddof=1)) / len(b) if len(b) > 1 else 0.0, len(b) - 1)], confidence)
    difference = float(a.mean() - b.mean())
    low, high = _percentiles(difference + k * (deviation_a - deviation_b), confidence)
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


class _SeedLevel:
    """One side's seed level. deviation: resampled mean seed accuracy minus the observed one, times sqrt(S/(S-1)).

    all = (var(m_s) / S, S - 1): its variance and df; beyond = the same for the part the
    interaction does not explain (times share, df times share); beyond_deviation = deviation * sqrt(share).
    """

    def __init__(self, x: np.ndarray, replicates: int, rng: np.random.Generator):
        seeds, n = x.shape
        seed_means = x.mean(axis=1)
        self.deviation = _resampled_deviation(seed_means, replicates, rng)
        variance = float(seed_means.var(ddof=1)) / seeds if seeds > 1 else 0.0
        share = 0.0
        if variance > 0:
            residual = x - seed_means[:, None] - x.mean(axis=0)[None, :] + x.mean()
            interaction = float((residual ** 2).sum()) / ((seeds - 1) * (n - 1))
            share = max(0.0, 1.0 - interaction / (n * seeds * variance))
        self.all, self.beyond = (variance, seeds - 1), (variance * share, (seeds - 1) * share)
        self.beyond_deviation = self.deviation * np.sqrt(share)


def _widening(estimated: Sequence[tuple[float, float]], confidence: float, known: float = 0.0) -> float:
    """t quantile / normal quantile at the Welch-Satterthwaite df of `known` + the (variance, df) pairs `estimated`."""
    from scipy.special import ndtri, stdtrit  # t quantiles at fractional df; scipy comes with the project's dependencies

    uncertain = sum(variance ** 2 / df for variance, df in estimated if variance > 0)
    if uncertain <= 0:
        return 1.0
    df = (known + sum(variance for variance, _ in estimated)) ** 2 / uncertain
    upper = 1 - (1 - confidence) / 2
    return float(stdtrit(df, upper) / ndtri(upper))


def _resampled_deviation(values: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Mean of `values` resampled with replacement, minus their mean, times sqrt(S/(S-1)); zeros for one value."""
    if len(values) < 2:
        return np.zeros(replicates)
    resampled = values[rng.integers(0, len(values), (replicates, len(values)))].mean(axis=1)
    return (resampled - values.mean()) * np.sqrt(len(values) / (len(values) - 1))


def _percentiles(replicates: np.ndarray, confidence: float) -> list[float]:
    """Low and high percentile of the replicates (of each row, one after another, for a matrix)."""
    tail = (1 - confidence) / 2
    return np.quantile(np.atleast_2d(replicates), [tail, 1 - tail], axis=1).T.ravel().tolist()


def _zero_one(values, name: str) -> np.ndarray:
    """`values` as a 2-D float matrix of 0/1 (one row per run; a 1-D array is one run)."""
    matrix = np.atleast_2d(np.asarray(values, dtype=float))
    if matrix.ndim != 2 or matrix.size == 0:
        raise DietError(f"{name}: need a (runs, test examples) matrix with at least one run, got shape {np.shape(values)}")
    if np.isnan(matrix).any():
        raise DietError(f"{name}: contains NaN; every run needs a correct (1) or wrong (0) for every test example")
    if not np.isin(matrix, (0.0, 1.0)).all():
        raise DietError(f"{name}: values must be 0 or 1 (wrong or correct), got e.g. {float(matrix[~np.isin(matrix, (0.0, 1.0))][0])}")
    return matrix


def _values(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise DietError(f"{name}: need at least one run, got none")
    if np.isnan(array).any():
        raise DietError(f"{name}: contains NaN: {array.tolist()}")
    return array


def _settings(replicates: int, seed: int, confidence: float) -> tuple[int, int, float]:
    if int(replicates) < 1 or int(seed) < 0 or not 0 < confidence < 1:
        raise DietError(f"need replicates >= 1, seed >= 0 and 0 < confidence < 1, got {replicates}, {seed} and {confidence}")
    return int(replicates), int(seed), float(confidence)
