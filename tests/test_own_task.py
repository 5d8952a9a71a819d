"""A task of one's own, end to end: `diet tasks PATH`, the first-look book at a smoke size, and one-class results said as such."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pandas as pd
import pytest

from diet.book.build import NOTEBOOKS, chapters
from diet.book.toc import task_folder
from diet.cli.main import main
from diet.stats.one_class import is_one_class, one_class_note
from diet.paper.presets import PRESETS

WORDS = ["apple", "river", "stone", "cloud", "paper", "window", "garden", "silver", "engine", "forest"]
SIZES = {"model": "tiny", "n_train": 48, "n_test": 40, "seeds": [0, 1], "retrain_seeds": [0, 1], "fractions": [0.5, 0.8], "offsets": [0.0, 0.2]}


def unlearnable_csv(path: Path, rows: int = 80) -> Path:
    """Texts of random words with labels that do not depend on them (60% 'common'): nothing to learn but the majority class."""
    rng = random.Random(0)
    lines = ["text,label"]
    for i in range(rows):
        text = " ".join(rng.choice(WORDS) for _ in range(6))
        lines.append(f"{text} {i},{'common' if i % 5 < 3 else 'rare'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_diet_tasks_shows_what_diet_would_train_on(tmp_path, capsys):
    path = unlearnable_csv(tmp_path / "mine.csv")
    assert main(["tasks", str(path), "--n-test", "10"]) == 0
    out = capsys.readouterr().out
    assert "train: 64 examples, 2 classes: common 38 (59%), rare 26 (41%)" in out
    assert "test:  10 examples: common 6 (60%), rare 4 (40%)" in out and "20% held out as test" in out
    assert "majority class (common) scores 0.6000" in out
    assert "text length in tokens of the minilm-l6 tokenizer" in out and "p50 " in out
    assert "the test split has 10 examples" in out  # a problem found


@pytest.mark.parametrize(
    "files, options, message",
    [
        ({"a.csv": "text\tlabel\nx y\tpos\nz w\tneg\n"}, [], r"looks tab-separated .* rename it to a\.tsv"),
        ({"a.csv": "text,label\nx,pos\ny,pos\n"}, [], "holds one class"),
        ({"a.csv": "text,label\nx,pos\ny,pos\n"}, ["--label-names", "pos,neg"], r"holds one class \('pos'\) of the 2 declared"),
        ({"a.csv": "text,label\nx,pos\ny,neg\n", "t.csv": "text,label\nz,pos\nw,other\n"}, ["--label-names", "pos", "neg", "other"],
         r"classes \['other'\] that no training example has"),
        ({"a.csv": "text,label\nx,pos\ny,neg\n", "t.csv": "text,label\nz,pos\nw,other\n"}, [], r"labels \['other'\] that never occur"),
    ],
)
def test_diet_tasks_refuses_task_problems(tmp_path, capsys, files, options, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    test = ["--test-file", str(tmp_path / "t.csv")] if "t.csv" in files else []
    assert main(["tasks", str(tmp_path / "a.csv"), *test, *options]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_one_class_rule_and_note():
    frame = pd.DataFrame({"seed": [0, 1], "accuracy": [0.5667, 0.9]})
    labels = [0] * 17 + [1] * 13  # majority 0.5667
    assert is_one_class(0.5667, 0.5667) and is_one_class(0.4333, 0.5667) and not is_one_class(0.9, 0.5667)
    assert is_one_class(0.9, 0.5667, share=0.97) and not is_one_class(0.5, 0.5667, share=0.6)  # a recorded share decides
    note = one_class_note(frame, labels, ["neg", "pos"])
    assert "1 of 2 runs predict (seed 0)" in note and "0.5667 = the share of 'neg'" in note
    assert one_class_note(frame.iloc[[1]], labels, ["neg", "pos"]) == ""


def test_diet_train_says_a_one_class_model_is_one(tmp_path, capsys):
    path = unlearnable_csv(tmp_path / "mine.csv")
    args = ["train", "--task", str(path), "--model", "tiny", "--seeds", "0", "--max-length", "16", "--store", str(tmp_path / "runs")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ONE-CLASS MODEL: the run predicts (nearly) one class" in out, out


@pytest.mark.slow
def test_first_look_book_of_an_own_task(tmp_path, monkeypatch, capsys):
    """The first-look preset's notebooks on a small CSV, sized from `diet book`'s options, and the book around them."""
    monkeypatch.chdir(tmp_path)
    path = unlearnable_csv(tmp_path / "mine.csv")
    sizes = ["--model", "tiny", "--n-train", "48", "--n-test", "40", "--seeds", "0", "1", "--retrain-seeds", "0", "1",
             "--fractions", "0.5", "0.8", "--offsets", "0", "0.2"]
    args = ["book", "--preset", "first-look", "--task", str(path), *sizes, "--label-names", "common,rare",
            "--out", str(tmp_path / "_build"), "--store", str(tmp_path / "store")]
    assert main(args) == 0, capsys.readouterr().err
    generated = tmp_path / "_build" / "source" / "_generated" / task_folder(str(path))
    executed = {n: json.loads((generated / f"{n}.ipynb").read_text()) for n in chapters("first-look")}
    assert set(executed) == set(NOTEBOOKS) - {"07_which_score", "08_scale"}
    for name, nb in executed.items():
        injected = next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
        source = "".join(injected["source"])
        for key, value in SIZES.items():
            assert f"{key} = {json.dumps(value)}" in source, (name, key, source)
        assert 'task_options = {"label_names": ["common", "rare"]}' in source, source
        text = json.dumps(nb)
        assert "512 ag_news" not in text and "as run on mine.csv: model tiny, n_train 48, n_test 40" in text  # the preset as run, not its registered words
    verdicts = pd.read_csv(tmp_path / "store" / next(p.name for p in (tmp_path / "store").iterdir() if p.name.startswith("mine")) / "summary_verdicts.csv")
    assert set(verdicts["verdict"]) == {"inconclusive"}  # one-class models on both sides decide nothing
    fig3 = json.dumps(executed["03_preserved_fraction"])
    assert "one-class model" in fig3.lower(), "figure 3 must say its models predict one class"
    assert (tmp_path / "_build" / "html" / "index.html").exists()
    assert PRESETS["first-look"].retrain_seeds == (0, 1, 2) and len(PRESETS["first-look"].steps) >= 3
    summary_of_some_figures(tmp_path, path)


def summary_of_some_figures(tmp_path: Path, path: Path) -> None:
    """The summary notebook, run when one figure notebook has not: it names that one and checks the others' claims."""
    from diet.book.build import execute
    from diet.paper.claims import claims, figure_tables
    from diet.paper.context import repo_root, run_context

    params = {"preset": "first-look", "task": str(path), "store": str(tmp_path / "store"), "task_options": {"label_names": ["common", "rare"]}, **SIZES}
    ctx = run_context(**params)
    (ctx.tables / "fig4_offset.csv").unlink()
    tables, missing = figure_tables(ctx)
    assert set(tables) == {"1", "2", "3", "5"} and list(missing) == ["4"] and "04_offset.ipynb" in missing["4"]
    checked = set(claims(ctx)["id"])
    assert {"1b", "3a", "5a"} <= checked and not {"4a", "4b", "4c"} & checked
    out = tmp_path / "summary.ipynb"
    execute(repo_root() / "notebooks" / "06_summary.ipynb", out, params, cwd=repo_root())
    assert "**Not in this summary:** figure 4 (`notebooks/04_offset.ipynb` has not run with these parameters)" in out.read_text().replace('\\"', '"')


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--text-column", "sentence"], r"describe a file of your own: name it with --task my.csv"),
        (["--task", "TABS", "--task-option", "colour=red"], r"--task-option 'colour=red': give KEY=VALUE with KEY one of text_column"),
        (["--task", "TABS"], r"looks tab-separated"),
        (["--task", "ag_news", "--offsets", "1"], r"--offsets: .*in \[0, 1\)"),
    ],
)
def test_diet_book_checks_its_task_before_any_notebook(tmp_path, capsys, extra, message):
    tabs = tmp_path / "tabs.csv"
    tabs.write_text("text\tlabel\na b\tx\nc d\ty\n")
    args = ["book", "--preset", "first-look", "--out", str(tmp_path / "_build"), *[str(tabs) if a == "TABS" else a for a in extra]]
    assert main(args) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "_build" / "source").exists()  # stopped before any notebook ran
