"""Scoring runs: fine-tune with several seeds and score every training example at chosen steps."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from diet.progress import bars_off
from diet.model.batching import encode
from diet.model.config import TrainConfig
from diet.model.encoders import load_encoder, load_tokenizer
from diet.errors import DietError
from diet.scores.registry import SCORES, check_score_names, score_examples
from diet.scores.table import ScoresTable
from diet.model.steps import describe_step, resolve_step, resolve_steps, steps_per_epoch
from diet.runs.dynamics import dynamics_scores
from diet.scores.records import checkpoint_steps
from diet.runs.jobs import StoredJob, fingerprint
from diet.runs.store import Store
from diet.data.task import Task, check_labels
from diet.model.train import fine_tune, total_steps

KIND = "scores"  # the store kind of a scoring run


def score(
    task: Task,
    model: str,
    seeds=(0, 1, 2, 3, 4),
    steps=("0", "1ep"),
    scores=("el2n", "grand_head"),
    config: TrainConfig | None = None,
    store: Store | None = None,
    grand_method: str = "ghost",
    progress: bool = True,
    dynamics_per_epoch: int = 8,
) -> ScoresTable:
    """Scores of every training example, per run (seed) and step; finished runs are reloaded from the store.

    Scores from training dynamics (forgetting, ...) come from their own records runs (diet.runs.dynamics,
    `dynamics_per_epoch` checkpoints per epoch), the others from scoring runs keyed as before.
    """
    cfg = config or TrainConfig()
    check_labels(task.train, task.num_labels, f"{task.name} train split")
    names = check_score_names(scores)
    dynamic = [n for n in names if SCORES[n].kind == "dynamics"]
    names = [n for n in names if n not in dynamic]
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise DietError("no seeds given: scores need at least one fine-tuning run")
    resolved = _checked_steps(task, steps, cfg, dynamic, dynamics_per_epoch)
    store = store or Store()
    jobs = [ScoringRun(task, model, seed, tuple(resolved), tuple(names), cfg, grand_method, progress) for seed in seeds]
    frames = [store.result(job) for job in tqdm(jobs if names else [], desc="scoring runs", disable=bars_off(progress))]
    frame = pd.concat(frames, ignore_index=True) if frames else None
    methods = _grand_methods(frame, names, seeds, grand_method)
    if frame is not None and GRAND_METHOD in frame.columns:
        frame = frame.drop(columns=GRAND_METHOD)
    runs = {k: v for k, v in jobs[0].key().items() if k != "seed"}  # what every run's key shares
    config = {**runs, "seeds": seeds, "step_specs": [str(s) for s in steps], "grand_method": methods}
    if dynamic:
        found = dynamics_scores(task, model, seeds, resolved, dynamic, cfg, store, dynamics_per_epoch, progress)
        frame = found if frame is None else pd.concat([frame, found], ignore_index=True)
        config = {**config, "scores": sorted(names + dynamic), "dynamics_per_epoch": dynamics_per_epoch}
    return ScoresTable(frame, config)


def _checked_steps(task: Task, steps, cfg: TrainConfig, dynamic: list[str], dynamics_per_epoch: int) -> list[int]:
    """The steps resolved to updates, refused when past the end of training or (for dynamics scores) at 0."""
    resolved = resolve_steps(steps, len(task.train), cfg.batch_size)
    if resolved[-1] > total_steps(len(task.train), cfg):
        raise DietError(
            f"step {describe_step(max(steps, key=lambda s: resolve_step(s, len(task.train), cfg.batch_size)), len(task.train), cfg.batch_size)} "
            f"lies past the end of training ({total_steps(len(task.train), cfg)} updates = {cfg.epochs:g} epochs); "
            "ask for earlier steps or train for more epochs"
        )
    if dynamic:
        if resolved[0] < 1:
            raise DietError(f"{', '.join(dynamic)} summarize training up to a step, and step 0 comes before any: "
                            "ask for them at later steps (e.g. --steps 1ep), apart from scores at step 0")
        checkpoint_steps(resolved, steps_per_epoch(len(task.train), cfg.batch_size), dynamics_per_epoch)  # refuses a bad schedule now
    return resolved


GRAND_METHOD = "grand_method"  # column of a stored scoring run: the algorithm that computed grand_full


def _grand_methods(frame: pd.DataFrame, names: list[str], seeds: list[int], asked: str) -> str | None:
    """The grand_full algorithm(s) that actually computed these runs' scores ("ghost" for runs stored
    before the method was recorded: it was the only one the pipeline used). Ghost, vmap and loop are
    exact algorithms for the same norms (they agree to 1e-5 in the tests), so the method is not part
    of the store key: a stored run is reused whichever method is asked for, and this says so."""
    if "grand_full" not in names:
        return None
    ran = frame[GRAND_METHOD].fillna("ghost") if GRAND_METHOD in frame.columns else pd.Series("ghost", index=frame.index)
    by_run = ran.groupby(frame["run"]).first()
    other = sorted(int(r) for r, m in by_run.items() if m != asked)
    if other:
        print(f"note: grand_full of runs {other} was stored earlier by the {by_run[other[0]]!r} method, not {asked!r}; "
              "the methods are exact and agree to 1e-5, so the stored runs are reused (use a new store to recompute)", file=sys.stderr)
    methods = sorted(set(by_run))
    return methods[0] if len(methods) == 1 else ",".join(methods)


@dataclass(frozen=True)
class ScoringRun(StoredJob):
    """One scoring run as a picklable job: fine-tune with `seed`, score every example at `steps`."""

    kind = KIND

    task: Task
    model: str
    seed: int
    steps: tuple[int, ...]
    names: tuple[str, ...]
    cfg: TrainConfig
    grand_method: str = "ghost"
    progress: bool = False

    def key(self) -> dict:
        return {"task": self.task.name, "train": fingerprint(self.task.train), "n_train": len(self.task.train), "model": self.model,
                "steps": list(self.steps), "scores": sorted(self.names), "train_config": self.cfg.key(), "seed": self.seed}

    def work(self) -> float:
        passes = len(self.steps) * (1 / 3 + (1.6 if "grand_full" in self.names else 0.0))  # per-example gradient norms cost more
        return self._passes(len(self.task.train), max(self.steps), passes)

    def __call__(self) -> pd.DataFrame:
        return score_run(self.task, self.model, self.seed, list(self.steps), list(self.names), self.cfg, self.grand_method, self.progress)

    def placeholder(self, variant: int) -> pd.DataFrame:
        """Random scores of the right shape (for planning which runs follow from these scores)."""
        split, per_epoch = self.task.train, steps_per_epoch(len(self.task.train), self.cfg.batch_size)
        rng = np.random.default_rng([variant, self.seed, len(split)])
        return pd.concat([
            pd.DataFrame({"example_id": split.ids, "label": split.labels, "score": name, "step": np.int64(step),
                          "epoch": step / per_epoch, "run": np.int64(self.seed), "value": rng.random(len(split)), "seconds": 0.0})
            for step in self.steps for name in self.names
        ], ignore_index=True)


def score_run(task: Task, model_name: str, seed: int, steps: list[int], names: list[str], cfg: TrainConfig, grand_method: str = "ghost", progress: bool = True) -> pd.DataFrame:
    """One fine-tuning run of `seed`, scoring all training examples after each step in `steps`."""
    tokenizer = load_tokenizer(model_name)
    data = encode(task.train, tokenizer, cfg.max_length)
    model = load_encoder(model_name, task.num_labels, seed)
    per_epoch = steps_per_epoch(len(data), cfg.batch_size)
    rows = []

    def record(net, step: int) -> None:
        started = time.perf_counter()
        values = score_examples(net, data, names, cfg, grand_method, progress)
        seconds = time.perf_counter() - started
        for name, column in values.items():
            rows.append(
                pd.DataFrame(
                    {
                        "example_id": data.ids,
                        "label": data.labels,
                        "score": name,
                        "step": np.int64(step),
                        "epoch": step / per_epoch,
                        "run": np.int64(seed),
                        "value": column,
                        "seconds": seconds,
                        **({GRAND_METHOD: grand_method} if "grand_full" in names else {}),
                    }
                )
            )

    fine_tune(model, data, cfg, seed, callbacks={s: record for s in steps}, stop_after=max(steps), progress=progress, desc=f"run {seed}")
    return pd.concat(rows, ignore_index=True)
