"""Retrainings store their test predictions; entries from before are outdated, not lost; a full disk
stops with a clear error, leaves no partial entry, and the rerun completes."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import diet.files
from diet.paper.context import run_context
from diet.paper import experiments as ex
from diet.cli.main import main
from diet.grid.plan import make_plan
from diet.runs.retraining import PREDICTIONS, RUN, retrain, stored_predictions
from diet.runs.store import Store
from diet.files import DiskFullError, read_parquet, write_parquet

ROOT = Path(__file__).resolve().parents[1]
CFG = diet.TrainConfig(epochs=1, batch_size=8, max_length=24)


@pytest.fixture(scope="module")
def task():
    return diet.load_task("ag_news", n_train=48, n_test=40, seed=0)


def strip_predictions(store: Path) -> int:
    """Rewrite every retraining entry of `store` as it was stored before predictions existed; how many."""
    entries = sorted(store.glob("retrain/*/data.parquet"))
    for data in entries:
        write_parquet(read_parquet(data).drop(columns=PREDICTIONS), data)
    return len(entries)


def test_each_seed_stores_its_predictions_and_the_accuracy_is_their_mean(task, tmp_path):
    store = Store(tmp_path)
    acc = retrain(task, "tiny", train_ids=task.train.ids[:32], seeds=[0, 1], config=CFG, store=store, progress=False)
    assert PREDICTIONS not in acc.columns and acc[RUN].nunique() == 2
    for row in acc.itertuples():
        predicted = stored_predictions(store, row.run)
        assert predicted.shape == (len(task.test),) and predicted.min() >= 0 and predicted.max() < task.num_labels
        assert row.accuracy == pytest.approx(float((predicted == task.test.labels).mean()), abs=1e-7)
        raw = pd.read_parquet(tmp_path / "retrain" / row.run / "data.parquet")
        assert raw[PREDICTIONS].iloc[0].dtype == np.int8  # one byte per test example
    assert stored_predictions(store, "0123456789abcdef") is None


def test_an_entry_without_predictions_is_outdated_listed_as_pending_and_recomputed_to_the_same_accuracy(task, tmp_path):
    store = Store(tmp_path)
    first = retrain(task, "tiny", seeds=[0], config=CFG, store=store, progress=False)
    assert strip_predictions(tmp_path) == 1
    run = first[RUN].iloc[0]
    assert stored_predictions(store, run) is None
    # a read-only store and one that keeps outdated entries (the book) load it as it is, without fine-tuning
    for kept in (Store(tmp_path, readonly=True), Store(tmp_path, keep_outdated=True)):
        again = retrain(task, "tiny", seeds=[0], config=CFG, store=kept, progress=False)
        assert again["accuracy"].iloc[0] == first["accuracy"].iloc[0] and stored_predictions(kept, run) is None
    # a writable store recomputes it: deterministic on the CPU, so the same accuracy, now with predictions
    redone = retrain(task, "tiny", seeds=[0], config=CFG, store=store, progress=False)
    assert redone["accuracy"].iloc[0] == first["accuracy"].iloc[0]
    assert stored_predictions(store, run) is not None


def test_the_plan_lists_outdated_runs_as_ready_but_not_as_unstored(tmp_path):
    ctx = run_context("smoke", seeds=[0], retrain_seeds=[0], fractions=[0.5], store=tmp_path)
    ex.preserved_fraction(ctx)
    n = strip_predictions(tmp_path)
    plan = make_plan(ctx, ["3"])
    assert n > 0 and len(plan.outdated) == n == len(plan.ready) and plan.unstored == 0
    assert all(job.kind == "retrain" for job in plan.ready.values())


def test_a_full_disk_names_the_path_and_leaves_no_partial_entry(tmp_path, monkeypatch):
    store = Store(tmp_path)
    frame = pd.DataFrame({"seed": [0], "accuracy": [0.5]})
    old = store.save("retrain", {"seed": 1}, frame)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(diet.files, "write_parquet", full)
    with pytest.raises(DiskFullError, match=r"no space left to write .*data\.parquet.*free space.*rerun"):
        store.save("retrain", {"seed": 0}, frame)
    assert not store.folder("retrain", {"seed": 0}).exists()  # no config.json without its data
    with pytest.raises(DiskFullError):
        store.save("retrain", {"seed": 1}, frame.assign(accuracy=0.9))
    assert read_parquet(old / "data.parquet")["accuracy"].iloc[0] == 0.5  # the entry it was replacing is intact
    assert not list(tmp_path.rglob("*.tmp"))
    monkeypatch.undo()
    store.save("retrain", {"seed": 0}, frame)
    assert store.load("retrain", {"seed": 0}) is not None


def test_precompute_on_a_full_disk_exits_2_with_the_fix_and_the_rerun_completes(tmp_path, capsys, monkeypatch):
    small = ["precompute", "--preset", "smoke", "--figures", "3", "--seeds", "0", "--retrain-seeds", "0", "--fractions", "0.5", "--store", str(tmp_path)]
    real = diet.files.write_parquet
    writes = []

    def fills_up(frame, path):
        writes.append(path)
        if len(writes) > 2:  # the first scoring run and one retraining fit, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real(frame, path)

    monkeypatch.setattr(diet.files, "write_parquet", fills_up)
    assert main(small) == 2
    err = capsys.readouterr().err
    assert "no space left to write" in err and "rerun the same command" in err and "Traceback" not in err
    stored = sorted(tmp_path.glob("*/*/data.parquet"))
    assert len(stored) == 2 and all(p.parent.joinpath("config.json").exists() for p in stored)
    assert all((p / "data.parquet").exists() for p in tmp_path.glob("*/*") if p.is_dir() and p.name != ".locks")
    monkeypatch.setattr(diet.files, "write_parquet", real)
    assert main(small) == 0
    assert "computed" in capsys.readouterr().out and len(list(tmp_path.glob("*/*/data.parquet"))) > 2


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only); skipped where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_diet_train_on_a_really_full_filesystem_exits_2_and_completes_after_space_is_freed(small_disk, tmp_path):
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # take every byte
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    runs = small_disk / "runs"
    command = [sys.executable, "-m", "diet.cli.main", "train", "--task", "ag_news", "--n-train", "32", "--n-test", "16", "--model", "tiny",
               "--epochs", "1", "--batch-size", "8", "--max-length", "16", "--seeds", "0", "--store", str(runs)]
    full = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert full.returncode == 2, full.stderr
    assert f"no space left to write {runs}" in full.stderr and "Traceback" not in full.stderr
    assert not list(runs.glob("retrain/*/config.json"))  # no partial entry
    filler.unlink()
    freed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert freed.returncode == 0, freed.stderr
    assert len(list(runs.glob("retrain/*/data.parquet"))) == 1


@pytest.mark.slow
def test_a_committed_cpu_retraining_recomputes_to_the_same_accuracy():
    """results/cpu (float32 on the CPU): the smallest outdated retraining of ag_news's figure 3, computed again,
    gives exactly the committed accuracy (once every entry holds predictions, any entry is recomputed and compared)."""
    ctx = run_context("cpu", task="ag_news", store=ROOT / "results" / "cpu")
    plan = make_plan(ctx, ["3"])
    retrainings = [j for j in (plan.ready | plan.done).values() if j.kind == "retrain"]
    job = min(retrainings, key=lambda j: (j.config["n_subset"], j.config["seed"]))
    committed = ctx.store.load("retrain", job.config)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workers of `diet precompute --workers 2` that filled it
    try:
        frame = job.run()
    finally:
        torch.set_num_threads(threads)
    assert frame["accuracy"].iloc[0] == committed["accuracy"].iloc[0], job.describe()
    if PREDICTIONS in committed:
        np.testing.assert_array_equal(frame[PREDICTIONS].iloc[0], committed[PREDICTIONS].iloc[0])
