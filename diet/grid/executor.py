"""Where a plan's jobs run: in this process, in local worker processes (CPU cores or GPUs), or on Ray.

Each executor sends a job to `diet.grid.worker.run_job` and hands back a Future of its Outcome. The
driver that fills a plan with them, `run_plan`, lives in diet.grid.fill (and is importable from here).
"""

from __future__ import annotations

import os
import signal
from concurrent.futures import Future, wait
from pathlib import Path

from diet.errors import DietError
from diet.interrupts import keep_interrupts
from diet.grid.fill import Report, WorkersDied, run_plan
from diet.grid.plan import Job
from diet.grid.worker import Outcome, compute, run_job, run_remote

ABORT_GRACE_SECONDS = 5.0  # an interrupted worker unwinds within this before it is terminated

__all__ = ["InProcess", "LocalPool", "RayExecutor", "Report", "WorkersDied", "local_slots", "run_plan"]


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


_busy = False  # in a worker process: whether it is running a job now


def _on_interrupt(signum, frame) -> None:
    """Ctrl-C in a worker: a running job unwinds (its atomic write removes its temporary file) and hands the
    interrupt back as its result; an idle worker stays up, so the pool is not broken while the driver stops it."""
    if _busy:
        raise KeyboardInterrupt


def _init_worker(slots) -> None:
    slot = slots.get()
    os.environ.update(slot["env"])  # before anything touches CUDA in this fresh (spawned) process
    os.environ.setdefault("TQDM_DISABLE", "1")
    signal.signal(signal.SIGINT, _on_interrupt)
    keep_interrupts()  # one that lands in a finaliser (`__del__`) comes again just after it
    import torch

    torch.set_num_threads(slot["threads"])


def _run_in_worker(job: Job, root: str) -> Outcome:
    """`run_job` in a worker process, interruptible by Ctrl-C only while it runs (`_on_interrupt`)."""
    global _busy
    _busy = True
    try:
        return run_job(job, root)
    finally:
        _busy = False


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
        self.running: set[Future] = set()

    def submit(self, job: Job) -> Future:
        future = self.pool.submit(_run_in_worker, job, self.root)
        self.running.add(future)
        future.add_done_callback(self.running.discard)
        return future

    def restart(self) -> None:
        """A worker died (killed, out of memory): the pool is broken; start a new one."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._start()

    def close(self, abort: bool = False) -> None:
        """Wait for the workers to finish; with `abort` (an interrupt), stop them (their runs are lost).

        Ctrl-C reaches the workers too: each first gets up to ABORT_GRACE_SECONDS to unwind its own
        interrupt (an atomic write removes its temporary file), then the ones still busy are terminated."""
        if abort:
            wait(list(self.running), timeout=ABORT_GRACE_SECONDS)
            for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                process.terminate()
        self.pool.shutdown(wait=not abort, cancel_futures=True)


class RayExecutor:
    """Jobs as Ray tasks, each asking for `cpus` CPUs and `gpus` GPUs (a fraction shares a GPU).

    No node needs the store: the driver claims each entry, the job (its task's rows inside) travels to a
    worker pickled, the frame travels back, and the driver stores it atomically in its own store."""

    def __init__(self, root: Path, address: str | None = None, cpus: float = 1, gpus: float = 0, num_cpus: int | None = None):
        try:
            import ray
        except ImportError as error:
            raise DietError("--executor ray needs Ray: pip install 'diet[ray]' (or pip install ray)") from error
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False, log_to_driver=False)
        self.ray, self.root = ray, str(Path(root).resolve())
        self.threads = max(1, int(cpus))
        self.remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(compute)
        self.in_flight: dict = {}  # the ObjectRefs of the tasks sent and not yet back
        resources = ray.cluster_resources()
        self.workers = max(1, int(resources.get("CPU", 1) // max(cpus, 1e-9)))
        if gpus:
            self.workers = min(self.workers, max(1, int(resources.get("GPU", 0) // gpus)))
        self.name = f"Ray ({resources.get('CPU', 0):.0f} CPUs, {resources.get('GPU', 0):.0f} GPUs; {cpus} CPU and {gpus} GPU per job)"

    def submit(self, job: Job) -> Future:
        return run_remote(job, self.root, lambda: self._send(job))

    def _send(self, job: Job) -> Future:
        ref = self.remote.remote(job, self.threads)
        self.in_flight[ref] = None
        sent = ref.future()
        sent.add_done_callback(lambda _: self.in_flight.pop(ref, None))
        return sent

    def close(self, abort: bool = False) -> None:
        """With `abort` (an interrupt), cancel the tasks still running: the cluster stops computing runs that the
        driver will not store (their claims go as each hands back its cancellation)."""
        if abort:
            for ref in list(self.in_flight):
                self.ray.cancel(ref, force=True)
