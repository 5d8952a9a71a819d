"""Splits of a classification task: texts, optional second texts, integer labels, stable ids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diet.errors import DietError


@dataclass(frozen=True)
class Split:
    """One split. `ids` are stable example ids (row numbers in the source split)."""

    text: tuple[str, ...]
    labels: np.ndarray
    ids: np.ndarray
    text_pair: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.text)
        if len(self.labels) != n or len(self.ids) != n:
            raise DietError(f"split columns differ in length: {n} texts, {len(self.labels)} labels, {len(self.ids)} ids")
        if self.text_pair is not None and len(self.text_pair) != n:
            raise DietError(f"split has {n} texts but {len(self.text_pair)} second texts")
        if len(np.unique(self.ids)) != n:
            raise DietError("split ids are not unique")

    def __len__(self) -> int:
        return len(self.text)

    @property
    def is_pair(self) -> bool:
        return self.text_pair is not None

    def take(self, positions: np.ndarray | list[int]) -> "Split":
        """The examples at these positions (0..len-1), in the given order."""
        pos = np.asarray(positions, dtype=np.int64)
        return Split(
            text=tuple(map(self.text.__getitem__, pos.tolist())),
            labels=self.labels[pos],
            ids=self.ids[pos],
            text_pair=None if self.text_pair is None else tuple(map(self.text_pair.__getitem__, pos.tolist())),
        )

    def select_ids(self, ids: np.ndarray | list[int]) -> "Split":
        """The examples with these ids; unknown ids are an error."""
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(self.ids, kind="stable")
        sorted_ids = np.asarray(self.ids, dtype=np.int64)[order]
        slot = np.minimum(np.searchsorted(sorted_ids, ids), max(len(sorted_ids) - 1, 0))
        found = sorted_ids[slot] == ids if len(sorted_ids) else np.zeros(len(ids), dtype=bool)
        missing = [int(e) for e in ids[~found]]
        if missing:
            raise DietError(
                f"{len(missing)} example ids are not in this split (first: {missing[:5]}); "
                "the subset was made for another task, size or seed: rebuild it from scores of this task"
            )
        return self.take(order[slot])

    def class_counts(self, num_labels: int) -> np.ndarray:
        return np.bincount(self.labels, minlength=num_labels)


def stratified_positions(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Positions of a seeded, class-stratified sample of size n (sorted)."""
    total = len(labels)
    if n >= total:
        return np.arange(total)
    if n <= 0:
        raise DietError(f"sample size must be positive, got {n}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / total
    take = np.floor(quota).astype(int)
    remainder = n - take.sum()
    order = np.argsort(-(quota - take), kind="stable")
    take[order[:remainder]] += 1
    chosen = []
    for cls, k in zip(classes, take):
        members = np.flatnonzero(labels == cls)
        chosen.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(chosen))
