"""Per-example gradient norms: the fast paths against the exact loop oracle, and the contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import RobertaConfig, RobertaForSequenceClassification

from diet.scores.grad_norms import METHODS, per_example_grad_norms
from diet.scores.grad_norms.layers import _outer_sum
from tests._tiny import tiny_batch, tiny_bert

TOL = 1e-5  # relative; worst seen 5.1e-6 (float32 sums). diet.runs.scoring tells users the methods agree to 1e-5 in these tests

# hidden, layers, heads, intermediate, num_labels, lengths (right-padded), sentence pairs
CASES = [
    (16, 1, 2, 32, 2, [20, 7, 3, 20], False),
    (16, 2, 4, 32, 3, [9, 20, 1], True),
    (24, 2, 3, 40, 4, [12, 12], True),
    (32, 1, 4, 64, 2, [6, 11, 2, 8], False),
    (48, 2, 2, 64, 3, [16, 5, 10], True),
    (48, 1, 4, 48, 4, [1, 1, 1], False),
]


def rel_err(fast: torch.Tensor, exact: torch.Tensor) -> float:
    return float(((fast - exact).abs() / exact.abs()).max())


@pytest.mark.parametrize("method", ["ghost", "vmap"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_loop(method: str, case: int) -> None:
    hidden, layers, heads, inter, labels, lengths, pairs = CASES[case]
    model = tiny_bert(case, hidden, layers, heads, inter, labels)
    batch = tiny_batch(case, lengths, labels, pairs)
    exact = per_example_grad_norms(model, batch, "loop")
    fast = per_example_grad_norms(model, batch, method)
    assert fast.dtype == torch.float32 and fast.shape == (len(lengths),)
    assert rel_err(fast, exact) <= TOL


@pytest.mark.parametrize("method", METHODS)
def test_padding_invariance(method: str) -> None:
    model = tiny_bert(1, num_labels=3)
    batch = tiny_batch(1, [5, 14, 9], 3, pairs=True)
    alone = {k: v[:1, :5] if v.dim() == 2 else v[:1] for k, v in batch.items()}
    together = per_example_grad_norms(model, batch, method)[0]
    assert abs(float(together / per_example_grad_norms(model, alone, method)[0]) - 1) <= TOL


def test_repeated_tokens_counted_jointly() -> None:
    """Summing per-occurrence norms would be wrong when a token repeats; ghost must not."""
    model = tiny_bert(2)
    batch = tiny_batch(2, [8], 3)
    assert (batch["input_ids"][0] == 7).sum() >= 3
    exact = per_example_grad_norms(model, batch, "loop")
    assert rel_err(per_example_grad_norms(model, batch, "ghost"), exact) <= TOL


@pytest.mark.parametrize("group", ["word_embeddings", "position_embeddings", "token_type_embeddings",
                                   "LayerNorm", "attention.self", "pooler"])
def test_each_layer_kind_alone(group: str) -> None:
    """Only one group trainable, so an error in its formula cannot hide in the total."""
    model = tiny_bert(9, hidden=16, heads=2, intermediate=32)
    for name, p in model.named_parameters():
        p.requires_grad_(group in name)
    batch = tiny_batch(9, [20, 13, 6], 3, pairs=True)
    exact = per_example_grad_norms(model, batch, "loop")
    assert rel_err(per_example_grad_norms(model, batch, "ghost"), exact) <= TOL


def test_roberta_matches_loop() -> None:
    torch.manual_seed(3)
    config = RobertaConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
        intermediate_size=48, max_position_embeddings=40, num_labels=3, type_vocab_size=1, initializer_range=0.5,
    )
    model = RobertaForSequenceClassification(config).eval()
    batch = tiny_batch(3, [10, 4, 7], 3, pad_id=config.pad_token_id)
    exact = per_example_grad_norms(model, batch, "loop")
    assert rel_err(per_example_grad_norms(model, batch, "ghost"), exact) <= TOL


def test_frozen_parameters_excluded_consistently() -> None:
    model = tiny_bert(4)
    for p in [*model.bert.embeddings.parameters(), model.bert.encoder.layer[0].output.LayerNorm.bias,
              model.classifier.bias]:
        p.requires_grad_(False)
    batch = tiny_batch(4, [9, 4], 3, pairs=True)
    exact = per_example_grad_norms(model, batch, "loop")
    for method in ("ghost", "vmap"):
        assert rel_err(per_example_grad_norms(model, batch, method), exact) <= TOL


def test_head_only_matches_closed_form() -> None:
    """With only the classifier trainable: ‖p − y‖·√(1 + ‖h‖²), h the pooled output."""
    model = tiny_bert(5)
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("classifier."))
    batch = tiny_batch(5, [9, 6, 3], 3)
    with torch.no_grad():
        h = model.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).pooler_output
        error = model.classifier(h).softmax(-1) - F.one_hot(batch["labels"], 3)
    expected = error.norm(dim=1) * (1 + h.pow(2).sum(1)).sqrt()
    assert rel_err(per_example_grad_norms(model, batch, "ghost"), expected) <= TOL


@pytest.mark.parametrize("t", [3, 12])
def test_outer_sum_both_branches(t: int) -> None:
    """Ghost norm (small T) and materialised gradient (large T) equal ‖Σ_t g_t a_tᵀ‖²."""
    gen = torch.Generator().manual_seed(t)
    a, g = torch.randn(2, t, 4, generator=gen), torch.randn(2, t, 5, generator=gen)
    expected = torch.einsum("bto,bti->boi", g, a).pow(2).sum((1, 2))
    assert torch.allclose(_outer_sum(a, g), expected, rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_train_mode_refused(method: str) -> None:
    model = tiny_bert(0).train()
    with pytest.raises(ValueError, match=r"eval mode.*model\.eval\(\)"):
        per_example_grad_norms(model, tiny_batch(0, [4], 3), method)


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="'fisher'.*ghost, loop, vmap"):
        per_example_grad_norms(tiny_bert(0), tiny_batch(0, [4], 3), "fisher")


class Scale(nn.Module):
    """A module with its own trainable parameter and no ghost formula."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def test_unsupported_module() -> None:
    model = tiny_bert(6)
    model.classifier = nn.Sequential(Scale(32), model.classifier).eval()
    batch = tiny_batch(6, [5, 3], 3)
    with pytest.raises(TypeError, match=r"Scale.*'loop'.*'vmap'"):
        per_example_grad_norms(model, batch, "ghost")
    exact = per_example_grad_norms(model, batch, "loop")
    assert rel_err(per_example_grad_norms(model, batch, "vmap"), exact) <= TOL


class Twice(nn.Module):
    """Calls the same layer twice: its per-example gradient is not one call's."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) + self.inner(x)


def test_reused_module_refused() -> None:
    model = tiny_bert(10)
    model.classifier = Twice(model.classifier).eval()
    with pytest.raises(ValueError, match="more than once.*'loop' or 'vmap'"):
        per_example_grad_norms(model, tiny_batch(10, [5, 3], 3), "ghost")
    assert hook_count(model) == 0


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules())


def test_no_side_effects() -> None:
    """Repeatable, hooks removed (also after an error), .grad and grad mode untouched."""
    model = tiny_bert(7)
    batch = tiny_batch(7, [8, 5], 3)
    marker = torch.full_like(model.classifier.weight, 3.0)
    model.classifier.weight.grad = marker.clone()
    with torch.no_grad():
        first = per_example_grad_norms(model, batch)
        assert not torch.is_grad_enabled()
    assert torch.equal(first, per_example_grad_norms(model, batch))
    assert hook_count(model) == 0
    assert torch.equal(model.classifier.weight.grad, marker)
    assert all(p.grad is None for n, p in model.named_parameters() if n != "classifier.weight")
    with pytest.raises(IndexError):
        per_example_grad_norms(model, {**batch, "labels": torch.tensor([0, 99])})
    assert hook_count(model) == 0


@pytest.mark.parametrize("device", ["cpu", *(["cuda"] if torch.cuda.is_available() else [])])
def test_bf16_autocast(device: str) -> None:
    model = tiny_bert(8, hidden=48, heads=4, intermediate=64, init=0.02).to(device)
    batch = {k: v.to(device) for k, v in tiny_batch(8, [12, 6, 9], 3, pairs=True).items()}
    exact = per_example_grad_norms(model, batch, "loop")
    with torch.autocast(device, dtype=torch.bfloat16):
        fast = per_example_grad_norms(model, batch, "ghost")
    assert fast.dtype == torch.float32
    assert rel_err(fast, exact) <= 0.05
