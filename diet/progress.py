"""Progress of a job's stages: one tqdm bar per stage on a terminal, else a few plain lines with the count and ETA."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def minutes(seconds: float) -> str:
    """'42 s' or '3 min 05 s'."""
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


class Stage:
    """Counts the units of one stage (runs, seeds) and reports how far it is and how long is left.

    On a terminal (`stream.isatty()`) this is one tqdm bar that stays on screen when done. Elsewhere
    (a log file, a pipe, a notebook) it prints a line when the stage starts, at most one line every
    `every` seconds while it runs (units done, elapsed, ETA), and a line when it ends. The ETA weighs
    each unit by `weight` (e.g. its number of training examples), so big units count for more.
    `enabled=False` prints nothing.
    """

    def __init__(self, name: str, total: int, unit: str = "runs", stream=None, every: float = 30.0, enabled: bool = True, total_weight: float | None = None):
        self.name, self.total, self.unit, self.every = name, total, unit, every
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done, self.done_weight = 0, 0.0
        self.total_weight = float(total if total_weight is None else total_weight)
        self.started = self.last = time.perf_counter()
        self.seconds: float | None = None  # wall seconds, once closed
        self.bar = None
        if not enabled:
            return
        if _is_terminal(self.stream):
            self.bar = tqdm(total=total, desc=name, unit=unit.rstrip("s") or unit, file=self.stream, leave=True, dynamic_ncols=True)
        else:
            self._print(f"{name}: {total} {unit}")

    def advance(self, weight: float = 1.0) -> None:
        """One unit is done."""
        self.done += 1
        self.done_weight += weight
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.perf_counter()
        if self.done < self.total and now - self.last >= self.every:
            self.last = now
            self._print(f"{self.name}: {self.done}/{self.total} {self.unit}, {minutes(now - self.started)} so far, ETA {minutes(self.eta())}")

    def eta(self) -> float:
        """Seconds left, from the time per unit of weight so far."""
        if self.done_weight <= 0:
            return float("nan")
        elapsed = time.perf_counter() - self.started
        return elapsed / self.done_weight * max(0.0, self.total_weight - self.done_weight)

    def close(self) -> float:
        """End the stage (once); returns its wall seconds."""
        if self.seconds is not None:
            return self.seconds
        seconds = self.seconds = time.perf_counter() - self.started
        if self.enabled:
            if self.bar is not None:
                self.bar.close()
            else:
                self._print(f"{self.name}: {self.done}/{self.total} {self.unit} done in {minutes(seconds)}")
        return seconds

    def __enter__(self) -> "Stage":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self.bar is not None:  # interrupted: no "done" line
            self.bar.close()

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
