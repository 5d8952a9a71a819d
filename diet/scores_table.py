"""The scores table: one row per (example, score, step, run), with its config beside it on disk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.splits import Split
from diet.store import write_json, write_table

COLUMNS = ("example_id", "label", "score", "step", "epoch", "run", "value")


@dataclass
class ScoresTable:
    """Raw per-run scores in long form; `mean` averages over runs."""

    frame: pd.DataFrame
    config: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in COLUMNS if c not in self.frame.columns]
        if missing:
            raise DietError(f"a scores table needs columns {list(COLUMNS)}; missing {missing}")
        bad = self.frame[self.frame["value"].isna()]
        if len(bad):
            first = bad.iloc[0]
            raise DietError(
                f"scores hold {len(bad)} NaN values (first: score {first['score']}, step {first['step']}, run {first['run']}); "
                "the fine-tuning likely diverged: lower the learning rate or check the data, then rescore"
            )

    @property
    def names(self) -> list[str]:
        return sorted(self.frame["score"].unique())

    @property
    def steps(self) -> list[int]:
        return sorted(int(s) for s in self.frame["step"].unique())

    @property
    def runs(self) -> list[int]:
        return sorted(int(r) for r in self.frame["run"].unique())

    def epochs(self) -> dict[int, float]:
        """Step -> epoch for the steps in the table."""
        pairs = self.frame[["step", "epoch"]].drop_duplicates()
        return {int(s): float(e) for s, e in zip(pairs["step"], pairs["epoch"])}

    def labels(self) -> pd.Series:
        """Gold label per example id."""
        first = self.frame.drop_duplicates("example_id").set_index("example_id")["label"]
        return first.sort_index()

    def mean(self, score: str, step: int | None = None) -> pd.Series:
        """Mean over runs of one score at one step (default: the last), indexed by example id."""
        if score not in self.names:
            raise DietError(f"score {score!r} is not in this table; it has {', '.join(self.names)}")
        step = self.steps[-1] if step is None else int(step)
        if step not in self.steps:
            raise DietError(f"step {step} is not in this table; it has steps {self.steps}")
        rows = self.frame[(self.frame["score"] == score) & (self.frame["step"] == step)]
        return rows.groupby("example_id")["value"].mean().rename(f"{score}@{step}")

    def check_matches(self, split: Split) -> None:
        """Refuse to prune a dataset with scores computed on another one."""
        labels = self.labels()
        ids = np.sort(split.ids)
        if len(labels) != len(ids) or not np.array_equal(labels.index.to_numpy(), ids):
            extra = len(set(labels.index) - set(split.ids.tolist()))
            raise DietError(
                f"the scores table covers {len(labels)} examples but the training split has {len(ids)} "
                f"({extra} scored ids are not in it): these scores were computed for another task, size or seed. "
                "Recompute them with the same --task, --n-train and seed"
            )
        order = np.argsort(split.ids)
        if not np.array_equal(labels.to_numpy(), split.labels[order]):
            raise DietError("the scores table's labels differ from the training split's: it was computed on other data; recompute it")

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        write_table(folder / "scores.parquet", self.frame)
        means = self.frame.groupby(["example_id", "label", "score", "step", "epoch"], as_index=False)["value"].mean()
        write_table(folder / "scores_mean.csv", means)
        write_json(folder / "config.json", self.config)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "ScoresTable":
        folder = Path(folder)
        path = folder / "scores.parquet" if folder.is_dir() else folder
        if not path.exists():
            raise DietError(f"no scores table at {path}; create one with `diet score --out {folder}`")
        config_path = path.parent / "config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        return cls(pd.read_parquet(path), config)
