"""The `diet` command line: tasks, score, prune, train, run, book."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from diet.config import TrainConfig
from diet.errors import DietError

DEFAULTS = TrainConfig()


def add_task_options(parser: argparse.ArgumentParser, default_task: str | None = "ag_news") -> None:
    group = parser.add_argument_group("task")
    group.add_argument("--task", default=default_task, help="ag_news, sst2, mnli, or a CSV/TSV/JSONL file or folder (train.* + test.*) of your own (default: %(default)s)")
    group.add_argument("--n-train", type=int, default=None, help="stratified training subsample size (default: all)")
    group.add_argument("--n-test", type=int, default=None, help="stratified test subsample size (default: all)")
    group.add_argument("--data-seed", type=int, default=0, help="seed of the subsamples (default: %(default)s)")
    group.add_argument("--text-column", default=None, help="local files: column of the text (default: text)")
    group.add_argument("--pair-column", default=None, help="local files: column of the second text, for sentence pairs (default: none)")
    group.add_argument("--label-column", default=None, help="local files: column of the label (default: label)")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fine-tuning")
    group.add_argument("--model", default="minilm-l6", help="minilm-l6 (offline), tiny (random, for tests), a local folder or a hub id (default: %(default)s)")
    group.add_argument("--epochs", type=float, default=DEFAULTS.epochs, help="training epochs (default: %(default)s)")
    group.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help="training batch size (default: %(default)s)")
    group.add_argument("--lr", type=float, default=DEFAULTS.lr, help="peak AdamW learning rate (default: %(default)s)")
    group.add_argument("--max-length", type=int, default=DEFAULTS.max_length, help="tokens per example after truncation (default: %(default)s)")
    group.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu or cuda (default: %(default)s)")


def task_args(args) -> dict:
    options = {k: v for k, v in (("text_column", args.text_column), ("pair_column", args.pair_column), ("label_column", args.label_column)) if v}
    return {"name": args.task, "n_train": args.n_train, "n_test": args.n_test, "seed": args.data_seed, **options}


def load_task_from(spec: dict):
    from diet.tasks import load_task

    spec = dict(spec)
    return load_task(spec.pop("name"), spec.pop("n_train"), spec.pop("n_test"), spec.pop("seed"), **spec)


def train_config(args) -> TrainConfig:
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_length=args.max_length, device=args.device)


def cmd_tasks(args) -> None:
    from diet.tasks import TASKS, load_task, mirror_dir

    where = mirror_dir()
    print(f"data: {'local mirror ' + str(where) if where else 'Hugging Face hub (set DIET_DATA_DIR for a local mirror)'}")
    for name in sorted(TASKS):
        try:
            print("  " + load_task(name, args.n_train, args.n_test).describe())
        except DietError as error:
            print(f"  {name}: unavailable: {error}")
    print("  <path>: your own CSV/TSV/JSONL file or folder (see --text-column, --label-column)")


def cmd_score(args) -> None:
    from diet.scoring import score
    from diet.store import Store

    out = Path(args.out)
    spec = task_args(args)
    task = load_task_from(spec)
    seeds = args.seeds if args.seeds else list(range(args.runs))
    table = score(task, args.model, seeds, args.steps, args.scores, train_config(args), Store(out / "runs"), args.grand_method)
    table.config["task_args"] = spec
    table.save(out)
    print(f"scored {len(task.train):,} examples of {task.name}: {', '.join(table.names)} at steps {table.steps}, runs {table.runs}")
    print(f"scores: {out / 'scores.parquet'} (raw, per run), {out / 'scores_mean.csv'} (mean over runs), config: {out / 'config.json'}")


def cmd_prune(args) -> None:
    from diet.prune import select
    from diet.scores_table import ScoresTable
    from diet.steps import resolve_step
    from diet.store import write_json, write_table

    table = ScoresTable.load(args.scores)
    spec = table.config.get("task_args")
    if args.task is not None or spec is None:
        if args.task is None:
            raise DietError(f"{args.scores} does not say which task it scored; pass --task (and --n-train) as given to `diet score`")
        spec = task_args(args)
    task = load_task_from(spec)
    table.check_matches(task.train)
    step = table.steps[-1] if args.step is None else resolve_step(args.step, len(task.train), table.config.get("train_config", {}).get("batch_size", 32))
    ids = select(table.mean(args.score, step), args.keep, order=args.order, offset=args.offset, window=args.window, labels=table.labels(), balanced=args.balanced, seed=args.seed)
    out = Path(args.out)
    labels = table.labels().loc[ids]
    write_table(out, pd.DataFrame({"example_id": ids, "label": labels.to_numpy()}))
    meta = {"task_args": spec, "train": table.config.get("train"), "score": args.score, "step": step, "keep": args.keep, "order": args.order, "offset": args.offset, "window": args.window, "balanced": args.balanced, "seed": args.seed, "n_kept": len(ids), "n_total": len(task.train)}
    write_json(out.with_suffix(".json"), meta)
    counts = np.bincount(labels.to_numpy(), minlength=task.num_labels)
    print(f"kept {len(ids):,} of {len(task.train):,} examples ({args.order} by {args.score} at step {step}); per class: " + ", ".join(f"{n} {c}" for n, c in zip(task.label_names, counts)))
    print(f"subset: {out} (ids), {out.with_suffix('.json')} (how it was made)")


def cmd_train(args) -> None:
    from diet.fingerprint import split_fingerprint
    from diet.retraining import retrain
    from diet.store import Store, write_table

    spec, ids = task_args(args), None
    if args.subset:
        subset = Path(args.subset)
        if not subset.exists():
            raise DietError(f"subset file {subset} does not exist; make one with `diet prune --out {subset}`")
        ids = pd.read_csv(subset)["example_id"].to_numpy()
        meta_path = subset.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if "task_args" in meta and not args.task_given:
            spec = meta["task_args"]
    task = load_task_from(spec)
    if args.subset and meta.get("train") and meta["train"] != split_fingerprint(task.train):
        raise DietError(f"{args.subset} was made for another training set than {task.name} with these sizes and seed; pass the --task/--n-train used for scoring")
    accs = retrain(task, args.model, ids, args.seeds, train_config(args), Store(args.store))
    mean, std = accs["accuracy"].mean(), accs["accuracy"].std(ddof=1) if len(accs) > 1 else 0.0
    print(f"{task.name}, {len(ids) if ids is not None else len(task.train):,} training examples, seeds {list(accs['seed'])}: test accuracy {mean:.4f} ± {std:.4f} (mean ± sd over seeds)")
    if args.out:
        write_table(Path(args.out), accs)
        print(f"accuracies: {args.out}")


def cmd_run(args) -> None:
    from diet.pipeline import run_preset, summarize
    from diet.presets import get_preset
    from diet.store import write_table

    preset = get_preset(args.preset).with_overrides(task=args.task, model=args.model, n_train=args.n_train, n_test=args.n_test)
    print(f"preset {preset.name}: {preset.description}", file=sys.stderr)
    result = run_preset(preset, args.out, keep=args.keep)
    table = summarize(result.accuracies)
    write_table(Path(args.out) / "accuracy.csv", result.accuracies)
    print(f"\n{preset.task} with {preset.model}: test accuracy (mean ± sd over seeds {list(preset.retrain_seeds)})")
    for name, row in table.iterrows():
        print(f"  {name:<22} {int(row['n_train']):>6,} examples  {row['mean']:.4f} ± {row['std']:.4f}")
    print(f"\nscores: {result.scores_folder} (scores.parquet, scores_mean.csv, config.json)")
    print(f"accuracies: {Path(args.out) / 'accuracy.csv'}; wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()))


def cmd_precompute(args) -> None:
    import torch

    from diet import experiments as ex

    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = ex.run_context(args.preset, task=args.task, progress=True)
    steps = {
        "1": lambda: ex.score_timing(ctx),
        "3": lambda: ex.preserved_fraction(ctx),
        "4": lambda: ex.offset_curve(ctx),
        "5": lambda: (ex.noisy_labels(ctx), ex.top_examples(ctx)),
    }
    for figure in args.figures:
        if figure not in steps:
            raise DietError(f"no figure {figure!r} to precompute; figures with runs: {', '.join(steps)} (figure 2 reuses figure 1's scores)")
        started = time.perf_counter()
        steps[figure]()
        print(f"figure {figure}: {time.perf_counter() - started:.0f} s; results in {ctx.store.root}", flush=True)


def cmd_book(args) -> None:
    from diet.book import build_book

    html = build_book(preset=args.preset, task=args.task, out=args.out, store=args.store, compute=not args.no_compute)
    print(f"book: {Path(html) / 'index.html'}")


def build_parser() -> argparse.ArgumentParser:
    from diet.presets import PRESETS
    from diet.scores import SCORES

    parser = argparse.ArgumentParser(prog="diet", description="EL2N and GraNd scores for pruning the training data of a fine-tuned BERT.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("tasks", help="list the tasks and their sizes")
    p.add_argument("--n-train", type=int, default=None, help="show sizes after subsampling to this many training examples")
    p.add_argument("--n-test", type=int, default=None, help="show sizes after subsampling to this many test examples")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("score", help="fine-tune with several seeds and score every training example at chosen steps")
    add_task_options(p)
    add_train_options(p)
    p.add_argument("--runs", type=int, default=5, help="number of fine-tuning runs, seeds 0..runs-1 (default: %(default)s)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="explicit run seeds (overrides --runs)")
    p.add_argument("--steps", nargs="+", default=["1ep"], help="when to score: updates ('0', '200') or epochs ('0.5ep', '1ep') (default: 1ep)")
    p.add_argument("--scores", nargs="+", default=["el2n", "grand_head"], help=f"scores to compute, of {', '.join(sorted(SCORES))} (default: el2n grand_head)")
    p.add_argument("--grand-method", default="ghost", help="grand_full algorithm: ghost (fast, exact), vmap, loop (default: %(default)s)")
    p.add_argument("--out", default="scores", help="output folder; rerunning with the same settings resumes (default: %(default)s)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("prune", help="choose the examples to keep from a scores table")
    add_task_options(p, default_task=None)
    p.add_argument("--scores", default="scores", help="folder written by `diet score` (default: %(default)s)")
    p.add_argument("--score", default="el2n", help="which score ranks the examples (default: %(default)s)")
    p.add_argument("--step", default=None, help="which scoring step, e.g. 1ep or 120 (default: the last)")
    p.add_argument("--keep", type=float, default=0.7, help="fraction of the training set to keep, in [0, 1] (default: %(default)s)")
    p.add_argument("--order", choices=["top", "bottom", "random"], default="top", help="keep the highest, lowest or random scores (default: %(default)s)")
    p.add_argument("--offset", type=float, default=0.0, help="first skip this fraction of the top-ranked examples (default: %(default)s)")
    p.add_argument("--window", choices=["fixed", "shrinking"], default="fixed", help="offset reading: ranks [o, o+keep) or [o, keep) (default: %(default)s)")
    p.add_argument("--balanced", action="store_true", help="apply the fractions within each class")
    p.add_argument("--seed", type=int, default=0, help="seed for random pruning (default: %(default)s)")
    p.add_argument("--out", default="subset.csv", help="CSV of kept example ids; a .json beside it says how it was made (default: %(default)s)")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("train", help="fine-tune on a subset (or all data) with several seeds and print test accuracy")
    add_task_options(p)
    add_train_options(p)
    p.add_argument("--subset", default=None, help="CSV of example ids from `diet prune` (default: the whole training set)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default: 0 1 2)")
    p.add_argument("--store", default="runs", help="folder for finished runs; a rerun resumes from it (default: %(default)s)")
    p.add_argument("--out", default=None, help="CSV for the accuracy per seed (default: print only)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("run", help="the main job: score, keep the top 70%% by each score, retrain, compare with random and full data")
    p.add_argument("--preset", default="quick", help=f"one of {', '.join(PRESETS)} (default: %(default)s)")
    p.add_argument("--task", default=None, help="override the preset's task")
    p.add_argument("--model", default=None, help="override the preset's model")
    p.add_argument("--n-train", type=int, default=None, help="override the preset's training size")
    p.add_argument("--n-test", type=int, default=None, help="override the preset's test size")
    p.add_argument("--keep", type=float, default=0.7, help="fraction kept (default: %(default)s)")
    p.add_argument("--out", default="runs/main", help="output folder; a rerun resumes (default: %(default)s)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("precompute", help="fill the results store for a preset's figures (resumable), so that `diet book` only loads")
    p.add_argument("--preset", default="cpu", help=f"one of {', '.join(PRESETS)} (default: %(default)s)")
    p.add_argument("--task", default=None, help="override the preset's task")
    p.add_argument("--figures", nargs="+", default=["3", "1", "4", "5"], help="figures to compute, in this order (default: 3 1 4 5)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 per process is fastest when two run side by side)")
    p.set_defaults(func=cmd_precompute)

    p = sub.add_parser("book", help="execute every figure notebook with a preset and build the HTML book")
    p.add_argument("--preset", default="cpu", help=f"one of {', '.join(PRESETS)} (default: %(default)s)")
    p.add_argument("--task", default=None, help="build the book for this one task (default: each of the preset's tasks, one part each)")
    p.add_argument("--out", default="_build", help="build folder; HTML lands in OUT/html (default: %(default)s)")
    p.add_argument("--store", default=None, help="results store the notebooks read and fill (default: results/PRESET)")
    p.add_argument("--no-compute", action="store_true", help="only render stored runs; fail naming the first missing one instead of fine-tuning")
    p.set_defaults(func=cmd_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.task_given = "--task" in argv
    try:
        args.func(args)
    except DietError as error:
        print(f"diet: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diet: interrupted; finished runs are stored, rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
