"""Executor faults on a small smoke plan (tiny model, seconds a job): a worker killed mid-job, workers that
keep dying, a raising Ray job, Ctrl-C, and the command line's executor options reaching the executor."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd
import pytest

import diet.grid.executor
from diet.paper.context import run_context
from diet.cli.main import main
from diet.grid.executor import LocalPool, Report, run_plan
from tests._faults import KillWorker, Raise, Sleep, sabotage

ROOT = Path(__file__).resolve().parents[1]
# Figure 3 at 48 examples: one scoring run, the random and full-data retrainings, then the retrainings of the
# scored subsets (3 scores, plain and class-balanced: 6, of which two are the same subset at this size).
SIZES = dict(n_train=48, n_test=48, seeds=[0], retrain_seeds=[0], fractions=[0.5])
SMALL = ["--preset", "smoke", "--figures", "3", "--n-train", "48", "--n-test", "48", "--seeds", "0", "--retrain-seeds", "0", "--fractions", "0.5"]
JOBS = 8


def small_context(store: Path):
    return run_context("smoke", store=store, **SIZES)


def entries(store: Path) -> list[str]:
    """The finished entries of a store ("<kind>/<key>"), each read back whole."""
    found = []
    for data in sorted(store.glob("*/*/data.parquet")):
        assert len(pd.read_parquet(data)) > 0, data
        found.append(f"{data.parent.parent.name}/{data.parent.name}")
    return found


def log(store: Path, name: str = "jobs.jsonl") -> list[dict]:
    path = store / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow  # starts worker processes (a pool, or Ray's)
def test_a_worker_killed_mid_job_restarts_the_pool_and_the_rerun_finishes(tmp_path, monkeypatch):
    """One real worker, killed (SIGKILL) by its job: the pool breaks, a new one starts, and the lost runs, the
    killed one included, run in it."""
    marker = tmp_path / "killed-once"
    victims = sabotage(monkeypatch, lambda run: KillWorker(run, once=str(marker)))
    store, out = tmp_path / "store", io.StringIO()
    report = run_plan(small_context(store), ["3"], LocalPool(store, diet.grid.executor.local_slots(1, 1)), progress=False, out=out)
    assert marker.exists(), "the injected kill never ran"
    assert "a worker process died; restarting the pool (1/3)" in out.getvalue()
    assert not report.failed and report.blocked == 0
    assert len(entries(store)) == JOBS
    (kind, key), = victims
    assert f"{kind}/{key}" in entries(store)  # the killed run ran again after the restart
    assert not log(store, "failures.jsonl")


class DyingPool:
    """A local pool whose workers die under every job: each job's future fails as a killed worker's does, or
    (`refuse`) the pool, already broken when the driver hands it the job, refuses it."""

    name, workers = "a pool of dying workers", 2
    refuse = False
    made: list = []

    def __init__(self, root, slots):
        self.restarts, self.aborted = 0, None
        DyingPool.made.append(self)

    def submit(self, job) -> Future:
        broken = BrokenProcessPool("A child process terminated abruptly, the process pool is not usable anymore")
        if self.refuse:
            raise broken
        future = Future()
        future.set_exception(broken)
        return future

    def restart(self) -> None:
        self.restarts += 1
        if self.restarts > 10:
            raise AssertionError("the driver restarts dying workers without end")

    def close(self, abort: bool = False) -> None:
        self.aborted = abort


@pytest.mark.parametrize("refuse", [False, True], ids=["job-lost", "job-refused"])
def test_workers_that_keep_dying_stop_the_run_with_exit_1_and_the_reason(tmp_path, monkeypatch, capsys, refuse):
    """The driver's side of persistent deaths (a real worker's death and restart: the test above)."""
    DyingPool.made = []
    monkeypatch.setattr(diet.grid.executor, "LocalPool", type("LocalPool", (DyingPool,), {"refuse": refuse}))
    assert main(["precompute", *SMALL, "--workers", "2", "--store", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "restarting" in line] == [
        f"a worker process died; restarting the pool ({n}/3)" for n in (1, 2, 3)]
    assert ("diet: error: worker processes died 4 times (out of memory? killed?); finished runs are stored: "
            "rerun with fewer --workers to go on") in err
    assert "Traceback" not in err
    pool, = DyingPool.made
    assert pool.restarts == 3 and pool.aborted is True
    assert not entries(tmp_path)


@pytest.fixture
def ray_local():
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'diet[ray]' (.ci/run installs it)")
    yield ray
    ray.shutdown()


@pytest.mark.slow  # starts worker processes (a pool, or Ray's)
def test_a_raising_ray_job_is_listed_as_failed_and_the_others_finish(tmp_path, monkeypatch, ray_local):
    from diet.grid.executor import RayExecutor

    victims = sabotage(monkeypatch, Raise)
    report = run_plan(small_context(tmp_path), ["3"], RayExecutor(tmp_path, num_cpus=1), progress=False)
    assert list(report.failed.values()) == ["RuntimeError: injected failure"]
    (_, key), = victims
    assert key in next(iter(report.failed))  # the job's description names its key
    assert len(entries(tmp_path)) == JOBS - 1 and report.blocked == 0
    failures = log(tmp_path, "failures.jsonl")
    assert len(failures) == 1 and failures[0]["key"] == key and "RuntimeError: injected failure" in failures[0]["traceback"]
    assert sorted(line["status"] for line in log(tmp_path)) == ["done"] * (JOBS - 1) + ["failed"]


@pytest.mark.slow  # starts worker processes (a pool, or Ray's)
def test_an_aborted_ray_executor_cancels_its_running_tasks(tmp_path, ray_local):
    """Ctrl-C in a notebook leaves the driver alive: close(abort=True) stops the cluster's running task, and its
    claim on the entry goes, so that a rerun can compute it."""
    from diet.grid.executor import RayExecutor
    from diet.grid.plan import make_plan
    from diet.runs.locks import claim

    job = next(j for j in make_plan(small_context(tmp_path), ["3"]).ready.values() if j.kind == "retrain")
    job.run = Sleep(job.run)
    executor = RayExecutor(tmp_path, num_cpus=1)
    future = executor.submit(job)
    time.sleep(2)
    assert not future.done() and len(executor.in_flight) == 1
    executor.close(abort=True)
    with pytest.raises(ray_local.exceptions.TaskCancelledError):
        future.result(timeout=60)
    assert not executor.in_flight
    with claim(tmp_path, *job.key, wait=False):  # raises Claimed if the cancelled task's claim were still held
        pass
    assert not entries(tmp_path)


@pytest.mark.parametrize("workers", [[], pytest.param(["--workers", "2"], marks=pytest.mark.slow)], ids=["in-process", "two-workers"])
def test_ctrl_c_exits_130_and_leaves_nothing_partial(tmp_path, workers):
    """SIGINT to the whole process group (what Ctrl-C sends) once the first run is stored: exit 130, no traceback,
    every entry whole and logged as done, no temporary file, no failure logged; the rerun computes only the rest."""
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "diet.cli.main", "precompute", *SMALL, *workers, "--threads", "1", "--store", str(store)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "TQDM_DISABLE": "1"})
    deadline = time.monotonic() + 300
    while not log(store) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted: " + proc.stderr.read()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "diet: interrupted; finished runs are stored, rerun the same command to resume" in err
    assert "Traceback" not in err, err
    finished = entries(store)
    assert 1 <= len(finished) < JOBS
    assert sorted(f"{l['kind']}/{l['key']}" for l in log(store) if l["status"] == "done") == finished
    assert not log(store, "failures.jsonl"), "an interrupted run is not a failed one"
    assert not [p for p in store.rglob("*") if p.name.endswith(".tmp")]  # no half-written file (a folder with only
    # config.json may stay behind when the interrupt falls between Store.save's two writes: not an entry, recomputed)
    assert main(["precompute", *SMALL, "--threads", "1", "--store", str(store)]) == 0
    assert len(entries(store)) == JOBS
    keys = [l["key"] for l in log(store) if l["status"] == "done"]
    assert len(keys) == len(set(keys)) == JOBS, "a run stored before the interrupt was computed again"


class Recorder:
    """Stands in for an executor class: records how the command line built it."""

    made: list = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.name, self.workers = "recorded", 1
        Recorder.made.append(self)


@pytest.fixture
def recorded(monkeypatch):
    """`diet precompute` with recording executors and a run_plan that runs nothing."""
    Recorder.made = []
    seen = {}

    def no_run(ctx, figures, executor, progress=True, out=None):
        seen["executor"] = executor
        return Report()

    monkeypatch.setattr(diet.grid.executor, "LocalPool", type("LocalPool", (Recorder,), {}))
    monkeypatch.setattr(diet.grid.executor, "RayExecutor", type("RayExecutor", (Recorder,), {}))
    monkeypatch.setattr(diet.grid.executor, "run_plan", no_run)
    return seen


def test_executor_ray_and_its_options_reach_the_ray_executor(tmp_path, recorded):
    assert main(["precompute", *SMALL, "--store", str(tmp_path), "--executor", "ray", "--address", "auto",
                 "--cpus-per-job", "2", "--gpus-per-job", "0.25"]) == 0
    made = recorded["executor"]
    assert type(made).__name__ == "RayExecutor" and Recorder.made == [made]
    assert made.args == (tmp_path, "auto", 2.0, 0.25)


def test_gpus_and_workers_per_gpu_reach_the_local_pool_round_robin(tmp_path, recorded):
    assert main(["precompute", *SMALL, "--store", str(tmp_path), "--gpus", "0,1", "--workers-per-gpu", "2", "--threads", "3"]) == 0
    made = recorded["executor"]
    assert type(made).__name__ == "LocalPool"
    root, slots = made.args
    assert root == tmp_path
    assert [s["env"]["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1", "0", "1"]
    assert [s["threads"] for s in slots] == [3] * 4 and [s["name"] for s in slots] == ["gpu 0", "gpu 1"] * 2


def test_gpus_all_takes_every_visible_gpu_and_none_runs_on_the_cpu(tmp_path, recorded, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert main(["precompute", *SMALL, "--store", str(tmp_path), "--gpus", "all", "--workers", "4"]) == 0
    _, slots = recorded["executor"].args
    assert [s["env"]["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1", "2", "0"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["precompute", *SMALL, "--store", str(tmp_path), "--gpus", "none"]) == 0
    assert type(recorded["executor"]).__name__ == "InProcess"
    assert main(["precompute", *SMALL, "--store", str(tmp_path), "--gpus", "none", "--workers", "2"]) == 0
    _, slots = recorded["executor"].args
    assert [s["env"]["CUDA_VISIBLE_DEVICES"] for s in slots] == ["", ""]
