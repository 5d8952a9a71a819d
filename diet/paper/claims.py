"""The paper's claims checked against the tables the figure notebooks wrote, with a stated verdict rule.

The claims and the checks live with their figures (`diet.paper.figures`); here they are run over the
tables one context saved, and their settings summed up into one verdict per claim.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.paper.claim_checks import Judge
from diet.paper.context import Context
from diet.paper.evidence import COLUMNS, INTERVAL_RULE, RUNS_RULE, SEED_RULE
from diet.paper.figures import CHECKED, FIGURES

CLAIMS = {claim_id: (figure.id, text) for figure in CHECKED for claim_id, text in figure.claims.items()}  # id -> (figure, claim)
CLAIM_COLUMNS = ["id", "figure", "claim", "setting", *COLUMNS, "key"]


def figure_tables(ctx: Context) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """({figure: its table} for the figure notebooks that ran with this context, {figure: why not} for the others).

    Refuses a summary with no figure table at all, naming the notebooks to run.
    """
    found, missing = {}, {}
    for figure in CHECKED:
        try:
            found[figure.id] = ctx.load(figure.table.name, f"{figure.notebook}.ipynb")
        except DietError as error:
            missing[figure.id] = str(error)
    if not found:
        raise DietError(f"no figure notebook has run with these parameters: run notebooks/{CHECKED[0].notebook}.ipynb to {CHECKED[-1].notebook}.ipynb "
                        "(any of them) with the same parameters first, or build the whole book with `diet book`")
    return found, missing


def claims(ctx: Context, tables: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Each claim (CLAIMS) against the tables notebooks 01-05 wrote, with a verdict by `diet.paper.evidence`'s rule.

    Columns: id, figure, claim, setting, ours, baseline (mean ± sd over seeds), difference (ours -
    baseline), low and high (its 95% interval), seeds_width and examples_width (the interval's width
    with only seeds, or only test examples, resampled), spread (the larger sd over seeds), rule (which
    rule gave the verdict: the paired interval, the interval over runs, or the seed sd where runs were
    stored without test predictions), verdict, note, key (the setting without what depends on the
    training-set size, such as step numbers and the best offset, so that one setting can be followed
    across sizes: `diet.paper.scale`). Accuracy comparisons where both sides only reach the test set's
    majority-class rate are inconclusive (no signal). Claims 1a and 2 need a scoring step before the
    final one; 4b is checked on MNLI tasks, 4c on the others (the paper reports both, per task). Claims
    of a figure whose notebook has not run with this context are left out (`figure_tables` says which).
    `tables` ({figure: table}) are used instead of the saved ones where given.
    """
    tables = figure_tables(ctx)[0] if tables is None else tables
    judge = Judge.of(ctx, tables.values())
    rows = []
    for figure in CHECKED:
        if figure.id in tables:
            rows += [{**r, "figure": figure.id, "claim": figure.claims[r["id"]]} for r in figure.check(judge, tables[figure.id])]
    frame = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    return frame.sort_values("id", kind="stable", key=lambda ids: ids.map(list(CLAIMS).index), ignore_index=True)


def missing_figures_line(missing: dict[str, str]) -> str:
    """The summary's words for the figure notebooks that have not run with its parameters."""
    return ("**Not in this summary:** " + "; ".join(f"figure {n} (`notebooks/{FIGURES[n].notebook}.ipynb` has not run with these parameters)" for n in missing)
            + ". Their claims are left out; run those notebooks with the same parameters (or `diet book`) to add them.")


def verdict_summary(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One plain verdict per claim from its settings (the rows of `claims`), with the reason.

    holds: at least half of the settings hold and none does not hold; does not hold: the
    mirror; inconclusive: anything else, including settings that disagree. Columns: id, claim,
    verdict, reason (the clearest setting behind the verdict, or why there is none), settings
    (how many hold / do not hold / are inconclusive), difference (the range of ours - baseline),
    rule (which rule judged the settings: `diet.paper.evidence`).
    """
    rows = []
    for (claim_id, text), part in verdicts.groupby(["id", "claim"], sort=False):
        n = len(part)
        holds, fails = part[part["verdict"] == "holds"], part[part["verdict"] == "does not hold"]
        if len(holds) and not len(fails) and len(holds) * 2 >= n:
            verdict, reason = "holds", f"holds in {len(holds)} of {n} settings, in none the other way; clearest: {_example(holds)}"
        elif len(fails) and not len(holds) and len(fails) * 2 >= n:
            verdict, reason = "does not hold", f"goes the other way in {len(fails)} of {n} settings, holds in none; clearest: {_example(fails)}"
        elif len(holds) and len(fails):
            verdict, reason = "inconclusive", f"the settings disagree: holds for {_example(holds)}; does not for {_example(fails)}"
        else:
            undecided = part[part["verdict"] == "inconclusive"]  # their notes say why (e.g. both sides one-class)
            verdict, notes = "inconclusive", undecided["note"].fillna("") if "note" in part else pd.Series("", index=undecided.index)
            reasons = [f"holds in only {len(holds)} of {n} settings ({_example(holds)})"] if len(holds) else []
            reasons += [f"goes the other way in only {len(fails)} of {n} settings ({_example(fails)})"] if len(fails) else []
            reasons += [f"in {(notes != '').sum()} of {n} settings, {notes[notes != ''].iloc[0]}"] if (notes != "").any() else []
            within = "intervals include 0" if rules(part) <= {INTERVAL_RULE, RUNS_RULE} else "differences stay within the spread over seeds"
            reason = "; ".join(reasons + [f"the other {within}" if reasons else f"the {within}"])
        low, high = part["difference"].min(), part["difference"].max()
        rows.append({"id": claim_id, "claim": text, "verdict": verdict, "reason": reason,
                     "settings": f"{len(holds)} hold, {len(fails)} do not, {n - len(holds) - len(fails)} inconclusive (of {n})",
                     "difference": f"{low:+.3f}" if np.isclose(low, high) else f"{low:+.3f} to {high:+.3f}", "rule": rule_text(part)})
    return pd.DataFrame(rows)


def comparisons_line(verdicts: pd.DataFrame) -> str:
    """How many comparisons the summary makes, by which rule, and what chance alone would give at 95%."""
    n = len(verdicts)
    by_rule = (verdicts["rule"] if "rule" in verdicts else pd.Series(SEED_RULE, index=verdicts.index)).fillna(SEED_RULE).value_counts()
    rules_text = ", ".join(f"{count} by the {rule}" for rule, count in by_rule.items())
    return (f"This summary makes {n} comparisons ({rules_text}). If none of them had a true difference, about {n / 20:.1f} "
            "would still have an interval that excludes 0 at 95%: a lone \"holds\" among many settings is weak evidence; "
            "a claim that holds in most of its settings is not.")


def rules(part: pd.DataFrame) -> set[str]:
    """The rules that gave the verdicts of these rows (rows from before rules were recorded: the seed rule)."""
    return set(part["rule"].fillna(SEED_RULE)) if "rule" in part else {SEED_RULE}


def rule_text(part: pd.DataFrame) -> str:
    """Which rule judged a claim's settings: one name, or how many settings each judged when they differ."""
    counts = (part["rule"].fillna(SEED_RULE) if "rule" in part else pd.Series(SEED_RULE, index=part.index)).value_counts()
    if len(counts) == 1:
        return str(counts.index[0])
    return ", ".join(f"{rule} ({n} of {len(part)} settings)" for rule, n in counts.items())


def _example(rows: pd.DataFrame) -> str:
    """The setting with the largest |difference|, as 'setting: ours vs baseline' with its interval where it has one
    (+ its note, e.g. one-class models)."""
    row = rows.loc[rows["difference"].abs().idxmax()]
    note = row.get("note", "")
    interval = f", difference {row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]" if pd.notna(row.get("low", np.nan)) else ""
    return f"{row['setting']}: {row['ours']} vs {row['baseline']}{interval}" + (f" ({note})" if isinstance(note, str) and note else "")
