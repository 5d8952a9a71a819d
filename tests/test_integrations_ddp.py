"""diet's Trainer callback in a data-parallel run (DDP over two CPU processes, gloo): only the main process scores,
its scores equal diet's own on the weights of each step, and the training ends in bitwise the same weights as without it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from diet.scores.table import ScoresTable
from tests._own_training import column, diet_scores, encoded, task, task_file  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # two processes, each importing torch and transformers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp(task_file: Path, out: Path, with_callback: bool) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), str(ROOT / "tests" / "_ddp_training.py"), str(task_file), str(out), "1" if with_callback else "0"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(task_file, tmp_path_factory):
    """The same DDP training twice: with the callback and without."""
    base = tmp_path_factory.mktemp("ddp")
    _ddp(task_file, base / "with", True)
    _ddp(task_file, base / "plain", False)
    return base


def test_only_the_main_process_scores_and_its_scores_equal_diets_own(runs, encoded):
    main, other = (torch.load(runs / "with" / f"callback-{rank}.pt") for rank in (0, 1))
    assert main["has_table"] and not other["has_table"]
    table = ScoresTable.load(runs / "with" / "scores")
    assert table.steps == [0, 1, 2] and table.runs == [0]  # 32 examples, batch 8 on each of 2 processes: 2 updates an epoch
    assert table.mean("rng_probe").notna().all()
    for step in table.steps:
        expected = diet_scores(main["snapshots"][step], encoded, ["el2n", "grand_head"])
        for name, values in expected.items():
            np.testing.assert_allclose(column(table, name, step, encoded.ids), values, rtol=1e-6, atol=1e-9, err_msg=f"{name}@{step}")
    assert np.abs(column(table, "el2n", 2, encoded.ids) - column(table, "el2n", 0, encoded.ids)).max() > 1e-3


def test_ddp_training_with_the_callback_ends_in_bitwise_the_same_weights(runs):
    scored, plain, other = (torch.load(runs / folder / f"final-{rank}.pt") for folder, rank in (("with", 0), ("plain", 0), ("with", 1)))
    for name, value in plain.items():
        assert torch.equal(value, scored[name]), name
        assert torch.equal(value, other[name]), name  # both processes hold the same weights
