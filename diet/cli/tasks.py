"""`diet tasks`: the named tasks and their sizes, or a check of a file of one's own."""

from __future__ import annotations

from diet.cli import checks
from diet.cli.options import DEFAULTS, add_task_options, load_task_from, task_args
from diet.errors import DietError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("tasks", help="list the tasks and their sizes; with a PATH, check a file of your own and show what diet would train on",
                              description="Without PATH: the named tasks and their sizes. With PATH (a CSV/TSV/JSONL file, a folder with train.* and "
                                          "test.*, a folder saved by datasets' save_to_disk, or hf:NAME[/CONFIG]): every problem diet would stop at, then the sizes, classes and counts, the test split (given or held "
                                          "out), text length percentiles and the problems found, before any model loads.")
    p.add_argument("path", nargs="?", default=None, help="a file, folder or saved dataset of your own (default: list the named tasks)")
    add_task_options(p, task_option=False)
    p.add_argument("--model", default="minilm-l6", help="whose tokenizer measures the text lengths (default: %(default)s)")
    p.add_argument("--max-length", type=checks.max_length, default=DEFAULTS.max_length, help="report the share of texts longer than this many tokens (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> None:
    if args.path:  # a file, folder or saved dataset
        check_own_file(args)
        return
    from diet.data.task import TASKS
    from diet.data.tasks import load_task, mirror_dir

    typed = sorted(checks.SPEC_OPTIONS[d][1] for d in set(checks.SPEC_OPTIONS) & args.given if d not in ("n_train", "data_seed"))
    if typed:
        raise DietError(f"{', '.join(typed)} describe a file of your own: give its path, e.g. diet tasks my.csv {typed[0]} ...")
    where = mirror_dir()
    print(f"data: {'local mirror ' + str(where) if where else 'Hugging Face hub (set DIET_DATA_DIR for a local mirror)'}")
    for name in sorted(TASKS):
        try:
            print("  " + load_task(name, args.n_train, args.n_test, drop_overlap=args.drop_overlap, warn_overlap=False).describe())
        except DietError as error:
            print(f"  {name}: unavailable: {error}")
    print("  <path>: your own CSV/TSV/JSONL file or folder: `diet tasks PATH` checks it and shows what diet would train on")


def check_own_file(args) -> None:
    """Print what diet would train on from the file or folder at args.path, or stop at its first problem."""
    from diet.data.inspection import report_lines

    args.task = args.path
    task = load_task_from({**task_args(args), "warn_overlap": False})  # the report lists the overlap among its problems
    print("\n".join(report_lines(task, tokenizer_or_none(args.model), args.model, args.max_length)))


def tokenizer_or_none(model: str | None):
    """The tokenizer of `model`, or None where there is none offline (lengths are then in characters)."""
    if not model:
        return None
    from diet.model.encoders import load_tokenizer

    try:
        return load_tokenizer(model)
    except (DietError, OSError, ValueError):
        return None
