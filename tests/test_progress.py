"""The one progress reporter (diet.progress.Progress): a stage's lines (`diet run`) and a log's lines (`diet precompute`)
off a terminal, word for word, and a bar on one."""

from __future__ import annotations

import io
import re

import pytest

from diet.progress import Progress, clock, minutes

STAMP = r"\[\d\d:\d\d:\d\d\] "


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_durations():
    assert (minutes(42.4), minutes(185), clock(3723), clock(59.6)) == ("42 s", "3 min 05 s", "1:02:03", "0:01:00")


def test_a_stage_off_a_terminal():
    out = io.StringIO()
    with Progress("scoring (el2n at 1ep)", 2, "fine-tuning runs", out, every=0) as stage:
        stage.advance()
        stage.advance()
    lines = out.getvalue().splitlines()
    assert lines[0] == "scoring (el2n at 1ep): 2 fine-tuning runs"
    assert re.fullmatch(r"scoring \(el2n at 1ep\): 1/2 fine-tuning runs, \d+ s so far, ETA \d+ s", lines[1]), lines[1]
    assert re.fullmatch(r"scoring \(el2n at 1ep\): 2/2 fine-tuning runs done in \d+ s", lines[2]) and len(lines) == 3
    assert stage.close() == stage.seconds  # closed once: the same seconds, no second line
    assert len(out.getvalue().splitlines()) == 3


def test_a_stage_weighs_its_units():
    stage = Progress("retraining", 3, "runs", io.StringIO(), total_weight=400)
    stage.advance(100, seconds=10.0)
    assert stage.eta() == pytest.approx(10.0 / 100 * 300)


def test_a_log_off_a_terminal():
    out = io.StringIO()
    bar = Progress("jobs", 4, "jobs", out, done=1, workers=2, log=True)
    bar.show("1 running, 0 queued, 0 failed")  # the first state is printed at once
    bar.advance(seconds=60.0)  # no line of its own: lines come with the state
    bar.show("1 running, 0 queued, 0 failed")  # within 30 s of the last line: none
    bar.every = 0
    bar.show("0 running, 0 queued, 1 failed")
    bar.close("1 failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert re.fullmatch(STAMP + r"jobs: 1/4 done, 1 running, 0 queued, 0 failed; ETA after the first job", lines[0]), lines[0]
    assert re.fullmatch(STAMP + r"jobs: 2/4 done, 0 running, 0 queued, 1 failed; ETA 0:01:00", lines[1]), lines[1]  # 60 s a job, 2 left, 2 workers
    assert re.fullmatch(STAMP + r"jobs: 2/4 done, 1 failed; wall time 0:00:00", lines[2]), lines[2]


def test_nothing_when_disabled():
    out = io.StringIO()
    for log in (False, True):
        with Progress("jobs", 2, "jobs", out, enabled=False, log=log, every=0) as bar:
            bar.show("1 running")
            bar.advance()
        bar.close("0 failed")
    assert out.getvalue() == ""


def test_a_bar_on_a_terminal(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    out = Terminal()
    with Progress("scoring", 2, "fine-tuning runs", out) as stage:
        stage.advance()
        stage.advance()
    assert "\r" in out.getvalue() and "2/2" in out.getvalue() and "done in" not in out.getvalue()
    log = Terminal()
    bar = Progress("jobs", 2, "jobs", log, log=True)
    bar.show("1 running, 0 queued, 0 failed")
    bar.advance(seconds=1.0)
    bar.close("0 failed")
    assert "\r" in log.getvalue() and re.search(STAMP + "jobs: 1/2 done, 0 failed; wall time", log.getvalue())  # a log's last line comes after the bar


def test_lines_on_a_terminal_whose_bars_are_off(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    out = Terminal()
    with Progress("scoring", 1, "fine-tuning runs", out) as stage:
        stage.advance()
    assert out.getvalue().splitlines()[0] == "scoring: 1 fine-tuning runs" and "\r" not in out.getvalue()


@pytest.mark.parametrize("setting,shown", [("1", False), ("0", True), ("", True)])
def test_inner_bars_follow_tqdm_disable(monkeypatch, capsys, setting, shown):
    """A fine-tuning's step bar (tqdm given `disable` explicitly, which makes tqdm ignore TQDM_DISABLE) is off when
    the user sets TQDM_DISABLE, as diet's own Progress is, and on otherwise."""
    import numpy as np

    from diet.model.batching import Encoded
    from diet.model.config import TrainConfig
    from diet.model.encoders import load_encoder
    from diet.model.train import fine_tune

    monkeypatch.setenv("TQDM_DISABLE", setting)
    data = Encoded([[101, 7, 8, 102]] * 4, [[0] * 4] * 4, np.array([0, 1, 0, 1]), np.arange(4), 0)
    fine_tune(load_encoder("tiny", 2, 0), data, TrainConfig(epochs=1, batch_size=2, device="cpu"), 0, progress=True, desc="step bar")
    assert ("step bar" in capsys.readouterr().err) == shown
