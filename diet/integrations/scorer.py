"""Score every training example at chosen steps of any training loop, with diet's own scoring code.

    scorer = Scorer(train_dataset, scores=["el2n", "grand_head"], steps=["0", "1ep"], updates_per_epoch=len(loader))
    scorer.step(model, 0)          # before the first update, then after each: optimizer.step(); step += 1; scorer.step(model, step)
    table = scorer.table()         # a ScoresTable, as `diet score` returns: table.mean("el2n") -> diet.select(...)

Scoring runs in eval mode, and the model's modes and every random number generator (python, numpy,
torch CPU and CUDA) are put back afterwards, so the training goes on exactly as without the scorer.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from diet.errors import DietError
from diet.integrations.data import encoded_from_dataset
from diet.scores.records import checkpoint_steps, record_pass
from diet.model.config import TrainConfig
from diet.model.steps import in_epochs, resolve_step, resolve_steps
from diet.scores.dynamics import scores_from_records
from diet.scores.grad_norms import METHODS
from diet.scores.registry import SCORES, check_score_names, score_examples
from diet.scores.table import ScoresTable

PRECISIONS = ("float32", "bf16")


@dataclass(frozen=True)
class Plan:
    """The updates to score at, the dynamics checkpoints (records only), the updates an epoch and in all (None: unknown)."""

    steps: tuple[int, ...]
    checkpoints: tuple[int, ...]
    per_epoch: int
    total: int | None


@contextmanager
def scoring_state(model: torch.nn.Module):
    """Eval mode inside; afterwards every module's train/eval mode and every RNG state as they were."""
    modes = [(module, module.training) for module in model.modules()]
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    states = random.getstate(), np.random.get_state(), torch.get_rng_state(), torch.cuda.get_rng_state_all() if cuda else None
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda:
            torch.cuda.set_rng_state_all(states[3])


class Scorer:
    """Scores of every example of a tokenised training set at chosen updates of a training run (see the module doc).

    `steps` are updates ("0", "120") or epochs ("0.5ep", "1ep") of `updates_per_epoch` updates; `total_updates`,
    when given, refuses steps past the end of training. The training-dynamics scores (forgetting, ...) record
    every example at `dynamics_per_epoch` checkpoints an epoch, as `diet score` does. `run` names this training
    run in the table (its seed); tables of several runs combine with `combine`. Example ids are the dataset's
    row indices unless `ids` gives them. `precision` "bf16" scores under bf16 autocast. With `plan` False the
    steps are resolved by a later call of `plan`.
    """

    def __init__(self, dataset, scores=("el2n", "grand_head"), steps=("0", "1ep"), *, updates_per_epoch: int | None = None,
                 total_updates: int | None = None, run: int = 0, ids=None, pad_id: int | None = None, precision: str = "float32",
                 grand_method: str = "ghost", batch_size: int = 32, eval_batch_size: int = 128, dynamics_per_epoch: int = 8,
                 plan: bool = True):
        names = check_score_names(scores)
        self.dynamic = [n for n in names if SCORES[n].kind == "dynamics"]
        self.names = [n for n in names if n not in self.dynamic]
        if precision not in PRECISIONS:
            raise DietError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if grand_method not in METHODS:
            raise DietError(f"grand_method must be one of {', '.join(METHODS)}, got {grand_method!r}")
        self.specs = [steps] if isinstance(steps, (str, int, float)) else list(steps)
        resolve_steps(self.specs, 1, 1)  # refuses unreadable steps now
        TrainConfig(batch_size=batch_size, eval_batch_size=eval_batch_size)  # refuses bad batch sizes now
        self.data = encoded_from_dataset(dataset, ids, 0 if pad_id is None else pad_id)
        self.run, self.precision, self.grand_method = int(run), precision, grand_method
        self.batch_size, self.eval_batch_size, self.dynamics_per_epoch = batch_size, eval_batch_size, dynamics_per_epoch
        self._pad_from_model = pad_id is None
        self._plan: Plan | None = None
        self._frames: list[pd.DataFrame] = []
        self._records: list[pd.DataFrame] = []
        self.done: set[int] = set()
        self.seconds = 0.0
        if plan:  # the Trainer callback plans once it knows the run's length
            self.plan(updates_per_epoch, total_updates)

    def plan(self, updates_per_epoch: int | None = None, total_updates: int | None = None) -> Plan:
        """Resolve the steps for a run of `updates_per_epoch` updates an epoch and `total_updates` in all."""
        if self.done:
            raise DietError("this scorer has scored a run already: make a new Scorer for each training run")
        per_epoch = _count(updates_per_epoch, "updates_per_epoch")
        total = _count(total_updates, "total_updates")
        if per_epoch is None:
            raise DietError("give updates_per_epoch (the optimizer updates in one epoch, e.g. len(train_loader)): steps such as '1ep', "
                            "the table's epochs and the training-dynamics checkpoints count in it")
        steps = resolve_steps(self.specs, per_epoch, 1)  # per_epoch examples at batch 1: per_epoch updates an epoch
        if total is not None and steps[-1] > total:
            far = max(self.specs, key=lambda s: resolve_step(s, per_epoch, 1))
            raise DietError(f"step {far!r} (update {steps[-1]}) lies past the end of training ({total} updates = {in_epochs(total, per_epoch)}): "
                            "ask for earlier steps or train longer")
        checkpoints = []
        if self.dynamic:
            if steps[0] < 1:
                raise DietError(f"{', '.join(self.dynamic)} summarize training up to a step, and step 0 comes before any: ask for them "
                                "at later steps (e.g. '1ep'), and for scores at step 0 with a second Scorer")
            checkpoints = checkpoint_steps(steps, per_epoch, self.dynamics_per_epoch)
        self._plan = Plan(tuple(steps), tuple(checkpoints), per_epoch, total)
        return self._plan

    @property
    def steps(self) -> list[int]:
        """The chosen steps, as update counts."""
        return list(self._require_plan().steps)

    @property
    def schedule(self) -> list[int]:
        """Every update at which `step` does work (the scoring steps and the dynamics checkpoints)."""
        plan = self._require_plan()
        return sorted(set(plan.steps) | set(plan.checkpoints))

    def step(self, model: torch.nn.Module, step: int) -> bool:
        """Score (and record) the model after `step` updates if that is a chosen step; returns whether it did.
        Call it at 0 and after every update; training mode and RNG states are left as they were."""
        plan = self._require_plan()
        step = int(step)
        if step in self.done:
            raise DietError(f"update {step} was scored already: call step(model, step) once per optimizer update, with the updates so far")
        if step not in plan.steps and step not in plan.checkpoints:
            return False
        started = time.perf_counter()
        with scoring_state(model):
            cfg = self._config(model)
            if step in plan.steps and self.names:
                values = score_examples(model, self.data, self.names, cfg, self.grand_method, progress=False)
                self._frames.append(self._long(values, step, time.perf_counter() - started))
            if step in plan.checkpoints:
                begun = time.perf_counter()
                values = record_pass(model, self.data, cfg)
                self._records.append(pd.DataFrame({"example_id": self.data.ids, "label": self.data.labels, "run": np.int64(self.run),
                                                   "step": np.int64(step), "epoch": self._epoch(step), **values,
                                                   "seconds": time.perf_counter() - begun}))
        self.seconds += time.perf_counter() - started
        self.done.add(step)
        return True

    def reached(self) -> list[int]:
        """The chosen steps scored so far (for a dynamics score, with every checkpoint up to it recorded)."""
        plan = self._require_plan()
        return [s for s in plan.steps if s in self.done and all(c in self.done for c in plan.checkpoints if c <= s)]

    def table(self, partial: bool = False) -> ScoresTable:
        """The scores of every example at every chosen step (with `partial`, at the steps reached), as a ScoresTable."""
        plan = self._require_plan()
        steps = self.reached()
        missing = [s for s in plan.steps if s not in steps]
        if (missing and not partial) or not steps:
            last = f"the last scored update is {max(self.done)}" if self.done else "nothing was scored"
            raise DietError(f"updates {missing} were never scored ({last}): training stopped earlier, or the loop skipped them; "
                            "call scorer.step(model, step) at 0 and after every optimizer update, or ask for earlier steps")
        frames = [f for f in self._frames if int(f["step"].iloc[0]) in steps]
        if self.dynamic:
            frames.append(scores_from_records(pd.concat(self._records, ignore_index=True), self.dynamic, steps))
        return ScoresTable(pd.concat(frames, ignore_index=True), self.config(steps))

    def config(self, steps: list[int]) -> dict:
        """What the table's config.json says of these scores."""
        plan, n = self._require_plan(), len(self.data)
        config = {"source": "diet.integrations", "n_train": n, "steps": steps, "step_specs": [str(s) for s in self.specs],
                  "scores": sorted(self.names + self.dynamic), "seeds": [self.run], "precision": self.precision,
                  "updates_per_epoch": plan.per_epoch, "seconds_scoring": self.seconds}
        if -(-n // -(-n // plan.per_epoch)) == plan.per_epoch:  # a batch size with this many updates an epoch
            config["train_config"] = {"batch_size": -(-n // plan.per_epoch)}
        if "grand_full" in self.names:
            config["grand_method"] = self.grand_method
        if self.dynamic:
            config["dynamics_per_epoch"] = self.dynamics_per_epoch
        return config

    def _require_plan(self) -> Plan:
        if self._plan is None:
            self.plan()  # raises, saying what is missing
        return self._plan

    def _epoch(self, step: int) -> float:
        return step / self._plan.per_epoch

    def _long(self, values: dict[str, np.ndarray], step: int, seconds: float) -> pd.DataFrame:
        return pd.concat([pd.DataFrame({"example_id": self.data.ids, "label": self.data.labels, "score": name, "step": np.int64(step),
                                        "epoch": self._epoch(step), "run": np.int64(self.run), "value": column, "seconds": seconds})
                          for name, column in values.items()], ignore_index=True)

    def _config(self, model: torch.nn.Module) -> TrainConfig:
        """A TrainConfig for scoring on the model's own device, in this scorer's precision."""
        parameter = next(model.parameters(), None)
        if parameter is None:
            raise DietError("the model has no parameters: give the classifier being trained")
        device = parameter.device
        if device.type not in ("cpu", "cuda"):
            raise DietError(f"diet scores on the CPU or a CUDA GPU; this model is on {device}: move it to one of them")
        config = getattr(model, "config", None)
        classes = getattr(config, "num_labels", None)
        if classes is not None and int(self.data.labels.max()) >= classes:
            raise DietError(f"the dataset has label {int(self.data.labels.max())}, but the model has {classes} classes: "
                            "give the dataset the model trains on, or a model with num_labels covering every label")
        if self._pad_from_model:
            self.data = replace(self.data, pad_id=int(getattr(config, "pad_token_id", None) or 0))
            self._pad_from_model = False
        return TrainConfig(device=str(device), dtype=self.precision, batch_size=self.batch_size, eval_batch_size=self.eval_batch_size)


def _count(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DietError(f"{name} is a number of optimizer updates, a whole number >= 1; got {value!r}")
    return int(value)


def combine(tables) -> ScoresTable:
    """The tables of several runs (seeds) over the same training set as one ScoresTable, whose `mean` averages over them."""
    tables = list(tables)
    if not tables:
        raise DietError("no tables to combine: give the tables of one or more training runs")
    first = tables[0]
    for other in tables[1:]:
        if not first.labels().equals(other.labels()):
            raise DietError("the tables score different examples (ids or labels differ): combine runs over the same training set only")
        if other.names != first.names or other.steps != first.steps:
            raise DietError(f"the tables hold different scores or steps ({first.names} at {first.steps} against {other.names} at "
                            f"{other.steps}): score every run alike")
    runs = [r for t in tables for r in t.runs]
    twice = sorted({r for r in runs if runs.count(r) > 1})
    if twice:
        raise DietError(f"run {twice} appears in more than one table: give each training run its own run number "
                        "(Scorer(run=seed), or the Trainer's seed for ScoresCallback)")
    config = {**first.config, "seeds": sorted(runs), "seconds_scoring": sum(float(t.config.get("seconds_scoring", 0.0)) for t in tables)}
    return ScoresTable(pd.concat([t.frame for t in tables], ignore_index=True), config)
