"""The job plan of a preset's figures: which runs are done, which can start, which wait for scores.

The figure code is the one source of truth. A plan runs it against a `PlanStore`, which loads
what the store holds and, for a missing run, records its job and hands back a stand-in frame
of the right shape (random scores, a NaN accuracy), so the figure code goes on and names every
run it needs. Runs whose subsets come from missing scores change when the stand-in scores
change: the plan runs the figures twice with two different stand-ins, and a missing run that
is the same in both passes is ready; one that differs waits for its scoring runs ("blocked").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from diet.paper.context import Context
from diet.errors import DietError
from diet.runs.jobs import StoredJob
from diet.runs.store import Store, config_key


def _figures() -> dict:
    """The chapters whose fine-tunings the plan covers, by id: those of `diet.paper.figures` with a `Figure.run`
    (1, 3, 4, 5 and 7, "Which score?"; figure 2 reuses figure 1's scores, the summary all of them)."""
    from diet.paper.figures import FIGURES

    return {f.id: f for f in FIGURES.values() if f.run}


def book_figures(preset) -> list[str]:
    """The figures whose runs a preset's book needs: those with runs among its chapters (`Figure.shown`)."""
    return [f.id for f in _figures().values() if f.shown(preset)]


def check_figures(figures, preset=None) -> list[str]:
    """The figure numbers asked for, checked; None: those the book of `preset` needs (`book_figures`)."""
    if figures is None:
        if preset is None:
            raise DietError("no figures given: name them (e.g. 1 3 4 5 7) or give the preset whose book they are for")
        return book_figures(preset)
    figures, known = [str(f) for f in figures], _figures()
    unknown = [f for f in figures if f not in known]
    if unknown:
        raise DietError(f"no figure {unknown[0]!r} has runs to plan; figures with runs: {', '.join(known)} "
                        "(figure 2 reuses figure 1's scores, the summary reuses them all)")
    return figures


@dataclass
class Job:
    """One run of the plan: its store kind and config, the stored job that computes it (diet.runs.jobs.StoredJob)."""

    kind: str
    config: dict
    run: StoredJob
    figures: set = field(default_factory=set)
    seconds: float | None = None  # wall seconds, for a finished run that recorded them

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, config_key(self.config)

    def describe(self) -> str:
        c = self.config
        size = f"{c['n_subset']:,} examples" if "n_subset" in c else f"{c.get('n_train', '?')} examples"
        steps = f", steps {c['steps']}" if "steps" in c else (f", step {c['step']}" if "step" in c else "")
        if "checkpoints" in c:
            steps = f", {len(c['checkpoints'])} checkpoints to step {max(c['checkpoints'])}"
        return f"{self.kind} {c.get('task')} {c.get('model')} seed {c.get('seed')}, {size}{steps} [{config_key(c)}]"

    def work(self) -> float:
        """Example-passes of fine-tuning and scoring this run costs: the unit of cost estimates."""
        return self.run.work()


class PlanStore(Store):
    """A store that loads what it holds and records each missing run as a Job instead of computing it."""

    def __init__(self, root, variant: int, loaded: dict | None = None):
        super().__init__(root, readonly=False)
        self.variant = variant
        self.figure: str | None = None
        self.done: dict[tuple, Job] = {}
        self.missing: dict[tuple, Job] = {}
        self.placeholders = 0  # stand-ins handed out for runs that other runs may depend on
        self.outdated: set[tuple] = set()  # stored runs that lack a column their kind now requires (store.REQUIRED_COLUMNS)
        self._loaded = {} if loaded is None else loaded  # stored frames never change: keep them between passes

    def load_or_compute(self, kind, config, compute, placeholder=None):
        key = (kind, config_key(config))
        frame = self._loaded.get(key)
        if frame is None:
            frame = self.load(kind, config)
            if frame is not None:
                self._loaded[key] = frame
        seconds = None if frame is None else compute.wall_seconds(frame)
        if frame is not None and not self.complete(kind, frame):  # stored before a required column existed: run it again
            self.outdated.add(key)
            frame = None
        book = self.done if frame is not None else self.missing
        job = book.setdefault(key, Job(kind, config, compute, seconds=seconds))
        job.figures.add(self.figure)
        if frame is not None:
            return frame
        if placeholder is None:
            raise TypeError(f"a {kind} run reached the plan without a placeholder; pass one to Store.load_or_compute")
        if compute.feeds_plan:
            self.placeholders += 1
        return placeholder(self.variant)


@dataclass
class Plan:
    """Finished, ready and blocked runs of some figures of one context."""

    figures: list[str]
    done: dict[tuple, Job]
    ready: dict[tuple, Job]
    blocked: dict[tuple, Job]
    outdated: set[tuple] = field(default_factory=set)  # ready runs that are stored, but without a column now required (test predictions)

    @property
    def unstored(self) -> int:
        """Runs not in the store at all (outdated ones are stored: a read-only book renders them)."""
        return sum(key not in self.outdated for key in (*self.ready, *self.blocked))

    @property
    def pending(self) -> list[Job]:
        """Ready jobs in the order of the figures that need them (so a run cut short leaves whole
        figures, the first ones first), within a figure the runs that unblock others (scoring) first."""
        rank = {figure: i for i, figure in enumerate(self.figures)}
        first = lambda j: min((rank.get(f, len(rank)) for f in j.figures), default=len(rank))  # noqa: E731
        return sorted(self.ready.values(), key=lambda j: (first(j), not j.run.feeds_plan, j.describe()))

    def summary(self) -> pd.DataFrame:
        """Per figure: runs done, ready, blocked on scores, and the estimated core-minutes left."""
        rate = self.rate()
        rows = []
        for figure in self.figures:
            left = [j for j in (*self.ready.values(), *self.blocked.values()) if figure in j.figures]
            rows.append({"figure": figure, "done": sum(figure in j.figures for j in self.done.values()),
                         "ready": sum(figure in j.figures for j in self.ready.values()),
                         "blocked on scores": sum(figure in j.figures for j in self.blocked.values()),
                         "est. core-min left": round(sum(j.work() for j in left) * rate / 60, 1)})
        return pd.DataFrame(rows)

    def estimate_seconds(self, outdated: bool = True) -> float:
        """Core-seconds of the ready and blocked runs (without the outdated ones: `outdated=False`), at the rate of the stored ones (or a default)."""
        left = [j for k, j in (*self.ready.items(), *self.blocked.items()) if outdated or k not in self.outdated]
        return sum(j.work() for j in left) * self.rate()

    def rate(self) -> float:
        """Seconds per unit of work (see Job.work) for this plan's model."""
        jobs = [*self.done.values(), *self.ready.values(), *self.blocked.values()]
        return seconds_per_work(jobs, jobs[0].run.model if jobs else None)


def make_plan(ctx: Context, figures=None, loaded: dict | None = None) -> Plan:
    """The plan of `figures` (default: those the preset's book needs) for this context; `loaded` (a dict) carries stored frames between calls."""
    figures = check_figures(figures, ctx.preset)
    loaded = {} if loaded is None else loaded
    first = _pass(ctx, figures, 0, loaded)
    if first.placeholders == 0:
        return Plan(figures, first.done, first.missing, {}, first.outdated)
    second = _pass(ctx, figures, 1, loaded)
    ready = {k: j for k, j in first.missing.items() if k in second.missing}
    blocked = {k: j for k, j in first.missing.items() if k not in second.missing}
    return Plan(figures, first.done, ready, blocked, first.outdated)


def check_can_compute(ctx: Context, plan: Plan) -> None:
    """Refuse, before anything runs, a plan with runs left whose preset needs a GPU that torch does not see."""
    import torch

    left = len(plan.ready) + len(plan.blocked)
    if left and ctx.preset.train.device_type == "cuda" and not torch.cuda.is_available():
        raise DietError(f"preset {ctx.preset.name} runs on a GPU (device {ctx.preset.train.device!r}) and torch sees none here, "
                        f"with {left} of its {left + len(plan.done)} runs not stored yet: compute them on a machine with a GPU "
                        f"(diet precompute --preset {ctx.preset.name} ...), or pick a CPU preset (cpu, cpu-2k); "
                        "what is stored renders here with diet book --no-compute once the grid is complete")


def _pass(ctx: Context, figures: list[str], variant: int, loaded: dict) -> PlanStore:
    store = PlanStore(ctx.store.root, variant, loaded)
    planning = replace(ctx, store=store, progress=False, _cache={})
    known = _figures()
    for figure in figures:
        store.figure = figure
        known[figure].run(planning)
    return store


# ---------------------------------------------------------------- cost estimates

DEFAULT_SECONDS_PER_WORK = {"tiny": 0.002, "minilm-l6": 0.05}  # one CPU core, max_length 64, float32 (measured on this project's CPU)
OTHER_MODEL_SECONDS_PER_WORK = 0.25  # a bert-base-sized encoder: about 5x MiniLM-L6


def seconds_per_work(finished, model: str | None = None) -> float:
    """Seconds per unit of work, from stored runs that recorded their wall seconds (retrainings), else a default for `model`."""
    runs = [j for j in finished if j.seconds]
    if runs:
        return sum(j.seconds for j in runs) / max(1e-9, sum(j.work() for j in runs))
    return DEFAULT_SECONDS_PER_WORK.get(model, OTHER_MODEL_SECONDS_PER_WORK)

