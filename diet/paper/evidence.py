"""Verdicts from stored test predictions: the paired interval rule, with the seed rule as a said fallback.

A figure table's accuracy rows name their retraining's store entry (`run`). `Evidence` loads the
test predictions of those entries, turns them into per-example correctness, and judges a
comparison of two groups of rows (ours against a baseline) by the 95% interval of the difference
in mean accuracy from `diet.stats.intervals` (test examples and seeds resampled together):

- "higher" holds when the interval lies above 0, does not hold when it lies below 0, and is
  inconclusive otherwise; "lower" is the mirror; "not higher" holds unless it lies above 0.
- A group with one seed gets no verdict (inconclusive): nothing says how much seeds vary.
- Both groups at the test set's majority-class rate: inconclusive, no signal (one-class models).
- A group with a run stored without predictions (an old store) is judged by the seed rule
  (`diet.stats.seed_rule.compare`), and the row's `rule` and note say so. The two rules are never mixed
  within one comparison.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from diet.stats.intervals import REPLICATES, Interval, PairedBootstrap, runs_interval, verdict
from diet.stats.one_class import all_one_class
from diet.runs.retraining import RUN, stored_predictions
from diet.stats.seed_rule import compare
from diet.runs.store import Store

INTERVAL_RULE = "paired interval"  # test examples and seeds resampled together
RUNS_RULE = "interval over runs"  # a quantity with no test examples behind it (claim 2's distances, claim 5a's shares)
SEED_RULE = "seed sd"  # the fallback: no stored test predictions for some run
COLUMNS = ["ours", "baseline", "difference", "low", "high", "seeds_width", "examples_width", "spread", "rule", "verdict", "note"]


@dataclass
class Evidence:
    """The stored test predictions behind accuracy rows, and the verdict rule applied to two groups of them."""

    store: Store | None  # None: no stored predictions at all (every comparison by the seed rule)
    test_labels: np.ndarray
    replicates: int = REPLICATES
    _correct: dict = field(default_factory=dict)  # run key -> 0/1 correctness, or None without stored predictions
    _boot: PairedBootstrap | None = None
    _rows: dict = field(default_factory=dict)

    @classmethod
    def of(cls, store: Store, test_labels, tables=()) -> "Evidence":
        """The evidence behind `tables` (frames whose accuracy rows name their `run`), loaded at once."""
        runs = [r for t in tables if t is not None and RUN in t for r in t[RUN].dropna()]
        return cls(store, np.asarray(test_labels)).load(runs)

    def load(self, runs) -> "Evidence":
        """Load the predictions of `runs` (store keys), once each; rebuilds the bootstrap when new runs came in."""
        new = [r for r in dict.fromkeys(map(str, runs)) if r not in self._correct]
        for run in new:
            predicted = stored_predictions(self.store, run) if self.store is not None else None
            fits = predicted is not None and len(predicted) == len(self.test_labels)
            self._correct[run] = (predicted == self.test_labels).astype(np.int8) if fits else None
        if new:
            usable = sorted(r for r, c in self._correct.items() if c is not None)
            self._rows = {r: i for i, r in enumerate(usable)}
            self._boot = PairedBootstrap(np.vstack([self._correct[r] for r in usable]), self.replicates) if usable else None
        return self

    def without_predictions(self, runs) -> list[str]:
        """The runs among `runs` whose entries hold no test predictions for this test set."""
        self.load(runs)
        return [r for r in map(str, runs) if self._correct[r] is None]

    def accuracy(self, ours: pd.DataFrame, baseline: pd.DataFrame, claim: str, floor: float | None = None, value: str = "accuracy") -> dict:
        """The comparison of two groups of accuracy rows (columns `value` and `run`) on `claim`, by the interval
        rule where every run holds predictions, else by the seed rule (said in `rule` and the note)."""
        seed_rule = compare(ours[value], baseline[value], claim, floor=floor)
        runs_a, runs_b = _runs(ours), _runs(baseline)
        lacking = self.without_predictions(runs_a + runs_b) if runs_a and runs_b else []
        if lacking or not (runs_a and runs_b):
            told = (f"{len(lacking)} of {len(runs_a) + len(runs_b)} runs have no stored test predictions (`diet precompute` adds them)"
                    if lacking else "the rows name no stored runs (a table written before runs were named)")
            return {**seed_rule, **_no_interval(), "rule": SEED_RULE, "note": _join(f"seed rule: {told}", seed_rule["note"])}
        interval = self._boot.compare([self._rows[r] for r in runs_a], [self._rows[r] for r in runs_b], _stream(runs_a, runs_b))
        return {**seed_rule, **_interval_columns(interval), "rule": INTERVAL_RULE,
                **_judge(interval, claim, seed_rule, ours[value], baseline[value], floor)}


    def accuracy_interval(self, rows: pd.DataFrame) -> Interval | None:
        """The 95% interval of the mean accuracy of these runs (test examples and seeds resampled); None without predictions."""
        runs = _runs(rows)
        if not runs or self.without_predictions(runs):
            return None
        return self._boot.accuracy([self._rows[r] for r in runs], _stream(runs))


def runs_comparison(ours, baseline, claim: str, exact_a: bool = False, replicates: int = REPLICATES) -> dict:
    """Two groups of per-run values with no test examples behind them (claim 2's distances), by the interval over runs."""
    seed_rule = compare(ours, baseline, claim, exact_a=exact_a)
    a, b = pd.Series(ours, dtype=float).dropna(), pd.Series(baseline, dtype=float).dropna()
    if len(b) < 2 or (len(a) < 2 and not exact_a):
        return {**seed_rule, **_no_interval(), "rule": RUNS_RULE, "verdict": "inconclusive", "note": _join("one run: no interval", seed_rule["note"])}
    interval = runs_interval(a.to_numpy(), b.to_numpy(), replicates=replicates, seed=_seed(a, b), exact_a=exact_a)
    return {**seed_rule, **_interval_columns(interval), "rule": RUNS_RULE, "verdict": verdict(interval, claim)}


def interval_result(ours: str, baseline: str, interval: Interval, claim: str, rule: str = RUNS_RULE) -> dict:
    """A comparison row from an interval computed elsewhere (claim 5a's share of flipped labels, from `diet.data.noise`)."""
    return {"ours": ours, "baseline": baseline, "spread": np.nan, **_interval_columns(interval), "rule": rule,
            "verdict": verdict(interval, claim), "note": ""}


def _judge(interval: Interval, claim: str, seed_rule: dict, a: pd.Series, b: pd.Series, floor: float | None) -> dict:
    """The interval's verdict, but none with one seed on a side, and none when both sides are one-class models
    (the seed rule's note already says which side is one-class, and that both are)."""
    a, b = a.dropna(), b.dropna()
    if floor is not None and all_one_class(pd.concat([a, b]), floor):
        return {"verdict": "inconclusive", "note": seed_rule["note"]}
    if len(a) < 2 or len(b) < 2:
        return {"verdict": "inconclusive", "note": _join("one seed on a side: the interval leaves out how seeds vary, so no verdict", seed_rule["note"])}
    return {"verdict": verdict(interval, claim), "note": seed_rule["note"]}


def _interval_columns(interval: Interval) -> dict:
    return {"difference": interval.difference, "low": interval.low, "high": interval.high,
            "seeds_width": interval.seeds_width, "examples_width": interval.examples_width}


def _no_interval() -> dict:
    return {"low": np.nan, "high": np.nan, "seeds_width": np.nan, "examples_width": np.nan}


def _runs(rows: pd.DataFrame) -> list[str]:
    return [str(r) for r in rows[RUN]] if RUN in rows and rows[RUN].notna().all() and len(rows) else []


def _stream(*groups: list[str]) -> list[int]:
    """The runs of each group by their store keys (hexadecimal), with the group sizes: what seeds a comparison's seed level."""
    return [n for runs in groups for n in (len(runs), *(int(r, 16) for r in runs))]


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _seed(a: pd.Series, b: pd.Series) -> int:
    """A seed from the values themselves: the same comparison gets the same interval wherever it is made."""
    text = repr((np.round(a.to_numpy(), 12).tolist(), np.round(b.to_numpy(), 12).tolist()))
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
