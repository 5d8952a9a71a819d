"""`diet prune`: choose the examples to keep from a scores table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from diet.cli import checks
from diet.cli.options import add_task_options, load_task_from, task_args
from diet.errors import DietError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("prune", help="choose the examples to keep from a scores table")
    add_task_options(p, default_task=None)
    p.add_argument("--scores", default="scores", help="folder written by `diet score` (default: %(default)s)")
    p.add_argument("--score", default="el2n", help="which score ranks the examples (default: %(default)s)")
    p.add_argument("--step", type=checks.step_spec, default=None, help="which scoring step, e.g. 1ep or 120 (default: the last)")
    p.add_argument("--keep", type=checks.kept_fraction, default=0.7, help="fraction of the training set to keep, in (0, 1] (default: %(default)s)")
    p.add_argument("--order", choices=["top", "bottom", "random"], default="top", help="keep the highest, lowest or random scores (default: %(default)s)")
    p.add_argument("--offset", type=checks.fraction, default=0.0, help="first skip this fraction of the top-ranked examples (default: %(default)s)")
    p.add_argument("--window", choices=["fixed", "shrinking"], default="fixed", help="offset reading: ranks [o, o+keep) or [o, keep) (default: %(default)s)")
    p.add_argument("--balanced", action="store_true", help="apply the fractions within each class")
    p.add_argument("--seed", type=checks.seed, default=0, help="seed for random pruning (default: %(default)s)")
    p.add_argument("--out", default="subset.csv", help="CSV (or .parquet) of kept example ids; a .json beside it says how it was made (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> None:
    from diet.files import write_json, write_table
    from diet.model.steps import counts_epochs, resolve_step
    from diet.prune.select import select
    from diet.scores.table import ScoresTable

    table = ScoresTable.load(args.scores)
    spec = scored_task(args, table.config.get("task_args"))
    task = load_task_from(spec)
    table.check_matches(task.train)
    step = table.steps[-1] if args.step is None else resolve_step(args.step, len(task.train), table.config.get("train_config", {}).get("batch_size", 32))
    ids = select(table.mean(args.score, step), args.keep, order=args.order, offset=args.offset, window=args.window, labels=table.labels(), balanced=args.balanced, seed=args.seed)
    if len(ids) == 0:
        raise DietError(f"--keep {args.keep} keeps no example of {len(task.train)}{' in any class' if args.balanced else ''}; keep a larger fraction")
    out = Path(args.out)
    labels = table.labels().loc[ids]
    write_table(out, pd.DataFrame({"example_id": ids, "label": labels.to_numpy()}))
    meta = {"task_args": spec, "train": table.config.get("train"), "score": args.score, "step": step, "keep": args.keep, "order": args.order, "offset": args.offset, "window": args.window, "balanced": args.balanced, "seed": args.seed, "n_kept": len(ids), "n_total": len(task.train)}
    write_json(out.with_suffix(".json"), meta)
    counts = np.bincount(labels.to_numpy(), minlength=task.num_labels)
    step_words = f"{args.step.strip()} = update {step}" if counts_epochs(args.step) else table.step_text(step)
    print(f"kept {len(ids):,} of {len(task.train):,} examples: {prune_summary(args, step_words)}; per class: "
          + ", ".join(f"{n} {c}" for n, c in zip(task.label_names, counts)))
    print(f"subset: {out} (ids), {out.with_suffix('.json')} (how it was made)")


def scored_task(args, recorded: dict | None) -> dict:
    """The task spec to prune for: the one recorded with the scores, unless --task names another."""
    if args.task is not None or recorded is None:
        if args.task is None:
            raise DietError(f"{args.scores} does not say which task it scored; pass --task (and --n-train) as given to `diet score`")
        return task_args(args)
    return checks.merge_task_spec(recorded, task_args(args), args.given, f"the scores in {args.scores}")


def prune_summary(args, step: str) -> str:
    """What `diet prune` applied, in words: order, fraction, offset and its window, class balance, step."""
    pct = lambda x: f"{x * 100:.4g}%"
    if args.order == "random":
        how = f"a random {pct(args.keep)} (seed {args.seed})"
    else:
        end = "top" if args.order == "top" else "bottom"
        how = f"the {end} {pct(args.keep)} by {args.score} at {step}"
        if args.offset and args.window == "fixed":
            how += f", after skipping the {end} {pct(args.offset)} (fixed window: ranks {pct(args.offset)} to {pct(args.offset + args.keep)})"
        elif args.offset:
            how += f", after skipping the {end} {pct(args.offset)} (shrinking window: ranks {pct(args.offset)} to {pct(args.keep)})"
        else:
            how += ", no offset"
    return how + (", class-balanced (the same fraction within each class)" if args.balanced else ", not class-balanced")
