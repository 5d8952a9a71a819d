"""The exact slow oracle: one forward and backward pass per unpadded example."""

from __future__ import annotations

import torch
from torch import nn

from diet.scores.grad_norms._common import Batch, check_eval, model_inputs, summed_loss, trainable, trim_padding


def loop_grad_norms(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Per-example ‖∇θ CE‖ over all trainable parameters, example by example.

    Each row is cut to its attention_mask length, so padding never enters.
    Returns float32 [B] on the device of `batch["input_ids"]`.
    """
    check_eval(model)
    batch = trim_padding(batch)
    params = list(trainable(model).values())
    inputs, labels = model_inputs(batch), batch["labels"]
    norms = []
    with torch.enable_grad():
        for i, length in enumerate(batch["attention_mask"].sum(1).tolist()):
            example = {k: v[i : i + 1, :length] for k, v in inputs.items()}
            loss = summed_loss(model, example, labels[i : i + 1])
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            sq = sum(g.double().pow(2).sum() for g in grads if g is not None)
            norms.append(torch.as_tensor(sq, dtype=torch.float64).sqrt())
    return torch.stack(norms).float().to(batch["input_ids"].device)
