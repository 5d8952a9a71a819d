"""Per-example squared gradient norms of one layer's parameters, from its input and output grad.

Each function takes the module, its input `x` (token ids for an embedding) and the
gradient `g` of the summed loss w.r.t. its output, both with the batch first, and
returns float32 [B]: the squared norm of the module's trainable parameters' gradient
for each example. Only modules in `SQUARED_NORMS` are supported by the ghost method.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

SquaredNorm = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
SQUARED_NORMS: dict[type[nn.Module], SquaredNorm] = {}


def register(kind: type[nn.Module]) -> Callable[[SquaredNorm], SquaredNorm]:
    """Decorator: use the function for modules of type `kind` (and its subclasses)."""

    def add(fn: SquaredNorm) -> SquaredNorm:
        SQUARED_NORMS[kind] = fn
        return fn

    return add


def squared_norm_for(module: nn.Module) -> SquaredNorm | None:
    """The registered function for `module`, or None when its type is not supported."""
    return next((fn for kind, fn in SQUARED_NORMS.items() if isinstance(module, kind)), None)


def _trains(p: torch.Tensor | None) -> bool:
    return p is not None and p.requires_grad


def _tokens(t: torch.Tensor, width: int) -> torch.Tensor:
    """[B, ..., width] -> float32 [B, T, width], all middle dims folded into T."""
    return t.reshape(t.shape[0], -1, width).float()


def _outer_sum(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """‖Σ_t g_t a_tᵀ‖² per example for a [B,T,in] and g [B,T,out].

    The ghost norm Σ_{t,s}(a_t·a_s)(g_t·g_s) needs two [B,T,T] Gram matrices, the
    materialised [B,out,in] gradient needs in·out per example: take the smaller.
    """
    t, d_in, d_out = a.shape[1], a.shape[2], g.shape[2]
    if t == 1:
        return a.pow(2).sum((1, 2)) * g.pow(2).sum((1, 2))
    if 2 * t * t <= d_in * d_out:
        return torch.bmm(a, a.mT).mul_(torch.bmm(g, g.mT)).sum((1, 2))
    return torch.bmm(g.mT, a).pow_(2).sum((1, 2))


@register(nn.Linear)
def linear(module: nn.Linear, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Weight: ‖Σ_t g_t x_tᵀ‖²; bias: ‖Σ_t g_t‖²."""
    g = _tokens(g, module.out_features)
    sq = g.new_zeros(g.shape[0])
    if _trains(module.weight):
        sq += _outer_sum(_tokens(x, module.in_features), g)
    if _trains(module.bias):
        sq += g.sum(1).pow(2).sum(1)
    return sq


@register(nn.LayerNorm)
def layer_norm(module: nn.LayerNorm, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Weight: ‖Σ_t g_t ⊙ x̂_t‖² with x̂ recomputed from x; bias: ‖Σ_t g_t‖²."""
    width = math.prod(module.normalized_shape)
    g = _tokens(g, width)
    sq = g.new_zeros(g.shape[0])
    if _trains(module.weight):
        x_hat = F.layer_norm(x.float(), module.normalized_shape, eps=module.eps)
        sq += (g * _tokens(x_hat, width)).sum(1).pow(2).sum(1)
    if _trains(module.bias):
        sq += g.sum(1).pow(2).sum(1)
    return sq


@register(nn.Embedding)
def embedding(module: nn.Embedding, ids: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """‖Σ_t e_{id_t} g_tᵀ‖² = Σ_{t,s: id_t = id_s} g_t·g_s, exact for repeated tokens.

    Tokens equal to `padding_idx` get no gradient, as in nn.Embedding's backward.
    """
    if module.scale_grad_by_freq:
        raise TypeError("ghost norms do not support nn.Embedding(scale_grad_by_freq=True); use 'loop' or 'vmap'")
    ids = ids.reshape(ids.shape[0], -1)
    g = _tokens(g, module.embedding_dim)
    if module.padding_idx is not None:
        g = g * (ids != module.padding_idx).unsqueeze(-1)
    same = ids.unsqueeze(2) == ids.unsqueeze(1)
    return torch.bmm(g, g.mT).mul_(same).sum((1, 2))
