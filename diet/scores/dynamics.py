"""Scores from training dynamics: forgetting events, data-map confidence and variability, area under the margin.

Each is computed per run from that run's records (diet.runs.dynamics) at its checkpoints up to the step
asked for, then averaged over runs like every score (ScoresTable.mean). The high end is the hard end
of each, so `select(order="top")` keeps the hardest examples:

- `forgetting`: correct -> incorrect transitions between consecutive checkpoints (Toneva et al. 2019);
  an example never predicted correctly gets C // 2 + 1 for C checkpoints, one more than the most
  events C checkpoints allow, so it ranks above every example learned at some checkpoint;
- `low_confidence`: 1 - the mean gold-label probability (Swayamdipta et al. 2020's confidence, turned over);
- `variability`: the standard deviation (over checkpoints, ddof 0) of the gold-label probability;
- `neg_aum`: minus the mean margin, gold logit minus the largest other logit (Pleiss et al. 2020's AUM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from diet.errors import DietError
from diet.scores.ranking import ranked_ids
from diet.scores.registry import register_score

RECORD_COLUMNS = ("example_id", "label", "run", "step", "epoch", "gold_prob", "predicted", "margin", "seconds")


@dataclass(frozen=True)
class Checkpoints:
    """One run's records as (example, checkpoint) matrices, examples by id, checkpoints in training order."""

    example_ids: np.ndarray
    labels: np.ndarray
    correct: np.ndarray
    gold_prob: np.ndarray
    margin: np.ndarray

    @classmethod
    def from_records(cls, records: pd.DataFrame) -> "Checkpoints":
        """From the long records of one run (one row per example and checkpoint)."""
        if records["run"].nunique() > 1:
            raise DietError("Checkpoints holds one run's records; group the records by run first")
        if records.duplicated(["example_id", "step"]).any():
            raise DietError("the records hold an example twice at one checkpoint: they mix runs or data; recompute them")
        wide = records.pivot(index="example_id", columns="step", values=["gold_prob", "predicted", "margin"]).sort_index(axis=1)
        if wide.isna().to_numpy().any():
            raise DietError("some examples lack a record at some checkpoint: the records are incomplete; recompute them")
        labels = records.drop_duplicates("example_id").set_index("example_id")["label"].reindex(wide.index).to_numpy(np.int64)
        predicted = wide["predicted"].to_numpy(np.int64)
        return cls(wide.index.to_numpy(np.int64), labels, predicted == labels[:, None],
                   wide["gold_prob"].to_numpy(np.float64), wide["margin"].to_numpy(np.float64))


@register_score("forgetting", "dynamics")
def forgetting(c: Checkpoints) -> np.ndarray:
    """Forgetting events (correct -> incorrect between checkpoints); never learned: C // 2 + 1, above all learned."""
    events = (c.correct[:, :-1] & ~c.correct[:, 1:]).sum(axis=1)
    never_learned = ~c.correct.any(axis=1)
    return np.where(never_learned, c.correct.shape[1] // 2 + 1, events).astype(np.float64)


@register_score("low_confidence", "dynamics")
def low_confidence(c: Checkpoints) -> np.ndarray:
    """1 - mean gold-label probability over checkpoints (data-map confidence, high = hard)."""
    return 1.0 - c.gold_prob.mean(axis=1)


@register_score("variability", "dynamics")
def variability(c: Checkpoints) -> np.ndarray:
    """Standard deviation of the gold-label probability over checkpoints (data-map variability)."""
    return c.gold_prob.std(axis=1)


@register_score("neg_aum", "dynamics")
def neg_aum(c: Checkpoints) -> np.ndarray:
    """Minus the area under the margin: -mean(gold logit - largest other logit), high = hard."""
    return -c.margin.mean(axis=1)


def up_to(records: pd.DataFrame, step: int) -> pd.DataFrame:
    """The records at checkpoints up to `step`; refuses a step before the first checkpoint."""
    part = records[records["step"] <= step]
    if part.empty:
        first = int(records["step"].min())
        raise DietError(f"training-dynamics scores summarize the checkpoints up to a step, and update {step} comes before the first "
                        f"(update {first}): ask for them at a later step (e.g. 1ep)")
    return part


def scores_from_records(records: pd.DataFrame, names: list[str], steps: list[int]) -> pd.DataFrame:
    """Long scores frame (ScoresTable columns, + seconds: the record passes up to each step) of each run and step."""
    from diet.scores.registry import SCORES

    rows = []
    for run, of_run in records.groupby("run", sort=True):
        for step in steps:
            part = up_to(of_run, step)
            c = Checkpoints.from_records(part)
            last = part.iloc[int(np.argmax(part["step"].to_numpy()))]  # checkpoints lie after update 0: epoch / step is the same for all
            epoch = step * float(last["epoch"]) / int(last["step"])
            seconds = float(part.drop_duplicates("step")["seconds"].sum())
            for name in names:
                rows.append(pd.DataFrame({"example_id": c.example_ids, "label": c.labels, "score": name, "step": np.int64(step),
                                          "epoch": epoch, "run": np.int64(run), "value": SCORES[name].fn(c), "seconds": seconds}))
    return pd.concat(rows, ignore_index=True)


REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn")
AMBIGUOUS_SHARE = 1 / 3  # Swayamdipta et al. take the third of the data with the highest variability as "ambiguous"


def data_map(records: pd.DataFrame, step: int) -> pd.DataFrame:
    """Per example (mean over runs): confidence, variability, correctness (share of checkpoints predicted right), region.

    Regions: the third with the highest variability (ties by id) is ambiguous; of the rest, confidence
    >= 0.5 is easy-to-learn and below it hard-to-learn.
    """
    frames = []
    for _run, of_run in records.groupby("run", sort=True):
        c = Checkpoints.from_records(up_to(of_run, step))
        frames.append(pd.DataFrame({"example_id": c.example_ids, "label": c.labels, "confidence": c.gold_prob.mean(axis=1),
                                    "variability": c.gold_prob.std(axis=1), "correctness": c.correct.mean(axis=1)}))
    out = pd.concat(frames).groupby(["example_id", "label"], as_index=False).mean()
    variable = ranked_ids(out.set_index("example_id")["variability"], "top", seed=0)[: round(AMBIGUOUS_SHARE * len(out))]
    region = np.where(out["confidence"] >= 0.5, REGIONS[0], REGIONS[2])
    out["region"] = np.where(out["example_id"].isin(variable), REGIONS[1], region)
    return out
