"""The main job: score once, then retrain on each selection at one kept fraction and record its class mix.

Selections, all of `keep` of the training set but full data: full data; random (a new draw per
seed); the top-k by each of the preset's timing scores; and, for the first of those scores, the
top-k taken within each class and the top-k after skipping the top `offset` (ranks
[offset, offset + keep), the fixed window).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from diet.paper.context import FULL, RANDOM, Subset
from diet.errors import DietError
from diet.paper.presets import Preset
from diet.paper.experiments.subsets import total_variation
from diet.prune.select import check_fractions, class_fractions, select
from diet.paper.evidence import Evidence
from diet.runs.retraining import RUN, retrain
from diet.scores.table import ScoresTable
from diet.runs.scoring import score
from diet.progress import Progress
from diet.runs.store import Store
from diet.data.tasks import load_task
from diet.data.task import Task
from diet.stats.one_class import majority_rate


@dataclass(frozen=True)
class RunResult:
    accuracies: pd.DataFrame  # selection, kind, score, seed, accuracy, n_train, tv_distance, seconds, run (its store entry)
    class_mix: pd.DataFrame  # selection, seed, label, class_name, fraction, train_fraction
    scores: ScoresTable
    scores_folder: Path
    seconds: dict[str, float]
    majority: float  # share of the test set's most frequent class: the accuracy of a one-class model
    task: Task
    store: Store  # the finished runs, with their test predictions

    def evidence(self) -> Evidence:
        """The test predictions behind the accuracies, for their 95% intervals (`diet.paper.evidence`)."""
        return Evidence.of(self.store, self.task.test.labels, [self.accuracies])


def main_selections(table: ScoresTable, scores: list[str], keep: float, offset: float, seeds) -> list[Subset]:
    """Full data, random, top-`keep` by each score, and for scores[0] also per class and after skipping the top `offset`.

    Each is labelled by its selection (its name), kind (full, random, top, per class, skip top) and score."""
    check_fractions(keep, offset, "fixed")
    if not 0 < keep < 1:
        raise DietError(f"keep is the fraction the selections keep, strictly between 0 and 1, got {keep}")
    if not offset > 0:
        raise DietError(f"offset is the top fraction skipped before keeping {keep:.0%}; it must be above 0, got {offset}")
    labels, seeds = table.labels(), [int(s) for s in seeds]
    every = pd.Series(0.0, index=labels.index)
    named = lambda name, kind, score="": {"selection": name, "kind": kind, "score": score}  # noqa: E731
    out = [Subset.same(named(FULL, "full"), None, seeds),
           Subset(named(f"{RANDOM} {keep:.0%}", "random"), {seed: select(every, keep, order="random", seed=seed) for seed in seeds})]
    out += [Subset.same(named(f"{name} top {keep:.0%}", "top", name), select(table.mean(name), keep), seeds) for name in scores]
    first, by = table.mean(scores[0]), scores[0]
    out += [
        Subset.same(named(f"{by} top {keep:.0%} per class", "per class", by), select(first, keep, labels=labels, balanced=True), seeds),
        Subset.same(named(f"{by} ranks {offset * 100:.0f}-{(offset + keep) * 100:.0f}%", "skip top", by), select(first, keep, offset=offset, window="fixed"), seeds),
    ]
    return out


def run_preset(preset: Preset, out: str | Path, keep: float = 0.7, offset: float = 0.2, progress: bool = True, stream=None,
               drop_overlap: bool = False) -> RunResult:
    """Scores at preset.final_step (one run per preset.score_seeds), then test accuracy of each
    `main_selections` subset per preset.retrain_seeds. Progress goes to `stream` (stderr), one
    stage at a time (`diet.progress.Progress`); finished runs are stored under out/store and reloaded.
    `drop_overlap` drops the test texts that also occur in training (load_task)."""
    out, stream = Path(out), stream or sys.stderr
    check_fractions(keep, offset, "fixed")
    if preset.model == "tiny":  # as diet.paper.context.run_context: its small matrices run slower split over threads
        torch.set_num_threads(1)
    store = Store(out / "store")
    task = load_task(preset.task, preset.n_train, preset.n_test, preset.data_seed, drop_overlap=drop_overlap)
    if progress:
        print(f"data: {task.describe()}", file=stream, flush=True)
    names = list(preset.timing_scores)
    with Progress(f"scoring ({', '.join(names)} at {preset.final_step})", len(preset.score_seeds), "fine-tuning runs", stream, enabled=progress) as stage:
        for seed in preset.score_seeds:  # one at a time for the progress line; the call below loads them
            score(task, preset.model, [seed], [preset.final_step], names, preset.train, store, preset.grand_method, progress=False)
            stage.advance()
    table = score(task, preset.model, preset.score_seeds, [preset.final_step], names, preset.train, store, preset.grand_method, progress=False)
    folder = table.save(out / "scores")
    selections = main_selections(table, names, keep, offset, preset.retrain_seeds)
    sizes = [len(task.train) if ids is None else len(ids) for s in selections for ids in s.ids.values()]
    rows = []
    seeds = f"{len(preset.retrain_seeds)} seed{'s' if len(preset.retrain_seeds) > 1 else ''}"
    with Progress(f"retraining ({len(selections)} selections x {seeds})", len(sizes), "runs", stream,
                  enabled=progress, total_weight=sum(sizes)) as retraining:
        for s in selections:
            for seed, ids in s.ids.items():
                acc = retrain(task, preset.model, ids, [seed], preset.train, store, progress=False, label=s.label)
                rows.append(acc.assign(**s.meta))
                retraining.advance(len(task.train) if ids is None else len(ids))
    accuracies = pd.concat(rows, ignore_index=True)
    mix = class_mix(task, selections)
    tv = mix.drop_duplicates(["selection", "seed"]).set_index(["selection", "seed"])["tv_distance"]
    accuracies["tv_distance"] = [tv[(s, seed)] for s, seed in zip(accuracies["selection"], accuracies["seed"])]
    columns = ["selection", "kind", "score", "seed", "accuracy", "n_train", "tv_distance", "seconds", RUN]
    seconds = {"scoring": stage.close(), "retraining": retraining.close()}
    majority = majority_rate(task.test.labels, task.num_labels)
    return RunResult(accuracies[columns], mix.drop(columns="tv_distance"), table, folder, seconds, majority, task, store)


def class_mix(task: Task, selections: list[Subset]) -> pd.DataFrame:
    """Class shares of each selection per seed, the training set's, and their total variation distance."""
    labels = pd.Series(task.train.labels, index=task.train.ids)
    k = task.num_labels
    base = class_fractions(labels.index.to_numpy(), labels, k)
    rows = []
    for s in selections:
        for seed, ids in s.ids.items():
            share = base if ids is None else class_fractions(ids, labels, k)
            tv = total_variation(share, base)
            rows += [{"selection": s.label, "seed": seed, "label": c, "class_name": task.label_names[c], "fraction": share[c],
                      "train_fraction": base[c], "tv_distance": tv} for c in range(k)]
    return pd.DataFrame(rows)
