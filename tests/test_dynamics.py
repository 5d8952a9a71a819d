"""Scores from training dynamics: hand-computed values, the never-learned rule, the records pass against a
per-example oracle, determinism, a tiny end-to-end run through select and retrain, and the planner."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import diet.paper.experiments as ex
from diet.paper.context import run_context
from diet import SCORES, DietError, Store, TrainConfig, load_task, retrain, score, score_examples, select
from diet.runs.dynamics import DynamicsRun, records
from diet.scores.records import checkpoint_steps, record_pass
from diet.scores.dynamics import REGIONS, Checkpoints, data_map, scores_from_records
from diet.runs.store import config_key

DYNAMIC = ["forgetting", "low_confidence", "variability", "neg_aum"]
CFG = TrainConfig(epochs=1, batch_size=8, lr=1e-3, max_length=32, device="cpu")

# ------------------------------------------------------------ a hand-made run: 4 examples, 4 checkpoints, 3 classes

STEPS = [2, 4, 6, 8]
LABELS = {10: 0, 11: 1, 12: 2, 13: 0}
# per example: predicted label, gold probability and margin at each checkpoint
PREDICTED = {10: [0, 1, 0, 2], 11: [2, 1, 1, 1], 12: [0, 0, 1, 0], 13: [0, 0, 1, 2]}
GOLD = {10: [0.6, 0.3, 0.7, 0.2], 11: [0.2, 0.5, 0.6, 0.9], 12: [0.1, 0.2, 0.3, 0.2], 13: [0.8, 0.8, 0.3, 0.1]}
MARGIN = {10: [1.0, -1.0, 2.0, -2.0], 11: [-0.5, 0.5, 1.0, 3.0], 12: [-2.0, -1.0, -1.0, -3.0], 13: [2.0, 1.0, -1.0, -2.0]}


def hand_records(run: int = 0, predicted=PREDICTED) -> pd.DataFrame:
    rows = [{"example_id": e, "label": LABELS[e], "run": run, "step": s, "epoch": s / 8, "gold_prob": GOLD[e][i],
             "predicted": predicted[e][i], "margin": MARGIN[e][i], "seconds": 0.5} for e in LABELS for i, s in enumerate(STEPS)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # the order of the rows must not matter


def test_scores_of_a_hand_made_run():
    c = Checkpoints.from_records(hand_records())
    assert c.example_ids.tolist() == [10, 11, 12, 13]
    # 10: right, wrong, right, wrong = 2 events; 11: wrong then right = 0; 12: never right = 4 // 2 + 1 = 3; 13: right, right, wrong, wrong = 1
    assert SCORES["forgetting"].fn(c).tolist() == [2.0, 0.0, 3.0, 1.0]
    np.testing.assert_allclose(SCORES["low_confidence"].fn(c), [1 - 0.45, 1 - 0.55, 1 - 0.2, 1 - 0.5])
    np.testing.assert_allclose(SCORES["variability"].fn(c), [np.sqrt(0.0425), np.sqrt(0.0625), np.sqrt(0.005), np.sqrt(0.095)])
    np.testing.assert_allclose(SCORES["neg_aum"].fn(c), [0.0, -1.0, 1.75, 0.0])


def test_scores_up_to_a_step_use_only_the_checkpoints_before_it():
    frame = scores_from_records(hand_records(), DYNAMIC, [4, 8])
    at4 = frame[frame["step"] == 4].pivot(index="example_id", columns="score", values="value")
    assert at4["forgetting"].tolist() == [1.0, 0.0, 2.0, 0.0]  # two checkpoints: 12 never right -> 2 // 2 + 1
    np.testing.assert_allclose(at4["low_confidence"], [0.55, 0.65, 0.85, 0.2])
    np.testing.assert_allclose(at4["neg_aum"], [0.0, 0.0, 1.5, -1.5])
    assert set(frame["epoch"]) == {0.5, 1.0}
    assert (frame.loc[frame["step"] == 4, "seconds"] == 1.0).all() and (frame.loc[frame["step"] == 8, "seconds"] == 2.0).all()
    with pytest.raises(DietError, match="before the first"):
        scores_from_records(hand_records(), ["forgetting"], [1])


def slow_forgetting(correct: list[bool]) -> float:
    """The definition, one checkpoint at a time."""
    if not any(correct):
        return len(correct) // 2 + 1
    return sum(1 for before, after in zip(correct, correct[1:]) if before and not after)


def test_fast_scores_equal_the_definitions_on_random_runs():
    rng = np.random.default_rng(0)
    n, steps = 30, [3, 5, 8, 9, 12, 20]
    rows = [{"example_id": e, "label": int(rng.integers(3)), "run": 0, "step": s, "epoch": s / 10, "gold_prob": rng.random(),
             "predicted": int(rng.integers(3)), "margin": rng.normal(), "seconds": 0.1} for e in range(n) for s in steps]
    recs = pd.DataFrame(rows)
    recs["label"] = recs.groupby("example_id")["label"].transform("first")
    c = Checkpoints.from_records(recs)
    for i, example in enumerate(c.example_ids):
        mine = recs[recs["example_id"] == example].sort_values("step")
        correct = (mine["predicted"] == mine["label"]).tolist()
        probs, margins = mine["gold_prob"].tolist(), mine["margin"].tolist()
        mean = sum(probs) / len(probs)
        assert SCORES["forgetting"].fn(c)[i] == slow_forgetting(correct)
        assert SCORES["low_confidence"].fn(c)[i] == pytest.approx(1 - mean, abs=1e-12)
        assert SCORES["variability"].fn(c)[i] == pytest.approx(np.sqrt(sum((p - mean) ** 2 for p in probs) / len(probs)), abs=1e-12)
        assert SCORES["neg_aum"].fn(c)[i] == pytest.approx(-sum(margins) / len(margins), abs=1e-12)


def test_never_learned_examples_rank_above_every_learned_one_after_averaging():
    always_wrong = {e: [(LABELS[e] + 1) % 3] * 4 for e in LABELS}
    alternating = {**always_wrong, 10: [0, 1, 0, 1], 11: [1, 0, 1, 1]}  # 10: the most events 4 checkpoints allow (2)
    runs = pd.concat([hand_records(0, alternating), hand_records(1, {**alternating, 13: [0, 0, 0, 0]})])
    frame = scores_from_records(runs, ["forgetting"], [8])
    per_run = frame.pivot(index="example_id", columns="run", values="value")
    assert per_run[0].tolist() == [2.0, 1.0, 3.0, 3.0] and per_run[1].tolist() == [2.0, 1.0, 3.0, 0.0]
    mean = per_run.mean(axis=1)
    assert mean[12] > mean.drop(12).max()  # never right in any run: above all
    assert select(mean, 0.25).tolist() == [12]


# ------------------------------------------------------------ the checkpoint schedule and refusals


def test_checkpoint_schedule():
    assert checkpoint_steps([20], 20, 8) == [3, 5, 8, 10, 13, 15, 18, 20]  # 2.5-update spacing, halves up
    assert checkpoint_steps([32], 32, 8) == [4, 8, 12, 16, 20, 24, 28, 32]
    assert checkpoint_steps([10, 16], 32, 4) == [8, 10, 16]  # the steps asked for are checkpoints too
    assert checkpoint_steps([3], 2, 4) == [1, 2, 3]
    for bad in (0, 1.5, True):
        with pytest.raises(DietError, match="dynamics_per_epoch"):
            checkpoint_steps([10], 10, bad)


@pytest.fixture(scope="module")
def task():
    return load_task("ag_news", n_train=24, n_test=16)


def test_step_zero_and_single_model_scoring_are_refused_before_any_training(task, tmp_path):
    with pytest.raises(DietError, match="step 0 comes before any"):
        score(task, "tiny", [0], ["0", "1ep"], ["el2n", "forgetting"], CFG, Store(tmp_path), progress=False)
    with pytest.raises(DietError, match="dynamics_per_epoch"):
        score(task, "tiny", [0], ["1ep"], ["forgetting"], CFG, Store(tmp_path), progress=False, dynamics_per_epoch=0)
    assert not any(tmp_path.iterdir())  # nothing was trained or stored
    from diet.model.encoders import load_encoder

    with pytest.raises(DietError, match="many checkpoints"):
        score_examples(load_encoder("tiny", task.num_labels, 0).eval(), None, ["el2n", "variability"], CFG)


# ------------------------------------------------------------ the records pass and runs


def test_record_pass_equals_one_example_at_a_time(task):
    from diet.model.batching import collate, encode
    from diet.model.encoders import load_encoder, load_tokenizer

    data = encode(task.train, load_tokenizer("tiny"), CFG.max_length)
    model = load_encoder("tiny", task.num_labels, 0).eval()
    fast = record_pass(model, data, dataclasses.replace(CFG, eval_batch_size=7))  # several length-sorted, padded batches
    for i in range(len(data)):
        batch = collate(data, np.array([i]), torch.device("cpu"))
        label = int(batch.pop("labels")[0])
        with torch.no_grad():
            logits = model(**batch).logits[0].double()
        others = torch.cat([logits[:label], logits[label + 1:]])
        assert fast["gold_prob"][i] == pytest.approx(float(logits.softmax(-1)[label]), abs=1e-5)
        assert fast["predicted"][i] == int(logits.argmax())
        assert fast["margin"][i] == pytest.approx(float(logits[label] - others.max()), abs=1e-5)


def test_same_seed_gives_identical_records_and_the_scoring_runs_model(task, tmp_path):
    steps = checkpoint_steps([3], 3, 2)
    a, b = DynamicsRun(task, "tiny", 0, tuple(steps), CFG)(), DynamicsRun(task, "tiny", 0, tuple(steps), CFG)()
    timing = ["seconds", "train_seconds"]
    pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing), check_exact=True)
    other = DynamicsRun(task, "tiny", 1, tuple(steps), CFG)()
    assert not np.allclose(a["gold_prob"], other["gold_prob"])
    assert sorted(a["step"].unique()) == [2, 3] and len(a) == 2 * len(task.train) and (a["train_seconds"] > 0).all()
    # the records follow the scoring run's updates: at its step, exp(-loss) is the recorded gold probability
    loss = score(task, "tiny", [0], ["1ep"], ["loss"], CFG, Store(tmp_path), progress=False).mean("loss")
    gold = a[a["step"] == 3].set_index("example_id")["gold_prob"].sort_index()
    np.testing.assert_allclose(np.exp(-loss.to_numpy()), gold.to_numpy(), rtol=1e-6)


def test_dynamics_scores_leave_the_scoring_runs_keys_alone(task, tmp_path):
    plain = score(task, "tiny", [0], ["1ep"], ["el2n"], CFG, Store(tmp_path / "plain"), progress=False)
    mixed = score(task, "tiny", [0, 1], ["1ep"], ["el2n", *DYNAMIC], CFG, Store(tmp_path / "mixed"), progress=False, dynamics_per_epoch=2)
    keys = lambda root, kind: sorted(p.name for p in (root / kind).iterdir())  # noqa: E731
    assert keys(tmp_path / "plain", "scores")[0] in keys(tmp_path / "mixed", "scores")
    assert len(keys(tmp_path / "mixed", "dynamics")) == 2 and not (tmp_path / "plain" / "dynamics").exists()
    pd.testing.assert_series_equal(plain.mean("el2n"), mixed.frame[(mixed.frame["score"] == "el2n") & (mixed.frame["run"] == 0)]
                                   .set_index("example_id")["value"].sort_index().rename(plain.mean("el2n").name))
    assert mixed.names == sorted(["el2n", *DYNAMIC]) and mixed.steps == [3] and mixed.runs == [0, 1]
    assert mixed.config["scores"] == sorted(["el2n", *DYNAMIC]) and mixed.config["dynamics_per_epoch"] == 2
    again = score(task, "tiny", [0, 1], ["1ep"], DYNAMIC, CFG, Store(tmp_path / "mixed"), progress=False, dynamics_per_epoch=2)
    pd.testing.assert_frame_equal(again.frame.reset_index(drop=True),
                                  mixed.frame[mixed.frame["score"].isin(DYNAMIC)].reset_index(drop=True)[again.frame.columns])
    # one records run per seed, keyed by the task fingerprint, model, seed, fine-tuning config and checkpoints
    assert keys(tmp_path / "mixed", "dynamics") == sorted(config_key(_records_config(task, seed)) for seed in (0, 1))
    stored = records(task, "tiny", [0, 1], [3], CFG, Store(tmp_path / "mixed"), 2)
    assert sorted(stored["step"].unique()) == [2, 3] and sorted(stored["run"].unique()) == [0, 1]


def _records_config(task, seed):
    from diet.data.fingerprint import split_fingerprint

    return {"task": task.name, "train": split_fingerprint(task.train), "n_train": len(task.train), "model": "tiny",
            "train_config": CFG.key(), "checkpoints": [2, 3], "seed": seed}


def test_every_new_score_goes_through_select_and_retrain(tmp_path):
    task = load_task("ag_news", n_train=40, n_test=24)
    store = Store(tmp_path)
    table = score(task, "tiny", [0, 1], ["1ep"], DYNAMIC, CFG, store, progress=False, dynamics_per_epoch=4)
    labels = table.labels()
    for name in DYNAMIC:
        mean = table.mean(name, "1ep")
        assert len(mean) == 40 and np.isfinite(mean).all()
        top, bottom = select(mean, 0.5), select(mean, 0.5, order="bottom")
        assert len(top) == 20 and mean.loc[top].min() >= mean.loc[bottom].max()  # the high (hard) end first
        shifted = select(mean, 0.5, offset=0.25)
        balanced = select(mean, 0.5, labels=labels, balanced=True)
        assert len(shifted) == 20 and len(np.intersect1d(shifted, top)) == 10
        per_class = np.bincount(labels.to_numpy(), minlength=4)
        assert np.bincount(labels.loc[balanced].to_numpy(), minlength=4).tolist() == [round(0.5 * n) for n in per_class]
    acc = retrain(task, "tiny", train_ids=select(table.mean("forgetting"), 0.5), seeds=[0], config=CFG, store=store, progress=False)
    assert len(acc) == 1 and 0 <= acc["accuracy"].iloc[0] <= 1 and acc["n_train"].iloc[0] == 20


# ------------------------------------------------------------ the experiments, the data map and the planner

SMALL = dict(n_train=40, n_test=24, seeds=[0, 1], retrain_seeds=[0], compare_fractions=[0.5], dynamics_per_epoch=4)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return run_context("smoke", store=tmp_path_factory.mktemp("store"), **SMALL)


def test_the_planner_lists_the_records_runs_ready(ctx):
    from diet.grid.plan import book_figures, make_plan
    from diet.paper.presets import PRESETS

    plan = make_plan(ctx, ["7"])
    ready = [j for j in plan.ready.values() if j.kind == "dynamics"]
    assert len(ready) == 4  # two seeds, on the clean and the noisy training set
    assert all(isinstance(j.run, DynamicsRun) and j.work() > 0 and "checkpoints to step" in j.describe() for j in ready)
    assert {j.kind for j in plan.ready.values()} == {"dynamics", "scores", "retrain"} and plan.blocked
    assert all(j.kind == "retrain" for j in plan.blocked.values())
    assert book_figures(PRESETS["smoke"]) == book_figures(PRESETS["cpu"]) == ["1", "3", "4", "5", "7"] and book_figures(PRESETS["quick"]) == ["1", "3", "4", "5"]


@pytest.mark.slow
def test_which_score_experiments(ctx):
    table = ex.which_score(ctx)
    scored = table[~table["score"].isin([ex.RANDOM, ex.FULL])]
    assert list(dict.fromkeys(scored["score"])) == list(ctx.preset.compare_scores)
    assert (scored.groupby(["score", "balanced", "keep"]).size() == 1).all() and (scored["n_train"] == 20).all()
    corr = ex.score_correlations(ctx).pivot(index="score", columns="other", values="spearman")
    np.testing.assert_allclose(np.diag(corr.loc[list(ctx.preset.compare_scores), list(ctx.preset.compare_scores)]), 1.0)
    overlap = ex.topk_overlap(ctx)
    assert overlap["jaccard"].between(0, 1).all() and (overlap.loc[overlap["score"] == overlap["other"], "jaccard"] == 1).all()
    recall = ex.flipped_recall(ctx)
    assert set(recall["score"]) == set(ctx.preset.compare_scores) | {ex.RANDOM} and recall["value"].between(0, 1).all()
    cost = ex.score_cost(ctx).set_index("score")
    assert cost.loc["one training update", "training updates"] == 1 and (cost["seconds per run"] > 0).all()
    assert cost.loc["forgetting", "pass"] == f"{len(checkpoint_steps([3], 3, 4))} forward passes (checkpoints)"  # 3 updates an epoch
    means = ex.compare_means(ctx)
    dm = ex.data_map(ctx).set_index("example_id")
    np.testing.assert_allclose(dm["confidence"], 1 - means["low_confidence"], atol=1e-12)
    np.testing.assert_allclose(dm["variability"], means["variability"], atol=1e-12)
    assert (dm["region"] == REGIONS[1]).sum() == round(40 / 3) and dm["correctness"].between(0, 1).all()
    noisy = ex.noisy_data_map(ctx)
    assert noisy["flipped"].sum() == round(ctx.preset.noise * 40)


def test_data_map_regions():
    frame = data_map(hand_records(), 8).set_index("example_id")
    # variability ranks 13 > 11 > 10 > 12: the top third (round(4 / 3) = 1) is ambiguous
    assert frame["region"].to_dict() == {10: REGIONS[2], 11: REGIONS[0], 12: REGIONS[2], 13: REGIONS[1]}
    assert frame.loc[10, "correctness"] == 0.5 and frame.loc[12, "correctness"] == 0.0


def test_book_leaves_the_chapter_out_where_the_preset_has_no_dynamics():
    from diet.book.build import NOTEBOOKS, SCALE, WHICH_SCORE, chapters
    from diet.book.toc import book_toc

    assert chapters("cpu") == NOTEBOOKS and WHICH_SCORE in NOTEBOOKS and SCALE in NOTEBOOKS
    assert chapters("smoke") == tuple(n for n in NOTEBOOKS if n != SCALE)  # the scale chapter compares the real-data presets only
    assert chapters("gpu") == chapters("cpu-2k") == tuple(n for n in NOTEBOOKS if n != WHICH_SCORE)
    assert chapters("quick") == chapters("first-look") == tuple(n for n in NOTEBOOKS if n not in (WHICH_SCORE, SCALE))
    import yaml

    template = yaml.safe_load((Path(__file__).resolve().parents[1] / "_toc.yml").read_text())
    assert any(c["file"] == f"_generated/{WHICH_SCORE}" for p in template["parts"] for c in p["chapters"])
    files = [c["file"] for p in book_toc(template, ["ag_news"], leave_out={WHICH_SCORE})["parts"] for c in p["chapters"]]
    assert "_generated/ag_news/06_summary" in files and not any(WHICH_SCORE in f for f in files)


def test_command_line_scores_and_prunes_by_the_new_scores(tmp_path, capsys):
    from diet.cli.main import main

    tiny = ["--task", "ag_news", "--n-train", "24", "--n-test", "8", "--model", "tiny", "--epochs", "1", "--batch-size", "8", "--max-length", "32"]
    out = tmp_path / "scores"
    assert main(["score", *tiny, "--runs", "2", "--scores", "el2n", *DYNAMIC, "--out", str(out)]) == 0
    frame = pd.read_parquet(out / "scores.parquet")
    assert set(frame["score"]) == {"el2n", *DYNAMIC} and set(frame["step"]) == {3}
    subset = tmp_path / "subset.csv"
    assert main(["prune", "--scores", str(out), "--score", "neg_aum", "--keep", "0.5", "--offset", "0.25", "--out", str(subset)]) == 0
    assert len(pd.read_csv(subset)) == 12
    assert main(["score", *tiny, "--steps", "0", "1ep", "--scores", "forgetting", "--out", str(tmp_path / "bad")]) == 2
    assert "step 0 comes before any" in capsys.readouterr().err
    assert main(["score", *tiny, "--scores", "aum", "--out", str(tmp_path / "bad")]) == 2
    assert "neg_aum" in capsys.readouterr().err
