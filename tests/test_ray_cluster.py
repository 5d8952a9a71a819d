"""Ray without a shared filesystem: a real two-node local cluster (`ray start --head`, then a second node
with `ray start --address` under another --temp-dir) fills a small plan, and no worker touches the store.

How the test shows that the workers never touch the driver's store: every Ray worker runs with an audit
hook (tests/_ray_guard.py, Ray's worker_process_setup_hook) that refuses and logs any open, mkdir, rename,
remove or listing under the driver's store path; a control task shows the hook refuses a write there. The
nodes run in folders of their own (their workers' cwd) with an empty data mirror, so the task's rows can only
reach them inside the pickled job. The stored entries (data and config) equal a sequential fill's, one by one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from diet.grid.executor import InProcess, run_plan
from diet.paper.context import run_context
from tests._ray_guard import FORBIDDEN, TOUCHED

ROOT = Path(__file__).resolve().parents[1]
SIZES = dict(n_train=48, n_test=48, seeds=[0], retrain_seeds=[0], fractions=[0.5])  # figure 3: 8 runs of seconds
RAY = Path(sys.executable).parent / "ray"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ports() -> list[str]:
    names = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
             "metrics-export-port", "runtime-env-agent-port")
    return [f"--{name}={_free_port()}" for name in names]


def _ray_start(args: list[str], folder: Path, env: dict) -> None:
    folder.mkdir()
    done = subprocess.run([str(RAY), "start", "--num-cpus=1", "--disable-usage-stats", f"--temp-dir={folder / 'ray'}", *_ports(), *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        pytest.skip(f"Ray cannot start a local cluster here (ray start exited {done.returncode}): {(done.stderr or done.stdout)[-600:]}")


def _stop(base: Path) -> None:
    """End the cluster's processes: those whose command line names this cluster's folder (SIGTERM, then SIGKILL)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _names(p, str(base)) and int(p.name) != os.getpid()]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
            time.sleep(0.2)


def _names(proc: Path, text: str) -> bool:
    try:
        return text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False


@pytest.fixture
def ray_cluster(monkeypatch):
    """A head node and a second node, 1 CPU each, in a short folder of their own; always stopped and removed.

    Token authentication off for the nodes and the driver alike (a token file in ~/.ray would otherwise
    turn it on for the head only)."""
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'diet[ray]' (.ci/run installs it)")
    if not RAY.exists():
        pytest.skip(f"no `ray` command beside {sys.executable}")
    base = Path(tempfile.mkdtemp(prefix="dietray", dir="/tmp"))  # short: Ray's socket paths must fit 107 characters
    (base / "empty-mirror").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DIET_DATA_DIR": str(base / "empty-mirror"), "HF_HUB_OFFLINE": "1",
           "TQDM_DISABLE": "1", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = _free_port()
    try:
        _ray_start(["--head", f"--port={port}", "--include-dashboard=false"], base / "head", env)
        _ray_start([f"--address=127.0.0.1:{port}"], base / "node", env)
        yield ray, f"127.0.0.1:{port}", base
    finally:
        ray.shutdown()
        _stop(base)
        shutil.rmtree(base, ignore_errors=True)


def _entries(store: Path) -> dict:
    """Every finished entry: "<kind>/<key>" -> (its config, its data without the wall seconds)."""
    found = {}
    for data in sorted(store.glob("*/*/data.parquet")):
        frame = pd.read_parquet(data)
        frame = frame.drop(columns=[c for c in ("seconds", "train_seconds") if c in frame.columns])
        found[f"{data.parent.parent.name}/{data.parent.name}"] = (json.loads((data.parent / "config.json").read_text()), frame)
    return found


@pytest.mark.slow
def test_a_two_node_ray_cluster_fills_the_plan_without_touching_the_store(tmp_path, ray_cluster):
    from diet.grid.executor import RayExecutor
    from tests import _ray_guard

    ray, address, base = ray_cluster
    driver, sequential = tmp_path / "driver-store", tmp_path / "sequential"
    run_plan(run_context("smoke", store=sequential, **SIZES), ["3"], InProcess(sequential), progress=False)
    touched = base / "touched.log"
    ray.init(address=address, log_to_driver=False, runtime_env={
        "env_vars": {FORBIDDEN: str(driver), TOUCHED: str(touched)}, "worker_process_setup_hook": "tests._ray_guard.guard"})
    assert ray.cluster_resources().get("CPU") == 2 and len(ray.nodes()) == 2
    started = time.perf_counter()
    report = run_plan(run_context("smoke", store=driver, **SIZES), ["3"], RayExecutor(driver), progress=False)
    print(f"two-node Ray fill: {time.perf_counter() - started:.1f} s")
    assert report.computed == 8 and not report.failed, report.failed
    assert not touched.exists(), touched.read_text()  # no worker opened, listed or wrote anything under the store
    seq, ray_entries = _entries(sequential), _entries(driver)
    assert sorted(seq) == sorted(ray_entries) and len(seq) == 8
    for key, (config, frame) in seq.items():
        assert ray_entries[key][0] == config, key
        pd.testing.assert_frame_equal(ray_entries[key][1], frame, check_exact=True, obj=key)
    lines = [json.loads(line) for line in (driver / "jobs.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and {line["status"] for line in lines} == {"done"} and os.getpid() not in {line["pid"] for line in lines}
    # the control: the guard does refuse a worker's write under the store; the workers run elsewhere, with no data
    assert ray.get(ray.remote(_ray_guard.try_to_write).remote(str(driver))) == "refused" and touched.exists()
    cwd, pid, mirror = ray.get(ray.remote(_ray_guard.where).remote())
    assert Path(cwd).is_relative_to(base) and pid != os.getpid() and mirror == str(base / "empty-mirror")
    assert not any((base / "empty-mirror").iterdir())
