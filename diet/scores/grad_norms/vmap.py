"""Per-example gradient norms with torch.func: vmap over grad of a functional call."""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from transformers.masking_utils import create_bidirectional_mask

from diet.scores.grad_norms._common import Batch, check_eval, model_inputs, summed_loss, trainable, trim_padding


def _attention_bias(model: nn.Module, mask: torch.Tensor) -> torch.Tensor:
    """The model's own 4D attention mask [B,1,T,T], built outside vmap.

    Built inside, transformers checks `mask.all()` to skip it, which vmap cannot trace.
    """
    dtype = next(model.parameters()).dtype
    shape_only = torch.empty(*mask.shape, 0, dtype=dtype, device=mask.device)
    return create_bidirectional_mask(
        config=model.config, inputs_embeds=shape_only, attention_mask=mask, allow_is_bidirectional_skip=False
    )


def vmap_grad_norms(model: nn.Module, batch: Batch, chunk_size: int = 16) -> torch.Tensor:
    """Per-example ‖∇θ CE‖ over all trainable parameters, `chunk_size` examples at a time.

    Only one chunk's per-example gradients exist at once; each is reduced to its
    squared norm inside the vmapped function. Returns float32 [B] on the input's device.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    check_eval(model)
    batch = trim_padding(batch)
    params = {k: p.detach() for k, p in trainable(model).items()}
    frozen = {k: v.detach() for k, v in model.named_parameters() if k not in params}
    constants = {**dict(model.named_buffers()), **frozen}

    def loss(p: dict[str, torch.Tensor], inputs: Batch, label: torch.Tensor) -> torch.Tensor:
        one = {k: v.unsqueeze(0) for k, v in inputs.items()}
        return summed_loss(lambda **kw: functional_call(model, (p, constants), (), kw), one, label[None])

    def squared_norm(inputs: Batch, label: torch.Tensor) -> torch.Tensor:
        grads = grad(loss)(params, inputs, label)
        return sum(g.float().pow(2).sum() for g in grads.values())

    inputs = {**model_inputs(batch), "attention_mask": _attention_bias(model, batch["attention_mask"])}
    with torch.enable_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "There is a performance drop")  # attention has no batching rule
        sq = vmap(squared_norm, chunk_size=chunk_size)(inputs, batch["labels"])
    return sq.sqrt().float()
