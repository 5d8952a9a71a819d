"""Scoring steps: plain update counts ("0", "120") or fractions of an epoch ("0.5ep", "1ep")."""

from __future__ import annotations

import math

from diet.errors import DietError


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return math.ceil(n_train / batch_size)


def resolve_step(spec: str | int | float, n_train: int, batch_size: int) -> int:
    """The number of optimiser updates a step spec means for this training set size."""
    text = str(spec).strip().lower()
    try:
        if text.endswith("ep"):
            value = float(text[:-2])
            step = round(value * steps_per_epoch(n_train, batch_size))
        else:
            value = float(text)
            if value != int(value):
                raise DietError(f"step {spec!r} is not a whole number of updates; write epochs as '{value}ep'")
            step = int(value)
    except ValueError as error:
        raise DietError(f"cannot read step {spec!r}: use a number of updates ('120') or epochs ('0.5ep', '1ep')") from error
    if step < 0:
        raise DietError(f"step {spec!r} is negative; step 0 is before any update")
    return step


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
    if str(spec).strip().lower().endswith("ep"):
        return f"{str(spec).strip()} = update {step}"
    return f"update {step} = {in_epochs(step, per_epoch)}"
