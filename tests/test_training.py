"""Fine-tuning details on a tiny random BERT: the learning-rate schedule against its closed form, the
weight-decay groups, stop_after against the full run, and the per-example gradient norms' input checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import diet.model.train
from diet.model.batching import Encoded
from diet.model.config import TrainConfig
from diet.scores.grad_norms import METHODS, per_example_grad_norms
from diet.scores.grad_norms.vmap import vmap_grad_norms
from diet.model.train import fine_tune, make_optimizer, total_steps
from tests._tiny import VOCAB, tiny_batch, tiny_bert

# 40 examples in batches of 4: 10 updates an epoch, 20 in all; warm-up 20% = the first 4 updates.
CFG = TrainConfig(epochs=2, batch_size=4, lr=1e-3, weight_decay=0.1, warmup=0.2, max_length=16, device="cpu")
N = 40


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny model's small matrices run slower split over threads (much slower on a busy machine; see run_context)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_data(n: int = N, seed: int = 0, num_labels: int = 3) -> Encoded:
    """Random token ids of random lengths (no tokenizer): enough for the optimizer to move every weight."""
    rng = np.random.default_rng(seed)
    ids = [rng.integers(2, VOCAB, int(rng.integers(2, 12))).tolist() for _ in range(n)]
    return Encoded(ids, [[0] * len(x) for x in ids], rng.integers(0, num_labels, n), np.arange(n), 0)


def model() -> torch.nn.Module:
    """The tiny BERT with its default dropout, so that the tests also cover the dropout's random stream."""
    return tiny_bert(0, init=0.02)


def expected_lrs(cfg: TrainConfig, steps: int) -> list[float]:
    """The schedule's closed form: update k (1, 2, ...) runs at peak * min(k / warm, (steps - k + 1) / (steps - warm)):
    a linear warm-up that reaches the peak at update `warm`, then a linear decay that reaches 0 after the last update."""
    warm = int(cfg.warmup * steps)
    return [cfg.lr * min(k / warm if warm else 1.0, (steps - k + 1) / (steps - warm)) for k in range(1, steps + 1)]


def recorded_lrs(monkeypatch, cfg: TrainConfig, **kwargs) -> list[list[float]]:
    """The learning rate of each parameter group at every update `fine_tune` makes."""
    lrs = []
    real = diet.model.train.make_optimizer

    def recording(net, config, steps):
        optimizer, schedule = real(net, config, steps)
        optimizer.register_step_pre_hook(lambda opt, args, kw: lrs.append([g["lr"] for g in opt.param_groups]))
        return optimizer, schedule

    monkeypatch.setattr(diet.model.train, "make_optimizer", recording)
    fine_tune(model(), toy_data(), cfg, seed=0, progress=False, **kwargs)
    return lrs


@pytest.mark.parametrize("warmup", [0.2, 0.0])
def test_every_update_runs_at_the_closed_form_learning_rate(monkeypatch, warmup):
    cfg = replace(CFG, warmup=warmup)
    steps = total_steps(N, cfg)
    assert steps == 20
    lrs = recorded_lrs(monkeypatch, cfg)
    assert len(lrs) == steps
    assert all(a == b for a, b in lrs)  # both parameter groups follow one schedule
    assert [a for a, _ in lrs] == pytest.approx(expected_lrs(cfg, steps), rel=1e-12, abs=0)
    if warmup:
        assert lrs[0][0] == pytest.approx(cfg.lr / 4) and lrs[3][0] == pytest.approx(cfg.lr)  # rising to the peak at update 4
        assert lrs[4][0] == pytest.approx(cfg.lr) and lrs[-1][0] == pytest.approx(cfg.lr / 16)  # then falling by peak / 16 an update
    else:
        assert lrs[0][0] == pytest.approx(cfg.lr) and lrs[-1][0] == pytest.approx(cfg.lr / 20)


def test_the_schedule_ends_at_zero_after_the_last_update():
    optimizer, schedule = make_optimizer(model(), CFG, 20)
    for _ in range(20):
        optimizer.step()
        schedule.step()
    assert schedule.get_last_lr() == [0.0, 0.0]


def test_stop_after_keeps_the_full_length_schedule(monkeypatch):
    full = recorded_lrs(monkeypatch, CFG)
    stopped = recorded_lrs(monkeypatch, CFG, stop_after=13)
    assert len(stopped) == 13 and stopped == full[:13]


def test_a_run_stopped_at_step_s_is_the_full_run_at_step_s():
    """Bitwise on the CPU, with dropout on and the stop in the second epoch."""
    data, seen = toy_data(), {}

    def keep(net, step):
        seen[step] = {k: v.detach().clone() for k, v in net.state_dict().items()}

    fine_tune(model(), data, CFG, seed=3, callbacks={13: keep, 20: keep}, progress=False)
    stopped = fine_tune(model(), data, CFG, seed=3, stop_after=13, progress=False).state_dict()
    assert stopped.keys() == seen[13].keys()
    for name, value in stopped.items():
        assert torch.equal(value, seen[13][name]), name
    assert not torch.equal(seen[13]["classifier.weight"], seen[20]["classifier.weight"])  # the run went on after step 13


def test_biases_and_layer_norm_weights_are_kept_out_of_weight_decay():
    net = model()
    net.bert.embeddings.token_type_embeddings.weight.requires_grad_(False)  # frozen: in no group
    optimizer, _ = make_optimizer(net, CFG, 20)
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == CFG.weight_decay and no_decay["weight_decay"] == 0.0
    name = {id(p): n for n, p in net.named_parameters()}
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    exempt = {n for n in trainable if n.endswith(".bias") or ".LayerNorm." in n}
    assert {name[id(p)] for p in no_decay["params"]} == exempt
    assert {name[id(p)] for p in decay["params"]} == trainable - exempt
    assert {"bert.embeddings.LayerNorm.weight", "bert.encoder.layer.0.output.LayerNorm.weight", "classifier.bias"} <= exempt
    assert {"bert.embeddings.word_embeddings.weight", "bert.encoder.layer.1.attention.self.query.weight", "classifier.weight"} <= trainable - exempt

    # One update with zero gradients moves only the decayed weights, each by the factor (1 - lr * weight_decay).
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    shrink = 1 - decay["lr"] * CFG.weight_decay
    for n, p in net.named_parameters():
        if n in trainable - exempt:
            torch.testing.assert_close(p.detach(), before[n] * shrink, rtol=1e-6, atol=0)
            assert not torch.equal(p.detach(), before[n]), n
        else:
            assert torch.equal(p.detach(), before[n]), n


# ------------------------------------------------------------------ per-example gradient norms: input checks, chunks


def padded(lengths: list[int]) -> dict[str, torch.Tensor]:
    return tiny_batch(4, lengths, 3)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("row", [[0, 0, 1, 1, 1, 1], [1, 1, 0, 1, 1, 0]], ids=["left-padded", "a-hole"])
def test_padding_that_is_not_on_the_right_is_refused(method, row):
    batch = padded([6, 4])
    batch["attention_mask"][1] = torch.tensor(row)
    with pytest.raises(ValueError, match=r"attention_mask must be right-padded \(ones, then zeros\) in every row"):
        per_example_grad_norms(tiny_bert(4), batch, method)


@pytest.mark.parametrize("method", METHODS)
def test_an_empty_row_is_refused(method):
    batch = padded([6, 4])
    batch["attention_mask"][1] = 0
    with pytest.raises(ValueError, match="every example needs at least one token; found an all-zero attention_mask row"):
        per_example_grad_norms(tiny_bert(4), batch, method)


def test_vmap_over_several_chunks_equals_the_loop():
    """9 examples of different lengths and labels, in chunks of 1, 2 (the last one short), 4 and all at once."""
    net = tiny_bert(11, hidden=16, heads=2, intermediate=32)
    batch = tiny_batch(11, [7, 3, 12, 5, 9, 1, 12, 4, 6], 3, pairs=True)
    assert len(set(batch["labels"].tolist())) == 3
    exact = per_example_grad_norms(net, batch, "loop")
    for chunk in (1, 2, 4, 16):
        fast = vmap_grad_norms(net, batch, chunk_size=chunk)
        assert float(((fast - exact).abs() / exact).max()) <= 1e-5, chunk
