"""The job plan and its executors: same entries whichever way they run, faults, claims, concurrency."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from diet.paper.context import run_context
from diet.paper import experiments as ex
from diet.cli.main import main
from diet.grid.executor import InProcess, run_plan
from diet.runs.locks import Claimed, claim
from diet.grid.plan import make_plan
from tests._faults import sabotage

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--preset", "smoke", "--figures", "3", "--seeds", "0", "1", "--retrain-seeds", "0", "--fractions", "0.5"]


def small_context(store: Path):
    return run_context("smoke", seeds=[0, 1], retrain_seeds=[0], fractions=[0.5], store=store)


def entries(store: Path) -> dict[str, pd.DataFrame]:
    """Every finished entry of a store: "<kind>/<key>" -> its data, without the wall seconds."""
    found = {}
    for data in sorted(store.glob("*/*/data.parquet")):
        frame = pd.read_parquet(data)
        found[f"{data.parent.parent.name}/{data.parent.name}"] = frame.drop(columns=[c for c in ("seconds", "train_seconds") if c in frame.columns])
    return found


def assert_same_entries(a: Path, b: Path) -> None:
    ea, eb = entries(a), entries(b)
    assert ea, f"no entries in {a}"
    assert sorted(ea) == sorted(eb), f"entries differ: only in {a.name}: {sorted(set(ea) - set(eb))[:3]}, only in {b.name}: {sorted(set(eb) - set(ea))[:3]}"
    for key in ea:
        pd.testing.assert_frame_equal(ea[key], eb[key], check_exact=True, obj=key)


def done_lines(store: Path) -> list[dict]:
    log = store / "jobs.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.slow
def test_plan_names_ready_and_blocked_runs_then_unblocks_them(tmp_path):
    ctx = small_context(tmp_path)
    plan = make_plan(ctx, ["3"])
    kinds = sorted(j.kind for j in plan.ready.values())
    # ready: the two scoring runs, the random and the full-data retraining; blocked: 3 scores x plain/balanced at 50%
    assert kinds == ["retrain", "retrain", "scores", "scores"], [j.describe() for j in plan.ready.values()]
    assert len(plan.blocked) == 6 and not plan.done
    report = run_plan(ctx, ["3"], InProcess(tmp_path), progress=False)
    assert report.computed == 10 and report.found == 0 and not report.failed
    after = make_plan(ctx, ["3"])
    assert len(after.done) == 10 and not after.ready and not after.blocked
    assert ex.preserved_fraction(run_context("smoke", seeds=[0, 1], retrain_seeds=[0], fractions=[0.5], store=tmp_path)) is not None


def test_plan_command_prints_each_figure(tmp_path, capsys):  # plans only: no run
    assert main(["plan", *SMALL, "--store", str(tmp_path), "--list"]) == 0
    out = capsys.readouterr().out
    assert "blocked on scores" in out and "4 ready" in out and "6 blocked" in out
    assert out.count("  ready   ") == 4
    # the command it suggests plans the same grid: every option that changes the runs is repeated
    suggested = next(line for line in out.splitlines() if line.startswith("run them: diet precompute "))
    assert suggested.endswith(" --workers N")
    words = shlex.split(suggested.removeprefix("run them: diet ").removesuffix(" --workers N"))
    assert main(["plan", *words[1:]]) == 0
    assert "4 ready" in capsys.readouterr().out
    for option in ("--figures 3", "--seeds 0 1", "--retrain-seeds 0", "--fractions 0.5", f"--store {tmp_path}"):
        assert option in suggested


@pytest.mark.slow
def test_workers_fill_the_smoke_preset_exactly_as_the_sequential_book_build(smoke_book, tmp_path, capsys):
    """The smoke book filled its store one run after another (papermill notebooks); two workers give the same entries."""
    _, sequential = smoke_book
    assert main(["precompute", "--preset", "smoke", "--workers", "2", "--store", str(tmp_path)]) == 0
    assert_same_entries(sequential, tmp_path)
    lines = done_lines(tmp_path)
    assert len(lines) == len(entries(tmp_path)) and {l["status"] for l in lines} == {"done"}
    assert len({l["pid"] for l in lines}) == 2  # both workers took jobs
    assert {l["device"] for l in lines} == {"cpu"}


def test_ran_on_names_the_gpu_from_the_jobs_log(tmp_path):
    """The cost table's "ran on": the GPU names the jobs log recorded for a CUDA preset; the CPU and its precision otherwise."""
    from types import SimpleNamespace

    from diet.model.config import TrainConfig
    from diet.paper.cost import ran_on

    (tmp_path / "jobs.jsonl").write_text('{"device": "NVIDIA H200"}\n{"device": "cpu"}\n\n{"status": "done"}\n')
    def ctx(train):
        return SimpleNamespace(preset=SimpleNamespace(train=train), store=SimpleNamespace(root=tmp_path))
    assert ran_on(ctx(TrainConfig(device="cuda"))) == "NVIDIA H200, bf16 autocast"
    assert ran_on(ctx(TrainConfig(device="cuda", dtype="float32"))) == "NVIDIA H200, float32"
    assert ran_on(ctx(TrainConfig(device="cpu"))) == "cpu, float32"
    assert ran_on(ctx(TrainConfig(device="cpu", dtype="bf16"))) == "cpu, bf16 autocast"


@pytest.mark.slow
def test_ray_fills_a_small_plan_with_the_same_entries(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'diet[ray]' (.ci/run installs it)")
    from diet.grid.executor import RayExecutor

    run_plan(small_context(tmp_path / "seq"), ["3"], InProcess(tmp_path / "seq"), progress=False)
    try:
        report = run_plan(small_context(tmp_path / "ray"), ["3"], RayExecutor(tmp_path / "ray", num_cpus=2), progress=False)
    finally:
        ray.shutdown()
    assert report.computed == 10 and not report.failed
    assert_same_entries(tmp_path / "seq", tmp_path / "ray")


class _FailOnce:
    """Wraps a job so that it raises (the test's injected fault); picklable for the worker processes."""

    def __init__(self, run):
        self.run = run

    def __call__(self):
        raise RuntimeError("injected failure")

    def __getattr__(self, name):  # model, cfg, task... for the plan's cost estimates
        if "run" not in self.__dict__:  # while unpickling
            raise AttributeError(name)
        return getattr(self.__dict__["run"], name)


@pytest.mark.slow
def test_a_failing_job_is_reported_the_others_finish_and_a_rerun_completes_it(tmp_path, capsys, monkeypatch):
    sabotage(monkeypatch, _FailOnce)
    assert main(["precompute", *SMALL, "--workers", "2", "--store", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "1 runs failed" in err and "RuntimeError: injected failure" in err and "rerun the same command" in err and "Traceback" not in err
    failures = [json.loads(line) for line in (tmp_path / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == 1 and "RuntimeError: injected failure" in failures[0]["traceback"]
    assert len(entries(tmp_path)) == 9  # every other run finished

    monkeypatch.undo()
    assert main(["precompute", *SMALL, "--store", str(tmp_path)]) == 0
    assert len(entries(tmp_path)) == 10
    assert "computed 1 runs" in capsys.readouterr().out


@pytest.mark.slow
def test_two_concurrent_precomputes_compute_every_job_once(tmp_path):
    env = {**os.environ, "TQDM_DISABLE": "1"}
    cmd = [sys.executable, "-m", "diet.cli.main", "precompute", *SMALL, "--retrain-seeds", "0", "1", "--store", str(tmp_path), "--threads", "1"]
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    lines = done_lines(tmp_path)
    keys = [l["key"] for l in lines if l["status"] == "done"]
    assert len(keys) == len(set(keys)) == len(entries(tmp_path)) == 18, outputs  # 2 scoring + (6 scored subsets + full data) x 2 seeds + 2 random draws
    assert len({l["pid"] for l in lines}) == 2, "one process did all the work: the test did not exercise concurrency"


def test_a_claim_dies_with_its_process(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from diet.runs.locks import claim\n"
        f"with claim(Path({str(tmp_path)!r}), 'retrain', 'abc'):\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(Claimed):
        with claim(tmp_path, "retrain", "abc"):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with claim(tmp_path, "retrain", "abc"):  # a killed holder blocks nothing
        pass


def test_unknown_figure_is_refused(tmp_path, capsys):
    assert main(["plan", "--preset", "smoke", "--figures", "2", "--store", str(tmp_path)]) == 2
    assert "figures with runs: 1, 3, 4, 5, 7" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_of_driver_and_workers_loses_only_the_runs_in_flight(tmp_path):
    cmd = [sys.executable, "-m", "diet.cli.main", "precompute", *SMALL, "--workers", "2", "--store", str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "TQDM_DISABLE": "1"})
    deadline = time.monotonic() + 600
    while len(done_lines(tmp_path)) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers at once
    proc.wait()
    finished = len(entries(tmp_path))
    assert 4 <= finished < 10
    assert main(["precompute", *SMALL, "--store", str(tmp_path)]) == 0  # no claim left behind blocks the rerun
    assert len(entries(tmp_path)) == 10
    keys = [l["key"] for l in done_lines(tmp_path) if l["status"] == "done"]
    assert len(keys) == len(set(keys)), "a run finished before the kill was computed again"


def test_gpu_preset_without_a_gpu_is_refused_before_any_run(tmp_path, capsys, monkeypatch):
    """A preset that names device cuda, on a machine where torch sees no GPU: exit 2 naming the fix, nothing run or logged."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["precompute", "--preset", "gpu", "--figures", "5", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "preset gpu runs on a GPU (device 'cuda') and torch sees none here" in err and "pick a CPU preset" in err
    assert not (tmp_path / "jobs.jsonl").exists() and not (tmp_path / "failures.jsonl").exists()


def test_progress_counts_runs_a_new_plan_finds_stored():
    """Runs that only real scores reveal as already stored count as done, so the last line does not read 96/132."""
    import io

    from diet.progress import Progress

    out = io.StringIO()
    bar = Progress("jobs", 123, "jobs", out, done=9, workers=2, log=True)
    for _ in range(3):
        bar.advance(seconds=10.0)
    bar.retotal(132, 40)  # the new plan: 40 stored, 92 left
    assert (bar.done, bar.total) == (40, 132)
    bar.retotal(132, 12)  # a count from an older plan never lowers it
    assert bar.done == 40
    bar.close("0 failed")
    assert "jobs: 40/132 done, 0 failed" in out.getvalue()
