"""Exact per-example gradient norms ‖∇θ CE(f(x), y)‖ over all trainable weights (GraNd, full).

Three methods, one signature `(model, batch) -> float32 [B]` on the batch's device:
`ghost` (fast, one forward and one backward), `vmap` (torch.func) and `loop` (the slow
oracle). The model must be in eval mode; parameter `.grad`s are left untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from diet.scores.grad_norms._common import Batch
from diet.scores.grad_norms.ghost import ghost_grad_norms
from diet.scores.grad_norms.loop import loop_grad_norms
from diet.scores.grad_norms.vmap import vmap_grad_norms

__all__ = ["METHODS", "per_example_grad_norms", "ghost_grad_norms", "loop_grad_norms", "vmap_grad_norms"]

_REGISTRY: dict[str, Callable[[nn.Module, Batch], torch.Tensor]] = {
    "ghost": ghost_grad_norms,
    "loop": loop_grad_norms,
    "vmap": vmap_grad_norms,
}
METHODS: tuple[str, ...] = tuple(sorted(_REGISTRY))


def per_example_grad_norms(model: nn.Module, batch: Batch, method: str = "ghost") -> torch.Tensor:
    """Per-example gradient norm of the cross-entropy loss over all trainable parameters.

    `batch` holds input_ids, attention_mask (right-padded), optional token_type_ids and
    labels [B]. Returns float32 [B] on the device of `batch["input_ids"]`.
    """
    if method not in _REGISTRY:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
    return _REGISTRY[method](model, batch)
