"""`diet plan`: a preset's runs per figure (done, ready, blocked on scores) and their estimated cost."""

from __future__ import annotations

import shlex

from diet.cli.options import add_grid_options, grid_context


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("plan", help="list a preset's runs per figure: done, ready, blocked on scores, and the estimated cost")
    add_grid_options(p)
    p.add_argument("--list", action="store_true", help="also list every ready run")
    p.set_defaults(func=run)


def run(args) -> None:
    from diet.grid.plan import make_plan

    ctx = grid_context(args)
    print(f"plan of preset {ctx.preset.name} on {ctx.task.name} ({ctx.n_train:,} train / {len(ctx.task.test):,} test); store {ctx.store.root}")
    plan = make_plan(ctx, args.figures)
    print(plan.summary().to_string(index=False))
    print(cost_line(ctx, plan))
    if args.list:
        for job in plan.pending:
            print(f"  ready   {job.describe()}  (figures {', '.join(sorted(job.figures))})")
    print(f"run them: diet precompute --preset {ctx.preset.name} --task {shlex.quote(str(args.task or ctx.preset.task))}{same_grid_options(args)} --workers N")


def cost_line(ctx, plan) -> str:
    """How many runs are done, ready and blocked, and the hours left, with what the estimate rests on."""
    left = plan.estimate_seconds()
    finished = any(j.kind == "retrain" and j.seconds for j in (*plan.done.values(), *plan.ready.values()))
    if ctx.preset.train.device_type == "cuda":  # seconds a GPU worker process spent; several share one GPU
        unit, basis = "GPU-worker", ("the finished runs" if finished else "a CPU core's default rate, as no run of this task has finished on a GPU: far above a GPU's")
    else:
        unit, basis = "core", ("the finished runs" if finished else "a default rate for the model on one CPU core")
    outdated = f" ({len(plan.outdated)} of them stored without test predictions: computed again to add them)" if plan.outdated else ""
    return (f"distinct runs: {len(plan.done)} done, {len(plan.ready)} ready{outdated}, {len(plan.blocked)} blocked on scores; "
            f"about {left / 3600:.1f} {unit}-hours ({left / 60:.0f} {unit}-minutes) left (estimated from {basis})")


def same_grid_options(args) -> str:
    """The options of `diet plan` that change which runs a grid has, as `diet precompute` takes them (quoted)."""
    given = [("--figures", args.figures), ("--n-train", args.n_train), ("--n-test", args.n_test), ("--seeds", args.seeds),
             ("--retrain-seeds", args.retrain_seeds), ("--fractions", args.fractions), ("--text-column", args.text_column),
             ("--pair-column", args.pair_column), ("--label-column", args.label_column), ("--label-names", args.label_names),
             ("--test-file", args.test_file), ("--encoding", args.encoding), ("--train-split", args.train_split),
             ("--test-split", args.test_split), ("--store", args.store)]
    words = []
    for flag, value in given:
        if value is None or value == [] or value == "":
            continue
        words += [flag, *(map(str, value) if isinstance(value, (list, tuple)) else [str(value)])]
    words += ["--drop-overlap"] if args.drop_overlap else []
    return "".join(f" {shlex.quote(w)}" for w in words)
