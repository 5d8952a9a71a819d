"""`diet score`: fine-tune with several seeds and score every training example at chosen steps."""

from __future__ import annotations

from pathlib import Path

from diet.cli import checks
from diet.cli.options import add_task_options, add_train_options, load_task_from, task_args, train_config
from diet.errors import DietError


def add_parser(subparsers) -> None:
    from diet.scores.grad_norms import METHODS as GRAND_METHODS
    from diet.scores.registry import SCORES

    p = subparsers.add_parser("score", help="fine-tune with several seeds and score every training example at chosen steps")
    add_task_options(p)
    add_train_options(p)
    p.add_argument("--runs", type=checks.positive_int, default=5, help="number of fine-tuning runs, seeds 0..runs-1 (default: %(default)s)")
    p.add_argument("--seeds", type=checks.seed, nargs="+", default=None, help="explicit run seeds (instead of --runs)")
    p.add_argument("--steps", type=checks.step_spec, nargs="+", default=["1ep"], help="when to score: updates ('0', '200') or epochs ('0.5ep', '1ep') (default: 1ep)")
    p.add_argument("--scores", type=checks.score_name, nargs="+", default=["el2n", "grand_head"], help=f"scores to compute, of {', '.join(sorted(SCORES))} (default: el2n grand_head)")
    p.add_argument("--grand-method", choices=GRAND_METHODS, default="ghost", help="grand_full algorithm: ghost (fast, exact), vmap, loop (default: %(default)s)")
    p.add_argument("--out", default="scores", help="output folder; rerunning with the same settings resumes (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> None:
    from diet.model.steps import describe_step
    from diet.runs.scoring import score
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
