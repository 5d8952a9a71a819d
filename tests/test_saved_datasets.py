"""A `datasets` save_to_disk folder is a task (columns, ClassLabel names, split names, held-out test); hf:NAME fails fast offline."""

from __future__ import annotations

import time

import pytest

datasets = pytest.importorskip("datasets")

from diet import DietError, load_task  # noqa: E402
from diet.cli.main import main  # noqa: E402

TEXTS = [f"example text number {i} about {'cats' if i % 3 else 'dogs'}" for i in range(40)]
LABELS = [i % 3 == 0 for i in range(40)]


def saved_dict(path, splits=("train", "test")):
    """A DatasetDict with a ClassLabel label, saved to `path`."""
    features = datasets.Features({"sentence": datasets.Value("string"), "y": datasets.ClassLabel(names=["cat", "dog"])})
    parts = {}
    for k, split in enumerate(splits):
        rows = range(k * 20, k * 20 + 20)
        parts[split] = datasets.Dataset.from_dict({"sentence": [TEXTS[i] for i in rows], "y": [int(LABELS[i]) for i in rows]}, features=features)
    datasets.DatasetDict(parts).save_to_disk(str(path))
    return path


def test_a_saved_dataset_dict_is_a_task_with_class_label_names(tmp_path):
    task = load_task(str(saved_dict(tmp_path / "pets")), text_column="sentence", label_column="y")
    assert task.label_names == ("cat", "dog")
    assert (len(task.train), len(task.test)) == (20, 20)
    assert task.train.text == tuple(TEXTS[:20]) and task.test.text == tuple(TEXTS[20:])
    assert task.train.labels.tolist() == [int(v) for v in LABELS[:20]]
    assert task.name == "pets" and "saved dataset" in task.source


def test_split_names_are_options(tmp_path):
    folder = str(saved_dict(tmp_path / "pets", splits=("fit", "validation")))
    task = load_task(folder, text_column="sentence", label_column="y", train_split="fit", test_split="validation")
    assert task.test.text == tuple(TEXTS[20:])
    with pytest.raises(DietError, match=r"no split 'train'; its splits: fit, validation.*--train-split"):
        load_task(folder, text_column="sentence", label_column="y")
    with pytest.raises(DietError, match="has no column 'text'.*--text-column"):
        load_task(folder, train_split="fit", test_split="validation")


def test_a_single_saved_dataset_holds_out_the_same_test_split_as_a_file(tmp_path, capsys):
    rows = {"text": TEXTS, "label": ["dog" if v else "cat" for v in LABELS]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "single"))
    (tmp_path / "single.csv").write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(rows["text"], rows["label"])))
    saved, csv = load_task(str(tmp_path / "single")), load_task(str(tmp_path / "single.csv"))
    assert len(saved.test) == 8 and saved.test.text == csv.test.text and saved.train.text == csv.train.text
    assert saved.label_names == csv.label_names == ("cat", "dog")
    assert "holding out a stratified 20%" in capsys.readouterr().err


def test_diet_tasks_and_train_take_a_saved_dataset(tmp_path, capsys):
    folder = str(saved_dict(tmp_path / "pets", splits=("train", "validation")))
    columns = ["--text-column", "sentence", "--label-column", "y", "--test-split", "validation"]
    assert main(["tasks", folder, *columns]) == 0
    out = capsys.readouterr().out
    assert "train: 20 examples, 2 classes: cat" in out and "test:  20 examples" in out
    args = ["train", "--task", folder, *columns, "--model", "tiny", "--seeds", "0", "--max-length", "16", "--store", str(tmp_path / "runs")]
    assert main(args) == 0
    assert "on 20 test examples of pets" in capsys.readouterr().out


def test_a_hub_dataset_fails_fast_offline_naming_the_fix(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(DietError, match=r"cannot load imdb from the Hugging Face hub: HF_HUB_OFFLINE is set.*save_to_disk"):
        load_task("hf:imdb")
    assert main(["tasks", "hf:glue/cola", "--text-column", "sentence"]) == 2
    assert main(["train", "--task", "hf:glue/cola", "--model", "tiny"]) == 2
    assert time.monotonic() - start < 3
    err = capsys.readouterr().err
    assert "load_dataset('glue', 'cola').save_to_disk(FOLDER)" in err and "--task FOLDER" in err
