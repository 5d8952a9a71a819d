"""The one job protocol (diet.runs.jobs.StoredJob): every stored run keys its entry as before, names its kind,
costs what the plan estimated before, and the plan and the store use nothing else."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from diet.paper.context import run_context
from diet import Store, TrainConfig, load_task
from diet.data.fingerprint import ids_fingerprint, split_fingerprint
from diet.grid.plan import make_plan
from diet.model.steps import steps_per_epoch
from diet.runs.dynamics import DynamicsRun
from diet.runs.jobs import StoredJob, fingerprint
from diet.runs.predictions import PredictionsRun
from diet.runs.retraining import RetrainRun
from diet.runs.scoring import ScoringRun
from diet.runs.store import config_key

CFG = TrainConfig(epochs=2, batch_size=8, lr=1e-3, max_length=32, device="cpu")


@pytest.fixture(scope="module")
def task():
    return load_task("ag_news", n_train=40, n_test=24)


def test_each_job_keys_its_entry_as_the_call_sites_did(task):
    """The literal key dicts that score, retrain, records and the figure-5 predictions built by hand."""
    train, test, subset = split_fingerprint(task.train), split_fingerprint(task.test), task.train.ids[::2]
    common = {"task": task.name, "train": train, "model": "tiny", "train_config": CFG.key()}
    cases = [
        (ScoringRun(task, "tiny", 1, (0, 5), ("grand_head", "el2n"), CFG), "scores",
         {**common, "n_train": 40, "steps": [0, 5], "scores": ["el2n", "grand_head"], "seed": 1}),
        (RetrainRun(task, None, "tiny", 2, CFG), "retrain",
         {**common, "test": test, "subset": ids_fingerprint(task.train.ids), "n_subset": 40, "seed": 2}),
        (RetrainRun(task, subset, "tiny", 0, CFG), "retrain",
         {**common, "test": test, "subset": ids_fingerprint(subset), "n_subset": 20, "seed": 0}),
        (DynamicsRun(task, "tiny", 3, (2, 3), CFG), "dynamics", {**common, "n_train": 40, "checkpoints": [2, 3], "seed": 3}),
        (PredictionsRun(task, "tiny", 0, 5, CFG), "train_predictions", {**common, "seed": 0, "step": 5}),
    ]
    for job, kind, key in cases:
        assert isinstance(job, StoredJob) and job.kind == kind
        assert job.key() == key and config_key(job.key()) == config_key(key), kind


def test_each_job_costs_what_the_plan_estimated_before(task):
    length, n, per_epoch, subset = 32 / 64, 40, steps_per_epoch(40, 8), task.train.ids[::2]
    assert RetrainRun(task, subset, "tiny", 0, CFG).work() == length * (20 * 2 + 24 / 3)
    assert RetrainRun(task, None, "tiny", 0, CFG).work() == length * (40 * 2 + 24 / 3)
    assert ScoringRun(task, "tiny", 0, (0, 5), ("el2n",), CFG).work() == length * n * (5 / per_epoch + 2 * (1 / 3))
    assert ScoringRun(task, "tiny", 0, (5,), ("grand_full",), CFG).work() == length * n * (5 / per_epoch + 1 / 3 + 1.6)
    assert DynamicsRun(task, "tiny", 0, (2, 3, 5), CFG).work() == length * n * (5 / per_epoch + 3 / 3)
    assert PredictionsRun(task, "tiny", 0, 5, CFG).work() == length * n * (5 / per_epoch + 1 / 3)
    # only scores and records decide other runs; a retraining records its wall seconds
    assert [j.feeds_plan for j in (ScoringRun, DynamicsRun, RetrainRun, PredictionsRun)] == [True, True, False, False]
    assert RetrainRun(task, None, "tiny", 0, CFG).wall_seconds(pd.DataFrame({"seconds": [2.5]})) == 2.5
    assert ScoringRun(task, "tiny", 0, (5,), ("el2n",), CFG).wall_seconds(pd.DataFrame({"seconds": [2.5, 2.5]})) is None


def test_a_split_is_fingerprinted_once_and_forgotten_with_it(task):
    from diet.runs import jobs

    split = task.train.take(np.arange(10))
    assert fingerprint(split) == fingerprint(split) == split_fingerprint(split)
    assert id(split) in jobs._FINGERPRINTS
    gone = id(split)
    del split
    assert gone not in jobs._FINGERPRINTS


@dataclass(frozen=True)
class Constant(StoredJob):
    """A job that trains nothing: its frame holds its value."""

    kind = "constant"
    value: float
    model: str = "tiny"
    cfg: TrainConfig = CFG

    def key(self) -> dict:
        return {"value": self.value}

    def __call__(self) -> pd.DataFrame:
        return pd.DataFrame({"x": [self.value]})

    def placeholder(self, variant: int) -> pd.DataFrame:
        return pd.DataFrame({"x": [np.nan]})

    def work(self) -> float:
        return 1.0


class Refuses(Constant):
    def __call__(self) -> pd.DataFrame:
        raise AssertionError("a stored job was computed again")


def test_the_store_keeps_a_job_under_its_kind_and_key(tmp_path):
    store = Store(tmp_path)
    assert store.result(Constant(1.5))["x"].tolist() == [1.5]
    assert (tmp_path / "constant" / config_key({"value": 1.5}) / "data.parquet").exists()
    assert store.result(Refuses(1.5))["x"].tolist() == [1.5]  # loaded, not computed


def test_the_plan_records_each_run_under_its_own_kind_and_key(tmp_path):
    """Every run the figures ask for, the figure-5 predictions included, is keyed as its job keys itself."""
    ctx = run_context("smoke", store=tmp_path, n_train=40, n_test=24, seeds=[0], retrain_seeds=[0], compare_fractions=[0.5],
                         fractions=[0.5], dynamics_per_epoch=4)
    plan = make_plan(ctx, ["5"])
    jobs = [*plan.ready.values(), *plan.blocked.values()]
    assert "train_predictions" in {j.kind for j in jobs}
    for job in jobs:
        assert job.kind == job.run.kind and job.config == job.run.key(), job.describe()
        assert job.work() == job.run.work() > 0
