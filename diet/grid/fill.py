"""Fill a plan: dispatch its ready jobs on an executor until nothing is left that can run.

`run_plan` plans, dispatches what is ready (the first figures' runs first, a short queue ahead of the
workers), and plans again after runs that others wait for (scoring runs) finish. A local pool whose
worker died is restarted (at most 3 times); a job that another process computes is looked at again later.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from diet.errors import DietError
from diet.files import DiskFullError
from diet.grid.plan import Job, Plan, check_can_compute, make_plan
from diet.grid.worker import Outcome
from diet.progress import Progress


class WorkersDied(DietError):
    """The local worker processes kept dying; what finished is stored."""

    exit_code = 1


@dataclass
class Report:
    """What a run of the plan did, and what is left."""

    computed: int = 0
    found: int = 0
    seconds: float = 0.0
    failed: dict = field(default_factory=dict)  # job description -> error
    blocked: int = 0
    plan: Plan | None = None


def run_plan(ctx, figures, executor, progress: bool = True, out=None) -> Report:
    """Dispatch every runnable job of the plan on `executor` until none is left; return a report.

    Progress lines and restart notices go to `out` (default: sys.stderr as it is at the call)."""
    out = sys.stderr if out is None else out
    plans = _Plans(ctx, figures)
    plan = plans.make()
    check_can_compute(ctx, plan)
    bar = Progress("jobs", _runs(plan), "jobs", out, enabled=progress, done=len(plan.done), workers=executor.workers, log=True)
    filling = _Filling(plans, plan, executor, bar, out)
    aborted = True
    try:
        filling.run()
        aborted = False
    finally:
        executor.close(abort=aborted)
        bar.close(f"{len(filling.failed)} failed")
    filling.report.plan = filling.plan
    filling.report.blocked = len(filling.plan.blocked)
    return filling.report


def _runs(plan: Plan) -> int:
    return len(plan.done) + len(plan.ready) + len(plan.blocked)


class _Filling:
    """One `run_plan` under way: the current plan, the jobs in flight, and what became of the others."""

    def __init__(self, plans: "_Plans", plan: Plan, executor, bar: Progress, out):
        self.plans, self.plan, self.executor, self.bar, self.out = plans, plan, executor, bar, out
        self.report = Report(plan=plan)
        self.inflight: dict[Future, Job] = {}
        self.settled: set[tuple] = set()  # finished here or found stored: never submitted again, even from a stale plan
        self.failed: dict[tuple, Job] = {}
        self.retry_at: dict[tuple, float] = {}  # claimed by another process: look again later
        self.restarts = 0

    def run(self) -> None:
        """Dispatch, wait, collect and plan again until no job is in flight and none can start."""
        while True:
            try:
                left = self.dispatch()
            except BrokenProcessPool:  # a worker died after the last wait, and the pool refused a new job before any future said so
                self.restart()
                self.replan()
                continue
            workers = self.executor.workers
            self.bar.show(f"{min(len(self.inflight), workers)} running, {max(0, len(self.inflight) - workers)} queued, {len(self.failed)} failed")
            if not self.inflight:
                waiting = [self.retry_at[k] for k in self.plan.ready if k in self.retry_at and k not in self.failed]
                if not waiting:
                    return
                time.sleep(max(0.5, min(waiting) - time.monotonic()))
                self.replan()
                continue
            if self.collect() or not self.inflight or self.plans.due(left):  # after a pool restart, when the workers run dry, or when it pays
                self.replan()

    def dispatch(self) -> bool:
        """Submit the plan's ready jobs, first ones first, up to a short queue; whether some are left."""
        busy = {j.key for j in self.inflight.values()}
        now = time.monotonic()
        for job in self.plan.pending:
            if job.key in busy or job.key in self.settled or job.key in self.failed or self.retry_at.get(job.key, 0) > now:
                continue
            if len(self.inflight) >= 2 * self.executor.workers:  # a short queue: what a new plan puts first goes next
                return True
            self.inflight[self.executor.submit(job)] = job
            busy.add(job.key)
        return False

    def collect(self) -> bool:
        """Wait (at most 30 s) for jobs to finish and take their outcomes; True when the pool broke under them."""
        finished, _ = wait(list(self.inflight), timeout=30, return_when=FIRST_COMPLETED)
        for future in finished:
            job = self.inflight.pop(future)
            outcome = _outcome(future, self.executor)
            if outcome is None:  # the pool broke: every job in it is lost, start again
                self.restart()
                return True
            self.take(job, outcome)
        return False

    def take(self, job: Job, outcome: Outcome) -> None:
        """Count one job's outcome; a claimed one is tried again in 5 s."""
        if outcome.status == "failed":
            self.failed[job.key] = job
            self.report.failed[job.describe()] = outcome.error
        elif outcome.status == "claimed":
            self.retry_at[job.key] = time.monotonic() + 5
        else:
            self.settled.add(job.key)
            self.report.computed += outcome.status == "done"
            self.report.found += outcome.status == "found"
            self.report.seconds += outcome.seconds
            self.bar.advance(seconds=outcome.seconds)
        self.plans.stale = self.plans.stale or job.run.feeds_plan or outcome.status != "done"

    def replan(self) -> None:
        self.plan = self.plans.make()
        self.bar.retotal(_runs(self.plan), len(self.plan.done))

    def restart(self) -> None:
        """A worker died and broke the local pool (its jobs in flight are lost): start a new pool, or stop after 3 restarts."""
        self.restarts += 1
        if self.restarts > 3:
            raise WorkersDied(f"worker processes died {self.restarts} times (out of memory? killed?); finished runs are stored: "
                              "rerun with fewer --workers to go on")
        print(f"a worker process died; restarting the pool ({self.restarts}/3)", file=self.out, flush=True)
        self.executor.restart()
        self.inflight.clear()


class _Plans:
    """The plans of one `run_plan`: stored frames kept between them, and whether planning again pays."""

    def __init__(self, ctx, figures):
        self.ctx, self.figures, self.loaded = ctx, figures, {}
        self.stale = False  # a run that others wait on (a scoring run) finished since the last plan
        self.at = self.seconds = 0.0

    def make(self) -> Plan:
        self.at = time.monotonic()
        plan = make_plan(self.ctx, self.figures, self.loaded)
        self.seconds, self.stale = time.monotonic() - self.at, False  # a plan of 10,000 examples takes seconds
        return plan

    def due(self, left: bool) -> bool:
        """Stale, and either the current plan has nothing more to hand out (`left` False) or planning
        would take at most a fifth of the time since the last plan."""
        return self.stale and (not left or time.monotonic() - self.at >= 4 * self.seconds)


def _outcome(future: Future, executor) -> Outcome | None:
    """The job's outcome; None when the local pool broke under it; a failure when Ray lost its worker."""
    try:
        return future.result()
    except DiskFullError:  # the disk is full: stop dispatching, say which path and how to go on
        raise
    except BrokenProcessPool:
        return None if hasattr(executor, "restart") else Outcome("failed", 0.0, "worker process died")
    except Exception as error:  # noqa: BLE001 - e.g. Ray's WorkerCrashedError
        return Outcome("failed", 0.0, f"{type(error).__name__}: {error}")
