"""Tokenised splits and batches with dynamic padding; length-sorted order for inference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from diet.splits import Split


@dataclass(frozen=True)
class Encoded:
    """A tokenised split: one list of token ids per example (no padding yet)."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    labels: np.ndarray
    ids: np.ndarray
    pad_id: int

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.input_ids), dtype=np.int64, count=len(self))


def encode(split: Split, tokenizer, max_length: int) -> Encoded:
    """Tokenise a split once, truncating to max_length."""
    out = tokenizer(
        list(split.text),
        list(split.text_pair) if split.text_pair is not None else None,
        truncation=True,
        max_length=max_length,
        return_token_type_ids=True,
        return_attention_mask=False,
    )
    return Encoded(out["input_ids"], out["token_type_ids"], split.labels, split.ids, tokenizer.pad_token_id or 0)


def collate(data: Encoded, positions: np.ndarray, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """A padded batch (right padding) of the examples at `positions`."""
    width = max(len(data.input_ids[i]) for i in positions)
    ids = torch.full((len(positions), width), data.pad_id, dtype=torch.long)
    types = torch.zeros((len(positions), width), dtype=torch.long)
    mask = torch.zeros((len(positions), width), dtype=torch.long)
    for row, i in enumerate(positions):
        n = len(data.input_ids[i])
        ids[row, :n] = torch.tensor(data.input_ids[i])
        types[row, :n] = torch.tensor(data.token_type_ids[i])
        mask[row, :n] = 1
    batch = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": torch.as_tensor(data.labels[positions])}
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[np.ndarray]:
    """Positions of one epoch in seeded random order, in batches."""
    order = torch.randperm(n, generator=generator).numpy()
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def length_sorted_batches(data: Encoded, batch_size: int) -> list[np.ndarray]:
    """Batches of similar length (little padding) for inference; results go back by position."""
    order = np.argsort(data.lengths, kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
