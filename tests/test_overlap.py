"""Train/test overlap: one detection (diet.data.overlap) behind the warning of every command, --drop-overlap, the report and the AG News mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from diet import load_task
from diet.cli.main import main
from diet.data.named_tasks import ag_news
from diet.data.overlap import overlap_in_test, overlap_positions
from diet.data.text_tables import read_rows
from diet.data.tasks import mirror_dir

WARNING = "warning: 6 test texts also occur in training: test accuracy overstates what the model learned; --drop-overlap removes them"


def csv_pair(folder: Path, overlap: int = 6) -> tuple[Path, Path]:
    """tr.csv with 40 rows and te.csv with 20: `overlap` of them copied from tr.csv."""
    rows = [(f"training text {i} on {'cats' if i % 2 else 'dogs'}", "cat" if i % 2 else "dog") for i in range(40)]
    test = rows[:overlap] + [(f"test text {i} on {'cats' if i % 2 else 'dogs'}", "cat" if i % 2 else "dog") for i in range(20 - overlap)]
    paths = folder / "tr.csv", folder / "te.csv"
    for path, part in zip(paths, (rows, test)):
        path.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in part))
    return paths


def test_train_warns_of_test_texts_seen_in_training(tmp_path, capsys):
    train, test = csv_pair(tmp_path)
    args = ["train", "--task", str(train), "--test-file", str(test), "--model", "tiny", "--seeds", "0", "--max-length", "16", "--store", str(tmp_path / "runs")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert WARNING in captured.err and len([line for line in captured.err.splitlines() if "also occur in training" in line]) == 1
    assert "on 20 test examples" in captured.out and "also occur" not in captured.out
    assert main([*args, "--drop-overlap"]) == 0
    captured = capsys.readouterr()
    assert "also occur in training" not in captured.err and "on 14 test examples" in captured.out


def test_drop_overlap_shrinks_the_test_split_by_the_overlap(tmp_path, capsys):
    train, test = csv_pair(tmp_path, overlap=5)
    kept = load_task(str(train), test_file=str(test))
    assert len(overlap_in_test(kept)) == 5 and "warning: 5 test texts also occur" in capsys.readouterr().err
    dropped = load_task(str(train), test_file=str(test), drop_overlap=True)
    assert len(dropped.test) == len(kept.test) - 5 and len(dropped.train) == len(kept.train)
    assert not set(dropped.test.text) & set(dropped.train.text) and "also occur" not in capsys.readouterr().err
    assert set(kept.test.text) - set(dropped.test.text) == set(kept.train.text) & set(kept.test.text)


def test_pairs_overlap_only_as_pairs():
    assert overlap_positions([("a", "b"), ("a", "c"), "x"], [("a", "b"), "x"]).tolist() == [0, 2]


def test_diet_tasks_reports_the_overlap_once_in_its_report(tmp_path, capsys):
    train, test = csv_pair(tmp_path)
    assert main(["tasks", str(train), "--test-file", str(test)]) == 0
    captured = capsys.readouterr()
    assert "    - 6 test texts also occur in training" in captured.out and "also occur" not in captured.err
    assert main(["tasks", str(train), "--test-file", str(test), "--drop-overlap"]) == 0
    out = capsys.readouterr().out
    assert "test:  14 examples" in out and "also occur" not in out


def test_run_context_warns_too(tmp_path, capsys):
    from diet.paper.context import run_context

    train, test = csv_pair(tmp_path)
    context = run_context("smoke", task=str(train), store=tmp_path / "store", task_options={"test_file": str(test)}, n_test=None)
    assert WARNING in capsys.readouterr().err and len(context.task.test) == 20
    full = context
    context = run_context("smoke", task=str(train), store=tmp_path / "store", task_options={"test_file": str(test), "drop_overlap": True}, n_test=None)
    assert len(context.task.test) == 14
    assert context.tables == full.tables.with_name(full.tables.name + "-no-overlap")  # its tables beside, not over, the full split's


def test_the_ag_news_mirror_drops_its_10_overlaps_through_the_same_detection(capsys):
    root = mirror_dir()
    if root is None:
        pytest.skip("no local mirror")
    sample = read_rows(root / "ag_news/train_sample_10k.tsv", what="mirror file", names=("description", "label")).columns["description"]
    test = read_rows(root / "ag_news/test.csv", what="mirror file", names=("label", "title", "description")).columns["description"]
    assert len(overlap_positions(sample, test)) == 10
    task = ag_news(root)
    assert "minus 10 test overlaps" in task.source and len(task.train) == len(sample) - 10
    assert len(overlap_in_test(load_task("ag_news"))) == 0 and "also occur" not in capsys.readouterr().err


def test_diet_tasks_does_not_leak_the_tokenizer_length_warning(tmp_path, capfd):
    path = tmp_path / "long.csv"
    path.write_text("text,label\n" + "".join(f"{'word ' * 600}{i},{'a' if i % 2 else 'b'}\n" for i in range(30)))
    assert main(["tasks", str(path)]) == 0
    out, err = capfd.readouterr()
    if "tokens of the minilm-l6 tokenizer" not in out:
        pytest.skip("the minilm-l6 tokenizer is not available offline here")
    assert "longer than --max-length 128 tokens and get truncated" in out
    assert "Token indices sequence length" not in out + err


def test_book_and_run_take_drop_overlap_for_named_tasks_too():
    from diet.cli.book import book_parameters
    from diet.cli.main import build_parser

    args = build_parser().parse_args(["book", "--preset", "smoke", "--drop-overlap"])
    assert book_parameters(args)["task_options"] == {"drop_overlap": True}
    args = build_parser().parse_args(["book", "--preset", "smoke", "--task-option", "drop_overlap=true"])
    assert book_parameters(args)["task_options"] == {"drop_overlap": True}
    assert build_parser().parse_args(["run", "--drop-overlap"]).drop_overlap
