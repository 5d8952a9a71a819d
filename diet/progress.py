"""Progress of a long job: one tqdm bar on a terminal, else a few plain lines with the count and an ETA.

One reporter, `Progress`, for the main job's stages (`diet run`: "scoring (...): 1/2 fine-tuning runs, ...")
and for the grid's jobs (`diet precompute`: "[12:00:00] jobs: 40/132 done, ...", with `log=True`).
"""

from __future__ import annotations

import math
import os
import sys
import time

from tqdm import tqdm


def minutes(seconds: float) -> str:
    """'42 s' or '3 min 05 s'."""
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def clock(seconds: float) -> str:
    """'1:02:03' (hours, minutes, seconds)."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts the units of a job (runs, jobs) and reports how far it is and how long is left.

    On a terminal (`stream.isatty()`, tqdm not turned off by TQDM_DISABLE) this is one tqdm bar that stays
    on screen. Elsewhere (a log file, a pipe, a notebook) it prints plain lines, at most one every `every`
    seconds while it runs, and one at the end. The ETA times the units done here (the `seconds` given to
    `advance`, else the time since the previous unit), weighs each by `weight` (e.g. its training examples)
    and spreads what is left over `workers`. `done` units may be done before it starts (found stored).

    A stage (the default) says "name: total unit" when it starts, "name: d/t unit, 2 min 05 s so far, ETA ..."
    as units finish and "name: d/t unit done in ..." at the end (on a bar: nothing more). With `log=True` (a
    long run's log) lines carry the time of day and the state the caller last `show`ed:
    "[12:00:00] name: d/t done, <state>; ETA 1:02:03", and a last line comes even after a bar.
    `enabled=False` prints nothing.
    """

    def __init__(self, name: str, total: int, unit: str = "runs", stream=None, every: float = 30.0, enabled: bool = True,
                 total_weight: float | None = None, *, done: int = 0, workers: int = 1, log: bool = False):
        self.name, self.total, self.unit, self.every = name, total, unit, every
        self.stream = stream or sys.stderr
        self.enabled, self.log, self.workers = enabled, log, max(1, workers)
        self.done, self.done_weight = done, float(done)
        self.total_weight = float(total if total_weight is None else total_weight)
        self.timed_weight = self.timed_seconds = 0.0  # the units done here, and their seconds
        self.started = self.last_unit = self.last_line = time.perf_counter()
        self.seconds: float | None = None  # wall seconds, once closed
        self.state: str | None = None  # what the caller last showed
        self.bar = None
        if not enabled:
            return
        if _is_terminal(self.stream):
            self.bar = tqdm(total=total, initial=done, desc=name, unit=unit.rstrip("s") or unit, file=self.stream, leave=True, dynamic_ncols=True,
                            disable=False)  # bars are on: tqdm read TQDM_DISABLE when it was imported
        elif log:
            self.last_line = -math.inf  # the first state shown is printed at once
        else:
            self._print(f"{name}: {total} {unit}")

    def advance(self, weight: float = 1.0, seconds: float | None = None) -> None:
        """One unit is done, in `seconds` (default: since the previous unit)."""
        now = time.perf_counter()
        self.done += 1
        self.done_weight += weight
        self.timed_weight += weight
        self.timed_seconds += now - self.last_unit if seconds is None else seconds
        self.last_unit = now
        if self.enabled and self.bar is not None:
            self.bar.update(1)
        elif self.enabled and self.state is None and self.done < self.total:  # once a state is shown, lines come with it
            self._line_if_due()

    def retotal(self, total: int, done: int) -> None:
        """New counts (of units of weight 1): `done` never lowers the count, and the total is never below it."""
        if self.bar is not None and done > self.done:
            self.bar.update(done - self.done)
        self.done = max(self.done, done)
        self.total = max(total, self.done)
        self.done_weight, self.total_weight = float(self.done), float(self.total)
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def show(self, state: str) -> None:
        """The caller's state (e.g. "2 running, 0 queued, 0 failed"): beside the bar, or in the next line that is due."""
        self.state = state
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(f"{state}; {self._eta_text()}")
        else:
            self._line_if_due()

    def eta(self) -> float:
        """Seconds left, from the seconds per unit of weight so far (NaN before the first unit)."""
        if self.timed_weight <= 0:
            return math.nan
        return self.timed_seconds / self.timed_weight * max(0.0, self.total_weight - self.done_weight) / self.workers

    def close(self, note: str = "") -> float:
        """End (once): the last line (a log's says `note`, e.g. "0 failed"); returns the wall seconds."""
        if self.seconds is not None:
            return self.seconds
        seconds = self.seconds = time.perf_counter() - self.started
        if self.bar is not None:
            self.bar.close()
        if self.enabled and self.log:
            self._print(f"{self._stamp()}{self.done}/{self.total} done, {note}; wall time {clock(seconds)}")
        elif self.enabled and self.bar is None:
            self._print(f"{self.name}: {self.done}/{self.total} {self.unit} done in {minutes(seconds)}")
        return seconds

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self.bar is not None:  # interrupted: no "done" line
            self.bar.close()

    def _line_if_due(self) -> None:
        now = time.perf_counter()
        if now - self.last_line < self.every:
            return
        self.last_line = now
        if self.log:
            self._print(f"{self._stamp()}{self.done}/{self.total} done, {self.state}; {self._eta_text()}")
        else:
            self._print(f"{self.name}: {self.done}/{self.total} {self.unit}, {minutes(now - self.started)} so far, {self._eta_text()}")

    def _eta_text(self) -> str:
        left = self.eta()
        if not math.isfinite(left):
            return f"ETA after the first {self.unit.rstrip('s') or self.unit}"
        return f"ETA {clock(left) if self.log else minutes(left)}"

    def _stamp(self) -> str:
        return f"[{time.strftime('%H:%M:%S')}] {self.name}: "

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def bars_off(progress: bool) -> bool:
    """tqdm's `disable` for an inner bar (a fine-tuning's steps, a scoring pass): off when the caller asks for no
    progress or the user set TQDM_DISABLE (tqdm itself ignores that variable once `disable` is passed)."""
    return not progress or _tqdm_disabled()


def _tqdm_disabled() -> bool:
    return os.environ.get("TQDM_DISABLE", "") not in ("", "0")


def _is_terminal(stream) -> bool:
    """A terminal that shows tqdm bars (not one where TQDM_DISABLE turns them off)."""
    if _tqdm_disabled():
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
