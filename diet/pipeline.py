"""The main job: score, prune and retrain once, comparing top-k, random and full data."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from diet.presets import Preset
from diet.prune import select
from diet.retraining import retrain
from diet.scores_table import ScoresTable
from diet.scoring import score
from diet.store import Store
from diet.tasks import load_task


@dataclass(frozen=True)
class RunResult:
    accuracies: pd.DataFrame  # selection, seed, accuracy, n_train
    scores: ScoresTable
    scores_folder: Path
    seconds: dict[str, float]


def run_preset(preset: Preset, out: str | Path, keep: float = 0.7, progress: bool = True) -> RunResult:
    """Scores at preset.final_step, then accuracy of full data, top-`keep` by each score, and random."""
    out = Path(out)
    store = Store(out / "store")
    seconds = {}
    started = time.perf_counter()
    task = load_task(preset.task, preset.n_train, preset.n_test, preset.data_seed)
    table = score(task, preset.model, preset.score_seeds, [preset.final_step], preset.timing_scores, preset.train, store, preset.grand_method, progress)
    folder = table.save(out / "scores")
    seconds["score"] = time.perf_counter() - started
    selections = {"full data": None, f"random {keep:.0%}": select(table.mean(preset.timing_scores[0]), keep, order="random")}
    for name in preset.timing_scores:
        selections[f"{name} top {keep:.0%}"] = select(table.mean(name), keep)
    started = time.perf_counter()
    frames = []
    for label, ids in selections.items():
        acc = retrain(task, preset.model, ids, preset.retrain_seeds, preset.train, store, progress, label=label)
        frames.append(acc.assign(selection=label))
    seconds["retrain"] = time.perf_counter() - started
    return RunResult(pd.concat(frames, ignore_index=True), table, folder, seconds)


def summarize(accuracies: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of test accuracy per selection (in the order first seen)."""
    order = list(dict.fromkeys(accuracies["selection"]))
    grouped = accuracies.groupby("selection").agg(n_train=("n_train", "first"), runs=("seed", "count"), mean=("accuracy", "mean"), std=("accuracy", "std"))
    return grouped.loc[order].fillna({"std": 0.0})
