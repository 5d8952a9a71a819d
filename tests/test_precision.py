"""Precision (float32 / bf16 autocast on the CPU), length-grouped training batches, the tokenising
cache: stored keys of existing configs unchanged, determinism by seed in bf16 too."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from diet import DietError, Store, TrainConfig, load_task, retrain, score
from diet.model.batching import clear_encode_cache, encode, length_grouped_batches, shuffled_batches, training_batches
from diet.cli.main import build_parser
from diet.cli.options import train_config
from diet.model.encoders import load_encoder, load_tokenizer
from diet.paper.presets import get_preset
from diet.scores.registry import score_examples
from diet.model.train import fine_tune, make_optimizer

CFG = TrainConfig(epochs=1, batch_size=8, lr=1e-3, max_length=32, device="cpu")
BF16 = replace(CFG, dtype="bf16")
SCORES = ["el2n", "grand_head", "grand_full", "loss"]

# TrainConfig.key() of the cpu and quick presets before `dtype` and `length_chunk` existed: every
# committed result in results/cpu/ is stored under a hash of this dict.
CPU_KEY = {"epochs": 2, "batch_size": 16, "lr": 0.0001, "weight_decay": 0.01, "warmup": 0.1, "max_length": 64, "grad_clip": 1.0, "bf16": True}
SMOKE_KEY = {"epochs": 3, "batch_size": 16, "lr": 0.003, "weight_decay": 0.01, "warmup": 0.1, "max_length": 48, "grad_clip": 1.0, "bf16": True}


@pytest.fixture(scope="module")
def task():
    return load_task("ag_news", n_train=24, n_test=16)


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)


def test_existing_presets_keep_their_keys(cpu_only):
    assert get_preset("cpu").train.key() == CPU_KEY
    assert get_preset("quick").train.key() == CPU_KEY
    assert get_preset("smoke").train.key() == SMOKE_KEY
    assert list(get_preset("cpu").train.key()) == list(CPU_KEY)  # same order too: the stored config.json reads the same
    # the notebooks' tables are keyed by the preset with TrainConfig.to_dict(): the fields it had before
    cpu = get_preset("cpu").train
    assert cpu.to_dict() == {**CPU_KEY, "eval_batch_size": 128, "device": "auto"}
    assert set(asdict(cpu)) - set(cpu.to_dict()) == {"dtype", "length_chunk", "fused_adamw"}


def test_float32_on_the_cpu_is_one_key_whichever_way_it_is_asked(cpu_only):
    assert TrainConfig(dtype="float32").key() == TrainConfig().key() == TrainConfig(dtype="auto").key()
    assert "accelerator" not in TrainConfig().key()


def test_bf16_and_length_grouping_are_keyed_apart_only_when_on(cpu_only):
    bf16 = TrainConfig(dtype="bf16").key()
    assert bf16 == {**TrainConfig().key(), "accelerator": "cpu/bf16"}
    grouped = TrainConfig(length_chunk=50).key()
    assert grouped == {**TrainConfig().key(), "length_chunk": 50}
    assert TrainConfig(fused_adamw=True).key() == {**TrainConfig().key(), "fused_adamw": True}
    assert TrainConfig(dtype="bf16", length_chunk=50).to_dict()["dtype"] == "bf16"


def test_gpu_keys_unchanged_and_dtype_float32_turns_gpu_bf16_off(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert TrainConfig().key() == {**CPU_KEY, "epochs": 2.0, "batch_size": 32, "lr": 5e-05, "max_length": 128, "accelerator": "cuda/bf16"}
    assert TrainConfig(dtype="float32").key()["accelerator"] == "cuda/float32"
    assert TrainConfig(bf16=False, dtype="bf16").key()["accelerator"] == "cuda/bf16"
    assert TrainConfig().precision == "bf16 autocast"


def test_precision_says_what_runs(cpu_only):
    assert TrainConfig().precision == "float32" and not TrainConfig().uses_bf16  # bf16=True does nothing on the CPU
    assert TrainConfig(dtype="bf16").precision == "bf16 autocast"
    shown = get_preset("cpu").train.describe()
    assert shown["precision"] == "float32" and shown["device"] == "cpu" and "bf16" not in shown
    assert TrainConfig(dtype="bf16").describe()["precision"] == "bf16 autocast"


def test_bad_settings_are_refused():
    with pytest.raises(DietError, match="dtype must be one of auto, float32, bf16"):
        TrainConfig(dtype="fp16")
    for bad in (-1, 2.5, True):
        with pytest.raises(DietError, match="length_chunk"):
            TrainConfig(length_chunk=bad)
    with pytest.raises(DietError, match="fused_adamw"):
        TrainConfig(fused_adamw="yes")


def test_cli_dtype_option():
    parser = build_parser()
    args = parser.parse_args(["train", "--dtype", "bf16", "--device", "cpu"])
    assert train_config(args).dtype == "bf16" and train_config(args).precision == "bf16 autocast"
    assert train_config(parser.parse_args(["train"])).dtype == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--dtype", "fp16"])


def test_autocast_runs_bf16_on_the_cpu(task):
    data = encode(task.train, load_tokenizer("tiny"), 32)
    model = load_encoder("tiny", task.num_labels, 0).eval()
    from diet.model.batching import collate

    batch = collate(data, np.arange(8))
    with torch.no_grad():
        with CFG.autocast():
            assert model(**batch).logits.dtype == torch.float32
        with BF16.autocast():
            out = model(**batch)
    assert out.logits.dtype == torch.bfloat16 and out.loss.dtype == torch.float32


def test_same_seed_gives_bitwise_equal_scores_in_bf16(task, tmp_path):
    a = score(task, "tiny", [0], ["0", "1ep"], SCORES, BF16, Store(tmp_path / "a"), progress=False)
    b = score(task, "tiny", [0], ["0", "1ep"], SCORES, BF16, Store(tmp_path / "b"), progress=False)
    f32 = score(task, "tiny", [0], ["0", "1ep"], SCORES, CFG, Store(tmp_path / "c"), progress=False)
    other = score(task, "tiny", [1], ["0", "1ep"], SCORES, BF16, Store(tmp_path / "d"), progress=False)
    values = a.frame["value"].to_numpy()
    assert np.array_equal(values, b.frame["value"].to_numpy())
    assert not np.array_equal(values, f32.frame["value"].to_numpy())  # bf16 really ran
    np.testing.assert_allclose(values, f32.frame["value"].to_numpy(), rtol=0.1, atol=0.05)  # ... and is close to float32
    assert not np.allclose(values, other.frame["value"].to_numpy())


def test_same_seed_gives_bitwise_equal_training_and_accuracy_in_bf16(task, tmp_path):
    data = encode(task.train, load_tokenizer("tiny"), 32)
    cfg = replace(BF16, epochs=2, length_chunk=2, fused_adamw=True)
    weights = []
    for seed in (0, 0, 1):
        model = fine_tune(load_encoder("tiny", task.num_labels, seed), data, cfg, seed, progress=False)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    assert weights[0].dtype == torch.float32  # autocast leaves the weights in float32
    first = retrain(task, "tiny", None, [0, 1], BF16, Store(tmp_path / "a"), progress=False)
    again = retrain(task, "tiny", None, [0, 1], BF16, Store(tmp_path / "b"), progress=False)
    assert np.array_equal(first["accuracy"].to_numpy(), again["accuracy"].to_numpy())


def test_fused_adamw_is_the_same_update_to_rounding(task):
    data = encode(task.train, load_tokenizer("tiny"), 32)
    plain = fine_tune(load_encoder("tiny", task.num_labels, 0), data, CFG, 0, progress=False)
    fused = fine_tune(load_encoder("tiny", task.num_labels, 0), data, replace(CFG, fused_adamw=True), 0, progress=False)
    a = torch.cat([p.detach().flatten() for p in plain.parameters()])
    b = torch.cat([p.detach().flatten() for p in fused.parameters()])
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert make_optimizer(plain, replace(CFG, fused_adamw=True), 4)[0].defaults["fused"] is True
    assert not make_optimizer(plain, CFG, 4)[0].defaults["fused"]


def test_grand_full_ghost_under_cpu_bf16_matches_the_float32_oracle(task):
    data = encode(task.train, load_tokenizer("tiny"), 32)
    model = fine_tune(load_encoder("tiny", task.num_labels, 0), data, CFG, 0, progress=False)
    exact = score_examples(model, data, ["grand_full"], CFG, grand_method="loop", progress=False)["grand_full"]
    fast = score_examples(model, data, ["grand_full"], BF16, grand_method="ghost", progress=False)["grand_full"]
    assert not np.array_equal(fast, exact)
    assert np.max(np.abs(fast - exact) / exact) <= 0.05


def test_length_grouped_batches_cover_each_example_once_and_stay_random():
    lengths = np.random.default_rng(0).integers(5, 65, size=1000)
    batches = length_grouped_batches(lengths, 16, torch.Generator().manual_seed(0), chunk=10)
    plain = list(shuffled_batches(len(lengths), 16, torch.Generator().manual_seed(0)))
    assert len(batches) == len(plain) == 63
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    assert sum(len(b) < 16 for b in batches) == 1
    again = length_grouped_batches(lengths, 16, torch.Generator().manual_seed(0), chunk=10)
    assert all(np.array_equal(x, y) for x, y in zip(batches, again))
    other = length_grouped_batches(lengths, 16, torch.Generator().manual_seed(1), chunk=10)
    assert not all(np.array_equal(x, y) for x, y in zip(batches, other))

    def padding(bs):
        return sum(lengths[b].max() * len(b) - lengths[b].sum() for b in bs)

    assert padding(batches) < 0.25 * padding(plain)
    widths = [lengths[b].max() for b in batches]
    assert widths != sorted(widths) and widths != sorted(widths, reverse=True)  # batch order is shuffled, not by length
    # within one chunk of 10 batches the examples are length-sorted: a batch spans a narrow range
    assert np.median([np.ptp(lengths[b]) for b in batches]) < 0.25 * np.median([np.ptp(lengths[b]) for b in plain])
    with pytest.raises(ValueError, match="chunk"):
        length_grouped_batches(lengths, 16, torch.Generator(), chunk=0)


def test_plain_training_batches_are_todays_shuffle(task):
    data = encode(task.train, load_tokenizer("tiny"), 32)
    today = list(shuffled_batches(len(data), 8, torch.Generator().manual_seed(3)))
    now = list(training_batches(data, 8, torch.Generator().manual_seed(3), 0))
    assert all(np.array_equal(x, y) for x, y in zip(today, now)) and len(today) == len(now)


def test_encode_is_cached_per_split_tokenizer_and_length(task):
    clear_encode_cache()
    tokenizer = load_tokenizer("tiny")
    first = encode(task.train, tokenizer, 32)
    assert encode(task.train, tokenizer, 32) is first
    assert encode(task.train, tokenizer, 16) is not first
    copy = load_task("ag_news", n_train=24, n_test=16)  # equal content, another object: same entry
    assert encode(copy.train, tokenizer, 32) is first
    test = encode(task.test, tokenizer, 32)
    assert test is not first and len(test) == len(task.test)
    clear_encode_cache()
    fresh = encode(task.train, tokenizer, 32)
    assert fresh is not first and fresh.input_ids == first.input_ids


@pytest.mark.parametrize("name", ["ag_news", "sst2"])
def test_committed_tables_keep_their_key(name, cpu_only):
    """The notebooks' tables in results/cpu are keyed by the preset with its TrainConfig: the new
    TrainConfig fields at their defaults leave that key as it was."""
    import json
    from pathlib import Path

    from diet.paper.context import run_context

    manifest = Path(__file__).resolve().parents[1] / "results" / "cpu" / name / "tables.json"
    committed = set(json.loads(manifest.read_text()).values())
    ctx = run_context("cpu", task=name)
    assert committed == {ctx.tables_key()}
    assert "'precision': 'float32'" in ctx.describe() and "'bf16'" not in ctx.describe()
