"""The paper's experiments: presets, the run context, the chapters' registry, claims, findings, scale, the main job.

A chapter notebook needs only these names (and `diet.plots.show` to draw a figure):
    ctx = start_chapter(globals())     # after the `parameters` cell
    table = produce(ctx, "fig1_score_timing")
FIGURES is the registry of the book's chapters (`diet.paper.figures`).
"""

from diet.paper.context import FULL, ORACLE, RANDOM, Context, run_context
from diet.paper.experiments.subsets import mean_sd
from diet.paper.figures import FIGURES
from diet.paper.notebook import PARAMETERS, produce, start_chapter
from diet.paper.presets import PRESETS

__all__ = ["FIGURES", "FULL", "ORACLE", "PARAMETERS", "PRESETS", "RANDOM", "Context", "mean_sd", "produce", "run_context", "start_chapter"]
