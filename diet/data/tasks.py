"""Tasks: named (ag_news, sst2, mnli) or a user's own files, with seeded stratified subsampling."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from diet.errors import DietError, did_you_mean, warn
from diet.data import local_files, saved_datasets
from diet.data.overlap import drop_test_overlap, overlap_in_test, overlap_message
from diet.data.splits import stratified_positions
from diet.data.task import TASKS, Task

DATA_DIR_ENV = "DIET_DATA_DIR"
FILE_OPTIONS = ("text_column", "pair_column", "label_column", "label_names", "test_file", "test_fraction", "encoding", "train_split", "test_split")
SPLIT_OPTIONS = ("train_split", "test_split")  # saved datasets and hf:NAME only


def mirror_dir() -> Path | None:
    """The local mirror named by DIET_DATA_DIR, or None (then the Hugging Face hub is used)."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DietError(f"{DATA_DIR_ENV}={value!r} is not a folder; point it at a local mirror such as ../shared/data, or unset it to use the hub")
    return path


def load_task(
    name: str,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    drop_overlap: bool = False,
    warn_overlap: bool = True,
    **file_options,
) -> Task:
    """Load a task by name, or from a local file/folder, then subsample it (stratified, seeded).

    A path (a CSV/TSV/JSONL file, a folder holding train.* and test.*, or a `datasets` save_to_disk folder)
    makes a task of the user's own, as does `hf:NAME[/CONFIG]` (with the hub); `file_options` (FILE_OPTIONS)
    then name its columns, classes, test file or splits, and encoding. Test texts that also occur in
    training are warned about on stderr (one line), or dropped first with `drop_overlap`.
    """
    if not isinstance(name, str) or not name:
        raise DietError(f"a task is a name ({', '.join(sorted(TASKS))}) or the path of a file or folder, got {name!r}")
    unknown = sorted(set(file_options) - set(FILE_OPTIONS))
    if unknown:
        raise DietError(f"unknown task options {unknown}; options for your own files: {', '.join(FILE_OPTIONS)}, and drop_overlap")
    task = _load_whole(name, seed, file_options)
    if drop_overlap:
        task = drop_test_overlap(task)
    task = subsample(task, n_train, n_test, seed)
    overlap = len(overlap_in_test(task))
    if overlap and warn_overlap:
        warn(overlap_message(overlap))
    return task


def _load_whole(name: str, seed: int, file_options: dict) -> Task:
    """The whole task a name, path or hf:NAME gives, before subsampling."""
    if name.startswith(saved_datasets.HUB_PREFIX):
        return saved_datasets.load_hub_task(name, seed=seed, **file_options)
    if saved_datasets.is_saved_dataset(name):
        return saved_datasets.load_saved_task(name, seed=seed, **file_options)
    if local_files.looks_like_path(name):
        splits = sorted(set(file_options) & set(SPLIT_OPTIONS))
        if splits:
            raise DietError(f"{splits} name the splits of a saved dataset or hf:NAME; {name} is a file or folder of files: drop them (a test file is --test-file)")
        return local_files.load_file_task(name, seed=seed, **file_options)
    if name in TASKS:
        if file_options:
            raise DietError(f"options {sorted(file_options)} apply to local files only, not to the named task {name!r}")
        return TASKS[name](mirror_dir())
    raise DietError(f"unknown task {name!r}. {did_you_mean(name, list(TASKS))} Or give a path to a CSV/TSV/JSONL file, a folder with train.* and test.*, "
                    "a folder saved by datasets' save_to_disk, or hf:NAME[/CONFIG] for a hub dataset")


def subsample(task: Task, n_train: int | None, n_test: int | None, seed: int) -> Task:
    """Seeded, class-stratified subsamples of the train and test splits."""
    for label, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0):
            raise DietError(f"{label} must be a positive whole number of examples (CLI: --{label.replace('_', '-')}), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DietError(f"the data seed must be a whole number, 0 or more (CLI: --data-seed), got {seed!r}")
    train, test = task.train, task.test
    if n_train is not None and n_train < len(train):
        train = train.take(stratified_positions(train.labels, n_train, seed))
    if n_test is not None and n_test < len(test):
        test = test.take(stratified_positions(test.labels, n_test, seed + 1))
    return Task(task.name, train, test, task.label_names, task.source)
