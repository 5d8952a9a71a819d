"""Seeded fine-tuning with callbacks at chosen steps, and test-set evaluation."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from diet.progress import bars_off
from diet.model.batching import Encoded, collate, gathered, length_sorted_batches, training_batches
from diet.model.config import TrainConfig
from diet.model.steps import steps_per_epoch

StepCallback = Callable[[torch.nn.Module, int], None]


def total_steps(n_train: int, cfg: TrainConfig) -> int:
    return max(1, math.ceil(cfg.epochs * steps_per_epoch(n_train, cfg.batch_size)))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, steps: int):
    """AdamW (no decay on biases and LayerNorm weights) with linear warm-up then linear decay; torch's
    fused kernel when `cfg.fused_adamw` (otherwise torch's default implementation for the device)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        **({"fused": True} if cfg.fused_adamw else {}),
    )
    warm = int(cfg.warmup * steps)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (steps - step) / max(1, steps - warm))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fine_tune(
    model: torch.nn.Module,
    data: Encoded,
    cfg: TrainConfig,
    seed: int,
    callbacks: dict[int, StepCallback] | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    desc: str = "fine-tune",
) -> torch.nn.Module:
    """Train in place. The seed fixes data order and dropout; callbacks[s] runs after s updates.

    Batches are a plain seeded shuffle, or grouped by length when `cfg.length_chunk` is set; the
    forward pass runs under bf16 autocast when the config runs bf16 (`cfg.precision`).

    Training stops after `stop_after` updates when given (the learning-rate schedule is still the
    one of the full `cfg.epochs`), so scoring runs stop at their last scoring step.
    """
    callbacks = dict(callbacks or {})
    device = cfg.torch_device()
    model.to(device)
    steps = total_steps(len(data), cfg)
    last = steps if stop_after is None else min(steps, stop_after)
    if callbacks and max(callbacks) > steps:
        raise ValueError(f"a callback at step {max(callbacks)} lies past the end of training ({steps} steps)")
    optimizer, schedule = make_optimizer(model, cfg, steps)
    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    step = 0
    _run_callback(callbacks, model, step)
    bar = tqdm(total=last, desc=desc, disable=bars_off(progress), unit="step", leave=False)
    while step < last:
        for positions in training_batches(data, cfg.batch_size, order, cfg.length_chunk):
            if step >= last:
                break
            model.train()
            batch = collate(data, positions, device)
            with cfg.autocast():
                loss = model(**batch).loss
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            _run_callback(callbacks, model, step)
    bar.close()
    model.eval()
    return model


def _run_callback(callbacks: dict[int, StepCallback], model: torch.nn.Module, step: int) -> None:
    if step in callbacks:
        was_training = model.training
        model.eval()
        callbacks[step](model, step)
        model.train(was_training)


@torch.no_grad()
def predict(model: torch.nn.Module, data: Encoded, cfg: TrainConfig, progress: bool = False) -> np.ndarray:
    """Predicted labels in the order of `data` (batched by length, eval mode)."""
    device = cfg.torch_device()
    model.to(device).eval()
    parts = []
    for positions in tqdm(length_sorted_batches(data, cfg.eval_batch_size), desc="predict", disable=bars_off(progress), leave=False):
        batch = collate(data, positions, device)
        batch.pop("labels")
        with cfg.autocast():
            logits = model(**batch).logits
        parts.append((positions, logits.argmax(-1)))
    return gathered(parts, len(data), np.int64)


def accuracy(model: torch.nn.Module, data: Encoded, cfg: TrainConfig, progress: bool = False) -> float:
    return float((predict(model, data, cfg, progress) == data.labels).mean())
