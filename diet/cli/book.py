"""`diet book`: execute every figure notebook with a preset and build the HTML book."""

from __future__ import annotations

import sys
from pathlib import Path

from diet.cli import checks
from diet.cli.options import add_column_options, add_sizing_options, file_options
from diet.errors import DietError


def add_parser(subparsers) -> None:
    from diet.paper.presets import PRESETS

    p = subparsers.add_parser("book", help="execute every figure notebook with a preset and build the HTML book")
    p.add_argument("--preset", default=None, help=f"one of {', '.join(PRESETS)} (default: the largest complete CPU results, cpu-2k once its store holds every run, else cpu)")
    p.add_argument("--task", default=None, help="build the book for this one task (default: each of the preset's tasks, one part each)")
    p.add_argument("--out", default="_build", help="build folder; HTML lands in OUT/html (default: %(default)s)")
    p.add_argument("--store", default=None, help="results store the notebooks read and fill (default: results/PRESET)")
    p.add_argument("--no-compute", action="store_true", help="only render stored runs; fail naming the first missing one instead of fine-tuning")
    sizing = p.add_argument_group("sizes (every notebook gets them as papermill parameters; default: the preset's)")
    sizing.add_argument("--model", default=None, help="minilm-l6, tiny (random: a check that the book builds), a local folder or a hub id")
    add_sizing_options(sizing)
    sizing.add_argument("--offsets", type=checks.offset, nargs="+", default=None, help="top fractions skipped in figure 4, e.g. 0 0.1 0.2")
    files = p.add_argument_group("a task of your own (with --task my.csv)")
    add_column_options(files)
    files.add_argument("--task-option", action="append", default=None, metavar="KEY=VALUE",
                       help="any load_task option, e.g. --task-option test_fraction=0.3 (repeatable)")
    p.set_defaults(func=run)


def run(args) -> None:
    from diet.book.build import build_book, default_preset

    if args.preset is None:  # the largest CPU results whose store is complete
        args.preset, why = default_preset([args.task] if args.task else None)
        print(f"book: {why}; name another with --preset", file=sys.stderr)
    parameters = book_parameters(args)
    html = build_book(preset=args.preset, task=args.task, out=args.out, store=args.store, compute=not args.no_compute, parameters=parameters)
    print(f"book: {Path(html) / 'index.html'}")


def book_parameters(args) -> dict:
    """The notebook parameters `diet book` passes to every notebook: sizes, seeds, fractions, offsets, task options.

    The task is loaded here first, so that a problem with it stops the build before any notebook runs.
    """
    from diet.data.tasks import load_task

    options = dict(checks.task_option(text) for text in args.task_option or ())
    options.update(file_options(args))
    if options.get("test_file"):
        options["test_file"] = str(Path(options["test_file"]).resolve())  # the notebooks run in the project folder
    if set(options) - {"drop_overlap"} and args.task is None:
        raise DietError(f"task options {sorted(options)} describe a file of your own: name it with --task my.csv")
    parameters = {"model": args.model, "n_train": args.n_train, "n_test": args.n_test, "seeds": args.seeds, "retrain_seeds": args.retrain_seeds,
                  "fractions": args.fractions, "offsets": args.offsets, "task_options": options or None}
    if args.task is not None:
        load_task(args.task, args.n_train, args.n_test, 0, **options)
    return {k: v for k, v in parameters.items() if v is not None}
