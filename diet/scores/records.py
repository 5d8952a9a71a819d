"""What the training-dynamics scores are computed from: the checkpoint schedule and the record pass at each checkpoint.

`diet score` (diet.runs.dynamics) and a user's own training (diet.integrations) both record through these.
"""

from __future__ import annotations

import numpy as np
import torch

from diet.errors import DietError
from diet.model.batching import Encoded, collate, length_sorted_batches
from diet.model.config import TrainConfig


def checkpoint_steps(steps, per_epoch: int, per_epoch_checkpoints: int) -> list[int]:
    """`per_epoch_checkpoints` checkpoints per epoch (at k / per_epoch_checkpoints epochs, to the nearest
    update, halves up) up to the last of `steps`, with every step of `steps` after 0 added; never update 0."""
    if isinstance(per_epoch_checkpoints, bool) or not isinstance(per_epoch_checkpoints, (int, np.integer)) or per_epoch_checkpoints < 1:
        raise DietError(f"dynamics_per_epoch is the number of checkpoints per epoch, a whole number >= 1; got {per_epoch_checkpoints!r}")
    steps = [int(s) for s in steps]
    last, d = max(steps), int(per_epoch_checkpoints)
    if last < 1:
        raise DietError("training-dynamics records need training: ask for their scores at a step after 0 (e.g. 1ep)")
    grid = {(2 * k * per_epoch + d) // (2 * d) for k in range(1, last * d // max(1, per_epoch) + 2)}
    return sorted({s for s in grid if 1 <= s <= last} | {s for s in steps if s > 0})


@torch.no_grad()
def record_pass(model: torch.nn.Module, data: Encoded, cfg: TrainConfig) -> dict[str, np.ndarray]:
    """Gold-label probability, predicted label and margin (gold logit - largest other) of every example, in eval mode."""
    if model.training:
        raise DietError("training-dynamics records are taken in eval mode (no dropout): call model.eval() first")
    device = cfg.torch_device()
    out = {"gold_prob": np.empty(len(data)), "predicted": np.empty(len(data), dtype=np.int64), "margin": np.empty(len(data))}
    for positions in length_sorted_batches(data, cfg.eval_batch_size):
        batch = collate(data, positions, device)
        labels = batch.pop("labels")[:, None]
        with cfg.autocast():
            logits = model(**batch).logits.float()
        others = logits.scatter(1, labels, float("-inf"))
        out["gold_prob"][positions] = logits.softmax(-1).gather(1, labels)[:, 0].double().cpu().numpy()
        out["predicted"][positions] = logits.argmax(-1).cpu().numpy()
        out["margin"][positions] = (logits.gather(1, labels)[:, 0] - others.max(-1).values).double().cpu().numpy()
    return out
