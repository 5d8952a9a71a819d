"""Each figure's claims, checked on its table: the settings compared and `diet.paper.evidence`'s verdict on each.

A check takes a `Judge` and the figure's table and returns rows with the claim's id, the setting, the
comparison (`diet.paper.evidence.COLUMNS`) and `key`: the setting without what depends on the
training-set size (step numbers, the best offset), so that `diet.paper.scale` can follow it across sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from diet.paper.context import FULL, RANDOM, Context
from diet.paper.evidence import Evidence, interval_result, runs_comparison
from diet.stats.intervals import Interval


@dataclass
class Judge:
    """What every check needs: the context, the stored test predictions behind the tables, the majority-class rate."""

    ctx: Context
    evidence: Evidence
    majority: float

    @classmethod
    def of(cls, ctx: Context, tables) -> "Judge":
        return cls(ctx, ctx.evidence(*tables), ctx.majority)

    def accuracy(self, ours: pd.DataFrame, baseline: pd.DataFrame, claim: str, value: str = "accuracy") -> dict:
        """Ours against the baseline on `claim`; both at the majority-class rate is no signal."""
        return self.evidence.accuracy(ours, baseline, claim, floor=self.majority, value=value)

    def final_step(self) -> int:
        return self.ctx.step(self.ctx.preset.final_step)


def row(claim_id: str, setting: str, result: dict, key: str | None = None) -> dict:
    return {"id": claim_id, "setting": setting, **result, "key": key or setting}


def timing_claims(judge: Judge, fig1: pd.DataFrame) -> list[dict]:
    """1a: the top-k by scores from the earliest step is below random; 1b: from the step nearest the final one, above it."""
    steps = sorted(fig1["step"].dropna().unique())
    late = min(steps, key=lambda s: abs(s - judge.final_step()))
    rows = []
    for name in fig1.loc[fig1["step"].notna(), "score"].unique():
        for keep in sorted(k for k in fig1["keep"].unique() if k < 1):
            rand = fig1[(fig1["score"] == RANDOM) & (fig1["keep"] == keep)]
            at = fig1[(fig1["score"] == name) & (fig1["keep"] == keep)]
            if steps[0] < late:  # an early step to judge
                rows.append(row("1a", f"{name}, top {keep:.0%}, step {int(steps[0])}", judge.accuracy(at[at["step"] == steps[0]], rand, "lower"),
                                f"{name}, top {keep:.0%}, earliest step"))
            rows.append(row("1b", f"{name}, top {keep:.0%}, step {int(late)}", judge.accuracy(at[at["step"] == late], rand, "higher"),
                            f"{name}, top {keep:.0%}, final step"))
    return rows


def balance_claims(judge: Judge, fig2: pd.DataFrame) -> list[dict]:
    """2: single runs' selections at the earliest step are further from the training mix than at the step nearest the final one."""
    runs = fig2[fig2["by"] == "run"].drop_duplicates(["score", "step", "keep", "run"])
    early, late = runs["step"].min(), min(runs["step"].unique(), key=lambda s: abs(s - judge.final_step()))
    if not early < late:
        return []
    rows = []
    for (name, keep), part in runs.groupby(["score", "keep"], sort=False):
        tv = lambda s: part[part["step"] == s]["tv_distance"]  # noqa: E731
        rows.append(row("2", f"{name}, top {keep:.0%}, step {int(early)} vs {int(late)}", runs_comparison(tv(early), tv(late), "higher"),
                        f"{name}, top {keep:.0%}, earliest vs final step"))
    return rows


def fraction_claims(judge: Judge, fig3: pd.DataFrame) -> list[dict]:
    """3a: keeping up to 60%, the plain top-k is not above random; 3b: keeping more, it is."""
    plain = fig3[~fig3["balanced"].astype(bool)]
    rows = []
    for name in judge.ctx.preset.scores:
        for keep in sorted(k for k in plain["keep"].unique() if k < 1):
            ours = plain[(plain["score"] == name) & (plain["keep"] == keep)]
            rand = plain[(plain["score"] == RANDOM) & (plain["keep"] == keep)]
            claim_id, claim = ("3a", "not higher") if keep <= 0.6 else ("3b", "higher")
            rows.append(row(claim_id, f"{name}, keep {keep:.0%}", judge.accuracy(ours, rand, claim)))
    return rows


def offset_claims(judge: Judge, fig4: pd.DataFrame) -> list[dict]:
    """4a: the best offset above 0 beats none; 4b (MNLI tasks): it beats full data; 4c (the others): it does not."""
    plain = fig4[~fig4["balanced"].astype(bool)]
    p, mnli = judge.ctx.preset, judge.ctx.task.name.startswith("mnli")
    rows = []
    for window in plain["window"].unique():
        full = plain[(plain["score"] == FULL) & (plain["window"] == window)]
        for name in p.offset_scores or p.scores:
            part = plain[(plain["score"] == name) & (plain["window"] == window)]
            means = part.groupby("offset")["accuracy"].mean()
            if 0.0 not in means.index or len(means) < 2:
                continue
            best = means.drop(0.0).idxmax()
            best_runs = part[part["offset"] == best]
            setting, key = f"{name}, {window} window, best k = {best:.0%}", f"{name}, {window} window, best k"
            rows.append(row("4a", setting, judge.accuracy(best_runs, part[part["offset"] == 0.0], "higher"), key))
            rows.append(row("4b", setting, judge.accuracy(best_runs, full, "higher"), key) if mnli else
                        row("4c", setting, judge.accuracy(best_runs, full, "not higher"), key))
    return rows


def noise_claims(judge: Judge, fig5: pd.DataFrame) -> list[dict]:
    """5a: the top noise% by each score holds more flipped labels than random draws; 5b: dropping it beats keeping all."""
    p = judge.ctx.preset
    detect = fig5[(fig5["metric"] == "precision") & np.isclose(fig5["removed"], p.noise)]
    acc = fig5[fig5["metric"] == "accuracy"]
    random = detect[detect["score"] == RANDOM]["value"]
    rows = [row("5a", f"{name}, top {p.noise:.0%}", flipped_share_compare(detect[detect["score"] == name], random)) for name in p.scores]
    for name in p.scores if len(acc) else ():  # no accuracy rows: the preset does not retrain on the noisy set
        rows.append(row("5b", f"{name}, drop top {p.noise:.0%}", judge.accuracy(acc[acc["score"] == name], acc[acc["score"] == FULL], "higher", value="value")))
    return rows


def flipped_share_compare(ours: pd.DataFrame, random: pd.Series) -> dict:
    """Claim 5a for one score: its share of flipped labels (one value, the run-averaged score) against random draws,
    by the interval the figure table carries (over scoring runs and draws), else by the runs' spread (older tables)."""
    if {"low", "high"} <= set(ours.columns) and ours[["low", "high"]].notna().all(axis=None):
        value, draws = float(ours["value"].iloc[0]), random.dropna()
        low, high = float(ours["low"].iloc[0]), float(ours["high"].iloc[0])
        interval = Interval(value - draws.mean(), low, high, low, high, value - draws.mean(), value - draws.mean())
        return interval_result(f"{value:.3f}", _mean_sd_text(draws), interval, "higher")
    return runs_comparison(ours["value"], random, "higher", exact_a=True)


def _mean_sd_text(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values.mean():.3f} (1 draw)"
