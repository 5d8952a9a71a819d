"""The seed rule: two groups of per-seed values, mean ± sd each, and a verdict by the larger sd.

The rule the project used before test predictions were stored, and the fallback of `diet.paper.evidence`
for runs stored without them (an old store): a difference counts only beyond the larger of the two
standard deviations over seeds. It ignores the test set's own sampling noise, so a verdict from it
is weaker than one from the paired interval, and every verdict it gives says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.stats.one_class import all_one_class

def compare(a, b, claim: str, exact_a: bool = False, floor: float | None = None) -> dict:
    """Mean ± sd of two groups of per-seed values and a verdict on `claim` about d = mean(a) - mean(b).

    spread = the larger of the two groups' sample standard deviations over seeds (`exact_a`:
    `a` is one deterministic value, sd 0). Claim "higher": holds if d > spread, does not hold
    if d < -spread; "lower" mirrors it; "not higher": holds if d <= spread, else does not
    hold. Anything else is inconclusive, and so is every comparison where a group has fewer
    than two seeds (no spread to judge by). `floor` (for accuracies: the majority-class rate of
    the test set): when every run of both groups is at most floor + CHANCE_MARGIN, both models
    predict (about) one class, the comparison carries no signal, and the verdict is inconclusive
    with a note saying so. When only one group is one-class, the verdict stands (a subset that
    cannot be learned is a result) and the note names that group.
    """
    a, b = pd.Series(a, dtype=float).dropna(), pd.Series(b, dtype=float).dropna()
    sd_a = 0.0 if exact_a else _sd(a)
    sd_b = _sd(b)
    diff = a.mean() - b.mean()
    spread = np.nan if np.isnan(sd_a) or np.isnan(sd_b) else max(sd_a, sd_b)
    if np.isnan(spread) or np.isnan(diff):
        verdict = "inconclusive"
    elif claim == "higher":
        verdict = "holds" if diff > spread else "does not hold" if diff < -spread else "inconclusive"
    elif claim == "lower":
        verdict = "holds" if diff < -spread else "does not hold" if diff > spread else "inconclusive"
    elif claim == "not higher":
        verdict = "holds" if diff <= spread else "does not hold"
    else:
        raise DietError(f"claim must be 'higher', 'lower' or 'not higher', got {claim!r}")
    note = ""
    if floor is not None and len(a) and len(b) and all_one_class(pd.concat([a, b]), floor):
        verdict, note = "inconclusive", f"every run of both is at the majority-class rate ({floor:.3f}) or below: no signal"
    elif floor is not None and len(a) and len(b) and (all_one_class(a, floor) or all_one_class(b, floor)):
        side = "ours" if all_one_class(a, floor) else "baseline"  # a real outcome (the subset cannot be learned), but say so
        note = f"{side}: one-class models, every run at the majority-class rate ({floor:.3f}) or below"
    return {"ours": _mean_sd(a, sd_a), "baseline": _mean_sd(b, sd_b), "difference": diff, "spread": spread, "verdict": verdict, "note": note}


def _sd(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else np.nan


def _mean_sd(values: pd.Series, sd: float) -> str:
    return f"{values.mean():.3f} ± {sd:.3f}" if not np.isnan(sd) else f"{values.mean():.3f} (1 seed)"
