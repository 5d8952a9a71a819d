"""Scoring steps: plain update counts ("0", "120") or fractions of an epoch ("0.5ep", "1ep").

`parse_step` is the one reader of the syntax; the command line (diet.cli.checks.step_spec) and the
scores table (ScoresTable.find_step) read steps through it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from diet.errors import DietError


@dataclass(frozen=True)
class StepSpec:
    """A step as written: `value` updates, or `value` epochs when `epochs`."""

    value: float
    epochs: bool

    @property
    def whole_updates(self) -> bool:
        """A finite, whole number of updates, or any finite number of epochs."""
        return math.isfinite(self.value) and (self.epochs or self.value.is_integer())


def counts_epochs(spec: str | int | float) -> bool:
    """Whether a step spec counts epochs ('1ep', ' 0.5EP ') rather than updates."""
    return str(spec).strip().lower().endswith("ep")


def parse_step(spec: str | int | float) -> StepSpec | None:
    """The number a step spec holds and its unit (case and outer spaces ignored); None when it holds no number."""
    text = str(spec).strip().lower()
    epochs = counts_epochs(text)
    try:
        return StepSpec(float(text[:-2] if epochs else text), epochs)
    except ValueError:
        return None


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return math.ceil(n_train / batch_size)


def resolve_step(spec: str | int | float, n_train: int, batch_size: int) -> int:
    """The number of optimiser updates a step spec means for this training set size."""
    step = parse_step(spec)
    if step is None or not step.whole_updates:
        raise DietError(f"cannot read step {spec!r}: use a number of updates ('120') or epochs ('0.5ep', '1ep')")
    updates = round(step.value * steps_per_epoch(n_train, batch_size)) if step.epochs else int(step.value)
    if updates < 0:
        raise DietError(f"step {spec!r} is negative; step 0 is before any update")
    return updates


def resolve_steps(specs, n_train: int, batch_size: int) -> list[int]:
    """Sorted, distinct update counts for a list of step specs."""
    if isinstance(specs, (str, int, float)):
        specs = [specs]
    steps = sorted({resolve_step(s, n_train, batch_size) for s in specs})
    if not steps:
        raise DietError("no scoring steps given: pass at least one, e.g. ['0', '1ep']")
    return steps


def in_epochs(step: int, per_epoch: int) -> str:
    """An update count as epochs, the way a user writes them: 0ep, 0.5ep, 1ep."""
    return f"{step / per_epoch:.4g}ep" if per_epoch > 0 else "?ep"


def describe_step(spec: str | int | float, n_train: int, batch_size: int) -> str:
    """A step in the user's words and in updates: '1ep = update 32', 'update 40 = 1.25ep'."""
    step, per_epoch = resolve_step(spec, n_train, batch_size), steps_per_epoch(n_train, batch_size)
    if counts_epochs(spec):
        return f"{str(spec).strip()} = update {step}"
    return f"update {step} = {in_epochs(step, per_epoch)}"
