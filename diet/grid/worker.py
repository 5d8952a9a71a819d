"""What a worker does with one job of a plan, wherever it runs: claim its entry (diet.runs.locks), skip it
if another process holds it or finished it, compute, store atomically, log one line to `<store>/jobs.jsonl`
(and the traceback of a failure to `<store>/failures.jsonl`).

Computing (`compute`) touches no store; storing and logging (`record`) happen where the store is. Local
workers share the driver's filesystem and do both (`run_job`); on Ray the driver claims and stores, and the
worker only computes and hands the frame back through Ray (`run_remote`), so no node needs the store.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pandas as pd

from diet.files import NO_SPACE, DiskFullError, no_space
from diet.grid.plan import Job
from diet.runs.locks import Claimed, claim
from diet.runs.store import Store

JOBS_LOG = "jobs.jsonl"
FAILURES_LOG = "failures.jsonl"


@dataclass(frozen=True)
class Outcome:
    """What became of one job: done (computed here), found (stored by another process), claimed
    (another process is computing it now), failed (the job raised; `error` says what)."""

    status: str
    seconds: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class Computed:
    """A computed job as its process hands it back: the frame (None when the job raised: then `error` and
    `traceback`), its wall seconds, and its line for the jobs log (where and when it ran)."""

    frame: pd.DataFrame | None
    seconds: float
    stamp: dict
    error: str = ""
    traceback: str = ""


def compute(job: Job, threads: int | None = None) -> Computed:
    """Run one job and hand back its frame, touching no store (what a Ray task runs)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        frame = job.run()
    except DiskFullError:  # no job can store anything now: stop them all (run_plan re-raises it)
        raise
    except Exception as error:  # noqa: BLE001 - recorded, reported, and the other jobs go on
        seconds = time.perf_counter() - started
        return Computed(None, seconds, _stamp(job, "failed", seconds), f"{type(error).__name__}: {error}", traceback.format_exc())
    seconds = time.perf_counter() - started
    return Computed(frame, seconds, _stamp(job, "done", seconds))


def record(store: Store, job: Job, computed: Computed) -> Outcome:
    """Store a computed job's frame (atomically) and log it, or log its failure; the caller holds the claim."""
    root = Path(store.root)
    if computed.frame is not None:
        try:
            store.save(job.kind, job.config, computed.frame)
        except DiskFullError:
            raise
        except Exception as error:  # noqa: BLE001 - a frame the store cannot write fails this job only
            computed = replace(computed, frame=None, stamp={**computed.stamp, "status": "failed"},
                               error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
    if computed.frame is None:
        _append(root / FAILURES_LOG, {**computed.stamp, "error": computed.error, "traceback": computed.traceback})
        _append(root / JOBS_LOG, {**computed.stamp, "error": computed.error})
        return Outcome("failed", computed.seconds, computed.error)
    _append(root / JOBS_LOG, computed.stamp)
    return Outcome("done", computed.seconds)


def run_job(job: Job, root: str, threads: int | None = None) -> Outcome:
    """Compute one job into the store at `root`, unless another process holds or finished it."""
    store = Store(root, readonly=False)
    kind, key = job.key
    try:
        with claim(Path(root), kind, key, wait=False):
            if store.complete(kind, store.load(kind, job.config)):
                return Outcome("found")
            return record(store, job, compute(job, threads))
    except Claimed:
        return Outcome("claimed")


def run_remote(job: Job, root: str, send: Callable[[], Future]) -> Future:
    """`run_job` with the computing elsewhere: claim the entry in the store at `root` here, `send()` the job off
    (a Future of its Computed), and when it is back store it here; a Future of the Outcome."""
    store, result, held = Store(root, readonly=False), Future(), ExitStack()
    kind, key = job.key
    try:
        held.enter_context(claim(Path(root), kind, key, wait=False))
    except Claimed:
        result.set_result(Outcome("claimed"))
        return result
    try:
        if store.complete(kind, store.load(kind, job.config)):
            held.close()
            result.set_result(Outcome("found"))
            return result
        sent = send()
    except BaseException:
        held.close()
        raise

    def finish(done: Future) -> None:
        try:
            outcome, error = record(store, job, done.result()), None
        except BaseException as caught:  # noqa: BLE001 - handed to the driver's wait (a lost Ray worker, a full disk)
            outcome, error = None, caught
        held.close()  # the claim goes before the driver hears of it
        result.set_exception(error) if error is not None else result.set_result(outcome)

    sent.add_done_callback(finish)
    return result


def _stamp(job: Job, status: str, seconds: float) -> dict:
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "kind": job.kind, "key": job.key[1], "status": status,
            "seconds": round(seconds, 3), "job": job.describe(), "host": socket.gethostname(), "pid": os.getpid(),
            "device": _device_name(job)}


def _device_name(job: Job) -> str:
    """What the job ran on: the GPU's name for a CUDA config (e.g. "NVIDIA H200"), else "cpu"."""
    cfg = job.run.cfg
    if cfg.device_type != "cuda":
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
