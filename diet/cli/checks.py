"""Checks the command line makes before any work: option values (as argparse types) and output paths."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from diet.errors import DietError

MAX_TOKENS = 512  # BERT-style position embeddings
SEED_LIMIT = 2**32  # numpy and torch both accept seeds in [0, 2**32)
TABLE_SUFFIXES = (".csv", ".parquet")


def _number(text: str, kind, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _within(text: str, kind, what: str, ok, bounds: str) -> int | float:
    """`text` as `kind`, or an error naming what it must be (`what`, then `bounds` when it is out of range)."""
    value = _number(text, kind, what)
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {bounds}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _within(text, int, "a positive whole number", lambda v: v >= 1, "a positive whole number (1 or more)")


def seed(text: str) -> int:
    return _within(text, int, "a whole-number seed", lambda v: 0 <= v < SEED_LIMIT, f"a seed from 0 to {SEED_LIMIT - 1}")


def positive_float(text: str) -> float:
    return _within(text, float, "a positive number", lambda v: v > 0, "a positive number")


def fraction_or_more(text: str) -> float:
    """A non-negative amount, such as GPUs per job (0.25 shares a GPU between four jobs)."""
    return _within(text, float, "a number of 0 or more", lambda v: v >= 0, "0 or more")


def fraction(text: str) -> float:
    return _within(text, float, "a fraction in [0, 1]", lambda v: 0.0 <= v <= 1.0, "a fraction in [0, 1]")


def kept_fraction(text: str) -> float:
    """A fraction to keep: in (0, 1], since keeping nothing leaves nothing to train on."""
    value = _number(text, float, "a fraction in (0, 1]")
    if value == 0.0:
        raise argparse.ArgumentTypeError("0 keeps no examples and leaves nothing to train on; give a fraction in (0, 1], e.g. 0.7")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction of the training set in (0, 1], e.g. 0.7, got {text!r}")
    return value


def max_length(text: str) -> int:
    value = _number(text, int, "a whole number of tokens")
    if not 4 <= value <= MAX_TOKENS:
        raise argparse.ArgumentTypeError(f"must be from 4 to {MAX_TOKENS} tokens (BERT-style encoders take at most {MAX_TOKENS}), got {text!r}")
    return value


def device(text: str) -> str:
    import torch

    name = text.strip().lower()
    if name in ("auto", "cpu"):
        return name
    if name == "cuda" or name.startswith("cuda:") and name[5:].isdigit():
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text!r} asks for a GPU, but torch sees none on this machine; use auto or cpu")
        if ":" in name and int(name[5:]) >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} GPUs (cuda:0..cuda:{torch.cuda.device_count() - 1})")
        return name
    raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")


def score_name(text: str) -> str:
    from diet.errors import did_you_mean
    from diet.scores.registry import SCORES

    if text not in SCORES:
        raise argparse.ArgumentTypeError(f"unknown score {text!r}. {did_you_mean(text, list(SCORES))}")
    return text


def step_spec(text: str) -> str:
    """A scoring step: a whole number of updates ('0', '120') or of epochs ('0.5ep', '1ep')."""
    from diet.model.steps import parse_step

    step = parse_step(text)
    if step is None:
        raise argparse.ArgumentTypeError(f"cannot read step {text!r}: use a number of updates ('120') or of epochs ('0.5ep', '1ep')")
    if not math.isfinite(step.value) or step.value < 0:
        raise argparse.ArgumentTypeError(f"step {text!r} must be 0 or more (step 0 is before any update)")
    if not step.whole_updates:
        raise argparse.ArgumentTypeError(f"step {text!r} is not a whole number of updates; write epochs as '{step.value}ep'")
    return text


def offset(text: str) -> float:
    """A top fraction to skip (figure 4): in [0, 1)."""
    value = _number(text, float, "a fraction in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1) of the training set to skip, e.g. 0.1, got {text!r}")
    return value


def task_option(text: str) -> tuple[str, object]:
    """--task-option KEY=VALUE -> (key, value) for load_task; label_names takes a,b,c; test_fraction a number."""
    from diet.data.tasks import FILE_OPTIONS

    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or key not in (*FILE_OPTIONS, "drop_overlap"):
        raise DietError(f"--task-option {text!r}: give KEY=VALUE with KEY one of {', '.join(FILE_OPTIONS)}, drop_overlap, e.g. --task-option text_column=sentence")
    if key == "label_names":
        return key, [name.strip() for name in value.split(",")]
    if key == "drop_overlap":
        return key, value.strip().lower() in ("1", "true", "yes", "on")
    if key == "test_fraction":
        try:
            return key, float(value)
        except ValueError:
            raise DietError(f"--task-option {text!r}: test_fraction must be a number in (0, 1), e.g. 0.2") from None
    return key, value


def encoding(text: str) -> str:
    from diet.data.text_tables import check_encoding

    try:
        return check_encoding(text)
    except DietError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def given_options(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The destinations of the options the user actually typed (abbreviations and --opt=value included)."""
    _suppress_defaults(parser)
    return set(vars(parser.parse_args(argv))) - {"func"}


def _suppress_defaults(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _suppress_defaults(sub)
        else:
            action.default = argparse.SUPPRESS
    parser._defaults.clear()


def check_folder_output(path: str | Path, flag: str) -> None:
    """Refuse an output folder that is a file, lies under a file, or cannot be written, before any work."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DietError(f"{flag} {path} is an existing file, but a folder is needed there; choose another path or move the file away")
    _check_parent(path, path, flag)


def check_file_output(path: str | Path, flag: str) -> None:
    """Refuse an output file that is a folder, has a suffix diet cannot write, or lies where nothing can be written."""
    path = Path(path)
    if path.is_dir():
        raise DietError(f"{flag} {path} is a folder; name a file in it, e.g. {flag} {path / ('out' + TABLE_SUFFIXES[0])}")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise DietError(f"{flag} {path}: name a .csv or .parquet file (the format follows the suffix), e.g. {flag} {path.with_suffix('.csv')}")
    _check_parent(path.parent, path, flag)


def _check_parent(folder: Path, shown: Path, flag: str) -> None:
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise DietError(f"{flag} {shown}: {existing} is a file, so nothing can be written below it; choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DietError(f"{flag} {shown}: the folder {existing} is not writable by this user; choose a folder you can write to, or fix its permissions")


def check_distinct(values, flag: str) -> None:
    repeated = sorted({v for v in values if list(values).count(v) > 1})
    if repeated:
        raise DietError(f"{flag} repeats {', '.join(map(str, repeated))}; give each value once")


OUTPUTS = {  # command -> (option, flag, kind) of the paths it writes
    "score": (("out", "--out", "folder"),),
    "run": (("out", "--out", "folder"),),
    "prune": (("out", "--out", "file"),),
    "train": (("out", "--out", "file"), ("store", "--store", "folder")),
    "book": (("out", "--out", "folder"),),
}

SUBFOLDERS = {"score": ("runs",), "run": ("store", "scores")}  # folders these commands make inside --out


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable output paths of this command before it loads or trains anything."""
    for option, flag, kind in OUTPUTS.get(getattr(args, "command", None), ()):
        path = getattr(args, option, None)
        if path is None:
            continue
        if kind == "folder":
            check_folder_output(path, flag)
            for inner in SUBFOLDERS.get(args.command, ()):
                check_folder_output(Path(path) / inner, flag)
        else:
            check_file_output(path, flag)
    if getattr(args, "command", None) == "prune":
        if Path(args.out).with_suffix(".json").is_dir():
            raise DietError(f"--out {args.out}: {Path(args.out).with_suffix('.json')}, where the subset's description goes, is a folder; choose another name")
    if getattr(args, "command", None) == "run" and getattr(args, "keep", None) is not None:
        from diet.prune.select import check_fractions

        check_fractions(args.keep, getattr(args, "offset", None) or 0.0)  # before scoring, not after
    for option in ("seeds", "retrain_seeds"):
        if getattr(args, option, None):
            check_distinct(getattr(args, option), "--" + option.replace("_", "-"))


# dest -> (key in a task spec, flag, the value when absent); --n-test only picks the test set, so it may change
SPEC_OPTIONS = {
    "n_train": ("n_train", "--n-train", None),
    "data_seed": ("seed", "--data-seed", 0),
    "text_column": ("text_column", "--text-column", "text"),
    "pair_column": ("pair_column", "--pair-column", None),
    "label_column": ("label_column", "--label-column", "label"),
    "label_names": ("label_names", "--label-names", None),
    "test_file": ("test_file", "--test-file", None),
    "encoding": ("encoding", "--encoding", "utf-8"),
    "train_split": ("train_split", "--train-split", "train"),
    "test_split": ("test_split", "--test-split", None),
}


def merge_task_spec(stored: dict, typed: dict, given: set[str], source: str) -> dict:
    """The task spec recorded in `source`, with --n-test applied; other task options must agree with it."""
    if not isinstance(stored, dict) or not isinstance(stored.get("name"), str):
        raise DietError(f"{source} records no usable task ({stored!r}); pass --task and its options as given to `diet score`")
    spec = dict(stored)
    for dest, (key, flag, absent) in SPEC_OPTIONS.items():
        if dest in given and typed.get(key, absent) != stored.get(key, absent):
            raise DietError(
                f"{flag} {_shown(typed.get(key, absent))} conflicts with {source}, made from task {stored.get('name')} with "
                f"{key} {_shown(stored.get(key, absent))}: its example ids belong to that training set. "
                f"Drop {flag}, or pass --task with the options of a task you scored and prune again for it"
            )
    if "n_test" in given:
        spec["n_test"] = typed["n_test"]
    if "drop_overlap" in given:  # like --n-test, it changes the test split only
        spec["drop_overlap"] = True
    return spec


def _shown(value) -> str:
    if value is None:
        return "unset"
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
