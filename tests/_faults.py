"""Injected faults for the executor tests: wrappers around a plan's jobs that raise or kill their process.

They live in a module of their own so that worker processes (spawned, or Ray's) can unpickle them.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


class _Wrapped:
    """A job's callable wrapped by a fault; the plan's cost estimates still see the job's model, cfg, task..."""

    def __init__(self, run):
        self.run = run

    def __getattr__(self, name):
        if "run" not in self.__dict__:  # while unpickling
            raise AttributeError(name)
        return getattr(self.__dict__["run"], name)


class Raise(_Wrapped):
    """The job raises, every time."""

    def __call__(self):
        raise RuntimeError("injected failure")


class KillWorker(_Wrapped):
    """The job's process is killed (SIGKILL) in the middle of the job: every time, or only the first time
    (`once` names a marker file that the first run creates; later runs compute the job)."""

    def __init__(self, run, once: str | None = None):
        super().__init__(run)
        self.once = once

    def __call__(self):
        if self.once is None or not Path(self.once).exists():
            if self.once is not None:
                Path(self.once).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return self.run()


def sabotage(monkeypatch, wrap) -> set:
    """Wrap the first ready retraining of every plan (the same run each time) with `wrap`; return a set that holds its key."""
    from diet.grid import fill

    real = fill.make_plan
    victims: set = set()

    def planned(*args, **kwargs):
        plan = real(*args, **kwargs)
        for key, job in plan.ready.items():
            if job.kind == "retrain" and (not victims or key in victims):
                victims.add(key)
                job.run = wrap(job.run)
                break
        return plan

    monkeypatch.setattr(fill, "make_plan", planned)
    return victims


class Sleep(_Wrapped):
    """The job sleeps (a run far longer than the test), then computes."""

    def __call__(self):
        import time

        time.sleep(600)
        return self.run()
