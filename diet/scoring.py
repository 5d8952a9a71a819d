"""Scoring runs: fine-tune with several seeds and score every training example at chosen steps."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from tqdm import tqdm

from diet.batching import encode
from diet.config import TrainConfig
from diet.encoders import load_encoder, load_tokenizer
from diet.errors import DietError
from diet.fingerprint import split_fingerprint
from diet.scores import check_score_names, score_examples
from diet.scores_table import ScoresTable
from diet.steps import resolve_steps, steps_per_epoch
from diet.store import Store
from diet.tasks import Task, check_labels
from diet.train import fine_tune, total_steps


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
) -> ScoresTable:
    """Scores of every training example, per run (seed) and step; finished runs are reloaded from the store."""
    cfg = config or TrainConfig()
    check_labels(task.train, task.num_labels, f"{task.name} train split")
    names = check_score_names(scores)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise DietError("no seeds given: scores need at least one fine-tuning run")
    resolved = resolve_steps(steps, len(task.train), cfg.batch_size)
    if resolved[-1] > total_steps(len(task.train), cfg):
        raise DietError(
            f"step {resolved[-1]} lies past the end of training ({total_steps(len(task.train), cfg)} steps = {cfg.epochs} epochs); "
            "ask for earlier steps or train for more epochs"
        )
    store = store or Store()
    base = {
        "task": task.name,
        "train": split_fingerprint(task.train),
        "n_train": len(task.train),
        "model": model,
        "steps": resolved,
        "scores": sorted(names),
        "train_config": cfg.key(),
    }
    frames = []
    for seed in tqdm(seeds, desc="scoring runs", disable=not progress):
        run_config = {**base, "seed": seed}
        frames.append(store.load_or_compute("scores", run_config, lambda: score_run(task, model, seed, resolved, names, cfg, grand_method, progress)))
    frame = pd.concat(frames, ignore_index=True)
    return ScoresTable(frame, {**base, "seeds": seeds, "step_specs": [str(s) for s in steps], "grand_method": grand_method})


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
                    }
                )
            )

    fine_tune(model, data, cfg, seed, callbacks={s: record for s in steps}, stop_after=max(steps), progress=progress, desc=f"run {seed}")
    return pd.concat(rows, ignore_index=True)
