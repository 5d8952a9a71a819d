"""Scoring runs: determinism by seed, steps, storing and resuming, and the scores table's checks."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

import diet.runs.scoring
from diet import DietError, ScoresTable, Store, TrainConfig, load_task, retrain, score
from diet.model.steps import resolve_steps

CFG = TrainConfig(epochs=1, batch_size=8, lr=1e-3, max_length=32, device="cpu")
SCORES = ["el2n", "grand_head", "grand_full", "loss"]


@pytest.fixture(scope="module")
def task():
    return load_task("ag_news", n_train=24, n_test=16)


def test_same_seed_gives_bitwise_equal_scores(task, tmp_path):
    a = score(task, "tiny", [0], ["0", "1ep"], SCORES, CFG, Store(tmp_path / "a"), progress=False)
    b = score(task, "tiny", [0], ["0", "1ep"], SCORES, CFG, Store(tmp_path / "b"), progress=False)
    c = score(task, "tiny", [1], ["0", "1ep"], SCORES, CFG, Store(tmp_path / "c"), progress=False)
    assert np.array_equal(a.frame["value"].to_numpy(), b.frame["value"].to_numpy())
    assert not np.allclose(a.frame["value"].to_numpy(), c.frame["value"].to_numpy())
    assert a.steps == [0, 3] and a.epochs() == {0: 0.0, 3: 1.0}
    assert len(a.frame) == 24 * len(SCORES) * 2


def test_scores_change_during_training_and_mean_averages_runs(task, tmp_path):
    table = score(task, "tiny", [0, 1], ["0", "1ep"], ["el2n"], CFG, Store(tmp_path), progress=False)
    start, end = table.mean("el2n", 0), table.mean("el2n", 3)
    assert not np.allclose(start, end)
    per_run = table.frame[(table.frame.step == 3)].pivot(index="example_id", columns="run", values="value")
    np.testing.assert_allclose(end.to_numpy(), per_run.mean(axis=1).to_numpy())


def test_resume_after_interruption_gives_the_same_results(task, tmp_path, monkeypatch):
    clean = score(task, "tiny", [0, 1], ["1ep"], ["el2n"], CFG, Store(tmp_path / "clean"), progress=False)
    real_run, calls = diet.runs.scoring.score_run, []

    def dies_on_second_seed(task, model, seed, *args, **kwargs):
        calls.append(seed)
        if seed == 1:
            raise KeyboardInterrupt
        return real_run(task, model, seed, *args, **kwargs)

    monkeypatch.setattr(diet.runs.scoring, "score_run", dies_on_second_seed)
    with pytest.raises(KeyboardInterrupt):
        score(task, "tiny", [0, 1], ["1ep"], ["el2n"], CFG, Store(tmp_path / "resumed"), progress=False)
    monkeypatch.setattr(diet.runs.scoring, "score_run", lambda *a, **k: (calls.append(a[2]), real_run(*a, **k))[1])
    resumed = score(task, "tiny", [0, 1], ["1ep"], ["el2n"], CFG, Store(tmp_path / "resumed"), progress=False)
    assert calls == [0, 1, 1]  # seed 0 was not redone
    pd.testing.assert_frame_equal(clean.frame.drop(columns="seconds"), resumed.frame.drop(columns="seconds"))


def test_retrain_resumes_per_seed(task, tmp_path, monkeypatch):
    store = Store(tmp_path)
    first = retrain(task, "tiny", None, [0], CFG, store, progress=False)
    module = importlib.import_module("diet.runs.retraining")
    monkeypatch.setattr(module.RetrainRun, "__call__", lambda self: pytest.fail("seed 0 was recomputed"))
    again = retrain(task, "tiny", None, [0], CFG, store, progress=False)
    pd.testing.assert_frame_equal(first, again)
    assert list(tmp_path.rglob("*.tmp")) == []


def test_steps_resolve_epochs_and_refuse_nonsense():
    assert resolve_steps(["1ep", "0", "0.5ep", "7"], n_train=100, batch_size=32) == [0, 2, 4, 7]
    with pytest.raises(DietError, match="cannot read step 'one'"):
        resolve_steps(["one"], 100, 32)
    with pytest.raises(DietError, match="negative"):
        resolve_steps(["-1"], 100, 32)


def test_steps_past_training_are_refused(task, tmp_path):
    with pytest.raises(DietError, match="past the end of training"):
        score(task, "tiny", [0], ["2ep"], ["el2n"], CFG, Store(tmp_path), progress=False)


def test_scores_table_must_match_the_dataset(task, tmp_path):
    table = score(task, "tiny", [0], ["0"], ["el2n"], CFG, Store(tmp_path), progress=False)
    table.check_matches(task.train)
    other = load_task("ag_news", n_train=24, n_test=16, seed=5)
    with pytest.raises(DietError, match="computed for another task, size or seed"):
        table.check_matches(other.train)
    loaded = ScoresTable.load(table.save(tmp_path / "saved"))
    pd.testing.assert_frame_equal(loaded.frame, table.frame)


def test_nan_scores_are_refused(task, tmp_path):
    table = score(task, "tiny", [0], ["0"], ["el2n"], CFG, Store(tmp_path), progress=False)
    broken = table.frame.copy()
    broken.loc[3, "value"] = np.nan
    with pytest.raises(DietError, match="1 NaN values"):
        ScoresTable(broken)


def test_unknown_model_lists_offline_names(task, tmp_path):
    with pytest.raises(DietError, match="unknown model 'no-such-model'.*minilm-l6, tiny"):
        score(task, "no-such-model", [0], ["0"], ["el2n"], CFG, Store(tmp_path), progress=False)


def test_gpu_results_are_keyed_apart_from_cpu_results(monkeypatch):
    cpu = TrainConfig().key()
    assert "accelerator" not in cpu
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert TrainConfig().key() == {**cpu, "accelerator": "cuda/bf16"}
    assert TrainConfig(bf16=False).key()["accelerator"] == "cuda/float32"


def test_read_only_store_loads_and_refuses_to_compute(task, tmp_path, monkeypatch):
    first = retrain(task, "tiny", None, [0], CFG, Store(tmp_path), progress=False)
    again = retrain(task, "tiny", None, [0], CFG, Store(tmp_path, readonly=True), progress=False)
    pd.testing.assert_frame_equal(first, again)
    monkeypatch.setenv("DIET_STORE_READONLY", "1")
    with pytest.raises(DietError, match="holds no retrain run .*read-only.*diet precompute"):
        retrain(task, "tiny", None, [0, 1], CFG, Store(tmp_path), progress=False)
    assert sorted(p.name for p in (tmp_path / "retrain").iterdir()) == sorted(p.name for p in (tmp_path / "retrain").iterdir() if (p / "data.parquet").exists())
    assert len(list((tmp_path / "retrain").iterdir())) == 1  # nothing half-written
