"""Tokenised splits and batches with dynamic padding; length-sorted order for inference, length-grouped
random batches for training."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Iterator

import numpy as np
import torch

from diet.data.fingerprint import split_fingerprint
from diet.data.splits import Split


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

    @cached_property
    def packed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every example's token ids and token type ids end to end, with each example's start and length: built
        once, so that `collate` pads a batch with a few array operations instead of a Python loop over its rows."""
        lengths = self.lengths
        if any(len(t) != n for t, n in zip(self.token_type_ids, lengths)):
            raise ValueError("every example needs as many token type ids as token ids")
        starts = np.zeros(len(self), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        total = int(lengths.sum())
        ids = np.fromiter(chain.from_iterable(self.input_ids), dtype=np.int64, count=total)
        types = np.fromiter(chain.from_iterable(self.token_type_ids), dtype=np.int64, count=total)
        return ids, types, starts, lengths


_ENCODE_CACHE: OrderedDict[tuple, Encoded] = OrderedDict()
ENCODE_CACHE_SIZE = 16  # splits kept per process: a task's test split and the last few training subsets


def encode(split: Split, tokenizer, max_length: int) -> Encoded:
    """Tokenise a split, truncating to max_length; once per process for the same split content,
    tokenizer and max_length (the last ENCODE_CACHE_SIZE are kept). Encoded is frozen and never
    changed in place, so runs can share it."""
    key = (split_fingerprint(split), type(tokenizer).__name__, getattr(tokenizer, "name_or_path", ""), len(tokenizer), max_length)
    if key in _ENCODE_CACHE:
        _ENCODE_CACHE.move_to_end(key)
        return _ENCODE_CACHE[key]
    encoded = _tokenise(split, tokenizer, max_length)
    _ENCODE_CACHE[key] = encoded
    while len(_ENCODE_CACHE) > ENCODE_CACHE_SIZE:
        _ENCODE_CACHE.popitem(last=False)
    return encoded


def clear_encode_cache() -> None:
    _ENCODE_CACHE.clear()


def _tokenise(split: Split, tokenizer, max_length: int) -> Encoded:
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
    flat_ids, flat_types, starts, lengths = data.packed
    positions = np.asarray(positions, dtype=np.int64)
    n = lengths[positions]
    columns = np.arange(int(n.max()))
    inside = columns[None, :] < n[:, None]
    index = np.where(inside, starts[positions][:, None] + columns[None, :], 0)  # 0: any valid index, masked out
    ids = np.where(inside, flat_ids[index], data.pad_id)
    types = np.where(inside, flat_types[index], 0)
    batch = {"input_ids": torch.from_numpy(ids), "token_type_ids": torch.from_numpy(types), "attention_mask": torch.from_numpy(inside.astype(np.int64)),
             "labels": torch.as_tensor(data.labels[positions])}
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[np.ndarray]:
    """Positions of one epoch in seeded random order, in batches."""
    order = torch.randperm(n, generator=generator).numpy()
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def length_grouped_batches(lengths: np.ndarray, batch_size: int, generator: torch.Generator, chunk: int) -> list[np.ndarray]:
    """Positions of one epoch in batches of similar length, still seeded and random at the batch level.

    The examples are shuffled, cut into runs of `chunk` batches (chunk * batch_size examples),
    each run is sorted by length (stable, so equal lengths keep their random order) and cut into
    batches, and the order of all batches is shuffled. Every example appears once per epoch, and
    there are as many batches as in `shuffled_batches` (only the last run may end in a short one).
    """
    if chunk < 1:
        raise ValueError(f"chunk is a number of batches, at least 1; got {chunk}")
    lengths = np.asarray(lengths)
    order = torch.randperm(len(lengths), generator=generator).numpy()
    span = chunk * batch_size
    batches = []
    for start in range(0, len(order), span):
        run = order[start : start + span]
        run = run[np.argsort(lengths[run], kind="stable")]
        batches.extend(run[i : i + batch_size] for i in range(0, len(run), batch_size))
    shuffle = torch.randperm(len(batches), generator=generator).numpy()
    return [batches[i] for i in shuffle]


def training_batches(data: Encoded, batch_size: int, generator: torch.Generator, length_chunk: int = 0) -> Iterator[np.ndarray]:
    """One epoch of training batches: a plain shuffle (length_chunk 0) or length-grouped ones."""
    if length_chunk:
        yield from length_grouped_batches(data.lengths, batch_size, generator, length_chunk)
    else:
        yield from shuffled_batches(len(data), batch_size, generator)


def length_sorted_batches(data: Encoded, batch_size: int) -> list[np.ndarray]:
    """Batches of similar length (little padding) for inference; results go back by position."""
    order = np.argsort(data.lengths, kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def gathered(parts: list[tuple[np.ndarray, torch.Tensor]], n: int, dtype=np.float64) -> np.ndarray:
    """Per-batch values (positions, a tensor on any device) back in the data's order, copied to the host once:
    no synchronisation with a GPU between batches, so the host prepares the next batch while the device computes."""
    result = np.empty(n, dtype=dtype)
    if parts:
        result[np.concatenate([p for p, _ in parts])] = torch.cat([v.reshape(-1) for _, v in parts]).cpu().numpy()
    return result
