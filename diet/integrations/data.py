"""A user's tokenised training set (a `datasets.Dataset`, or any sized dataset of dicts) as diet's `Encoded`.

Each row needs `input_ids` and a label (`labels` or `label`); `attention_mask` and `token_type_ids`
are optional. Rows padded on the right are cut back to their tokens (diet pads each batch itself).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from diet.errors import DietError
from diet.model.batching import Encoded

LABEL_KEYS = ("labels", "label")
KEYS = ("input_ids", "attention_mask", "token_type_ids") + LABEL_KEYS


def encoded_from_dataset(dataset, ids=None, pad_id: int = 0) -> Encoded:
    """The rows of `dataset` in order as an `Encoded`; example ids are the row indices unless `ids` is given."""
    columns = _columns(dataset)
    n = len(columns["input_ids"])
    if n == 0:
        raise DietError("the training dataset is empty: give the tokenised training set the model trains on")
    label_key = next((k for k in LABEL_KEYS if columns.get(k) is not None), None)
    if label_key is None:
        raise DietError("the training dataset has no labels: per-example scores need a 'labels' (or 'label') column "
                        "holding each example's class index")
    labels = _labels(columns[label_key], label_key)
    input_ids, token_types = [], []
    for row in range(n):
        tokens = _ints(columns["input_ids"][row], "input_ids", row)
        mask = _ints(columns["attention_mask"][row], "attention_mask", row) if columns.get("attention_mask") is not None else [1] * len(tokens)
        types = _ints(columns["token_type_ids"][row], "token_type_ids", row) if columns.get("token_type_ids") is not None else [0] * len(tokens)
        length = _length(mask, len(tokens), row)
        if len(types) < length:
            raise DietError(f"row {row}: token_type_ids has {len(types)} entries for {length} tokens; give one per token (or leave the column out)")
        input_ids.append(tokens[:length])
        token_types.append(types[:length])
    return Encoded(input_ids, token_types, labels, _ids(ids, n), int(pad_id))


def _columns(dataset) -> dict[str, list | None]:
    """The columns diet reads, as lists (None where absent)."""
    if hasattr(dataset, "column_names") and hasattr(dataset, "with_format"):  # a datasets.Dataset: read whole columns
        plain = dataset.with_format(None)
        columns = {key: (list(plain[key]) if key in dataset.column_names else None) for key in KEYS}
    else:
        try:
            rows = [dataset[i] for i in range(len(dataset))]
        except TypeError as error:
            raise DietError(f"the training dataset ({type(dataset).__name__}) has no length or rows by index: "
                            "give a datasets.Dataset or a torch Dataset of dicts (input_ids, attention_mask, labels)") from error
        if rows and not all(isinstance(row, Mapping) for row in rows):
            raise DietError(f"the training dataset's rows are {type(rows[0]).__name__}, not dicts: each row must be a dict "
                            "with input_ids, attention_mask (optional), token_type_ids (optional) and labels")
        columns = {key: ([row[key] for row in rows] if rows and all(key in row for row in rows) else None) for key in KEYS}
    if columns["input_ids"] is None:
        raise DietError("the training dataset has no 'input_ids': give it tokenised (dataset.map(tokenizer-function))")
    return columns


def _ints(value, key: str, row: int) -> list[int]:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or (value and isinstance(value[0], (list, tuple))):
        raise DietError(f"row {row}'s {key} is not one flat list of token positions; give one example per row")
    return [int(v) for v in value]


def _length(mask: list[int], width: int, row: int) -> int:
    """The number of real tokens of a right-padded row; refuses other masks."""
    length = int(sum(mask))
    if len(mask) != width or mask != [1] * length + [0] * (width - length):
        raise DietError(f"row {row}'s attention_mask is not ones then zeros (right padding) over its {width} input_ids: "
                        "tokenise with padding on the right (tokenizer.padding_side = 'right'), or without padding")
    if length == 0:
        raise DietError(f"row {row} has no tokens (its attention_mask is all zeros)")
    return length


def _labels(values, key: str) -> np.ndarray:
    """Class indices (whole numbers >= 0) of every row."""
    labels = np.asarray([v.item() if hasattr(v, "item") else v for v in values])
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)):
        raise DietError(f"the '{key}' column holds {labels.dtype} values of shape {labels.shape}: diet scores single-label "
                        "classification, one class index per example")
    if np.issubdtype(labels.dtype, np.floating) and not np.array_equal(labels, np.round(labels)):
        raise DietError(f"the '{key}' column holds fractional values (regression?): diet scores classification, one class index per example")
    if labels.min() < 0:
        raise DietError(f"the '{key}' column holds negative labels ({int(labels.min())}): give every example a class index >= 0 "
                        "(drop unlabelled rows, e.g. a test split's -1)")
    return labels.astype(np.int64)


def _ids(ids, n: int) -> np.ndarray:
    if ids is None:
        return np.arange(n, dtype=np.int64)
    ids = np.asarray(ids)
    if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
        raise DietError(f"ids gives {ids.shape} {ids.dtype} values for {n} rows: give one whole-number id per row of the dataset")
    if len(np.unique(ids)) != n:
        raise DietError("ids are not unique: give each row of the dataset its own id")
    return ids.astype(np.int64)
