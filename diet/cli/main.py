"""The `diet` command line: builds the parser from one module per command and dispatches to it.

Every command module has `add_parser(subparsers)`, which adds its parser and sets `func` to its handler.
"""

from __future__ import annotations

import argparse
import sys

from diet.cli import book, checks, plan, precompute, prune, run, score, tasks, train
from diet.errors import DietError
from diet.interrupts import interrupts_kept

COMMANDS = (tasks, score, prune, train, run, plan, precompute, book)  # in the order `diet --help` lists them


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diet", description="EL2N and GraNd scores for pruning the training data of a fine-tuned BERT.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # argparse: --help exits 0; a bad option prints its message and gives 2
        if exit.code in (0, None):
            raise
        return exit.code
    args.given = checks.given_options(build_parser(), argv)
    args.task_given = "task" in args.given
    try:
        checks.check_outputs(args)
        with interrupts_kept():  # a Ctrl-C that lands in a finaliser is not lost
            args.func(args)
    except DietError as error:
        print(f"diet: error: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 2)
    except KeyboardInterrupt:
        print("diet: interrupted; finished runs are stored, rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
