"""`diet run`: the main job: score, keep a fraction by each score, retrain, compare with random and full data."""

from __future__ import annotations

import sys
from pathlib import Path

from diet.cli import checks


def add_parser(subparsers) -> None:
    from diet.paper.presets import PRESETS

    p = subparsers.add_parser("run", help="the main job: score, keep 70%% by each score (plain top-k, per class, skipping the top), retrain, compare with random and full data")
    p.add_argument("--preset", default="quick", help=f"one of {', '.join(PRESETS)} (default: %(default)s)")
    p.add_argument("--task", default=None, help="override the preset's task")
    p.add_argument("--model", default=None, help="override the preset's model")
    p.add_argument("--n-train", type=checks.positive_int, default=None, help="override the preset's training size")
    p.add_argument("--n-test", type=checks.positive_int, default=None, help="override the preset's test size")
    p.add_argument("--keep", type=checks.kept_fraction, default=0.7, help="fraction every selection keeps (default: %(default)s)")
    p.add_argument("--offset", type=checks.fraction, default=0.2, help="the skip-top selection first skips this top fraction, then keeps ranks [offset, offset + keep) (default: %(default)s)")
    p.add_argument("--seeds", type=checks.seed, nargs="+", default=None, help="retraining seeds of every selection (default: the preset's)")
    p.add_argument("--drop-overlap", action="store_true", help="drop the test texts that also occur in training from the test split (default: keep them, with a warning)")
    p.add_argument("--out", default="runs/main", help="output folder; a rerun resumes (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> None:
    from diet.files import write_table
    from diet.paper.main_job import run_preset
    from diet.paper.presets import get_preset

    preset = get_preset(args.preset).with_overrides(task=args.task, model=args.model, n_train=args.n_train, n_test=args.n_test, retrain_seeds=args.seeds)
    print(f"preset {preset.name}: {preset.description}", file=sys.stderr)
    out = Path(args.out)
    result = run_preset(preset, out, keep=args.keep, offset=args.offset, drop_overlap=args.drop_overlap)
    write_table(out / "accuracy.csv", result.accuracies)
    write_table(out / "class_mix.csv", result.class_mix)
    print_report(result, preset, args.keep, out)


def print_report(result, preset, keep: float, out: Path) -> None:
    """The main job's table, its reading and figure, and where its files are."""
    from diet.paper import main_report as report
    from diet.plots.figures import main_comparison
    from diet.progress import minutes

    summary = report.summarize(result.accuracies, result.class_mix)
    base = report.train_mix(result.class_mix)
    task = result.task
    evidence = result.evidence()
    title = (f"{task.name} with {preset.model}, {len(task.train):,} train / {len(task.test):,} test examples: test accuracy, "
             f"mean ± sd over retraining seeds {list(preset.retrain_seeds)}, and its 95% interval (test examples and seeds resampled)")
    print()
    print("\n".join(report.table_lines(summary, base, title, result.majority, report.accuracy_intervals(result.accuracies, evidence))))
    print("\nreading:")
    print("\n".join(f"  {line}" for line in report.reading_lines(result.accuracies, summary, result.majority, evidence)))
    fig, _ = main_comparison(result.accuracies, summary, base, result.majority, title=f"{task.name}, {preset.model}: keep {keep:.0%}")
    figure = out / "comparison.png"
    fig.savefig(figure)
    print(f"\nfigure: {figure}")
    print(f"scores: {result.scores_folder} (scores.parquet, scores_mean.csv, config.json)")
    print(f"accuracies: {out / 'accuracy.csv'} (per seed), class mix: {out / 'class_mix.csv'}; wall time: "
          + ", ".join(f"{k} {minutes(v)}" for k, v in result.seconds.items()))

