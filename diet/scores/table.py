"""The scores table: one row per (example, score, step, run), with its config beside it on disk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from diet.errors import DietError
from diet.data.splits import Split
from diet.model.steps import counts_epochs, in_epochs, resolve_step, steps_per_epoch
from diet.files import read_parquet, write_json, write_table

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
        if not pd.api.types.is_numeric_dtype(self.frame["value"]) or pd.api.types.is_bool_dtype(self.frame["value"]):
            raise DietError(f"the scores table's 'value' column holds {self.frame['value'].dtype} values, not numbers; rescore with `diet score`")
        bad = self.frame[~np.isfinite(self.frame["value"].to_numpy(np.float64))]
        if len(bad):
            first = bad.iloc[0]
            kinds = pd.Series(["NaN" if np.isnan(v) else f"{v:+}" for v in bad["value"].to_numpy(np.float64)]).value_counts().sort_index()
            raise DietError(
                f"scores hold {', '.join(f'{n} {kind}' for kind, n in kinds.items())} values, which cannot be ranked "
                f"(first: score {first['score']}, step {first['step']}, run {first['run']}); "
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
        """Step -> epoch for the steps in the table (worked out once per frame: planning asks often)."""
        cached = self.__dict__.get("_epochs")
        if cached is None or cached[0] is not self.frame:
            pairs = self.frame[["step", "epoch"]].drop_duplicates()
            cached = self.__dict__["_epochs"] = (self.frame, {int(s): float(e) for s, e in zip(pairs["step"], pairs["epoch"])})
        return dict(cached[1])

    def labels(self) -> pd.Series:
        """Gold label per example id."""
        first = self.frame.drop_duplicates("example_id").set_index("example_id")["label"]
        return first.sort_index()

    def updates_per_epoch(self) -> int | None:
        """Updates per epoch of the runs behind the table: from its steps and epochs, else its config; None if unknown."""
        for step, epoch in self.epochs().items():
            if step > 0 and epoch > 0:
                return round(step / epoch)
        train = self.config.get("train_config") or {}
        if self.config.get("n_train") and train.get("batch_size"):
            return steps_per_epoch(int(self.config["n_train"]), int(train["batch_size"]))
        return None

    def step_text(self, step: int) -> str:
        """An update count of this table's runs in both units: 'update 4 = 1ep'."""
        per_epoch = self.updates_per_epoch()
        return f"update {step}" + (f" = {in_epochs(step, per_epoch)}" if per_epoch else "")

    def steps_text(self) -> str:
        """The table's steps in both units: 'update 0 = 0ep, update 4 = 1ep'."""
        return ", ".join(self.step_text(s) for s in self.steps)

    def find_step(self, spec: str | int) -> int:
        """The update count of a step of this table, given as updates (8, "8") or epochs ("2ep");
        a step that is not in the table is named in both units, beside the steps it has."""
        per_epoch = self.updates_per_epoch()
        text = str(spec).strip().lower()
        if counts_epochs(text):
            if per_epoch is None:
                raise DietError(f"cannot tell which update {spec!r} is: this table does not say how many updates an epoch has; give the step as an update count ({self.steps_text()})")
            step = resolve_step(text, per_epoch, 1)  # per_epoch examples at batch 1: per_epoch updates an epoch
            asked = f"step {str(spec).strip()} = update {step}"
        else:
            step = resolve_step(text, 1, 1)
            asked = self.step_text(step)
        if step not in self.steps:
            raise DietError(f"{asked} is not in this table; it has {self.steps_text()}")
        return step

    def mean(self, score: str, step: int | str | None = None) -> pd.Series:
        """Mean over runs of one score at one step (default: the last; updates or epochs, see `find_step`), indexed by example id."""
        if score not in self.names:
            raise DietError(f"score {score!r} is not in this table; it has {', '.join(self.names)}")
        step = self.steps[-1] if step is None else self.find_step(step)
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
        if path.suffix != ".parquet":
            raise DietError(f"{path} is not a scores folder: --scores takes the folder `diet score --out` wrote (it holds scores.parquet), e.g. --scores {path.parent}")
        config_path = path.parent / "config.json"
        try:
            config = json.loads(config_path.read_text()) if config_path.exists() else {}
            frame = read_parquet(path)
        except json.JSONDecodeError as error:
            raise DietError(f"{config_path} is not valid JSON (line {error.lineno}: {error.msg}); rescore with `diet score --out {path.parent}`") from error
        except (OSError, ValueError, ArrowException) as error:
            raise DietError(f"{path} cannot be read ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'damaged'}); rescore with `diet score --out {path.parent}`") from error
        if not isinstance(config, dict):
            raise DietError(f"{config_path} holds a JSON {type(config).__name__}, not the object `diet score` writes; rescore with `diet score --out {path.parent}`")
        return cls(frame, config)
