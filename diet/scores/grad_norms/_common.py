"""Checks and helpers shared by the three per-example gradient-norm methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Batch = dict[str, torch.Tensor]

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def check_eval(model: nn.Module) -> None:
    """Refuse a model in training mode: dropout would make the scores random."""
    training = [name or type(m).__name__ for name, m in model.named_modules() if m.training]
    if training:
        raise ValueError(
            "per-example gradient norms are computed in eval mode (no dropout), but "
            f"{len(training)} modules are in training mode (first: {training[0]!r}); call model.eval() first"
        )


def trim_padding(batch: Batch) -> Batch:
    """Check the batch and drop the columns that are padding in every row.

    Padding must be on the right: each row of `attention_mask` is ones, then zeros.
    """
    missing = [k for k in ("input_ids", "attention_mask", "labels") if k not in batch]
    if missing:
        raise ValueError(f"batch lacks {missing}; it needs input_ids, attention_mask and labels")
    mask = batch["attention_mask"]
    lengths = mask.sum(1)
    positions = torch.arange(mask.shape[1], device=mask.device)
    if not torch.equal(mask.bool(), positions[None, :] < lengths[:, None]):
        raise ValueError("attention_mask must be right-padded (ones, then zeros) in every row")
    if bool((lengths == 0).any()):
        raise ValueError("every example needs at least one token; found an all-zero attention_mask row")
    longest = int(lengths.max())
    return {k: (v[:, :longest] if k in MODEL_INPUTS else v) for k, v in batch.items()}


def model_inputs(batch: Batch) -> Batch:
    """The entries of `batch` that the model's forward takes."""
    return {k: batch[k] for k in MODEL_INPUTS if k in batch}


def summed_loss(forward: Callable[..., Any], inputs: Batch, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of `forward(**inputs).logits` summed over the batch.

    Summing (not averaging) makes each example's gradient its own.
    """
    logits = forward(**inputs).logits
    return F.cross_entropy(logits.float(), labels, reduction="sum")


def trainable(model: nn.Module) -> dict[str, nn.Parameter]:
    """The parameters whose gradient norm is measured: those with requires_grad."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}
