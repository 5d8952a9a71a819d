"""The paper's claims checked against the tables the figure notebooks wrote, with a stated verdict rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.paper.context import FULL, RANDOM, Context
from diet.errors import DietError


from diet.stats.one_class import CHANCE_MARGIN, majority_rate  # noqa: F401 (CHANCE_MARGIN: re-exported for diet.paper.findings and diet.paper.main_report)
from diet.paper.evidence import COLUMNS, INTERVAL_RULE, RUNS_RULE, SEED_RULE, Evidence, interval_result, runs_comparison
from diet.stats.intervals import Interval
from diet.stats.seed_rule import compare  # noqa: F401 (re-exported: diet.paper.scale, diet.paper.findings)


CLAIMS = {
    "1a": (1, "Scores from the earliest step select worse subsets than random."),
    "1b": (1, "After about one epoch, the scores select better subsets than random."),
    "2": (2, "Early selections are more class-imbalanced than those after about one epoch (total variation distance from the training distribution)."),
    "3a": (3, "Keeping up to about 60%, score-based selection is no better than random (MNLI)."),
    "3b": (3, "Keeping more than about 60%, score-based selection beats random (MNLI)."),
    "4a": (4, "Skipping the very top first raises accuracy (the best offset k > 0 against k = 0)."),
    "4b": (4, "With the best offset, accuracy surpasses full-data accuracy (MNLI)."),
    "4c": (4, "With the best offset, accuracy does not surpass full-data accuracy (AG News)."),
    "5a": (5, "Flipped labels score highest: the top noise% holds more flipped examples than a random draw."),
    "5b": (5, "On noisy data, dropping the top noise% by score beats training on all of it."),
}


FIGURE_TABLES = {1: ("fig1_score_timing", "01_score_timing.ipynb"), 2: ("fig2_label_balance", "02_label_balance.ipynb"),
                 3: ("fig3_preserved_fraction", "03_preserved_fraction.ipynb"), 4: ("fig4_offset", "04_offset.ipynb"),
                 5: ("fig5_noisy_labels", "05_noisy_examples.ipynb")}


def figure_tables(ctx: Context) -> tuple[dict[int, pd.DataFrame], dict[int, str]]:
    """({figure: its table} for the figure notebooks that ran with this context, {figure: why not} for the others).

    Refuses a summary with no figure table at all, naming the notebooks to run.
    """
    found, missing = {}, {}
    for figure, (name, notebook) in FIGURE_TABLES.items():
        try:
            found[figure] = ctx.load(name, notebook)
        except DietError as error:
            missing[figure] = str(error)
    if not found:
        raise DietError("no figure notebook has run with these parameters: run notebooks/01_score_timing.ipynb to 05_noisy_examples.ipynb "
                        "(any of them) with the same parameters first, or build the whole book with `diet book`")
    return found, missing


def claims(ctx: Context, tables: dict[int, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Each claim (CLAIMS) against the tables notebooks 01-05 wrote, with a verdict by `diet.paper.evidence`'s rule.

    Columns: id, figure, claim, setting, ours, baseline (mean ± sd over seeds), difference (ours -
    baseline), low and high (its 95% interval), seeds_width and examples_width (the interval's width
    with only seeds, or only test examples, resampled), spread (the larger sd over seeds), rule (which
    rule gave the verdict: the paired interval, the interval over runs, or the seed sd where runs were
    stored without test predictions), verdict, note, key (the setting without what depends on the
    training-set size, such as step numbers and the best offset, so that one setting can be followed
    across sizes: `diet.paper.scale`). Accuracy comparisons where both sides only reach the test set's
    majority-class rate are inconclusive (no signal). Claims 1a
    and 2 need a scoring step before the final one; 4b is checked on MNLI tasks, 4c on the
    others (the paper reports both, per task). Claims of a figure whose notebook has not run with
    this context are left out (`figure_tables` says which). `tables` ({figure: table}) are used
    instead of the saved ones where given.
    """
    p = ctx.preset
    tables = figure_tables(ctx)[0] if tables is None else tables
    fig1, fig2, fig3, fig4, fig5 = (tables.get(n) for n in FIGURE_TABLES)
    rows = []
    majority = majority_rate(ctx.task.test.labels, ctx.task.num_labels)
    evidence = Evidence.of(ctx.store, ctx.task.test.labels, tables.values())

    def accuracy_compare(ours: pd.DataFrame, baseline: pd.DataFrame, claim: str, value: str = "accuracy") -> dict:
        return evidence.accuracy(ours, baseline, claim, floor=majority, value=value)

    def add(claim_id, setting, result, key=None):
        figure, text = CLAIMS[claim_id]
        rows.append({"id": claim_id, "figure": figure, "claim": text, "setting": setting, **result, "key": key or setting})

    final = ctx.step(p.final_step)
    if fig1 is not None:
        steps = sorted(fig1["step"].dropna().unique())
        late = min(steps, key=lambda s: abs(s - final))
        for name in fig1.loc[fig1["step"].notna(), "score"].unique():
            for keep in sorted(k for k in fig1["keep"].unique() if k < 1):
                rand = fig1[(fig1["score"] == RANDOM) & (fig1["keep"] == keep)]
                at = fig1[(fig1["score"] == name) & (fig1["keep"] == keep)]
                if steps[0] < late:  # an early step to judge
                    add("1a", f"{name}, top {keep:.0%}, step {int(steps[0])}", accuracy_compare(at[at["step"] == steps[0]], rand, "lower"),
                        key=f"{name}, top {keep:.0%}, earliest step")
                add("1b", f"{name}, top {keep:.0%}, step {int(late)}", accuracy_compare(at[at["step"] == late], rand, "higher"),
                    key=f"{name}, top {keep:.0%}, final step")
    if fig2 is not None:
        runs = fig2[fig2["by"] == "run"].drop_duplicates(["score", "step", "keep", "run"])
        early, late2 = runs["step"].min(), min(runs["step"].unique(), key=lambda s: abs(s - final))
        for (name, keep), part in runs.groupby(["score", "keep"], sort=False) if early < late2 else ():
            tv = lambda s: part[part["step"] == s]["tv_distance"]
            add("2", f"{name}, top {keep:.0%}, step {int(early)} vs {int(late2)}", runs_comparison(tv(early), tv(late2), "higher"),
                key=f"{name}, top {keep:.0%}, earliest vs final step")
    if fig3 is not None:
        plain = fig3[~fig3["balanced"].astype(bool)]
        for name in p.scores:
            for keep in sorted(k for k in plain["keep"].unique() if k < 1):
                ours = plain[(plain["score"] == name) & (plain["keep"] == keep)]
                rand = plain[(plain["score"] == RANDOM) & (plain["keep"] == keep)]
                if keep <= 0.6:
                    add("3a", f"{name}, keep {keep:.0%}", accuracy_compare(ours, rand, "not higher"))
                else:
                    add("3b", f"{name}, keep {keep:.0%}", accuracy_compare(ours, rand, "higher"))
    if fig4 is not None:
        plain4 = fig4[~fig4["balanced"].astype(bool)]
        for window in plain4["window"].unique():
            full = plain4[(plain4["score"] == FULL) & (plain4["window"] == window)]
            for name in p.offset_scores or p.scores:
                part = plain4[(plain4["score"] == name) & (plain4["window"] == window)]
                means = part.groupby("offset")["accuracy"].mean()
                if 0.0 not in means.index or len(means) < 2:
                    continue
                best = means.drop(0.0).idxmax()
                best_runs = part[part["offset"] == best]
                setting, key = f"{name}, {window} window, best k = {best:.0%}", f"{name}, {window} window, best k"
                add("4a", setting, accuracy_compare(best_runs, part[part["offset"] == 0.0], "higher"), key)
                if ctx.task.name.startswith("mnli"):
                    add("4b", setting, accuracy_compare(best_runs, full, "higher"), key)
                else:
                    add("4c", setting, accuracy_compare(best_runs, full, "not higher"), key)
    if fig5 is not None:
        detect = fig5[(fig5["metric"] == "precision") & np.isclose(fig5["removed"], p.noise)]
        acc = fig5[fig5["metric"] == "accuracy"]
        random = detect[detect["score"] == RANDOM]["value"]
        for name in p.scores:
            ours = detect[detect["score"] == name]
            add("5a", f"{name}, top {p.noise:.0%}", flipped_share_compare(ours, random))
        for name in p.scores if len(acc) else ():  # no accuracy rows: the preset does not retrain on the noisy set
            add("5b", f"{name}, drop top {p.noise:.0%}", accuracy_compare(acc[acc["score"] == name], acc[acc["score"] == FULL], "higher", value="value"))
    frame = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    return frame.sort_values("id", kind="stable", key=lambda ids: ids.map(list(CLAIMS).index), ignore_index=True)


def flipped_share_compare(ours: pd.DataFrame, random: pd.Series) -> dict:
    """Claim 5a for one score: its share of flipped labels (one value, the run-averaged score) against random draws,
    by the interval the figure table carries (over scoring runs and draws), else by the runs' spread (older tables)."""
    if {"low", "high"} <= set(ours.columns) and ours[["low", "high"]].notna().all(axis=None):
        value, draws = float(ours["value"].iloc[0]), random.dropna()
        interval = Interval(value - draws.mean(), float(ours["low"].iloc[0]), float(ours["high"].iloc[0]),
                            float(ours["low"].iloc[0]), float(ours["high"].iloc[0]), value - draws.mean(), value - draws.mean())
        return interval_result(f"{value:.3f}", _mean_sd_text(draws), interval, "higher")
    return runs_comparison(ours["value"], random, "higher", exact_a=True)


def _mean_sd_text(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values.mean():.3f} (1 draw)"


CLAIM_COLUMNS = ["id", "figure", "claim", "setting", *COLUMNS, "key"]


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
