"""Bad input through the real command line: exit code 2, a message that names the fix, no traceback.

One row per case of the battery; most fail before anything is loaded or trained. The silent wrong
results of issue 12 (options dropped, labels invented, infinite scores ranked, unreadable files,
damaged store entries) have their own tests below the battery.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from diet import load_task
from diet.cli.main import main
from diet.data.fingerprint import split_fingerprint
from diet.scores.table import ScoresTable
from diet.runs.store import Store
from diet.files import write_json, write_table

FAST = ["--model", "tiny", "--epochs", "1", "--batch-size", "8", "--max-length", "16"]


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    """A folder of good and bad inputs, shared by every case of the battery."""
    d = tmp_path_factory.mktemp("inputs")
    good = d / "good.csv"
    good.write_text(lines("text,label", *(f"sentence number {i} is {'nice' if i % 2 else 'dull'},{'pos' if i % 2 else 'neg'}" for i in range(30))))
    (d / "empty.csv").write_text("")
    (d / "latin1.csv").write_bytes("text,label\ncafe,a\ncaf\xe9 au lait,b\n".encode("latin-1"))
    (d / "broken.jsonl").write_text('{"text": "a", "label": 0}\n{"text": "b", "label": 1\n')
    (d / "array.json").write_text('[{"text": "a", "label": 0}, {"text": "b", "label": 1}]\n')
    (d / "fields.csv").write_text(lines("text,label", "a,0", "b, c,1", "d,1"))
    (d / "empty_label.csv").write_text(lines("text,label", "a,0", "b,1", "c,", "d,1", "e,0"))
    (d / "one_class.csv").write_text(lines("text,label", "a,x", "b,x", "c,x"))
    (d / "fractional.csv").write_text(lines("text,label", "a,0.5", "b,1.25", "c,3"))
    (d / "dup_header.csv").write_text(lines("text,text,label", "a,b,0", "c,d,1"))
    (d / "no_train").mkdir()
    unseen = d / "unseen"
    unseen.mkdir()
    (unseen / "train.csv").write_text(lines("text,label", "a,0", "b,1", "c,0"))
    (unseen / "test.csv").write_text(lines("text,label", "d,1", "e,2"))
    (d / "a_file").write_text("not a folder\n")
    (d / "subset_empty.csv").write_text("")
    (d / "subset_no_id.csv").write_text(lines("id,label", "1,0"))
    (d / "subset_text_ids.csv").write_text(lines("example_id,label", "1,0", "two,1", "3,0"))
    (d / "subset_header_only.csv").write_text(lines("example_id,label"))
    (d / "subset_repeated.csv").write_text(lines("example_id", "1", "2", "1"))
    (d / "subset_bad_meta.csv").write_text(lines("example_id", "1", "2"))
    (d / "subset_bad_meta.json").write_text("{not json")
    (d / "subset_bad.parquet").write_bytes(b"PAR1 truncated")
    _scores_folders(d, good)
    return d


def _scores_folders(d: Path, good: Path) -> None:
    """Scores tables made without training: a good one, one with +inf, a CSV, a damaged parquet."""
    task = load_task(str(good))
    n = len(task.train)
    frame = pd.DataFrame({"example_id": task.train.ids, "label": task.train.labels, "score": "el2n", "step": 3, "epoch": 1.0, "run": 0,
                          "value": np.random.default_rng(0).random(n)})
    config = {"task_args": {"name": str(good), "n_train": None, "n_test": None, "seed": 0}, "train": split_fingerprint(task.train),
              "train_config": {"batch_size": 8}}
    ScoresTable(frame, config).save(d / "scores")
    infinite = frame.assign(value=frame["value"].where(frame.index != 3, np.inf))
    (d / "scores_inf").mkdir()
    infinite.to_parquet(d / "scores_inf" / "scores.parquet")
    write_json(d / "scores_inf" / "config.json", config)
    frame.to_csv(d / "scores.csv", index=False)
    (d / "scores_damaged").mkdir()
    (d / "scores_damaged" / "scores.parquet").write_bytes(b"")


NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
CASES = [
    # options, checked while parsing
    (["score", "--batch-size", "0"], "argument --batch-size: must be a positive whole number (1 or more), got '0'"),
    (["score", "--batch-size", "eight"], "argument --batch-size: must be a positive whole number, got 'eight'"),
    (["train", "--epochs", "0"], "argument --epochs: must be a positive number, got '0'"),
    (["score", "--epochs", "nan"], "argument --epochs: must be a positive number, got 'nan'"),
    (["score", "--lr=-1e-4"], "argument --lr: must be a positive number, got '-1e-4'"),
    (["train", "--lr", "inf"], "argument --lr: must be a positive number, got 'inf'"),
    (["score", "--max-length", "0"], "argument --max-length: must be from 4 to 512 tokens"),
    (["score", "--max-length", "4096"], "argument --max-length: must be from 4 to 512 tokens"),
    (["score", "--device", "tpu"], "argument --device: must be auto, cpu, cuda or cuda:N, got 'tpu'"),
    pytest.param(["train", "--device", "cuda"], "argument --device: 'cuda' asks for a GPU, but torch sees none", marks=NO_GPU),
    (["score", "--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
    (["score", "--grand-method", "fast"], "argument --grand-method: invalid choice: 'fast'"),
    (["score", "--runs", "0"], "argument --runs: must be a positive whole number"),
    (["score", "--seeds", "-1"], "argument --seeds: must be a seed from 0 to"),
    (["score", "--steps", "1.5"], "argument --steps: step '1.5' is not a whole number of updates; write epochs as '1.5ep'"),
    (["score", "--steps", "-1"], "argument --steps: step '-1' must be 0 or more"),
    (["score", "--steps", "soon"], "argument --steps: cannot read step 'soon'"),
    (["score", "--scores", "el2m"], "argument --scores: unknown score 'el2m'. Known: "),
    (["score", "--n-train", "0"], "argument --n-train: must be a positive whole number"),
    (["train", "--n-test", "-5"], "argument --n-test: must be a positive whole number"),
    (["score", "--data-seed", "-1"], "argument --data-seed: must be a seed from 0"),
    (["score", "--encoding", "klingon"], "argument --encoding: unknown encoding 'klingon' (--encoding)"),
    (["tasks", "--n-train", "0"], "argument --n-train: must be a positive whole number"),
    (["prune", "--keep", "1.5"], "argument --keep: must be a fraction of the training set in (0, 1]"),
    (["prune", "--keep", "0"], "argument --keep: 0 keeps no examples"),
    (["prune", "--offset", "-0.1"], "argument --offset: must be a fraction in [0, 1]"),
    (["prune", "--order", "middle"], "argument --order: invalid choice: 'middle'"),
    (["prune", "--seed", "x"], "argument --seed: must be a whole-number seed, got 'x'"),
    (["run", "--keep", "1.5"], "argument --keep: must be a fraction of the training set in (0, 1]"),
    (["run", "--n-train", "0"], "argument --n-train: must be a positive whole number"),
    # options that contradict each other, checked before loading anything
    (["score", "--seeds", "0", "0", "--out", "{d}/o1"], "--seeds repeats 0; give each value once"),
    (["train", "--seeds", "1", "2", "1", "--store", "{d}/r1"], "--seeds repeats 1"),
    (["score", "--runs", "2", "--seeds", "0", "1", "--out", "{d}/o2"], "--runs and --seeds both given"),
    # output paths, checked before any fine-tuning
    (["score", "--task", "{d}/good.csv", *FAST, "--out", "{d}/a_file"], "--out {d}/a_file is an existing file, but a folder is needed there"),
    (["score", "--task", "{d}/good.csv", *FAST, "--out", "{d}/a_file/scores"], "{d}/a_file is a file, so nothing can be written below it"),
    (["run", "--out", "{d}/a_file"], "--out {d}/a_file is an existing file, but a folder is needed there"),
    (["prune", "--scores", "{d}/scores", "--out", "{d}/no_train"], "--out {d}/no_train is a folder; name a file in it"),
    (["prune", "--scores", "{d}/scores", "--out", "{d}/subset.json"], "name a .csv or .parquet file"),
    (["train", "--task", "{d}/good.csv", *FAST, "--out", "{d}/a_file/acc.csv"], "{d}/a_file is a file, so nothing can be written below it"),
    (["train", "--task", "{d}/good.csv", *FAST, "--store", "{d}/a_file"], "--store {d}/a_file is an existing file, but a folder is needed"),
    # task files
    (["score", "--task", "{d}/empty.csv", *FAST, "--out", "{d}/o3"], "task file {d}/empty.csv is empty"),
    (["score", "--task", "{d}/latin1.csv", *FAST, "--out", "{d}/o3"], "{d}/latin1.csv, line 3: the bytes b'\\xe9' are not valid utf-8; pass the file's encoding with --encoding"),
    (["score", "--task", "{d}/broken.jsonl", *FAST, "--out", "{d}/o3"], "{d}/broken.jsonl, line 2: not valid JSON"),
    (["score", "--task", "{d}/array.json", *FAST, "--out", "{d}/o3"], "line 1: a JSON list where an object is needed"),
    (["score", "--task", "{d}/fields.csv", *FAST, "--out", "{d}/o3"], "{d}/fields.csv, line 3: 3 fields, but the header (line 1) has 2"),
    (["score", "--task", "{d}/empty_label.csv", *FAST, "--out", "{d}/o3"], "the label column 'label' is empty in 1 rows (file lines 4)"),
    (["score", "--task", "{d}/one_class.csv", *FAST, "--out", "{d}/o3"], "holds one class ('x'); a classifier needs at least two"),
    (["score", "--task", "{d}/fractional.csv", *FAST, "--out", "{d}/o3"], "holds fractional numbers (file line 2: 0.5)"),
    (["score", "--task", "{d}/dup_header.csv", *FAST, "--out", "{d}/o3"], "the header names the columns ['text'] more than once"),
    (["score", "--task", "{d}/good.csv", "--text-column", "body", *FAST, "--out", "{d}/o3"], "has no column 'body'; columns found: text, label"),
    (["score", "--task", "{d}/no_train", *FAST, "--out", "{d}/o3"], "has no train file"),
    (["score", "--task", "{d}/unseen", *FAST, "--out", "{d}/o3"], "labels [2] that never occur in the training file"),
    (["score", "--task", "{d}/missing.csv", *FAST, "--out", "{d}/o3"], "task file {d}/missing.csv does not exist"),
    (["score", "--task", "{d}/good.csv", "--test-file", "{d}/missing.tsv", *FAST, "--out", "{d}/o3"], "task file {d}/missing.tsv does not exist"),
    (["score", "--task", "{d}/good.csv", "--label-names", "neg", *FAST, "--out", "{d}/o3"], "labels ['pos'] that are not in the label set ['neg']"),
    (["score", "--task", "{d}/good.csv", "--label-names", "neg,pos,neg", *FAST, "--out", "{d}/o3"], "repeat ['neg']"),
    (["score", "--task", "ag_news", "--label-names", "a,b", *FAST, "--out", "{d}/o3"], "apply to local files only"),
    # subset files
    (["train", "--subset", "{d}/nowhere.csv", *FAST, "--store", "{d}/r2"], "subset file {d}/nowhere.csv does not exist"),
    (["train", "--subset", "{d}/subset_empty.csv", *FAST, "--store", "{d}/r2"], "subset file {d}/subset_empty.csv is empty"),
    (["train", "--subset", "{d}/subset_no_id.csv", *FAST, "--store", "{d}/r2"], "has no 'example_id' column (columns: id, label)"),
    (["train", "--subset", "{d}/subset_text_ids.csv", *FAST, "--store", "{d}/r2"], "1 example ids are not whole numbers (file lines 3)"),
    (["train", "--subset", "{d}/subset_header_only.csv", *FAST, "--store", "{d}/r2"], "lists no example ids"),
    (["train", "--subset", "{d}/subset_repeated.csv", *FAST, "--store", "{d}/r2"], "lists the ids [1] more than once"),
    (["train", "--subset", "{d}/subset_bad_meta.csv", *FAST, "--store", "{d}/r2"], "subset_bad_meta.json (how the subset was made) is not valid JSON (line 1"),
    (["train", "--subset", "{d}/subset_bad.parquet", *FAST, "--store", "{d}/r2"], "is not a readable parquet file"),
    # scores folders
    (["prune", "--scores", "{d}/scores.csv", "--out", "{d}/s1.csv"], "{d}/scores.csv is not a scores folder: --scores takes the folder"),
    (["prune", "--scores", "{d}/scores_inf", "--out", "{d}/s1.csv"], "scores hold 1 +inf values, which cannot be ranked"),
    (["prune", "--scores", "{d}/scores_damaged", "--out", "{d}/s1.csv"], "scores.parquet cannot be read"),
    (["prune", "--scores", "{d}/nothing", "--out", "{d}/s1.csv"], "no scores table at {d}/nothing"),
    (["prune", "--scores", "{d}/scores", "--n-train", "5", "--out", "{d}/s1.csv"], "--n-train 5 conflicts with the scores in {d}/scores"),
    (["prune", "--scores", "{d}/scores", "--keep", "0.01", "--out", "{d}/s1.csv"], "--keep 0.01 keeps no example of 24"),
    # the job plan and its executors
    (["precompute", "--preset", "smoke", "--workers", "0", "--store", "{d}/g"], "argument --workers: must be a positive whole number"),
    (["precompute", "--preset", "smoke", "--gpus-per-job", "-1", "--store", "{d}/g"], "argument --gpus-per-job: must be 0 or more"),
    (["precompute", "--preset", "smoke", "--executor", "slurm", "--store", "{d}/g"], "argument --executor: invalid choice: 'slurm'"),
    (["plan", "--preset", "smoke", "--fractions", "1.5", "--store", "{d}/g"], "argument --fractions: must be a fraction of the training set in (0, 1]"),
    (["plan", "--preset", "smoke", "--retrain-seeds", "-1", "--store", "{d}/g"], "argument --retrain-seeds: must be a seed from 0"),
    (["plan", "--preset", "nope", "--store", "{d}/g"], "unknown preset 'nope'"),
    (["plan", "--preset", "smoke", "--figures", "6", "--store", "{d}/g"], "no figure '6' has runs to plan"),
    (["run", "--offset", "2"], "argument --offset: must be a fraction in [0, 1]"),
]


def small(argv: list[str]) -> list[str]:
    """The case's arguments after options that keep any run it should not start small (later options win)."""
    command, rest = argv[0], argv[1:]
    task = [] if "--subset" in rest else ["--task", "{d}/good.csv"]
    safe = {"score": [*task, *FAST], "train": [*task, *FAST], "run": [*task, "--model", "tiny", "--n-train", "8"]}
    return [command, *safe.get(command, []), *rest]


@pytest.mark.parametrize("argv, message", CASES, ids=lambda v: " ".join(v)[:60] if isinstance(v, list) else None)
def test_bad_input_exits_2_with_the_fix(d, capsys, argv, message):
    code = main([arg.replace("{d}", str(d)) for arg in small(argv)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert message.replace("{d}", str(d)) in err


def test_battery_size():
    assert len(CASES) >= 40


# --- silent wrong results -------------------------------------------------------------------------


def test_train_on_a_parquet_subset_applies_n_test_and_names_the_test_set(d, tmp_path, capsys):
    """`diet train --subset S` took S's task and dropped --n-test; and could not read what prune wrote as parquet."""
    from diet.prune.subsets import read_subset

    subset = tmp_path / "kept.parquet"
    assert main(["prune", "--scores", str(d / "scores"), "--keep", "0.5", "--out", str(subset)]) == 0
    ids, meta = read_subset(subset)
    assert len(ids) == 12 and meta["n_kept"] == 12
    capsys.readouterr()
    assert main(["train", "--subset", str(subset), "--n-test", "3", *FAST, "--seeds", "0", "--store", str(tmp_path / "runs")]) == 0
    out, err = capsys.readouterr()
    assert "12 training examples, seeds [0]: test accuracy" in out
    assert "on 3 test examples of good" in out
    assert f"as recorded in {subset.with_suffix('.json')}" in err


def test_train_refuses_task_options_that_contradict_the_subset(d, tmp_path, capsys):
    subset = tmp_path / "kept.csv"
    assert main(["prune", "--scores", str(d / "scores"), "--keep", "0.5", "--out", str(subset)]) == 0
    for extra, flag in ((["--n-train", "10"], "--n-train 10"), (["--data-seed", "3"], "--data-seed 3"), (["--label-column", "y"], "--label-column y")):
        capsys.readouterr()
        assert main(["train", "--subset", str(subset), *extra, *FAST, "--store", str(tmp_path / "runs")]) == 2
        assert f"{flag} conflicts with {subset.with_suffix('.json')}" in capsys.readouterr().err


def test_prune_json_sidecar_keeps_n_test(d, tmp_path):
    from diet.prune.subsets import read_subset

    subset = tmp_path / "kept.csv"
    assert main(["prune", "--scores", str(d / "scores"), "--n-test", "4", "--keep", "0.5", "--out", str(subset)]) == 0
    assert read_subset(subset)[1]["task_args"]["n_test"] == 4


def test_held_out_test_split_is_announced(tmp_path, capsys):
    (tmp_path / "train.csv").write_text(lines("text,label", *(f"t{i},{i % 2}" for i in range(10))))
    task = load_task(str(tmp_path))
    assert len(task.test) == 2
    assert f"folder {tmp_path} has no test.* file: holding out a stratified 20% of train.csv" in capsys.readouterr().err


def test_mirror_without_checksums_warns(tmp_path, capsys):
    from diet.data.mirror import verified

    (tmp_path / "data.tsv").write_text("a\tb\n")
    assert verified(tmp_path, "data.tsv") == tmp_path / "data.tsv"
    assert "has no SHA256SUMS file, so its files are not verified" in capsys.readouterr().err


def test_encoding_option_reads_latin1(d):
    from diet.data.local_files import load_file_task

    task = load_file_task(str(d / "latin1.csv"), encoding="latin-1", test_file=str(d / "latin1.csv"))
    assert "café au lait" in task.train.text


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_the_mode_of_a_plain_write(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        write_table(tmp_path / "b.csv", pd.DataFrame({"x": [1]}))
        folder = Store(tmp_path / "store").save("retrain", {"seed": 0}, pd.DataFrame({"x": [1]}))
    finally:
        os.umask(old)
    for path in (tmp_path / "a.json", tmp_path / "b.csv", folder / "data.parquet", folder / "config.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_damaged_store_entry_is_set_aside_and_recomputed(tmp_path, capsys):
    store = Store(tmp_path)
    folder = store.save("scores", {"seed": 1}, pd.DataFrame({"x": [1.0, 2.0]}))
    data = folder / "data.parquet"
    data.write_bytes(data.read_bytes()[:20])  # truncated by a full disk, say
    frame = store.load_or_compute("scores", {"seed": 1}, lambda: pd.DataFrame({"x": [3.0]}))
    assert frame["x"].tolist() == [3.0]
    assert f"damaged stored run {data}" in capsys.readouterr().err
    aside = list(folder.glob("data.parquet.damaged-*"))
    assert len(aside) == 1 and aside[0].stat().st_size == 20
    assert store.load("scores", {"seed": 1})["x"].tolist() == [3.0]


def test_stale_temporary_files_are_removed_fresh_ones_kept(tmp_path):
    store = Store(tmp_path)
    folder = store.save("scores", {"seed": 2}, pd.DataFrame({"x": [1.0]}))
    stale, fresh = folder / ".data.parquet.abc123.tmp", folder / ".data.parquet.def456.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    assert store.load("scores", {"seed": 2}) is not None
    assert not stale.exists() and fresh.exists()


def test_damaged_entry_in_a_read_only_store_is_an_error(tmp_path):
    from diet.errors import DietError

    folder = Store(tmp_path).save("scores", {"seed": 3}, pd.DataFrame({"x": [1.0]}))
    (folder / "data.parquet").write_bytes(b"")
    with pytest.raises(DietError, match="is damaged .* and the store is read-only"):
        Store(tmp_path, readonly=True).load("scores", {"seed": 3})
    assert (folder / "data.parquet").exists()


def test_unwritable_output_folder_is_found_before_training(d, tmp_path, monkeypatch, capsys):
    import diet.cli.checks

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(diet.cli.checks.os, "access", lambda path, mode: False if Path(path) == locked else real(path, mode))
    task = ["--task", str(d / "good.csv"), "--n-train", "8"]
    for argv in (["score", *task, *FAST, "--runs", "1", "--out", str(locked / "scores")], ["run", *task, "--model", "tiny", "--out", str(locked)],
                 ["train", *task, *FAST, "--seeds", "0", "--out", str(locked / "acc.csv")]):
        assert main(argv) == 2
        assert f"the folder {locked} is not writable by this user" in capsys.readouterr().err
