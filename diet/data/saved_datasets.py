"""Tasks from `datasets`: a folder written by save_to_disk, or (with the hub) `hf:NAME[/CONFIG]`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diet.errors import DietError
from diet.data.local_files import check_rows, rows_task
from diet.data.named_tasks import hub_unavailable
from diet.data.task import Task
from diet.data.text_tables import Rows

HUB_PREFIX = "hf:"
MARKERS = ("dataset_dict.json", "state.json")  # save_to_disk of a DatasetDict, of a Dataset


def is_saved_dataset(name: str) -> bool:
    """True for a folder that `datasets` save_to_disk wrote."""
    folder = Path(name)
    return folder.is_dir() and any((folder / marker).exists() for marker in MARKERS)


def load_saved_task(path: str, seed: int = 0, **options) -> Task:
    """A task from a saved Dataset or DatasetDict; its columns, label names and split names as for files."""
    import datasets

    try:
        data = datasets.load_from_disk(path)
    except Exception as error:  # damaged or from another datasets version
        raise DietError(f"cannot read the saved dataset {path} ({type(error).__name__}: {error}); save it again with save_to_disk") from error
    return dataset_task(data, Path(path).name or str(path), f"saved dataset {path}", seed, **options)


def load_hub_task(name: str, seed: int = 0, **options) -> Task:
    """A task from the Hugging Face hub, `hf:NAME` or `hf:NAME/CONFIG` (needs the hub; else a DietError at once)."""
    hub_name = name[len(HUB_PREFIX):]
    path, _, config = hub_name.rpartition("/") if "/" in hub_name else (hub_name, "", "")  # NAME/CONFIG or OWNER/NAME/CONFIG
    if not path:
        path, config = hub_name, ""
    why = hub_unavailable()
    fix = (f"on a machine with the hub, run datasets.load_dataset({path!r}{', ' + repr(config) if config else ''}).save_to_disk(FOLDER) "
           "and pass that folder as the task (--task FOLDER)")
    if why:
        raise DietError(f"cannot load {hub_name} from the Hugging Face hub: {why}; {fix}")
    import datasets

    try:
        data = datasets.load_dataset(path, config or None)
    except Exception as error:
        raise DietError(f"could not load {hub_name} from the Hugging Face hub ({type(error).__name__}: {error}); {fix}") from error
    return dataset_task(data, (config or path).split("/")[-1], f"hub {hub_name}", seed, **options)


def dataset_task(data, name: str, where: str, seed: int = 0, text_column: str = "text", pair_column: str | None = None,
                 label_column: str = "label", label_names=None, test_fraction: float = 0.2,
                 train_split: str = "train", test_split: str | None = None, **rest) -> Task:
    """A Task from a Dataset (a stratified `test_fraction` held out) or a DatasetDict (its train and test splits)."""
    if rest:
        raise DietError(f"options {sorted(rest)} do not apply to {where}: a dataset carries its own splits and text; name its splits with train_split= and test_split= (CLI: --train-split, --test-split)")
    train, test, missing = pick_splits(data, where, train_split, test_split)
    texts = [c for c in (text_column, pair_column) if c]
    feature = train.features.get(label_column)
    if label_names is None and hasattr(feature, "names") and hasattr(feature, "str2int"):  # a ClassLabel
        label_names = list(feature.names)
    train_rows = check_rows(as_rows(train, f"{where} [{train_split}]"), texts, label_column)
    test_rows = check_rows(as_rows(test, f"{where} [{test_split or 'test'}]"), texts, label_column) if test is not None else None
    source = f"{where}: split {train_split}" + (f" + {test_split or 'test'}" if test is not None else f", {test_fraction:.0%} held out as test")
    return rows_task(name, source, train_rows, test_rows, missing, seed, text_column, pair_column, label_column, test_fraction, label_names)


def pick_splits(data, where: str, train_split: str, test_split: str | None):
    """(train, test or None, why there is no test split) of a Dataset or DatasetDict."""
    if not hasattr(data, "keys"):  # a single Dataset
        if test_split:
            raise DietError(f"{where} is a single Dataset with no splits; drop test_split (a stratified share is held out as test)")
        return data, None, f"{where} is a single Dataset"
    splits = list(data.keys())
    for split in (train_split, test_split):
        if split and split not in splits:
            raise DietError(f"{where} has no split {split!r}; its splits: {', '.join(splits)}. Name them with train_split= and test_split= (CLI: --train-split, --test-split)")
    if test_split is None and "test" not in splits:
        return data[train_split], None, f"{where} has no test split (splits: {', '.join(splits)}; test_split= names one)"
    return data[train_split], data[test_split or "test"], ""


def as_rows(part, where: str) -> Rows:
    """A datasets split as Rows: values by column, row numbers (from 1) as the lines messages cite."""
    columns = {column: list(part[column]) for column in part.column_names}
    return Rows(Path(where), columns, np.arange(1, len(part) + 1))
