"""The `diet` command line end to end on a tiny model, and its errors for bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from diet.cli.main import main

TINY = ["--task", "ag_news", "--n-train", "32", "--n-test", "16", "--model", "tiny", "--epochs", "1", "--batch-size", "8", "--max-length", "32"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "scores"
    assert main(["score", *TINY, "--runs", "2", "--steps", "0", "1ep", "--scores", "el2n", "grand_head", "--out", str(out)]) == 0
    return out


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("tasks", "score", "prune", "train", "run", "book"):
        assert command in text


def test_tasks_lists_sizes(capsys):
    assert main(["tasks"]) == 0
    assert "ag_news: 9,991 train / 7,600 test" in capsys.readouterr().out


def test_score_writes_table_and_config(scored):
    frame = pd.read_parquet(scored / "scores.parquet")
    assert set(frame["score"]) == {"el2n", "grand_head"} and sorted(frame["step"].unique()) == [0, 4]
    assert sorted(frame["run"].unique()) == [0, 1]
    config = json.loads((scored / "config.json").read_text())
    assert config["task_args"]["n_train"] == 32 and config["seeds"] == [0, 1]
    means = pd.read_csv(scored / "scores_mean.csv")
    assert len(means) == 32 * 2 * 2


def test_prune_then_train(scored, tmp_path, capsys):
    subset = tmp_path / "subset.csv"
    assert main(["prune", "--scores", str(scored), "--score", "el2n", "--keep", "0.5", "--balanced", "--out", str(subset)]) == 0
    ids = pd.read_csv(subset)
    assert len(ids) == 16 and ids["label"].value_counts().tolist() == [4, 4, 4, 4]
    assert json.loads(subset.with_suffix(".json").read_text())["n_kept"] == 16
    code = main(["train", "--model", "tiny", "--epochs", "1", "--batch-size", "8", "--max-length", "32", "--subset", str(subset), "--seeds", "0", "1", "--store", str(tmp_path / "runs")])
    assert code == 0
    assert "16 training examples, seeds [0, 1]: test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--keep", "1.5"], "argument --keep: must be a fraction of the training set in (0, 1], e.g. 0.7, got '1.5'"),
        (["--keep", "0.8", "--offset", "0.3"], "offset + keep = 0.3 + 0.8 > 1"),
        (["--score", "grand"], "score 'grand' is not in this table; it has el2n, grand_head"),
        (["--task", "ag_news", "--n-train", "40"], "computed for another task, size or seed"),
    ],
)
def test_prune_errors(scored, tmp_path, capsys, extra, message):
    assert main(["prune", "--scores", str(scored), "--out", str(tmp_path / "s.csv"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


def test_score_errors_name_the_fix(tmp_path, capsys):
    assert main(["score", *TINY[:-10], "--model", "bert-nowhere", "--out", str(tmp_path)]) == 2
    assert "unknown model 'bert-nowhere'" in capsys.readouterr().err
    assert main(["score", "--task", "ag_nwes", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'ag_news'" in capsys.readouterr().err
    assert main(["score", *TINY, "--scores", "el2n", "sharpness", "--out", str(tmp_path)]) == 2
    assert "unknown score 'sharpness'" in capsys.readouterr().err


def test_bad_scores_folder(tmp_path, capsys):
    assert main(["prune", "--scores", str(tmp_path / "none"), "--task", "ag_news"]) == 2
    assert "no scores table" in capsys.readouterr().err


def test_precompute_names_the_figures_it_knows(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIET_STORE", str(tmp_path))
    assert main(["precompute", "--preset", "smoke", "--figures", "2"]) == 2
    assert "no figure '2' has runs to plan; figures with runs: 1, 3, 4, 5, 7" in capsys.readouterr().err
