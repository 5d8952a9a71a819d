"""The experiments behind the book's figures: plain functions of a run context, each returning a tidy DataFrame.

One module per group of figures: `timing` (figures 1 and 2), `pruning` (3 and 4), `noisy` (5) and
`examples` (its highest-scored examples), `compare_scores` (the "Which score?" chapter and the data maps);
`subsets` holds what they share. `diet.paper.figures` says which table each chapter writes from them.
Every fine-tuning goes through the context's store, so a rerun loads instead of recomputing, and
identical subsets (e.g. the top 70% in figures 3 and 4) are trained once.
"""

from diet.paper.context import FULL, ORACLE, RANDOM
from diet.paper.experiments.examples import predictions, top_examples
from diet.paper.experiments.noisy import detection_table, noisy_kept_ids, noisy_labels, noisy_subsets, noisy_task, with_precision_intervals
from diet.paper.experiments.pruning import WINDOWS, fraction_subsets, offset_curve, offset_subsets, preserved_fraction
from diet.paper.experiments.subsets import full_subset, kept_ids, mean_sd, random_subsets, scores_mean, total_variation
from diet.paper.experiments.timing import label_balance, score_timing, timing_subsets
from diet.paper.experiments.compare_scores import (
    compare_means,
    compare_tables,
    data_map,
    flipped_recall,
    noisy_data_map,
    score_correlations,
    score_cost,
    topk_overlap,
    which_score,
    which_score_subsets,
)

__all__ = [
    "FULL", "ORACLE", "RANDOM", "WINDOWS", "compare_means", "compare_tables", "data_map", "detection_table", "flipped_recall",
    "fraction_subsets", "full_subset", "kept_ids", "label_balance", "mean_sd", "noisy_data_map", "noisy_kept_ids", "noisy_labels",
    "noisy_subsets", "noisy_task", "offset_curve", "offset_subsets", "predictions", "preserved_fraction", "random_subsets",
    "run_context", "score_correlations", "score_cost", "score_timing", "scores_mean", "timing_subsets", "top_examples",
    "topk_overlap", "total_variation", "which_score", "which_score_subsets", "with_precision_intervals",
]
