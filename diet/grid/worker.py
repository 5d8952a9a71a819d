"""What a worker does with one job of a plan, wherever it runs: claim its entry (diet.runs.locks), skip it
if another process holds it or finished it, compute, store atomically, log one line to `<store>/jobs.jsonl`
(and the traceback of a failure to `<store>/failures.jsonl`)."""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

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
