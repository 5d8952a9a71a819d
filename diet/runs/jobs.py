"""The one shape of a stored job: scoring, retraining, training-dynamics and training-predictions runs alike.

A job knows its store kind, its key (the config dict the store hashes into the entry's name), how to
compute its frame, a stand-in frame of the same shape for planning, and what it costs. The store
(`Store.result`), the plan (diet.grid.plan) and the executors (diet.grid) use only this.
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from typing import ClassVar

import pandas as pd

from diet.data.fingerprint import split_fingerprint
from diet.data.splits import Split
from diet.model.config import TrainConfig
from diet.model.steps import steps_per_epoch

_FINGERPRINTS: dict[int, str] = {}  # id of a live split -> its fingerprint


def fingerprint(split: Split) -> str:
    """`split_fingerprint`, hashed once per split object: a plan keys hundreds of runs on the same splits."""
    known = _FINGERPRINTS.get(id(split))
    if known is None:
        known = _FINGERPRINTS[id(split)] = split_fingerprint(split)
        weakref.finalize(split, _FINGERPRINTS.pop, id(split), None)  # the id may name another split once this one is gone
    return known


class StoredJob(ABC):
    """A picklable run whose frame the store keeps under `kind`/`config_key(key())`."""

    kind: ClassVar[str]  # the store's folder for this kind of run
    # Whether other runs can be made from this run's frame (scores pick retraining subsets): the plan then
    # runs a second pass with other stand-ins, and the executor plans again when such a run finishes.
    feeds_plan: ClassVar[bool] = True
    model: str
    cfg: TrainConfig

    @abstractmethod
    def key(self) -> dict:
        """The config the store hashes: every setting the frame depends on, and nothing else."""

    @abstractmethod
    def __call__(self) -> pd.DataFrame:
        """Compute the run's frame."""

    @abstractmethod
    def placeholder(self, variant: int) -> pd.DataFrame:
        """A stand-in frame of the right shape for planning (`variant` picks one of several random ones)."""

    @abstractmethod
    def work(self) -> float:
        """Example-passes of fine-tuning and scoring the run costs: the unit of cost estimates."""

    def wall_seconds(self, frame: pd.DataFrame) -> float | None:
        """The whole run's wall seconds as its stored frame records them, or None when it records none."""
        return None

    def _passes(self, n: int, steps: int, eval_passes: float) -> float:
        """Work of fine-tuning on `n` examples for `steps` updates plus `eval_passes` forward passes over them
        (a forward pass costs a third of a training pass), scaled by the token length."""
        return self.cfg.max_length / 64 * n * (steps / steps_per_epoch(n, self.cfg.batch_size) + eval_passes)
