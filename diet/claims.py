"""The paper's claims checked against the tables the figure notebooks wrote, with a stated verdict rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diet.context import FULL, RANDOM, Context
from diet.errors import DietError


from diet.one_class import CHANCE_MARGIN, all_one_class, majority_rate  # noqa: F401 (CHANCE_MARGIN: re-exported for diet.findings and diet.main_report)


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
    """Each claim (CLAIMS) against the tables notebooks 01-05 wrote, with a verdict by `compare`'s rule.

    Columns: id, figure, claim, setting, ours, baseline, difference, spread, verdict, note, key
    (the setting without what depends on the training-set size, such as step numbers and the
    best offset, so that one setting can be followed across sizes: `diet.scale`).
    Accuracy comparisons where both sides only reach the test set's majority-class rate are
    inconclusive (`compare`'s floor). Claims 1a
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

    def accuracy_compare(a, b, claim):
        return compare(a, b, claim, floor=majority)

    def add(claim_id, setting, result, key=None):
        figure, text = CLAIMS[claim_id]
        rows.append({"id": claim_id, "figure": figure, "claim": text, "setting": setting, **result, "key": key or setting})

    final = ctx.step(p.final_step)
    if fig1 is not None:
        steps = sorted(fig1["step"].dropna().unique())
        late = min(steps, key=lambda s: abs(s - final))
        for name in fig1.loc[fig1["step"].notna(), "score"].unique():
            for keep in sorted(k for k in fig1["keep"].unique() if k < 1):
                rand = fig1[(fig1["score"] == RANDOM) & (fig1["keep"] == keep)]["accuracy"]
                at = fig1[(fig1["score"] == name) & (fig1["keep"] == keep)]
                if steps[0] < late:  # an early step to judge
                    add("1a", f"{name}, top {keep:.0%}, step {int(steps[0])}", accuracy_compare(at[at["step"] == steps[0]]["accuracy"], rand, "lower"),
                        key=f"{name}, top {keep:.0%}, earliest step")
                add("1b", f"{name}, top {keep:.0%}, step {int(late)}", accuracy_compare(at[at["step"] == late]["accuracy"], rand, "higher"),
                    key=f"{name}, top {keep:.0%}, final step")
    if fig2 is not None:
        runs = fig2[fig2["by"] == "run"].drop_duplicates(["score", "step", "keep", "run"])
        early, late2 = runs["step"].min(), min(runs["step"].unique(), key=lambda s: abs(s - final))
        for (name, keep), part in runs.groupby(["score", "keep"], sort=False) if early < late2 else ():
            tv = lambda s: part[part["step"] == s]["tv_distance"]
            add("2", f"{name}, top {keep:.0%}, step {int(early)} vs {int(late2)}", compare(tv(early), tv(late2), "higher"),
                key=f"{name}, top {keep:.0%}, earliest vs final step")
    if fig3 is not None:
        plain = fig3[~fig3["balanced"].astype(bool)]
        for name in p.scores:
            for keep in sorted(k for k in plain["keep"].unique() if k < 1):
                ours = plain[(plain["score"] == name) & (plain["keep"] == keep)]["accuracy"]
                rand = plain[(plain["score"] == RANDOM) & (plain["keep"] == keep)]["accuracy"]
                if keep <= 0.6:
                    add("3a", f"{name}, keep {keep:.0%}", accuracy_compare(ours, rand, "not higher"))
                else:
                    add("3b", f"{name}, keep {keep:.0%}", accuracy_compare(ours, rand, "higher"))
    if fig4 is not None:
        plain4 = fig4[~fig4["balanced"].astype(bool)]
        for window in plain4["window"].unique():
            full = plain4[(plain4["score"] == FULL) & (plain4["window"] == window)]["accuracy"]
            for name in p.offset_scores or p.scores:
                part = plain4[(plain4["score"] == name) & (plain4["window"] == window)]
                means = part.groupby("offset")["accuracy"].mean()
                if 0.0 not in means.index or len(means) < 2:
                    continue
                best = means.drop(0.0).idxmax()
                best_acc = part[part["offset"] == best]["accuracy"]
                setting, key = f"{name}, {window} window, best k = {best:.0%}", f"{name}, {window} window, best k"
                add("4a", setting, accuracy_compare(best_acc, part[part["offset"] == 0.0]["accuracy"], "higher"), key)
                if ctx.task.name.startswith("mnli"):
                    add("4b", setting, accuracy_compare(best_acc, full, "higher"), key)
                else:
                    add("4c", setting, accuracy_compare(best_acc, full, "not higher"), key)
    if fig5 is not None:
        detect = fig5[(fig5["metric"] == "precision") & np.isclose(fig5["removed"], p.noise)]
        acc = fig5[fig5["metric"] == "accuracy"]
        for name in p.scores:
            add("5a", f"{name}, top {p.noise:.0%}", compare(detect[detect["score"] == name]["value"], detect[detect["score"] == RANDOM]["value"], "higher", exact_a=True))
        for name in p.scores if len(acc) else ():  # no accuracy rows: the preset does not retrain on the noisy set
            add("5b", f"{name}, drop top {p.noise:.0%}", accuracy_compare(acc[acc["score"] == name]["value"], acc[acc["score"] == FULL]["value"], "higher"))
    frame = pd.DataFrame(rows, columns=["id", "figure", "claim", "setting", "ours", "baseline", "difference", "spread", "verdict", "note", "key"])
    return frame.sort_values("id", kind="stable", key=lambda ids: ids.map(list(CLAIMS).index), ignore_index=True)


def verdict_summary(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One plain verdict per claim from its settings (the rows of `claims`), with the reason.

    holds: at least half of the settings hold and none does not hold; does not hold: the
    mirror; inconclusive: anything else, including settings that disagree. Columns: id, claim,
    verdict, reason (the clearest setting behind the verdict, or why there is none), settings
    (how many hold / do not hold / are inconclusive), difference (the range of ours - baseline).
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
            reason = "; ".join(reasons + ["the other differences stay within the spread over seeds" if reasons else "the differences stay within the spread over seeds"])
        low, high = part["difference"].min(), part["difference"].max()
        rows.append({"id": claim_id, "claim": text, "verdict": verdict, "reason": reason,
                     "settings": f"{len(holds)} hold, {len(fails)} do not, {n - len(holds) - len(fails)} inconclusive (of {n})",
                     "difference": f"{low:+.3f}" if np.isclose(low, high) else f"{low:+.3f} to {high:+.3f}"})
    return pd.DataFrame(rows)


def _example(rows: pd.DataFrame) -> str:
    """The setting with the largest |difference|, as 'setting: ours vs baseline' (+ its note, e.g. one-class models)."""
    row = rows.loc[rows["difference"].abs().idxmax()]
    note = row.get("note", "")
    return f"{row['setting']}: {row['ours']} vs {row['baseline']}" + (f" ({note})" if isinstance(note, str) and note else "")
