"""Per-example scores behind a registry: EL2N, loss, GraNd over the head and over all weights
(and the scores from training dynamics, which diet.scores.dynamics registers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from diet.progress import bars_off
from diet.model.batching import Encoded, collate, gathered, length_sorted_batches
from diet.model.config import TrainConfig
from diet.errors import DietError, did_you_mean


@dataclass(frozen=True)
class HeadOutputs:
    """What output-based scores read: float32 logits, gold labels, the classifier's input."""

    logits: torch.Tensor
    labels: torch.Tensor
    head_input: torch.Tensor


@dataclass(frozen=True)
class Score:
    name: str
    kind: Literal["output", "gradient", "dynamics"]
    fn: Callable
    doc: str


SCORES: dict[str, Score] = {}


def register_score(name: str, kind: Literal["output", "gradient", "dynamics"]):
    """Register a score: output scores take HeadOutputs, gradient scores take (model, batch, method),
    dynamics scores take one run's records at its checkpoints (diet.scores.dynamics.Checkpoints)."""

    def wrap(fn: Callable) -> Callable:
        SCORES[name] = Score(name, kind, fn, (fn.__doc__ or "").strip().splitlines()[0])
        return fn

    return wrap


def check_score_names(names) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise DietError(f"no scores asked for. {did_you_mean('', list(SCORES))}")
    for name in names:
        if name not in SCORES:
            raise DietError(f"unknown score {name!r}. {did_you_mean(name, list(SCORES))}")
    return names


def error_vector(out: HeadOutputs) -> torch.Tensor:
    return out.logits.softmax(-1) - F.one_hot(out.labels, out.logits.shape[-1]).float()


@register_score("el2n", "output")
def el2n(out: HeadOutputs) -> torch.Tensor:
    """L2 norm of the error vector softmax(f(x)) - onehot(y)."""
    return error_vector(out).norm(dim=-1)


@register_score("loss", "output")
def loss(out: HeadOutputs) -> torch.Tensor:
    """Cross-entropy loss of the example."""
    return F.cross_entropy(out.logits, out.labels, reduction="none")


@register_score("grand_head", "output")
def grand_head(out: HeadOutputs) -> torch.Tensor:
    """Gradient norm over the linear classification head: ||p - y|| * sqrt(1 + ||h||^2)."""
    return error_vector(out).norm(dim=-1) * torch.sqrt(1.0 + out.head_input.pow(2).sum(-1))


@register_score("grand_full", "gradient")
def grand_full(model: torch.nn.Module, batch: dict, method: str) -> torch.Tensor:
    """Gradient norm over all trainable weights (exact; `method` picks ghost, vmap or loop)."""
    from diet.scores.grad_norms import per_example_grad_norms

    return per_example_grad_norms(model, batch, method=method)


def classifier_layer(model: torch.nn.Module) -> torch.nn.Linear:
    """The single linear classification head whose input grand_head needs."""
    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear):
        raise DietError(
            f"grand_head uses the closed form for a single linear head, but this model's classifier is {type(head).__name__}; "
            "use grand_full instead, or a BERT-style model"
        )
    return head


@torch.no_grad()
def head_outputs(model: torch.nn.Module, batch: dict, cfg: TrainConfig) -> HeadOutputs:
    """One eval-mode forward pass, keeping the logits and the classifier's input."""
    captured = {}
    hook = classifier_layer(model).register_forward_pre_hook(lambda _m, args: captured.__setitem__("h", args[0]))
    try:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with cfg.autocast():
            logits = model(**inputs).logits
    finally:
        hook.remove()
    return HeadOutputs(logits.float(), batch["labels"], captured["h"].float())


def score_examples(
    model: torch.nn.Module,
    data: Encoded,
    names: list[str],
    cfg: TrainConfig,
    grand_method: str = "ghost",
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Every named score for every example of `data` (in its order), in eval mode."""
    if model.training:
        raise DietError("scores are computed in eval mode (no dropout): call model.eval() first")
    names = check_score_names(names)
    dynamic = [n for n in names if SCORES[n].kind == "dynamics"]
    if dynamic:
        raise DietError(f"{', '.join(dynamic)} come from a run's records at many checkpoints, not from one model: "
                        "compute them with diet.score(...) (or `diet score --scores ...`)")
    device = cfg.torch_device()
    model.to(device)
    parts: dict[str, list] = {name: [] for name in names}  # (positions, scores still on the device) per batch
    output_names = [n for n in names if SCORES[n].kind == "output"]
    gradient_names = [n for n in names if SCORES[n].kind == "gradient"]
    if output_names:
        for positions in tqdm(length_sorted_batches(data, cfg.eval_batch_size), desc="score", disable=bars_off(progress), leave=False):
            out = head_outputs(model, collate(data, positions, device), cfg)
            for name in output_names:
                parts[name].append((positions, SCORES[name].fn(out).double()))
    for name in gradient_names:
        for positions in tqdm(length_sorted_batches(data, cfg.batch_size), desc=name, disable=bars_off(progress), leave=False):
            batch = collate(data, positions, device)
            with cfg.autocast():
                values = SCORES[name].fn(model, batch, grand_method)
            parts[name].append((positions, values.double()))
    return {name: gathered(parts[name], len(data), np.float64) for name in names}

