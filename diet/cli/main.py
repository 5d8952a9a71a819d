"""The `diet` command line: tasks, score, prune, train, run, book."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from diet.cli import checks
from diet.model.config import TrainConfig
from diet.errors import DietError

DEFAULTS = TrainConfig()
# The CLI's batch size and learning rate, not TrainConfig's (its defaults key stored runs): on a few hundred examples,
# batch 32 at 5e-5 gives too few updates; measured on 400 examples with minilm-l6 (book/use_your_task.md), a 2-class
# task stayed a one-class model at 32 / 5e-5 (0.557 = its majority rate, both seeds) and reached 0.780 at 16 / 1e-4 (mean of 2 seeds);
# a 5-class one 0.753 vs 0.832.
CLI_BATCH_SIZE, CLI_LR = 16, 1e-4


def add_task_options(parser: argparse.ArgumentParser, default_task: str | None = "ag_news", task_option: bool = True) -> None:
    group = parser.add_argument_group("task")
    if task_option:
        group.add_argument("--task", default=default_task, help="ag_news, sst2, mnli, or a CSV/TSV/JSONL file or folder (train.* + test.*) of your own (default: %(default)s)")
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


def task_args(args) -> dict:
    return {"name": args.task, "n_train": args.n_train, "n_test": args.n_test, "seed": args.data_seed, **file_options(args)}


def file_options(args) -> dict:
    """The typed options of a task of one's own files (add_column_options), as load_task's keywords."""
    names = args.label_names
    if names and len(names) == 1 and "," in names[0]:
        names = [name.strip() for name in names[0].split(",")]
    given = (("text_column", args.text_column), ("pair_column", args.pair_column), ("label_column", args.label_column),
             ("label_names", names), ("test_file", args.test_file), ("encoding", args.encoding))
    return {k: v for k, v in given if v}


def load_task_from(spec: dict):
    from diet.data.tasks import load_task

    if not isinstance(spec, dict) or "name" not in spec:
        raise DietError(f"the recorded task {spec!r} does not name a task (a damaged .json?); pass --task and its options as given to `diet score`")
    spec = dict(spec)
    return load_task(spec.pop("name"), spec.pop("n_train", None), spec.pop("n_test", None), spec.pop("seed", 0), **spec)


def train_config(args) -> TrainConfig:
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_length=args.max_length, device=args.device, dtype=args.dtype)


def _tokenizer_or_none(model: str | None):
    """The tokenizer of `model`, or None where there is none offline (lengths are then in characters)."""
    if not model:
        return None
    from diet.model.encoders import load_tokenizer

    try:
        return load_tokenizer(model)
    except (DietError, OSError, ValueError):
        return None


def cmd_tasks(args) -> None:
    from diet.data.tasks import load_task, mirror_dir
    from diet.data.task import TASKS

    if args.path:
        from diet.data.inspection import report_lines

        args.task = args.path
        task = load_task_from(task_args(args))
        print("\n".join(report_lines(task, _tokenizer_or_none(args.model), args.model, args.max_length)))
        return
    typed = sorted(checks.SPEC_OPTIONS[d][1] for d in set(checks.SPEC_OPTIONS) & args.given if d not in ("n_train", "data_seed"))
    if typed:
        raise DietError(f"{', '.join(typed)} describe a file of your own: give its path, e.g. diet tasks my.csv {typed[0]} ...")
    where = mirror_dir()
    print(f"data: {'local mirror ' + str(where) if where else 'Hugging Face hub (set DIET_DATA_DIR for a local mirror)'}")
    for name in sorted(TASKS):
        try:
            print("  " + load_task(name, args.n_train, args.n_test).describe())
        except DietError as error:
            print(f"  {name}: unavailable: {error}")
    print("  <path>: your own CSV/TSV/JSONL file or folder: `diet tasks PATH` checks it and shows what diet would train on")


def cmd_score(args) -> None:
    from diet.runs.scoring import score
    from diet.model.steps import describe_step
    from diet.runs.store import Store

    out = Path(args.out)
    spec = task_args(args)
    task = load_task_from(spec)
    if "seeds" in args.given and "runs" in args.given:
        raise DietError("--runs and --seeds both given: --seeds names the runs itself; drop one of them")
    seeds = args.seeds if args.seeds else list(range(args.runs))
    table = score(task, args.model, seeds, args.steps, args.scores, train_config(args), Store(out / "runs"), args.grand_method)
    table.config["task_args"] = spec
    table.save(out)
    print(f"scored {len(task.train):,} examples of {task.name}: {', '.join(table.names)} at {', '.join(describe_step(s, len(task.train), args.batch_size) for s in args.steps)}; runs {table.runs}")
    print(f"scores: {out / 'scores.parquet'} (raw, per run), {out / 'scores_mean.csv'} (mean over runs), config: {out / 'config.json'}")


def cmd_prune(args) -> None:
    from diet.prune.select import select
    from diet.scores.table import ScoresTable
    from diet.model.steps import resolve_step
    from diet.files import write_json, write_table

    table = ScoresTable.load(args.scores)
    spec = table.config.get("task_args")
    if args.task is not None or spec is None:
        if args.task is None:
            raise DietError(f"{args.scores} does not say which task it scored; pass --task (and --n-train) as given to `diet score`")
        spec = task_args(args)
    else:
        spec = checks.merge_task_spec(spec, task_args(args), args.given, f"the scores in {args.scores}")
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
    step_words = f"{args.step.strip()} = update {step}" if str(args.step).strip().lower().endswith("ep") else table.step_text(step)
    print(f"kept {len(ids):,} of {len(task.train):,} examples: {prune_summary(args, step_words)}; per class: "
          + ", ".join(f"{n} {c}" for n, c in zip(task.label_names, counts)))
    print(f"subset: {out} (ids), {out.with_suffix('.json')} (how it was made)")


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


def cmd_train(args) -> None:
    from diet.data.fingerprint import split_fingerprint
    from diet.stats.one_class import one_class_note
    from diet.runs.retraining import retrain
    from diet.runs.store import Store
    from diet.files import write_table

    from diet.prune.subsets import read_subset

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


def cmd_run(args) -> None:
    from diet.paper import main_report as report
    from diet.paper.main_job import run_preset
    from diet.plots.figures import main_comparison
    from diet.paper.presets import get_preset
    from diet.progress import minutes
    from diet.files import write_table

    preset = get_preset(args.preset).with_overrides(task=args.task, model=args.model, n_train=args.n_train, n_test=args.n_test, retrain_seeds=args.seeds)
    print(f"preset {preset.name}: {preset.description}", file=sys.stderr)
    out = Path(args.out)
    result = run_preset(preset, out, keep=args.keep, offset=args.offset)
    summary = report.summarize(result.accuracies, result.class_mix)
    base = report.train_mix(result.class_mix)
    write_table(out / "accuracy.csv", result.accuracies)
    write_table(out / "class_mix.csv", result.class_mix)
    task = result.task
    evidence = result.evidence()
    title = (f"{task.name} with {preset.model}, {len(task.train):,} train / {len(task.test):,} test examples: test accuracy, "
             f"mean ± sd over retraining seeds {list(preset.retrain_seeds)}, and its 95% interval (test examples and seeds resampled)")
    print()
    print("\n".join(report.table_lines(summary, base, title, result.majority, report.accuracy_intervals(result.accuracies, evidence))))
    print("\nreading:")
    print("\n".join(f"  {line}" for line in report.reading_lines(result.accuracies, summary, result.majority, evidence)))
    fig, _ = main_comparison(result.accuracies, summary, base, result.majority, title=f"{task.name}, {preset.model}: keep {args.keep:.0%}")
    figure = out / "comparison.png"
    fig.savefig(figure)
    print(f"\nfigure: {figure}")
    print(f"scores: {result.scores_folder} (scores.parquet, scores_mean.csv, config.json)")
    print(f"accuracies: {out / 'accuracy.csv'} (per seed), class mix: {out / 'class_mix.csv'}; wall time: "
          + ", ".join(f"{k} {minutes(v)}" for k, v in result.seconds.items()))


def grid_context(args):
    """The run context of `diet plan` / `diet precompute`: the preset, its task and sizes, the store."""
    from diet.paper import experiments as ex

    sizes = {"n_train": args.n_train, "n_test": args.n_test, "seeds": args.seeds, "retrain_seeds": args.retrain_seeds, "fractions": args.fractions}
    return ex.run_context(args.preset, task=args.task, store=args.store, progress=False, threads=args.threads,
                          task_options=file_options(args) or None, **sizes)


def cmd_plan(args) -> None:
    from diet.grid.plan import make_plan

    ctx = grid_context(args)
    print(f"plan of preset {ctx.preset.name} on {ctx.task.name} ({ctx.n_train:,} train / {len(ctx.task.test):,} test); store {ctx.store.root}")
    plan = make_plan(ctx, args.figures)
    print(plan.summary().to_string(index=False))
    left = plan.estimate_seconds()
    finished = any(j.kind == "retrain" and j.seconds for j in (*plan.done.values(), *plan.ready.values()))
    if ctx.preset.train.device_type == "cuda":  # seconds a GPU worker process spent; several share one GPU
        unit, basis = "GPU-worker", ("the finished runs" if finished else "a CPU core's default rate, as no run of this task has finished on a GPU: far above a GPU's")
    else:
        unit, basis = "core", ("the finished runs" if finished else "a default rate for the model on one CPU core")
    outdated = f" ({len(plan.outdated)} of them stored without test predictions: computed again to add them)" if plan.outdated else ""
    print(f"distinct runs: {len(plan.done)} done, {len(plan.ready)} ready{outdated}, {len(plan.blocked)} blocked on scores; "
          f"about {left / 3600:.1f} {unit}-hours ({left / 60:.0f} {unit}-minutes) left (estimated from {basis})")
    if args.list:
        for job in plan.pending:
            print(f"  ready   {job.describe()}  (figures {', '.join(sorted(job.figures))})")
    print(f"run them: diet precompute --preset {ctx.preset.name} --task {shlex.quote(str(args.task or ctx.preset.task))}{same_grid_options(args)} --workers N")


def same_grid_options(args) -> str:
    """The options of `diet plan` that change which runs a grid has, as `diet precompute` takes them (quoted)."""
    given = [("--figures", args.figures), ("--n-train", args.n_train), ("--n-test", args.n_test), ("--seeds", args.seeds),
             ("--retrain-seeds", args.retrain_seeds), ("--fractions", args.fractions), ("--text-column", args.text_column),
             ("--pair-column", args.pair_column), ("--label-column", args.label_column), ("--label-names", args.label_names),
             ("--test-file", args.test_file), ("--encoding", args.encoding), ("--store", args.store)]
    words = []
    for flag, value in given:
        if value is None or value == [] or value == "":
            continue
        words += [flag, *(map(str, value) if isinstance(value, (list, tuple)) else [str(value)])]
    return "".join(f" {shlex.quote(w)}" for w in words)


def cmd_precompute(args) -> None:
    from diet.grid.executor import InProcess, LocalPool, RayExecutor, local_slots, run_plan
    from diet.grid.plan import check_figures

    ctx = grid_context(args)
    figures = check_figures(args.figures, ctx.preset)
    print(f"precompute preset {ctx.preset.name}, task {ctx.task.name}, figures {' '.join(figures)}; results go to the store {ctx.store.root.resolve()}", flush=True)
    if args.executor == "ray":
        executor = RayExecutor(ctx.store.root, args.address, args.cpus_per_job, args.gpus_per_job)
    else:
        gpus = _gpus(args.gpus)
        if args.workers in (None, 1) and not gpus:
            executor = InProcess(ctx.store.root, args.threads)
        else:
            executor = LocalPool(ctx.store.root, local_slots(args.workers, args.threads, gpus, args.workers_per_gpu))
    print(f"running on {executor.name}", flush=True)
    report = run_plan(ctx, figures, executor, progress=True)
    print(f"computed {report.computed} runs ({report.seconds / 60:.1f} core-min of jobs), {report.found} found already stored by another process; store {ctx.store.root}")
    if report.failed:
        lines = "\n".join(f"  {job}: {error}" for job, error in report.failed.items())
        blocked = f"; {report.blocked} runs wait on them" if report.blocked else ""
        raise JobsFailed(f"{len(report.failed)} runs failed{blocked}:\n{lines}\ntracebacks: {ctx.store.root / 'failures.jsonl'}; "
                         "fix the cause and rerun the same command: finished runs are kept, only the rest run")


class JobsFailed(DietError):
    """Some jobs of a precompute failed (the others finished and are stored)."""

    exit_code = 1


def _gpus(spec: str | None) -> list[str]:
    """--gpus "0,1" -> ["0", "1"]; "all" or unset -> every visible GPU (none on a CPU machine); "none" -> []."""
    if spec == "none":
        return []
    if spec and spec != "all":
        return [g.strip() for g in spec.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def cmd_book(args) -> None:
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
    if options and args.task is None:
        raise DietError(f"task options {sorted(options)} describe a file of your own: name it with --task my.csv")
    parameters = {"model": args.model, "n_train": args.n_train, "n_test": args.n_test, "seeds": args.seeds, "retrain_seeds": args.retrain_seeds,
                  "fractions": args.fractions, "offsets": args.offsets, "task_options": options or None}
    if args.task is not None:
        load_task(args.task, args.n_train, args.n_test, 0, **options)
    return {k: v for k, v in parameters.items() if v is not None}


def add_sizing_options(parser) -> None:
    """The preset overrides shared by `diet plan`, `diet precompute` and `diet book` (default: the preset's)."""
    parser.add_argument("--n-train", type=checks.positive_int, default=None, help="override the preset's training size")
    parser.add_argument("--n-test", type=checks.positive_int, default=None, help="override the preset's test size")
    parser.add_argument("--seeds", type=checks.seed, nargs="+", default=None, help="override the preset's scoring-run seeds")
    parser.add_argument("--retrain-seeds", type=checks.seed, nargs="+", default=None, help="override the preset's retraining seeds")
    parser.add_argument("--fractions", type=checks.kept_fraction, nargs="+", default=None, help="override the preset's kept fractions (figure 3)")


def add_grid_options(parser: argparse.ArgumentParser, presets) -> None:
    """Options shared by `diet plan` and `diet precompute`: the preset, task, sizes, figures and store."""
    parser.add_argument("--preset", default="cpu", help=f"one of {', '.join(presets)} (default: %(default)s)")
    parser.add_argument("--task", default=None, help="override the preset's task (a named task or a file of your own)")
    add_sizing_options(parser)
    parser.add_argument("--figures", nargs="+", default=None, help="figures whose runs to cover, of 1 3 4 5 7 (default: those the preset's book shows: 7, \"Which score?\", only where it shows training dynamics)")
    parser.add_argument("--store", default=None, help="results store (default: $DIET_STORE, else results/PRESET in the project folder)")
    parser.add_argument("--threads", type=checks.positive_int, default=None, help="torch CPU threads per process (default: the cores split between the workers)")
    add_column_options(parser.add_argument_group("a task of your own (with --task my.csv)"))


def build_parser() -> argparse.ArgumentParser:
    from diet.scores.grad_norms import METHODS as GRAND_METHODS
    from diet.paper.presets import PRESETS
    from diet.scores.registry import SCORES

    parser = argparse.ArgumentParser(prog="diet", description="EL2N and GraNd scores for pruning the training data of a fine-tuned BERT.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("tasks", help="list the tasks and their sizes; with a PATH, check a file of your own and show what diet would train on",
                       description="Without PATH: the named tasks and their sizes. With PATH (a CSV/TSV/JSONL file or a folder with train.* and "
                                   "test.*): every problem diet would stop at, then the sizes, classes and counts, the test split (given or held "
                                   "out), text length percentiles and the problems found, before any model loads.")
    p.add_argument("path", nargs="?", default=None, help="a file or folder of your own (default: list the named tasks)")
    add_task_options(p, task_option=False)
    p.add_argument("--model", default="minilm-l6", help="whose tokenizer measures the text lengths (default: %(default)s)")
    p.add_argument("--max-length", type=checks.max_length, default=DEFAULTS.max_length, help="report the share of texts longer than this many tokens (default: %(default)s)")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("score", help="fine-tune with several seeds and score every training example at chosen steps")
    add_task_options(p)
    add_train_options(p)
    p.add_argument("--runs", type=checks.positive_int, default=5, help="number of fine-tuning runs, seeds 0..runs-1 (default: %(default)s)")
    p.add_argument("--seeds", type=checks.seed, nargs="+", default=None, help="explicit run seeds (instead of --runs)")
    p.add_argument("--steps", type=checks.step_spec, nargs="+", default=["1ep"], help="when to score: updates ('0', '200') or epochs ('0.5ep', '1ep') (default: 1ep)")
    p.add_argument("--scores", type=checks.score_name, nargs="+", default=["el2n", "grand_head"], help=f"scores to compute, of {', '.join(sorted(SCORES))} (default: el2n grand_head)")
    p.add_argument("--grand-method", choices=GRAND_METHODS, default="ghost", help="grand_full algorithm: ghost (fast, exact), vmap, loop (default: %(default)s)")
    p.add_argument("--out", default="scores", help="output folder; rerunning with the same settings resumes (default: %(default)s)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("prune", help="choose the examples to keep from a scores table")
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
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("train", help="fine-tune on a subset (or all data) with several seeds and print test accuracy")
    add_task_options(p)
    add_train_options(p)
    p.add_argument("--subset", default=None, help="CSV or parquet file of example ids from `diet prune`; its task is used unless --task is given (default: the whole training set)")
    p.add_argument("--seeds", type=checks.seed, nargs="+", default=[0, 1, 2], help="training seeds (default: 0 1 2)")
    p.add_argument("--store", default="runs", help="folder for finished runs; a rerun resumes from it (default: %(default)s)")
    p.add_argument("--out", default=None, help="CSV (or .parquet) for the accuracy per seed (default: print only)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("run", help="the main job: score, keep 70%% by each score (plain top-k, per class, skipping the top), retrain, compare with random and full data")
    p.add_argument("--preset", default="quick", help=f"one of {', '.join(PRESETS)} (default: %(default)s)")
    p.add_argument("--task", default=None, help="override the preset's task")
    p.add_argument("--model", default=None, help="override the preset's model")
    p.add_argument("--n-train", type=checks.positive_int, default=None, help="override the preset's training size")
    p.add_argument("--n-test", type=checks.positive_int, default=None, help="override the preset's test size")
    p.add_argument("--keep", type=checks.kept_fraction, default=0.7, help="fraction every selection keeps (default: %(default)s)")
    p.add_argument("--offset", type=checks.fraction, default=0.2, help="the skip-top selection first skips this top fraction, then keeps ranks [offset, offset + keep) (default: %(default)s)")
    p.add_argument("--seeds", type=checks.seed, nargs="+", default=None, help="retraining seeds of every selection (default: the preset's)")
    p.add_argument("--out", default="runs/main", help="output folder; a rerun resumes (default: %(default)s)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("plan", help="list a preset's runs per figure: done, ready, blocked on scores, and the estimated cost")
    add_grid_options(p, PRESETS)
    p.add_argument("--list", action="store_true", help="also list every ready run")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "precompute",
        help="fill the results store for a preset's figures (resumable, parallel), so that `diet book` only loads",
        description="Run every fine-tuning a preset's figures need and store it, in this process, in local worker processes "
                    "(--workers, --gpus) or on a Ray cluster (--executor ray). Results go to --store, default results/PRESET "
                    "in the project folder (or $DIET_STORE); rerun the same command to resume.",
    )
    add_grid_options(p, PRESETS)
    p.add_argument("--workers", type=checks.positive_int, default=None, help="worker processes on this machine; the CPU cores are split between them (default: 1, in this process; with GPUs: --workers-per-gpu on each)")
    p.add_argument("--gpus", default=None, help="GPUs for the workers, e.g. 0,1 (default: all visible; 'none': CPU only)")
    p.add_argument("--workers-per-gpu", type=checks.positive_int, default=1, help="workers sharing each GPU (default: %(default)s)")
    p.add_argument("--executor", choices=["local", "ray"], default="local", help="local worker processes or a Ray cluster (default: %(default)s)")
    p.add_argument("--address", default=None, help="Ray: cluster address, e.g. auto for a cluster started with `ray start --head` (default: a new local Ray instance)")
    p.add_argument("--cpus-per-job", type=checks.positive_float, default=1, help="Ray: CPUs each job asks for, also its torch threads (default: %(default)s)")
    p.add_argument("--gpus-per-job", type=checks.fraction_or_more, default=0, help="Ray: GPUs each job asks for; 0.25 puts four jobs on a GPU (default: %(default)s)")
    p.set_defaults(func=cmd_precompute)

    p = sub.add_parser("book", help="execute every figure notebook with a preset and build the HTML book")
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
    p.set_defaults(func=cmd_book)
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
