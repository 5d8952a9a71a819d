"""Fast per-example gradient norms: one batched forward, one backward, per-layer formulas.

Forward hooks keep each layer's input and put a hook on its output; during the single
backward pass of the summed loss each output-gradient hook adds the layer's per-example
squared norm (see `layers.py`) to a running total and lets the gradient go. Parameter
gradients are never computed: the backward pass asks only for the gradients of the
outputs of the first layers (those whose input needs no gradient, e.g. embeddings).

Under CUDA autocast (bf16) the per-layer formulas run in float32 with autocast off. TF32
products for them were tried and measured on an H200 (benchmarks/README.md): no faster
(bert-base 471 ex/s against 526 with plain float32), so they are not used.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from diet.scores.grad_norms._common import Batch, check_eval, model_inputs, summed_loss, trim_padding
from diet.scores.grad_norms.layers import SQUARED_NORMS, squared_norm_for

def _hooked_modules(model: nn.Module) -> list[nn.Module]:
    """Modules that own trainable parameters; refuse those without a ghost formula."""
    hooked = []
    for name, module in model.named_modules():
        if not any(p.requires_grad for p in module.parameters(recurse=False)):
            continue
        if squared_norm_for(module) is None:
            supported = ", ".join(sorted(k.__name__ for k in SQUARED_NORMS))
            raise TypeError(
                f"method 'ghost' has no per-example formula for {type(module).__name__} ('{name}'), "
                f"which has trainable parameters; it supports {supported}. Use method 'loop' or "
                "'vmap', which support any module, or set requires_grad=False on its parameters"
            )
        hooked.append(module)
    return hooked


def ghost_grad_norms(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Per-example ‖∇θ CE‖ over all trainable parameters, from one forward and one backward.

    Works under CUDA bf16 autocast (the per-layer formulas then run in float32); norms are accumulated in float32.
    Returns float32 [B] on the device of `batch["input_ids"]`.
    """
    check_eval(model)
    batch = trim_padding(batch)
    mask = batch["attention_mask"]
    size = mask.shape[0]
    padded = not bool(mask.all())
    total = torch.zeros(size, dtype=torch.float32, device=mask.device)
    roots: list[torch.Tensor] = []
    called: set[nn.Module] = set()

    def forward_hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        if module in called:
            raise ValueError(
                f"{type(module).__name__} is called more than once per forward pass; "
                "method 'ghost' needs one call per module, use 'loop' or 'vmap'"
            )
        called.add(module)
        x = args[0]
        if output.shape[0] == 1 != size:  # shared across the batch, e.g. position embeddings
            x, output = x.expand(size, *x.shape[1:]), output.expand(size, *output.shape[1:])
        squared_norm = squared_norm_for(module)

        def on_grad(g: torch.Tensor) -> None:
            if padded and g.dim() == 3 and g.shape[:2] == mask.shape:  # padding must add nothing
                g = g * mask.unsqueeze(-1).to(g.dtype)
            with torch.autocast(g.device.type, enabled=False):
                total.add_(squared_norm(module, x, g))

        output.register_hook(on_grad)
        if not x.requires_grad:
            roots.append(output)
        return output

    handles = [m.register_forward_hook(forward_hook) for m in _hooked_modules(model)]
    try:
        with torch.enable_grad():
            loss = summed_loss(model, model_inputs(batch), batch["labels"])
            if roots:
                torch.autograd.grad(loss, roots, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    return total.clamp_min(0).sqrt()
