"""Run a plan's jobs: in this process, in local worker processes (CPU cores or GPUs), or on Ray.

Every job goes through `run_job`, wherever it runs: claim the entry (diet.runs.locks), skip it if
another process holds it or finished it, compute, store atomically, log one line to
`<store>/jobs.jsonl` (and the traceback of a failure to `<store>/failures.jsonl`). The driver,
`run_plan`, plans, dispatches what is ready (the first figures' runs first, a short queue ahead of
the workers), and plans again after runs that others wait for (scoring runs) finish, until nothing
is left that can run.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from diet.errors import DietError
from diet.runs.locks import Claimed, claim
from diet.grid.plan import Job, Plan, check_can_compute, make_plan
from diet.runs.store import Store
from diet.files import NO_SPACE, DiskFullError, no_space

JOBS_LOG = "jobs.jsonl"
FAILURES_LOG = "failures.jsonl"


class WorkersDied(DietError):
    """The local worker processes kept dying; what finished is stored."""

    exit_code = 1


@dataclass(frozen=True)
class Outcome:
    """What became of one job: done (computed here), found (stored by another process), claimed
    (another process is computing it now), failed (the job raised; `error` says what)."""

    status: str
    seconds: float = 0.0
    error: str = ""


def run_job(job: Job, root: str, threads: int | None = None) -> Outcome:
    """Compute one job into the store at `root`, unless another process holds or finished it."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    store = Store(root, readonly=False)
    kind, key = job.key
    try:
        with claim(Path(root), kind, key, wait=False):
            if store.complete(kind, store.load(kind, job.config)):
                return Outcome("found")
            started = time.perf_counter()
            try:
                frame = job.run()
                store.save(kind, job.config, frame)
            except DiskFullError:  # no job can store anything now: stop them all (run_plan re-raises it)
                raise
            except Exception as error:  # noqa: BLE001 - recorded, reported, and the other jobs go on
                seconds = time.perf_counter() - started
                message = f"{type(error).__name__}: {error}"
                _append(Path(root) / FAILURES_LOG, {**_stamp(job, "failed", seconds), "error": message, "traceback": traceback.format_exc()})
                _append(Path(root) / JOBS_LOG, {**_stamp(job, "failed", seconds), "error": message})
                return Outcome("failed", seconds, message)
            seconds = time.perf_counter() - started
            _append(Path(root) / JOBS_LOG, _stamp(job, "done", seconds))
            return Outcome("done", seconds)
    except Claimed:
        return Outcome("claimed")


def _stamp(job: Job, status: str, seconds: float) -> dict:
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "kind": job.kind, "key": job.key[1], "status": status,
            "seconds": round(seconds, 3), "job": job.describe(), "host": socket.gethostname(), "pid": os.getpid(),
            "device": _device_name(job)}


def _device_name(job: Job) -> str:
    """What the job ran on: the GPU's name for a CUDA config (e.g. "NVIDIA H200"), else "cpu"."""
    cfg = getattr(job.run, "cfg", None)
    if cfg is None or cfg.device_type != "cuda":
        return "cpu"
    import torch

    return torch.cuda.get_device_name(cfg.torch_device()) if torch.cuda.is_available() else "cuda"


def _append(path: Path, record: dict) -> None:
    """One JSON line, appended with a single write (lines from several processes do not mix)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)
    except OSError as error:
        if error.errno in NO_SPACE:
            raise no_space(path, error) from error
        raise


# ---------------------------------------------------------------- where jobs run


class InProcess:
    """Runs each job at once, in this process, one after another."""

    name = "this process"
    workers = 1

    def __init__(self, root: Path, threads: int | None = None):
        self.root, self.threads = str(root), threads

    def submit(self, job: Job) -> Future:
        future = Future()
        future.set_result(run_job(job, self.root, self.threads))
        return future

    def close(self, abort: bool = False) -> None:
        pass


def local_slots(workers: int | None = None, threads: int | None = None, gpus: list[str] | None = None, workers_per_gpu: int = 1) -> list[dict]:
    """One dict per worker process: its environment (which GPU it sees) and its torch threads.

    With GPUs, workers go round-robin over them (default: workers_per_gpu on each); on the CPU
    the cores are split between the workers (at least one thread each)."""
    cores = os.cpu_count() or 1
    if gpus:
        count = workers or workers_per_gpu * len(gpus)
        each = threads or max(1, cores // count)
        return [{"env": {"CUDA_VISIBLE_DEVICES": str(gpus[i % len(gpus)])}, "threads": each, "name": f"gpu {gpus[i % len(gpus)]}"} for i in range(count)]
    count = workers or 1
    each = threads or max(1, cores // count)
    return [{"env": {"CUDA_VISIBLE_DEVICES": ""}, "threads": each, "name": "cpu"} for _ in range(count)]


def _init_worker(slots) -> None:
    slot = slots.get()
    os.environ.update(slot["env"])  # before anything touches CUDA in this fresh (spawned) process
    os.environ.setdefault("TQDM_DISABLE", "1")
    import torch

    torch.set_num_threads(slot["threads"])


class LocalPool:
    """Worker processes on this machine (spawned, so each starts clean), one slot each."""

    def __init__(self, root: Path, slots: list[dict]):
        self.root, self.slots = str(root), slots
        self.workers = len(slots)
        gpus = sorted({s["env"]["CUDA_VISIBLE_DEVICES"] for s in slots if s["env"]["CUDA_VISIBLE_DEVICES"]})
        self.name = f"{len(slots)} local workers, {slots[0]['threads']} thread(s) each" + (f", on GPU(s) {', '.join(gpus)}" if gpus else "")
        self._start()

    def _start(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        for slot in self.slots:
            queue.put(slot)
        self.pool = ProcessPoolExecutor(len(self.slots), mp_context=context, initializer=_init_worker, initargs=(queue,))

    def submit(self, job: Job) -> Future:
        return self.pool.submit(run_job, job, self.root)

    def restart(self) -> None:
        """A worker died (killed, out of memory): the pool is broken; start a new one."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._start()

    def close(self, abort: bool = False) -> None:
        """Wait for the workers to finish; with `abort` (an interrupt), stop them at once (their runs are lost)."""
        if abort:
            for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                process.terminate()
        self.pool.shutdown(wait=not abort, cancel_futures=True)


class RayExecutor:
    """Jobs as Ray tasks, each asking for `cpus` CPUs and `gpus` GPUs (a fraction shares a GPU)."""

    def __init__(self, root: Path, address: str | None = None, cpus: float = 1, gpus: float = 0, num_cpus: int | None = None):
        from diet.errors import DietError

        try:
            import ray
        except ImportError as error:
            raise DietError("--executor ray needs Ray: pip install 'diet[ray]' (or pip install ray)") from error
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False, log_to_driver=False)
        self.ray, self.root = ray, str(Path(root).resolve())
        self.threads = max(1, int(cpus))
        self.remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(run_job)
        resources = ray.cluster_resources()
        self.workers = max(1, int(resources.get("CPU", 1) // max(cpus, 1e-9)))
        if gpus:
            self.workers = min(self.workers, max(1, int(resources.get("GPU", 0) // gpus)))
        self.name = f"Ray ({resources.get('CPU', 0):.0f} CPUs, {resources.get('GPU', 0):.0f} GPUs; {cpus} CPU and {gpus} GPU per job)"

    def submit(self, job: Job) -> Future:
        return self.remote.remote(job, self.root, self.threads).future()

    def close(self, abort: bool = False) -> None:
        pass


# ---------------------------------------------------------------- the driver


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
    report = Report(plan=plan)
    bar = Progress(len(plan.done), len(plan.done) + len(plan.ready) + len(plan.blocked), executor.workers, progress, out)
    inflight: dict[Future, Job] = {}
    settled: set[tuple] = set()  # finished here or found stored: never submitted again, even from a stale plan
    failed: dict[tuple, Job] = {}
    retry_at: dict[tuple, float] = {}  # claimed by another process: look again later
    restarts = 0
    started = time.perf_counter()
    aborted = True
    try:
        while True:
            busy = {j.key for j in inflight.values()}
            now = time.monotonic()
            left = False  # ready jobs of this plan not yet handed out
            broken = False  # a worker died after the last wait, and the pool refused a new job before any future said so
            for job in plan.pending:
                if job.key not in busy and job.key not in settled and job.key not in failed and retry_at.get(job.key, 0) <= now:
                    if len(inflight) >= 2 * executor.workers:  # a short queue: what a new plan puts first goes next
                        left = True
                        break
                    try:
                        inflight[executor.submit(job)] = job
                    except BrokenProcessPool:
                        broken = True
                        break
                    busy.add(job.key)
            if broken:
                restarts = _restart(executor, restarts, out)
                inflight.clear()
                plan = plans.make()
                bar.retotal(len(plan.done) + len(plan.ready) + len(plan.blocked), len(plan.done))
                continue
            bar.show(running=min(len(inflight), executor.workers), queued=max(0, len(inflight) - executor.workers), failed=len(failed))
            if not inflight:
                waiting = [retry_at[k] for k in plan.ready if k in retry_at and k not in failed]
                if not waiting:
                    break
                time.sleep(max(0.5, min(waiting) - time.monotonic()))
                plan = plans.make()
                continue
            finished, _ = wait(list(inflight), timeout=30, return_when=FIRST_COMPLETED)
            replan = False
            for future in finished:
                job = inflight.pop(future)
                outcome = _outcome(future, executor)
                if outcome is None:  # the pool broke: every job in it is lost, start again
                    restarts = _restart(executor, restarts, out)
                    inflight.clear()
                    replan = True
                    break
                if outcome.status == "failed":
                    failed[job.key] = job
                    report.failed[job.describe()] = outcome.error
                elif outcome.status == "claimed":
                    retry_at[job.key] = time.monotonic() + 5
                else:
                    settled.add(job.key)
                    report.computed += outcome.status == "done"
                    report.found += outcome.status == "found"
                    report.seconds += outcome.seconds
                    bar.finished(outcome.seconds)
                plans.stale = plans.stale or job.kind != "retrain" or outcome.status != "done"
            if replan or not inflight or plans.due(left):  # plan again after a pool restart, when the workers run dry, or when it pays
                plan = plans.make()
                bar.retotal(len(plan.done) + len(plan.ready) + len(plan.blocked), len(plan.done))
        aborted = False
    finally:
        executor.close(abort=aborted)
        bar.close(time.perf_counter() - started, len(failed))
    report.plan = plan
    report.blocked = len(plan.blocked)
    return report


def _restart(executor, restarts: int, out) -> int:
    """A worker died and broke the local pool (its jobs in flight are lost): start a new pool, or stop
    after 3 restarts. Returns the restarts so far."""
    restarts += 1
    if restarts > 3:
        raise WorkersDied(f"worker processes died {restarts} times (out of memory? killed?); finished runs are stored: "
                          "rerun with fewer --workers to go on")
    print(f"a worker process died; restarting the pool ({restarts}/3)", file=out, flush=True)
    executor.restart()
    return restarts


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


class Progress:
    """Jobs done / total, running and failed, with an ETA from the finished jobs' seconds.

    A tqdm bar on a terminal; elsewhere one line at most every 30 seconds and at the end."""

    def __init__(self, done: int, total: int, workers: int, enabled: bool, out):
        self.done, self.total, self.workers, self.enabled, self.out = done, total, max(1, workers), enabled, out
        self.seconds: list[float] = []
        self.last_line = 0.0
        self.tty = enabled and hasattr(out, "isatty") and out.isatty() and os.environ.get("TQDM_DISABLE", "") in ("", "0")
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc="jobs", unit="job", file=out)

    def eta(self) -> str:
        if not self.seconds:
            return "ETA after the first job"
        left = (self.total - self.done) * (sum(self.seconds) / len(self.seconds)) / self.workers
        return f"ETA {_clock(left)}"

    def finished(self, seconds: float) -> None:
        self.done += 1
        self.seconds.append(seconds)
        if self.bar is not None:
            self.bar.update(1)

    def retotal(self, total: int, done: int) -> None:
        """A new plan's counts: runs it found stored (finished here, by another process, or shared with
        a figure already filled, which only real scores reveal) are done."""
        if self.bar is not None and done > self.done:
            self.bar.update(done - self.done)
        self.done = max(self.done, done)
        self.total = max(total, self.done)
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def show(self, running: int, queued: int, failed: int) -> None:
        if not self.enabled:
            return
        state = f"{running} running, {queued} queued, {failed} failed; {self.eta()}"
        if self.bar is not None:
            self.bar.set_postfix_str(state)
        elif time.monotonic() - self.last_line >= 30:
            self.last_line = time.monotonic()
            print(f"[{time.strftime('%H:%M:%S')}] jobs: {self.done}/{self.total} done, {state}", file=self.out, flush=True)

    def close(self, wall: float, failed: int) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.enabled:
            print(f"[{time.strftime('%H:%M:%S')}] jobs: {self.done}/{self.total} done, {failed} failed; wall time {_clock(wall)}", file=self.out, flush=True)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
