"""One computed sentence per figure: what this build's table shows, beside what the paper found.

Each function reads the tidy table a figure notebook wrote and words it with the results summary's
rule (`diet.paper.evidence`): given the figure's `Evidence` (its runs' stored test predictions), a
difference counts only when its 95% interval (test examples and seeds resampled) excludes 0;
without it, or for runs stored without predictions, only beyond the larger seed standard deviation
(the seed rule), and the sentence says which rule spoke. Accuracies at the test set's majority-class
rate (+ CHANCE_MARGIN) are those of a one-class model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.paper.context import FULL, ORACLE, RANDOM
from diet.paper.evidence import SEED_RULE, Evidence
from diet.scores.names import in_words
from diet.stats.one_class import CHANCE_MARGIN, all_one_class
from diet.stats.seed_rule import compare


def _pct(x: float) -> str:
    return f"{x * 100:.4g}%"


def verdict(ours: pd.DataFrame, baseline: pd.DataFrame, majority: float, evidence: Evidence | None = None, value: str = "accuracy") -> str:
    """Where the runs `ours` land against the runs `baseline` (rows with `value` and, for the interval rule, `run`):
    "below", "within noise", "above" (by `evidence`'s rule; the seed rule without it), "one-class" (every
    run at most the majority-class rate + CHANCE_MARGIN) or "one seed" (no spread)."""
    if all_one_class(ours[value], majority):
        return "one-class"
    result = evidence.accuracy(ours, baseline, "higher", value=value) if evidence is not None else compare(ours[value], baseline[value], "higher")
    if np.isnan(result["spread"]):
        return "one seed"
    return {"holds": "above", "does not hold": "below"}.get(result["verdict"], "within noise")


def rule_words(evidence: Evidence | None, *tables: pd.DataFrame) -> str:
    """The sentence's last words: which rule judged its runs."""
    runs = [r for t in tables if "run" in t for r in t["run"].dropna()]
    if evidence is None or not runs:
        return " (Judged by the seed rule: a difference counts beyond the larger sd over seeds.)"
    lacking = evidence.without_predictions(runs)
    if lacking:
        return (f" (Judged by the {SEED_RULE} rule: {len(lacking)} of {len(set(runs))} runs were stored without test predictions; "
                "`diet precompute` adds them for 95% intervals.)")
    return " (A difference counts when its 95% interval, over test examples and seeds, excludes 0.)"


def _against(ours: pd.DataFrame, baseline: pd.DataFrame, majority: float, what: str, evidence: Evidence | None, value: str = "accuracy") -> str:
    """The verdict as words about `what`: 'below random', 'a one-class model (random: 0.864)', ..."""
    found = verdict(ours, baseline, majority, evidence, value)
    if found == "one-class":
        return f"no better than a one-class model, like {what}" if baseline[value].max() <= majority + CHANCE_MARGIN else f"no better than a one-class model, so below {what}"
    return {"below": f"below {what}", "above": f"above {what}", "within noise": f"within noise of {what}", "one seed": f"without a verdict (one seed) against {what}"}[found]


def one_class_lines(table: pd.DataFrame, majority: float, by: list[str], x: str, fmt=lambda v: f"{v:g}") -> str:
    """A sentence naming the points at which every run stays at most at the majority-class rate
    (+ CHANCE_MARGIN): one-class models, whose flat lines say nothing about the scores; '' if none."""
    flat = []
    for key, part in table.groupby(by, sort=False):
        runs = part.groupby(x)["accuracy"].max()
        at = [fmt(v) for v, top in runs.items() if top <= majority + CHANCE_MARGIN]
        if at:
            key = key if isinstance(key, tuple) else (key,)
            flat.append(f"{' '.join(in_words(k) if isinstance(k, str) else _pct(k) for k in key)} at {x} {', '.join(at)}")
    if not flat:
        return ""
    return (f" One-class models, whose points say nothing about the scores (every run at most the test set's majority-class "
            f"rate, {majority:.3f}, + {CHANCE_MARGIN}): " + "; ".join(flat) + ".")


WORDS = {"below": "below random", "within noise": "within noise of random", "above": "above random", "one-class": "a one-class model", "one seed": "without a spread (one seed)"}


def score_timing(table: pd.DataFrame, majority: float, late: float = 1.0, evidence: Evidence | None = None) -> str:
    """Figure 1: each timing score's top-k at the first step and at the epoch closest to `late` against random, at the largest kept fraction."""
    keep = max(k for k in table["keep"].unique() if k < 1)
    part = table[table["keep"] == keep]
    random = part[part["score"] == RANDOM]
    scored = part[part["step"].notna()]
    epochs = sorted(scored["epoch"].unique())
    first, last = epochs[0], min(epochs, key=lambda e: abs(e - late))
    clauses = []
    for name in dict.fromkeys(scored["score"]):
        at = lambda e: scored[(scored["score"] == name) & (scored["epoch"] == e)]
        clauses.append(f"{in_words(name)} is {_against(at(first), random, majority, 'random', evidence)} at epoch {first:g} ({at(first)['accuracy'].mean():.3f}) "
                       f"and {_against(at(last), random, majority, 'it', evidence)} at epoch {last:g} ({at(last)['accuracy'].mean():.3f})")
    sentence = f"With the top {_pct(keep)}, against random subsets of that size ({random['accuracy'].mean():.3f}), " + "; ".join(clauses) + "."
    scored_all = table[table["step"].notna()]
    return (sentence + one_class_lines(scored_all.assign(top="top " + scored_all["keep"].map(_pct)), majority, ["score", "top"], "epoch")
            + rule_words(evidence, part))


def label_balance(table: pd.DataFrame) -> str:
    """Figure 2: when each score's top-k (run-averaged) is furthest from and closest to the training mix."""
    mean = table[table["by"] == "mean"]
    keep = max(mean["keep"].unique())
    clauses = []
    for name in dict.fromkeys(mean["score"]):
        part = mean[(mean["score"] == name) & (mean["keep"] == keep)]
        tv = part.drop_duplicates("epoch").set_index("epoch")["tv_distance"]
        worst = tv.idxmax()
        at = part[part["epoch"] == worst]
        off = at.loc[(at["fraction"] - at["train_fraction"]).abs().idxmax()]
        clauses.append(f"{in_words(name)} is furthest from the training mix at epoch {worst:g} (total variation distance {tv[worst]:.2f}; "
                       f"{off['class_name']} {off['fraction']:.0%} of the selection against {off['train_fraction']:.0%} of the training set) "
                       f"and closest at epoch {tv.idxmin():g} ({tv.min():.2f})")
    return f"For the top {_pct(keep)}, " + "; ".join(clauses) + "."


def preserved_fraction(table: pd.DataFrame, majority: float, evidence: Evidence | None = None) -> str:
    """Figure 3: at each kept fraction, where the plain and the class-balanced top-k by each score land against random."""
    random = table[table["score"] == RANDOM]
    scored = table[~table["score"].isin([RANDOM, FULL])]
    parts = []
    for balanced, label in ((False, "the plain top-k"), (True, "the class-balanced top-k")):
        groups: dict[str, list[str]] = {}
        for keep in sorted(scored["keep"].unique()):
            rand = random[random["keep"] == keep]
            same = scored[(scored["balanced"].astype(bool) == balanced) & (scored["keep"] == keep)]
            found = {name: verdict(g, rand, majority, evidence) for name, g in same.groupby("score", sort=False)}
            same_everywhere = len(set(found.values())) == 1
            words = WORDS[next(iter(found.values()))] if same_everywhere else "mixed (" + ", ".join(f"{in_words(n)} {v}" for n, v in found.items()) + ")"
            groups.setdefault(words, []).append(_pct(keep))
        parts.append(f"{label} is " + "; ".join(f"{words} at {' and '.join(keeps)} kept" for words, keeps in groups.items()))
    full = table.loc[table["score"] == FULL, "accuracy"]
    return (f"Against random subsets of the same size (full data: {full.mean():.3f}), " + "; ".join(parts) + "."
            + one_class_lines(scored.assign(how=np.where(scored["balanced"].astype(bool), "balanced", "plain")), majority, ["score", "how"], "keep", _pct)
            + rule_words(evidence, table))


def offset_curve(table: pd.DataFrame, majority: float, evidence: Evidence | None = None) -> str:
    """Figure 4: per reading and score, the best offset against no offset, random and full data (plain ranks)."""
    plain = table[~table["balanced"].astype(bool)]
    clauses = []
    for window in dict.fromkeys(plain["window"]):
        part = plain[plain["window"] == window]
        full = part[part["score"] == FULL]
        for name in dict.fromkeys(part.loc[~part["score"].isin([RANDOM, FULL]), "score"]):
            runs = part[part["score"] == name]
            means = runs.groupby("offset")["accuracy"].mean()
            if 0.0 not in means.index or len(means) < 2:
                continue
            best = means.drop(0.0).idxmax()
            at = lambda o: runs[runs["offset"] == o]
            rand = part[(part["score"] == RANDOM) & (part["offset"] == best)]
            clauses.append(f"{in_words(name)} ({window} window) does best at k = {_pct(best)} ({at(best)['accuracy'].mean():.3f}): "
                           f"{_against(at(best), at(0.0), majority, 'k = 0', evidence)} ({at(0.0)['accuracy'].mean():.3f}), "
                           f"{_against(at(best), rand, majority, 'random', evidence)} ({rand['accuracy'].mean():.3f}) and "
                           f"{_against(at(best), full, majority, 'full data', evidence)} ({full['accuracy'].mean():.3f})")
    if not clauses:
        return "This build has no offset above 0 to compare with k = 0."
    return "Skipping the top k first, " + "; ".join(clauses) + "." + rule_words(evidence, plain)


def noisy_labels(table: pd.DataFrame, noise: float, majority: float, evidence: Evidence | None = None) -> str:
    """Figure 5: the share of flipped labels among the top `noise` by each score against random draws, and accuracy after removing them."""
    detect = table[(table["metric"] == "precision") & np.isclose(table["removed"], noise)]
    random = detect.loc[detect["score"] == RANDOM, "value"]
    scores = detect[detect["score"] != RANDOM].groupby("score", sort=False)["value"].mean()
    caught = ", ".join(f"{in_words(s)} {v:.0%}" for s, v in scores.items())
    draws = f"{random.mean():.0%} ± {random.std(ddof=1):.0%} for random draws" if len(random) > 1 else f"{random.mean():.0%} for one random draw"
    sentence = f"Among the top {_pct(noise)} by score, the share of flipped labels is {caught}, against {draws}."
    acc = table[table["metric"] == "accuracy"]
    if len(acc):
        full = acc[acc["score"] == FULL]
        best = acc[~acc["score"].isin([FULL, RANDOM, ORACLE])].groupby("score")["value"].mean().idxmax()
        runs = acc[acc["score"] == best]
        sentence += (f" Removing them by {in_words(best)} (the best score, {runs['value'].mean():.3f}) is "
                     f"{_against(runs, full, majority, 'training on all the noisy data', evidence, 'value')} ({full['value'].mean():.3f})."
                     + rule_words(evidence, acc))
    return sentence
