"""`diet precompute`: fill the results store for a preset's figures, in this process, worker processes or on Ray."""

from __future__ import annotations

from diet.cli import checks
from diet.cli.options import add_grid_options, grid_context
from diet.errors import DietError


class JobsFailed(DietError):
    """Some jobs of a precompute failed (the others finished and are stored)."""

    exit_code = 1


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "precompute",
        help="fill the results store for a preset's figures (resumable, parallel), so that `diet book` only loads",
        description="Run every fine-tuning a preset's figures need and store it, in this process, in local worker processes "
                    "(--workers, --gpus) or on a Ray cluster (--executor ray). Results go to --store, default results/PRESET "
                    "in the project folder (or $DIET_STORE); rerun the same command to resume.",
    )
    add_grid_options(p)
    p.add_argument("--workers", type=checks.positive_int, default=None, help="worker processes on this machine; the CPU cores are split between them (default: 1, in this process; with GPUs: --workers-per-gpu on each)")
    p.add_argument("--gpus", default=None, help="GPUs for the workers, e.g. 0,1 (default: all visible; 'none': CPU only)")
    p.add_argument("--workers-per-gpu", type=checks.positive_int, default=1, help="workers sharing each GPU (default: %(default)s)")
    p.add_argument("--executor", choices=["local", "ray"], default="local", help="local worker processes or a Ray cluster (default: %(default)s)")
    p.add_argument("--address", default=None, help="Ray: cluster address, e.g. auto for a cluster started with `ray start --head` (default: a new local Ray instance)")
    p.add_argument("--cpus-per-job", type=checks.positive_float, default=1, help="Ray: CPUs each job asks for, also its torch threads (default: %(default)s)")
    p.add_argument("--gpus-per-job", type=checks.fraction_or_more, default=0, help="Ray: GPUs each job asks for; 0.25 puts four jobs on a GPU (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> None:
    from diet.grid.executor import run_plan
    from diet.grid.plan import check_figures

    ctx = grid_context(args)
    figures = check_figures(args.figures, ctx.preset)
    print(f"precompute preset {ctx.preset.name}, task {ctx.task.name}, figures {' '.join(figures)}; results go to the store {ctx.store.root.resolve()}", flush=True)
    executor = make_executor(args, ctx.store.root)
    print(f"running on {executor.name}", flush=True)
    report = run_plan(ctx, figures, executor, progress=True)
    print(f"computed {report.computed} runs ({report.seconds / 60:.1f} core-min of jobs), {report.found} found already stored by another process; store {ctx.store.root}")
    if report.failed:
        lines = "\n".join(f"  {job}: {error}" for job, error in report.failed.items())
        blocked = f"; {report.blocked} runs wait on them" if report.blocked else ""
        raise JobsFailed(f"{len(report.failed)} runs failed{blocked}:\n{lines}\ntracebacks: {ctx.store.root / 'failures.jsonl'}; "
                         "fix the cause and rerun the same command: finished runs are kept, only the rest run")


def make_executor(args, store_root):
    """Where the jobs run: a Ray cluster, this process (one worker, no GPU), or local worker processes."""
    from diet.grid.executor import InProcess, LocalPool, RayExecutor, local_slots

    if args.executor == "ray":
        return RayExecutor(store_root, args.address, args.cpus_per_job, args.gpus_per_job)
    gpus = visible_gpus(args.gpus)
    if args.workers in (None, 1) and not gpus:
        return InProcess(store_root, args.threads)
    return LocalPool(store_root, local_slots(args.workers, args.threads, gpus, args.workers_per_gpu))


def visible_gpus(spec: str | None) -> list[str]:
    """--gpus "0,1" -> ["0", "1"]; "all" or unset -> every visible GPU (none on a CPU machine); "none" -> []."""
    if spec == "none":
        return []
    if spec and spec != "all":
        return [g.strip() for g in spec.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
