"""Loading tasks from the mirror and from local files, subsampling, and the errors for bad data."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from diet import DietError, load_task
from tests.conftest import MIRROR


def test_ag_news_mirror_counts():
    task = load_task("ag_news")
    assert (len(task.train), len(task.test)) == (9_991, 7_600)
    assert task.label_names == ("World", "Sports", "Business", "Sci/Tech")
    assert np.bincount(task.test.labels).tolist() == [1_900] * 4
    assert not set(task.train.text) & set(task.test.text)


def test_sst2_mirror_counts():
    task = load_task("sst2")
    assert (len(task.train), len(task.test)) == (67_349, 872)
    assert np.bincount(task.train.labels).tolist() == [29_780, 37_569]
    assert np.bincount(task.test.labels).tolist() == [428, 444]


def test_mnli_mirror_is_pairs():
    task = load_task("mnli")
    assert (len(task.train), len(task.test)) == (1_000, 1_000)
    assert task.is_pair and task.num_labels == 3
    assert np.bincount(task.train.labels).tolist() == [373, 311, 316]


def test_stratified_subsample_is_seeded_and_keeps_ids():
    a = load_task("ag_news", n_train=200, n_test=100, seed=3)
    b = load_task("ag_news", n_train=200, n_test=100, seed=3)
    c = load_task("ag_news", n_train=200, n_test=100, seed=4)
    assert len(a.train) == 200 and len(a.test) == 100
    full_counts = np.bincount(load_task("ag_news").train.labels)
    quota = full_counts * 200 / full_counts.sum()
    assert np.all(np.abs(np.bincount(a.train.labels) - quota) < 1)
    assert np.array_equal(a.train.ids, b.train.ids)
    assert not np.array_equal(a.train.ids, c.train.ids)
    full = load_task("ag_news")
    assert set(a.train.ids) <= set(full.train.ids)


def test_local_csv_pairs_with_string_labels(csv_task):
    task = load_task(str(csv_task), pair_column="answer", text_column="question")
    assert task.is_pair and task.label_names == ("maybe", "no", "yes")
    assert len(task.train) + len(task.test) == 24
    assert len(task.test) == 5


def test_local_folder_with_train_and_test(tmp_path):
    (tmp_path / "train.tsv").write_text("text\tlabel\n" + "".join(f"t{i}\t{i % 2}\n" for i in range(10)))
    (tmp_path / "test.jsonl").write_text("".join(f'{{"text": "s{i}", "label": {i % 2}}}\n' for i in range(4)))
    task = load_task(str(tmp_path))
    assert (len(task.train), len(task.test), task.num_labels) == (10, 4, 2)


@pytest.mark.parametrize(
    "content, options, message",
    [
        ("text,target\na,0\nb,1\n", {}, "no column 'label'; columns found: text, target"),
        ("text,label\na,pos\nb,neg\nc,neg\nd,pos\ne,pos\n", {"label_names": ["neg"]}, "not in the label set"),
        ("text,label\n", {}, "has no rows"),
        ("text,label\na,0\n,1\nc,1\nd,0\ne,1\nf,0\n", {}, "column 'text' is empty"),
    ],
)
def test_bad_local_files_say_what_to_fix(tmp_path, content, options, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DietError, match=message):
        load_task(str(path), **options)


def test_test_labels_must_occur_in_training(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\na,0\nb,1\n")
    (tmp_path / "test.csv").write_text("text,label\nc,1\nd,-1\n")
    with pytest.raises(DietError, match=r"labels \[-1\] that never occur in the training file .* on file lines 3; .*--label-names"):
        load_task(str(tmp_path))
    with pytest.raises(DietError, match=r"labels outside 0..1: \[-1\]"):
        load_task(str(tmp_path), label_names=["neg", "pos"])


def test_integer_labels_are_exactly_the_classes_present(tmp_path):
    """Labels 1 and 2 are two classes, not three with an empty class 0."""
    path = tmp_path / "ones_twos.csv"
    path.write_text("text,label\n" + "".join(f"text {i},{1 + i % 2}\n" for i in range(10)))
    task = load_task(str(path))
    assert task.label_names == ("1", "2") and task.num_labels == 2
    assert sorted(set(task.train.labels) | set(task.test.labels)) == [0, 1]
    declared = load_task(str(path), label_names=["none", "one", "two"])  # declared names: integers index them
    assert declared.num_labels == 3 and set(declared.train.labels) == {1, 2}


def test_empty_labels_are_refused_with_file_lines(tmp_path):
    """An empty label cell is not a class ""; the message names every file line, held-out ones too."""
    path = tmp_path / "gaps.csv"
    rows = [f"text {i},{'' if i in (2, 3, 4, 9) else i % 2}" for i in range(12)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DietError, match=r"label column 'label' is empty in 4 rows \(file lines 4-6, 11\)"):
        load_task(str(path))


def test_empty_texts_are_reported_by_file_line(tmp_path):
    path = tmp_path / "texts.jsonl"
    lines = [f'{{"text": "{"" if i in (0, 7) else f"t{i}"}", "label": {i % 2}}}' for i in range(10)]
    path.write_text("\n".join(lines[:5]) + "\n\n" + "\n".join(lines[5:]) + "\n")  # a blank line shifts the rest
    with pytest.raises(DietError, match=r"column 'text' is empty in 2 rows \(file lines 1, 9\)"):
        load_task(str(path))


def test_unknown_task_lists_known_ones():
    with pytest.raises(DietError, match="Known: ag_news, mnli, sst2. Did you mean 'sst2'"):
        load_task("sst-2")


def test_mirror_checksum_failure(tmp_path, monkeypatch):
    copy = tmp_path / "mirror"
    shutil.copytree(MIRROR, copy)
    target = copy / "mnli_sample" / "matched_1000.tsv"
    target.chmod(0o644)
    target.write_text(target.read_text().replace("bookshop", "bakery", 1))
    monkeypatch.setenv("DIET_DATA_DIR", str(copy))
    with pytest.raises(DietError, match="fails its checksum"):
        load_task("mnli")


def test_a_headerless_table_takes_the_column_names_given(tmp_path):
    from diet.data.text_tables import read_rows

    path = tmp_path / "pairs.tsv"
    path.write_text("yes\tit rains\n\nno\tit is dry\n")
    rows = read_rows(path, names=("label", "text"))
    assert rows.columns == {"label": ["yes", "no"], "text": ["it rains", "it is dry"]} and rows.lines.tolist() == [1, 3]
    assert read_rows(path).columns == {"yes": ["no"], "it rains": ["it is dry"]}  # without names, line 1 is the header


def test_a_mirror_line_missing_a_field_is_named(tmp_path, monkeypatch):
    copy = tmp_path / "mirror"
    shutil.copytree(MIRROR, copy)
    target, sums = copy / "mnli_sample" / "matched_1000.tsv", copy / "SHA256SUMS"
    target.chmod(0o644)
    sums.chmod(0o644)
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    lines = target.read_text().split("\n")
    lines[2] = lines[2].rsplit("\t", 1)[0]  # line 3 loses its hypothesis
    target.write_text("\n".join(lines))
    sums.write_text(sums.read_text().replace(before, hashlib.sha256(target.read_bytes()).hexdigest()))  # checksummed as it is now
    monkeypatch.setenv("DIET_DATA_DIR", str(copy))
    with pytest.raises(DietError, match=r"matched_1000\.tsv, line 3: 2 fields, but every line needs 3 \(label, premise, hypothesis\); a TSV field cannot hold a tab"):
        load_task("mnli")


def test_data_dir_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("DIET_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DietError, match="is not a folder"):
        load_task("ag_news")
