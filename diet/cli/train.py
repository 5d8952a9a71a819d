"""`diet train`: fine-tune on a subset (or all data) with several seeds and print test accuracy."""

from __future__ import annotations

import sys
from pathlib import Path

from diet.cli import checks
from diet.cli.options import add_task_options, add_train_options, load_task_from, task_args, train_config
from diet.errors import DietError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("train", help="fine-tune on a subset (or all data) with several seeds and print test accuracy")
    add_task_options(p)
    add_train_options(p)
    p.add_argument("--subset", default=None, help="CSV or parquet file of example ids from `diet prune`; its task is used unless --task is given (default: the whole training set)")
    p.add_argument("--seeds", type=checks.seed, nargs="+", default=[0, 1, 2], help="training seeds (default: 0 1 2)")
    p.add_argument("--store", default="runs", help="folder for finished runs; a rerun resumes from it (default: %(default)s)")
    p.add_argument("--out", default=None, help="CSV (or .parquet) for the accuracy per seed (default: print only)")
    p.set_defaults(func=run)


def run(args) -> None:
    from diet.data.fingerprint import split_fingerprint
    from diet.files import write_table
    from diet.prune.subsets import read_subset
    from diet.runs.retraining import retrain
    from diet.runs.store import Store
    from diet.stats.one_class import one_class_note

    spec, ids, meta = task_args(args), None, {}
    if args.subset:
        ids, meta = read_subset(args.subset)
        if "task_args" in meta and not args.task_given:
            source = str(Path(args.subset).with_suffix(".json"))
            spec = checks.merge_task_spec(meta["task_args"], spec, args.given, source)
            print(f"task {spec['name']} (n_train {spec.get('n_train') or 'all'}, data seed {spec.get('seed', 0)}) as recorded in {source}; --task overrides it", file=sys.stderr)
    task = load_task_from(spec)
    if args.subset and meta.get("train") and meta["train"] != split_fingerprint(task.train):
        raise DietError(f"{args.subset} was made for another training set than {task.name} with these sizes and seed; pass the --task/--n-train used for scoring")
    accs = retrain(task, args.model, ids, args.seeds, train_config(args), Store(args.store))
    mean, std = accs["accuracy"].mean(), accs["accuracy"].std(ddof=1) if len(accs) > 1 else 0.0
    print(f"{task.name}, {len(ids) if ids is not None else len(task.train):,} training examples, seeds {list(accs['seed'])}: test accuracy {mean:.4f} ± {std:.4f} (mean ± sd over seeds)"
          f" on {len(task.test):,} test examples of {task.name}")
    note = one_class_note(accs, task.test.labels, task.label_names)
    if note:
        print(f"  {note}")
    if args.out:
        write_table(Path(args.out), accs)
        print(f"accuracies: {args.out}")
