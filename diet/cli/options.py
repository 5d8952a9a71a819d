"""Options several commands share (task, own files, fine-tuning, preset sizes, grid) and their conversion to calls."""

from __future__ import annotations

import argparse

from diet.cli import checks
from diet.errors import DietError
from diet.model.config import TrainConfig

DEFAULTS = TrainConfig()
# The CLI's batch size and learning rate, not TrainConfig's (its defaults key stored runs): on a few hundred examples,
# batch 32 at 5e-5 gives too few updates; measured on 400 examples with minilm-l6 (book/use_your_task.md), a 2-class
# task stayed a one-class model at 32 / 5e-5 (0.557 = its majority rate, both seeds) and reached 0.780 at 16 / 1e-4 (mean of 2 seeds);
# a 5-class one 0.753 vs 0.832.
CLI_BATCH_SIZE, CLI_LR = 16, 1e-4


def add_task_options(parser: argparse.ArgumentParser, default_task: str | None = "ag_news", task_option: bool = True) -> None:
    group = parser.add_argument_group("task")
    if task_option:
        group.add_argument("--task", default=default_task, help="ag_news, sst2, mnli, a CSV/TSV/JSONL file or folder (train.* + test.*) of your own, a folder saved by datasets' save_to_disk, or hf:NAME[/CONFIG] (hub) (default: %(default)s)")
    group.add_argument("--n-train", type=checks.positive_int, default=None, help="stratified training subsample size (default: all)")
    group.add_argument("--n-test", type=checks.positive_int, default=None, help="stratified test subsample size (default: all)")
    group.add_argument("--data-seed", type=checks.seed, default=0, help="seed of the subsamples (default: %(default)s)")
    add_column_options(group)


def add_column_options(group) -> None:
    """The options of a task of one's own files: columns, classes, test file, encoding."""
    group.add_argument("--text-column", default=None, help="local files: column of the text (default: text)")
    group.add_argument("--pair-column", default=None, help="local files: column of the second text, for sentence pairs (default: none)")
    group.add_argument("--label-column", default=None, help="local files: column of the label (default: label)")
    group.add_argument("--label-names", nargs="+", default=None, metavar="NAME",
                       help="local files: every class, in order (a,b,c or a b c); integer labels then index these names (default: the labels present in the training file, sorted)")
    group.add_argument("--test-file", default=None, help="local files: the test split's file (default: test.* in a task folder, else a stratified 20%% of the training file)")
    group.add_argument("--encoding", type=checks.encoding, default=None, help="local files: their text encoding, e.g. latin-1 (default: utf-8)")
    group.add_argument("--train-split", default=None, help="saved datasets and hf:NAME: the training split (default: train)")
    group.add_argument("--test-split", default=None, help="saved datasets and hf:NAME: the test split (default: test, else a stratified 20%% of the training split)")
    group.add_argument("--drop-overlap", action="store_true", help="drop the test texts that also occur in training from the test split (default: keep them, with a warning)")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fine-tuning")
    group.add_argument("--model", default="minilm-l6", help="minilm-l6 (offline), tiny (random, for tests), a local folder or a hub id (default: %(default)s)")
    group.add_argument("--epochs", type=checks.positive_float, default=DEFAULTS.epochs, help="training epochs (default: %(default)s)")
    group.add_argument("--batch-size", type=checks.positive_int, default=CLI_BATCH_SIZE, help="training batch size (default: %(default)s)")
    group.add_argument("--lr", type=checks.positive_float, default=CLI_LR, help="peak AdamW learning rate (default: %(default)s)")
    group.add_argument("--max-length", type=checks.max_length, default=DEFAULTS.max_length, help="tokens per example after truncation (default: %(default)s)")
    group.add_argument("--device", type=checks.device, default="auto", help="auto (GPU when there is one), cpu, cuda or cuda:N (default: %(default)s)")
    group.add_argument("--dtype", choices=["auto", "float32", "bf16"], default=DEFAULTS.dtype,
                       help="precision: auto (bf16 autocast on a GPU, float32 on the CPU), float32, or bf16 (autocast, the CPU included) (default: %(default)s)")


def add_sizing_options(parser) -> None:
    """The preset overrides shared by `diet plan`, `diet precompute` and `diet book` (default: the preset's)."""
    parser.add_argument("--n-train", type=checks.positive_int, default=None, help="override the preset's training size")
    parser.add_argument("--n-test", type=checks.positive_int, default=None, help="override the preset's test size")
    parser.add_argument("--seeds", type=checks.seed, nargs="+", default=None, help="override the preset's scoring-run seeds")
    parser.add_argument("--retrain-seeds", type=checks.seed, nargs="+", default=None, help="override the preset's retraining seeds")
    parser.add_argument("--fractions", type=checks.kept_fraction, nargs="+", default=None, help="override the preset's kept fractions (figure 3)")


def add_grid_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by `diet plan` and `diet precompute`: the preset, task, sizes, figures and store."""
    from diet.paper.presets import PRESETS

    parser.add_argument("--preset", default="cpu", help=f"one of {', '.join(PRESETS)} (default: %(default)s)")
    parser.add_argument("--task", default=None, help="override the preset's task (a named task or a file of your own)")
    add_sizing_options(parser)
    parser.add_argument("--figures", nargs="+", default=None, help="figures whose runs to cover, of 1 3 4 5 7 (default: those the preset's book shows: 7, \"Which score?\", only where it shows training dynamics)")
    parser.add_argument("--store", default=None, help="results store (default: $DIET_STORE, else results/PRESET in the project folder)")
    parser.add_argument("--threads", type=checks.positive_int, default=None, help="torch CPU threads per process (default: the cores split between the workers)")
    add_column_options(parser.add_argument_group("a task of your own (with --task my.csv)"))


def task_args(args) -> dict:
    """The task the task options name, as a spec `load_task_from` takes (and the stored tables record)."""
    return {"name": args.task, "n_train": args.n_train, "n_test": args.n_test, "seed": args.data_seed, **file_options(args)}


def file_options(args) -> dict:
    """The typed options of a task of one's own files or dataset (add_column_options), as load_task's keywords."""
    names = args.label_names
    if names and len(names) == 1 and "," in names[0]:
        names = [name.strip() for name in names[0].split(",")]
    given = (("text_column", args.text_column), ("pair_column", args.pair_column), ("label_column", args.label_column),
             ("label_names", names), ("test_file", args.test_file), ("encoding", args.encoding),
             ("train_split", args.train_split), ("test_split", args.test_split), ("drop_overlap", args.drop_overlap))
    return {k: v for k, v in given if v}


def load_task_from(spec: dict):
    """The task a spec of `task_args` (or one recorded beside scores or a subset) names."""
    from diet.data.tasks import load_task

    if not isinstance(spec, dict) or "name" not in spec:
        raise DietError(f"the recorded task {spec!r} does not name a task (a damaged .json?); pass --task and its options as given to `diet score`")
    spec = dict(spec)
    return load_task(spec.pop("name"), spec.pop("n_train", None), spec.pop("n_test", None), spec.pop("seed", 0), **spec)


def train_config(args) -> TrainConfig:
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_length=args.max_length, device=args.device, dtype=args.dtype)


def grid_context(args):
    """The run context of `diet plan` / `diet precompute`: the preset, its task and sizes, the store."""
    from diet.paper.context import run_context

    sizes = {"n_train": args.n_train, "n_test": args.n_test, "seeds": args.seeds, "retrain_seeds": args.retrain_seeds, "fractions": args.fractions}
    return run_context(args.preset, task=args.task, store=args.store, progress=False, threads=args.threads,
                          task_options=file_options(args) or None, **sizes)
