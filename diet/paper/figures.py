"""The book's chapters in one registry: what each computes, the tables it writes, how it is drawn, worded and checked.

Every reader of figures takes them from here: the job plan (the runs of `Figure.run`), the results
summary (`Figure.claims` and `Figure.check` on the table each figure notebook saved), the scale
chapter (the same checks on tables computed again from a store), the book (its chapters, their
order and the downloads page) and the notebooks themselves (`diet.paper.produce`, `diet.plots.show`).
Ids are the notebooks' numbers as strings: "1" is notebooks/01_score_timing.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from diet.paper import claim_checks, findings
from diet.paper.context import Context
from diet.paper.experiments.examples import top_examples
from diet.paper.experiments.noisy import noisy_kept_ids, noisy_labels
from diet.paper.experiments.pruning import WINDOWS, fraction_subsets, offset_curve, offset_subsets, preserved_fraction
from diet.paper.experiments.subsets import kept_ids, scores_mean
from diet.paper.experiments.timing import label_balance, score_timing, timing_subsets
from diet.paper.experiments import compare_scores as which
from diet.paper.presets import SCALE_PRESETS, Preset


@dataclass(frozen=True)
class Table:
    """A table a chapter writes beside the store (<tables>/<name>.csv), and its line on the downloads page."""

    name: str
    about: str
    make: Callable[[Context], pd.DataFrame] | None = None  # None: the notebook writes it from what the chapter computed


@dataclass(frozen=True)
class Figure:
    """One chapter of the book: a figure (1-5), the results summary, "Which score?" or the scale chapter."""

    id: str
    title: str
    notebook: str  # its name in notebooks/, without .ipynb
    tables: tuple[Table, ...] = ()  # a figure's own table first
    plot: str = ""  # the function of diet.plots.figures that draws its own table
    plot_with: tuple[str, ...] = ()  # what else that function takes: "majority" (the one-class line), "noise"
    finding: Callable[[Context, pd.DataFrame], str] | None = None  # "What this build shows", from its own table
    note: Callable[[Context], str] | None = None  # a line on this build's settings, shown between the caption and the finding
    claims: dict[str, str] = field(default_factory=dict)  # the paper's claims its table checks: id -> claim
    check: Callable[[claim_checks.Judge, pd.DataFrame], list[dict]] | None = None
    run: Callable[[Context], object] | None = None  # what the job plan runs for it; None: no fine-tuning of its own
    shown: Callable[[Preset], bool] = lambda preset: True  # whether a preset's book has this chapter

    @property
    def table(self) -> Table:
        return self.tables[0]

    def compute(self, ctx: Context) -> pd.DataFrame:
        """The figure's own table (the one its claims are checked on)."""
        return self.table.make(ctx)


def _offset_note(ctx: Context) -> str:
    p = ctx.preset
    return f"This build: {', '.join(WINDOWS[w] for w in p.offset_windows)}; scores {', '.join(p.offset_scores or p.scores)}."


def _noisy_runs(ctx: Context):
    return noisy_labels(ctx), top_examples(ctx), ctx.preset.dynamics and which.noisy_data_map(ctx)


def _which_score_runs(ctx: Context):
    return which.which_score(ctx), which.flipped_recall(ctx), which.data_map(ctx)


def _scores_by_example(ctx: Context) -> pd.DataFrame:
    return which.compare_means(ctx).rename_axis("example_id").reset_index()


ACCURACY = "test accuracy per seed"
CHAPTERS = (
    Figure("1", "Score timing", "01_score_timing", (
        Table("fig1_score_timing", f"Figure 1: {ACCURACY} after training on the top-k by each score at each step, random and full data", score_timing),
        Table("fig1_scores_mean", "Per-example scores at every scoring step: mean, sd and number of runs (figures 1 and 2)",
              lambda ctx: scores_mean(ctx.timing_scores())),
        Table("fig1_kept_ids", "Figure 1: the example ids of every subset trained on", lambda ctx: kept_ids(timing_subsets(ctx)))),
        plot="score_timing", plot_with=("majority",), run=score_timing, check=claim_checks.timing_claims,
        finding=lambda ctx, table: findings.score_timing(table, ctx.majority, evidence=ctx.evidence(table)),
        claims={"1a": "Scores from the earliest step select worse subsets than random.",
                "1b": "After about one epoch, the scores select better subsets than random."}),
    Figure("2", "Label balance", "02_label_balance", (
        Table("fig2_label_balance", "Figure 2: class shares of each top-k selection, from run-averaged and from single-run scores", label_balance),),
        plot="label_balance", check=claim_checks.balance_claims, finding=lambda ctx, table: findings.label_balance(table),
        claims={"2": "Early selections are more class-imbalanced than those after about one epoch (total variation distance from the training distribution)."}),
    Figure("3", "Preserved fraction", "03_preserved_fraction", (
        Table("fig3_preserved_fraction", f"Figure 3: {ACCURACY} against the fraction kept, plain and class-balanced, random and full data", preserved_fraction),
        Table("fig3_scores_mean", "Per-example scores at the final step (all scores): mean, sd and number of runs (figures 3 and 4)",
              lambda ctx: scores_mean(ctx.final_scores())),
        Table("fig3_kept_ids", "Figure 3: the example ids of every subset trained on", lambda ctx: kept_ids(fraction_subsets(ctx)))),
        plot="preserved_fraction", plot_with=("majority",), run=preserved_fraction, check=claim_checks.fraction_claims,
        finding=lambda ctx, table: findings.preserved_fraction(table, ctx.majority, ctx.evidence(table)),
        claims={"3a": "Keeping up to about 60%, score-based selection is no better than random (MNLI).",
                "3b": "Keeping more than about 60%, score-based selection beats random (MNLI)."}),
    Figure("4", "Offset", "04_offset", (
        Table("fig4_offset", f"Figure 4: {ACCURACY} after skipping the top k, each reading the preset runs, random at the same sizes and full data", offset_curve),
        Table("fig4_kept_ids", "Figure 4: the example ids of every subset trained on", lambda ctx: kept_ids(offset_subsets(ctx)))),
        plot="offset_curve", plot_with=("majority",), run=offset_curve, check=claim_checks.offset_claims, note=_offset_note,
        finding=lambda ctx, table: findings.offset_curve(table, ctx.majority, ctx.evidence(table)),
        claims={"4a": "Skipping the very top first raises accuracy (the best offset k > 0 against k = 0).",
                "4b": "With the best offset, accuracy surpasses full-data accuracy (MNLI).",
                "4c": "With the best offset, accuracy does not surpass full-data accuracy (AG News)."}),
    Figure("5", "Noisy examples", "05_noisy_examples", (
        Table("fig5_noisy_labels", "Figure 5: precision and recall of the top-k as a detector of flipped labels; accuracy after removing them", noisy_labels),
        Table("fig5_kept_ids", "Figure 5: the subsets of the noisy training set, and the ids (with their noisy labels) of the flipped examples", noisy_kept_ids),
        Table("top_examples", "The highest-scored training examples with gold and predicted labels", lambda ctx: top_examples(ctx, n=5)),
        Table("fig5_data_map", "Figure 5: the data map of the noisy training set (confidence, variability, correctness, region), flipped examples marked",
              which.noisy_data_map)),
        plot="noisy_labels", plot_with=("noise",), run=_noisy_runs, check=claim_checks.noise_claims,
        finding=lambda ctx, table: findings.noisy_labels(table, ctx.preset.noise, ctx.majority, ctx.evidence(table)),
        claims={"5a": "Flipped labels score highest: the top noise% holds more flipped examples than a random draw.",
                "5b": "On noisy data, dropping the top noise% by score beats training on all of it."}),
    Figure("6", "Results summary", "06_summary", (
        Table("summary_claims", "The results summary: each claim in each setting, our numbers, the baseline, the verdict"),
        Table("summary_verdicts", "The results summary: one verdict per claim, with how its settings came out"))),
    Figure("7", "Which score?", "07_which_score", (
        Table("which_data_map", "Which score?: the data map of the training set, per example", which.data_map),
        Table("which_scores_mean", "Which score?: every compared score per example (final step, mean over runs; high = hard)", _scores_by_example),
        Table("which_correlations", "Which score?: Spearman rank correlation of every two scores", which.score_correlations),
        Table("which_overlap", "Which score?: Jaccard overlap of the top-k sets of every two scores", which.topk_overlap),
        Table("which_score", f"Which score?: {ACCURACY} after keeping the top-k by each score, plain and class-balanced, random and full data", which.which_score),
        Table("which_kept_ids", "Which score?: the example ids of every subset trained on", lambda ctx: kept_ids(which.which_score_subsets(ctx))),
        Table("which_flipped_recall", "Which score?: precision and recall of each score's top-k as a detector of flipped labels", which.flipped_recall),
        Table("which_cost", "Which score?: seconds per scoring run of each score, and as training updates", which.score_cost)),
        run=_which_score_runs, shown=lambda preset: preset.dynamics),  # training-dynamics runs: only where the preset has them
    Figure("8", "Verdicts and scale", "08_scale", (
        Table("scale_claims", "Verdicts and scale: every setting of every claim at each training-set size compared (from each preset's store)"),
        Table("scale_verdicts", "Verdicts and scale: one verdict per claim at each training-set size")),
        shown=lambda preset: preset.name in SCALE_PRESETS),  # it compares the real-data presets' stores
)
FIGURES: dict[str, Figure] = {f.id: f for f in CHAPTERS}
TABLES: dict[str, Table] = {t.name: t for f in CHAPTERS for t in f.tables}
CHECKED = tuple(f for f in CHAPTERS if f.check)  # the figures whose tables the results summary checks, in order


def chapter_of(table: str) -> Figure:
    """The chapter that writes the table named `table`."""
    return next(f for f in CHAPTERS if table in {t.name for t in f.tables})
