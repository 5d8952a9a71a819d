"""Scoring steps: one reader (diet.model.steps.parse_step) under the command line, the Python API and the scores table."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from diet.cli.checks import step_spec
from diet.errors import DietError
from diet.model.steps import StepSpec, counts_epochs, parse_step, resolve_step
from diet.scores.table import ScoresTable


def table_with_steps(steps, per_epoch: int = 4) -> ScoresTable:
    rows = [(i, i % 2, "el2n", step, step / per_epoch, 0, float(i)) for i in range(4) for step in steps]
    return ScoresTable(pd.DataFrame(rows, columns=["example_id", "label", "score", "step", "epoch", "run", "value"]))


def test_parse_step_reads_updates_and_epochs_in_any_case_and_spacing():
    assert parse_step("120") == StepSpec(120.0, epochs=False)
    assert parse_step(" 0.5EP ") == StepSpec(0.5, epochs=True)
    assert parse_step(3) == StepSpec(3.0, epochs=False)
    assert parse_step("soon") is None and parse_step("ep") is None and parse_step("") is None
    assert counts_epochs(" 2Ep ") and not counts_epochs("12")


@pytest.mark.parametrize("spec, updates", [("0", 0), ("8", 8), (" 1EP ", 4), ("2ep", 8), ("1e1", 10), (4, 4)])
def test_a_step_means_the_same_update_to_every_caller(spec, updates):
    assert step_spec(str(spec)) == str(spec)
    assert resolve_step(spec, n_train=16, batch_size=4) == updates  # 4 updates an epoch
    assert table_with_steps([0, 4, 8, 10]).find_step(spec) == updates


@pytest.mark.parametrize("spec", ["soon", "", "1.5", "nan", "inf", "1e400", "infep", "nanep"])
def test_unreadable_steps_are_refused_by_every_caller_with_its_message(spec):
    with pytest.raises(argparse.ArgumentTypeError, match=r"^(cannot read step|step .* (must be 0 or more|is not a whole number))"):
        step_spec(spec)
    with pytest.raises(DietError, match=r"^cannot read step .*: use a number of updates \('120'\) or epochs"):
        resolve_step(spec, 16, 4)
    with pytest.raises(DietError, match=r"^cannot read step"):
        table_with_steps([0, 4]).find_step(spec)


def test_the_command_line_names_what_is_wrong_with_a_step():
    with pytest.raises(argparse.ArgumentTypeError, match=r"^step '1\.5' is not a whole number of updates; write epochs as '1\.5ep'$"):
        step_spec("1.5")
    for spec in ("-1", "-0.5ep", "infep"):
        with pytest.raises(argparse.ArgumentTypeError, match=rf"^step '{spec}' must be 0 or more \(step 0 is before any update\)$"):
            step_spec(spec)
    with pytest.raises(argparse.ArgumentTypeError, match=r"^cannot read step 'x': use a number of updates \('120'\) or of epochs"):
        step_spec("x")


def test_negative_steps_are_refused_by_the_api():
    for spec in ("-1", "-2ep", -3):
        with pytest.raises(DietError, match=r"is negative; step 0 is before any update$"):
            resolve_step(spec, 16, 4)
