"""Messages a user reads: offline hub loads fail at once, steps in the user's units, what `diet prune` applied."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diet.cli.main import main
from diet.errors import DietError
from diet.scores.table import ScoresTable
from diet.model.steps import describe_step
from diet.data.tasks import load_task

TINY = ["--task", "ag_news", "--n-train", "32", "--n-test", "16", "--model", "tiny", "--epochs", "1", "--batch-size", "8", "--max-length", "32"]


@pytest.fixture
def hub_calls(monkeypatch):
    """What loading from the hub asked for: the reachability checks (urlopen's timeouts) and `datasets.load_dataset`
    calls (which retry for tens of seconds when the hub is away). The checks run (the endpoints here refuse at once);
    `load_dataset` fails at once."""
    import urllib.request

    import datasets

    calls = {"urlopen": [], "load_dataset": 0}
    real = urllib.request.urlopen

    def urlopen(request, timeout=None, **kwargs):
        calls["urlopen"].append(timeout)
        return real(request, timeout=timeout, **kwargs)

    def load_dataset(*args, **kwargs):
        calls["load_dataset"] += 1
        raise ConnectionError("the test's stand-in for a hub that does not answer")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


@pytest.mark.parametrize("task", ["ag_news", "sst2", "mnli"])
def test_offline_hub_load_fails_at_once_naming_the_mirror(monkeypatch, task, hub_calls):
    """At once: no connection is tried and `datasets` (with its retries) is never asked."""
    monkeypatch.delenv("DIET_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DietError, match=r"HF_HUB_OFFLINE is set\. Set DIET_DATA_DIR to a local mirror"):
        load_task(task)
    assert hub_calls == {"urlopen": [], "load_dataset": 0}


def test_unreachable_hub_fails_at_once(monkeypatch, hub_calls):
    """At once: one connection attempt with a short timeout, and `datasets` (with its retries) is never asked."""
    from diet.data.named_tasks import HUB_TIMEOUT

    monkeypatch.delenv("DIET_DATA_DIR", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens, the connection is refused
    with pytest.raises(DietError, match=r"http://127\.0\.0\.1:9 cannot be reached .*Set DIET_DATA_DIR"):
        load_task("sst2")
    assert hub_calls == {"urlopen": [HUB_TIMEOUT], "load_dataset": 0} and HUB_TIMEOUT <= 5


def _table(steps=(0, 4, 8), per_epoch=4) -> ScoresTable:
    rows = [{"example_id": i, "label": i % 2, "score": "el2n", "step": s, "epoch": s / per_epoch, "run": 0, "value": float(i)} for i in range(6) for s in steps]
    return ScoresTable(pd.DataFrame(rows))


def test_missing_step_is_named_in_the_users_units():
    table = _table()
    assert table.find_step("1ep") == 4 and table.find_step(8) == 8 and table.mean("el2n", "2ep").name == "el2n@8"
    with pytest.raises(DietError, match=r"step 3ep = update 12 is not in this table; it has update 0 = 0ep, update 4 = 1ep, update 8 = 2ep"):
        table.mean("el2n", "3ep")
    with pytest.raises(DietError, match=r"^update 6 = 1\.5ep is not in this table"):
        table.mean("el2n", 6)
    assert describe_step("1ep", 32, 8) == "1ep = update 4" and describe_step("6", 32, 8) == "update 6 = 1.5ep"


def test_score_and_prune_speak_in_epochs_and_prune_says_what_it_applied(tmp_path, capsys):
    out = tmp_path / "scores"
    assert main(["score", *TINY, "--runs", "1", "--steps", "0", "1ep", "--scores", "el2n", "--out", str(out)]) == 0
    assert "el2n at update 0 = 0ep, 1ep = update 4; runs [0]" in capsys.readouterr().out
    subset = tmp_path / "subset.csv"
    assert main(["prune", "--scores", str(out), "--step", "1ep", "--keep", "0.5", "--offset", "0.25", "--balanced", "--out", str(subset)]) == 0
    text = capsys.readouterr().out
    assert ("kept 16 of 32 examples: the top 50% by el2n at 1ep = update 4, after skipping the top 25% (fixed window: ranks 25% to 75%), "
            "class-balanced (the same fraction within each class)") in text
    assert main(["prune", "--scores", str(out), "--step", "2ep", "--out", str(subset)]) == 2
    assert "update 8 = 2ep is not in this table; it has update 0 = 0ep, update 4 = 1ep" in capsys.readouterr().err
    assert main(["prune", "--scores", str(out), "--order", "random", "--keep", "0.25", "--out", str(subset)]) == 0
    assert "kept 8 of 32 examples: a random 25% (seed 0), not class-balanced" in capsys.readouterr().out
    assert len(pd.read_csv(subset)) == 8 and np.isfinite(pd.read_csv(subset)["example_id"]).all()
