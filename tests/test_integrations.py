"""diet inside a transformers.Trainer run: the callback's scores equal diet's own, the training ends in bitwise the
same weights, and its table goes through `diet prune`, `diet.select` and the averaging over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from transformers import TrainerCallback
import torch

import diet
from diet.cli.main import main
from diet.integrations import ScoresCallback, combine
from diet.model.config import TrainConfig
from diet.model.encoders import load_encoder
from diet.scores.records import checkpoint_steps, record_pass
from diet.scores.dynamics import scores_from_records
from tests._own_training import (BATCH, CLASSES, DYNAMIC, POINT, Snapshots, column, diet_scores, encoded, hf_dataset, one_thread,  # noqa: F401
                                 probe, task, task_file, train)


@pytest.fixture(scope="module")
def run(encoded, probe, tmp_path_factory):
    """One Trainer run (seed 0) with point scores at 0, 2, 1ep (written to a folder), dynamics scores at 2 and 1ep, and snapshots."""
    tmp = tmp_path_factory.mktemp("run")
    points = ScoresCallback(hf_dataset(encoded), POINT + [probe], ["0", "2", "1ep"], ids=encoded.ids, out=tmp / "scores")
    dynamics = ScoresCallback(hf_dataset(encoded), DYNAMIC, ["2", "1ep"], ids=encoded.ids, dynamics_per_epoch=4)
    snapshots = Snapshots()
    model = train(hf_dataset(encoded), tmp, [points, dynamics, snapshots])
    return {"points": points, "dynamics": dynamics, "snapshots": snapshots.states, "model": model, "folder": tmp / "scores", "tmp": tmp}


def test_callback_scores_equal_diets_own_at_each_step(run, encoded):
    table = run["points"].table
    assert table.steps == [0, 2, 4] and table.runs == [0]
    for step in table.steps:
        expected = diet_scores(run["snapshots"][step], encoded, POINT)
        for name in POINT:
            np.testing.assert_allclose(column(table, name, step, encoded.ids), expected[name], rtol=1e-6, atol=1e-9, err_msg=f"{name}@{step}")
    moved = column(table, "el2n", 4, encoded.ids) - column(table, "el2n", 0, encoded.ids)
    assert np.abs(moved).max() > 1e-3, "the model should have trained between the steps"


def test_callback_dynamics_equal_diets_own_records(run, encoded):
    """forgetting & co from the callback = diet's record pass at diet's checkpoints of the same run, through diet's scores."""
    callback = run["dynamics"]
    checkpoints = checkpoint_steps([2, 4], 4, 4)
    assert callback.scorer.schedule == checkpoints == [1, 2, 3, 4]
    cfg = TrainConfig(device="cpu")
    records = []
    for step in checkpoints:
        model = load_encoder("tiny", CLASSES, 0)
        model.load_state_dict(run["snapshots"][step])
        records.append(pd.DataFrame({"example_id": encoded.ids, "label": encoded.labels, "run": 0, "step": step, "epoch": step / 4,
                                     **record_pass(model.eval(), encoded, cfg), "seconds": 0.0}))
    expected = scores_from_records(pd.concat(records, ignore_index=True), DYNAMIC, [2, 4])
    for name in DYNAMIC:
        for step in (2, 4):
            want = expected[(expected["score"] == name) & (expected["step"] == step)].set_index("example_id")["value"].reindex(encoded.ids)
            np.testing.assert_allclose(column(callback.table, name, step, encoded.ids), want.to_numpy(), rtol=1e-9, atol=1e-12)
    assert column(callback.table, "variability", 4, encoded.ids).max() > 0


def test_training_with_the_callback_ends_in_bitwise_the_same_weights(run, encoded, tmp_path):
    plain = train(hf_dataset(encoded), tmp_path / "plain")
    scored = run["model"].state_dict()
    assert run["points"].table.mean("rng_probe").notna().all()  # the RNG-drawing score did run at every step
    for name, value in plain.state_dict().items():
        assert torch.equal(value, scored[name]), name

    class Draws(TrainerCallback):  # the check sees a drawn random number: without the restore, weights differ
        def on_step_end(self, args, state, control, **kwargs):
            torch.rand(1)

    drawn = train(hf_dataset(encoded), tmp_path / "drawn", [Draws()])
    assert not all(torch.equal(v, drawn.state_dict()[k]) for k, v in plain.state_dict().items())


def test_table_round_trips_through_diet_prune_and_select(run, task_file, encoded, tmp_path, capsys):
    table = diet.ScoresTable.load(run["folder"])
    assert table.config["source"] == "diet.integrations" and table.config["train_config"] == {"batch_size": BATCH}
    assert len(pd.read_csv(run["folder"] / "scores_mean.csv")) == len(encoded) * len(table.names) * len(table.steps)
    for step in ("1ep", None):
        out = tmp_path / f"subset-{step}.csv"
        extra = ["--step", step] if step else []
        assert main(["prune", "--scores", str(run["folder"]), "--task", str(task_file), "--score", "grand_head", "--keep", "0.5",
                     "--out", str(out), *extra]) == 0, capsys.readouterr().err
        kept = pd.read_csv(out)["example_id"].to_numpy()
        expected = diet.select(table.mean("grand_head", step), keep=0.5)
        np.testing.assert_array_equal(kept, expected)
        assert len(kept) == len(encoded) // 2 and set(kept) <= set(encoded.ids)


def test_callback_reports_its_time_beside_the_training(run, capsys):
    points = run["points"]
    assert 0 < points.seconds < points.total_seconds and points.train_seconds == pytest.approx(points.total_seconds - points.seconds)
    assert points.table.config["seconds_scoring"] == pytest.approx(points.seconds)
    line = points.summary()
    assert f"in {points.seconds:.2f} s, beside {points.train_seconds:.2f} s of training" in line and "at updates [0, 2, 4]" in line


def test_tables_of_several_seeds_average_like_diet_score(run, encoded, tmp_path):
    second = ScoresCallback(hf_dataset(encoded), POINT, ["0", "2", "1ep"], ids=encoded.ids, verbose=False)
    train(hf_dataset(encoded), tmp_path, [second], seed=1)
    first = diet.ScoresTable(run["points"].table.frame.query("score != 'rng_probe'"), run["points"].table.config)
    both = combine([first, second.table])
    assert both.runs == [0, 1] and both.config["seeds"] == [0, 1]
    mean = (column(first, "el2n", 4, encoded.ids) + column(second.table, "el2n", 4, encoded.ids)) / 2
    np.testing.assert_allclose(column(both, "el2n", 4, encoded.ids), mean, rtol=1e-12)
    assert not np.allclose(column(first, "el2n", 4, encoded.ids), column(second.table, "el2n", 4, encoded.ids))
    with pytest.raises(diet.DietError, match="run \\[0\\] appears in more than one table"):
        combine([first, first])


def test_callback_under_bf16_autocast_equals_diets_bf16_scores(encoded, tmp_path):
    callback = ScoresCallback(hf_dataset(encoded), POINT, ["2"], verbose=False)
    snapshots = Snapshots()
    train(hf_dataset(encoded), tmp_path, [callback, snapshots], bf16=True)
    assert callback.scorer.precision == "bf16"
    expected = diet_scores(snapshots.states[2], encoded, POINT, dtype="bf16")
    float32 = diet_scores(snapshots.states[2], encoded, ["el2n"])["el2n"]
    for name in POINT:
        np.testing.assert_allclose(column(callback.table, name, 2, np.arange(len(encoded))), expected[name], rtol=1e-5, err_msg=name)
    assert not np.array_equal(expected["el2n"], float32)  # bf16 did run


def test_the_callback_refuses_a_run_it_cannot_score(encoded, tmp_path):
    dataset = hf_dataset(encoded)
    with pytest.raises(diet.DietError, match="'2ep' \\(update 8\\) lies past the end of training \\(4 updates = 1ep\\)"):
        train(dataset, tmp_path, [ScoresCallback(dataset, ["el2n"], ["0", "2ep"])])
    with pytest.raises(diet.DietError, match="given 31 examples, but the Trainer trains on 32"):
        train(dataset, tmp_path, [ScoresCallback(dataset.select(range(31)), ["el2n"], ["0"])])
