"""The paper's tasks and SST-2: read from a local mirror when DIET_DATA_DIR names one, else from the hub."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from diet.errors import DietError
from diet.data.mirror import verified
from diet.data.overlap import overlap_positions
from diet.data.text_tables import read_rows
from diet.data.task import Task, make_split, register_task

AG_NEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")
SST2_LABELS = ("negative", "positive")
MNLI_LABELS = ("entailment", "neutral", "contradiction")


@register_task("ag_news")
def ag_news(root: Path | None) -> Task:
    """AG News topics. Mirror: the 10k train sample (descriptions) minus test overlaps; official test."""
    if root is None:
        return _from_hub("ag_news", None, "text", None, "train", "test", AG_NEWS_LABELS)
    test_rows = read_rows(verified(root, "ag_news/test.csv"), what="mirror file", names=("label", "title", "description")).columns
    test_text = test_rows["description"]
    test_labels = [int(label) - 1 for label in test_rows["label"]]
    index = {name: i for i, name in enumerate(AG_NEWS_LABELS)}
    train_rows = read_rows(verified(root, "ag_news/train_sample_10k.tsv"), what="mirror file", names=("description", "label")).columns
    for i, label_name in enumerate(train_rows["label"]):
        if label_name.strip() not in index:
            raise DietError(f"ag_news mirror row {i} has label {label_name!r}, expected one of {AG_NEWS_LABELS}")
    dropped = set(overlap_positions(train_rows["description"], test_text).tolist())  # the sample's texts that are test texts
    ids = [i for i in range(len(train_rows["description"])) if i not in dropped]
    text = [train_rows["description"][i] for i in ids]
    labels = [index[train_rows["label"][i].strip()] for i in ids]
    return Task(
        "ag_news",
        make_split(text, labels, ids=ids),
        make_split(test_text, test_labels),
        AG_NEWS_LABELS,
        f"local mirror (DIET_DATA_DIR): train = 10k sample minus {len(dropped)} test overlaps; test = official 7,600",
    )


@register_task("sst2")
def sst2(root: Path | None) -> Task:
    """GLUE SST-2 sentiment. Test = the dev split (GLUE keeps test labels private)."""
    if root is None:
        return _from_hub("glue", "sst2", "sentence", None, "train", "validation", SST2_LABELS)
    splits = []
    for name in ("train", "dev"):
        rows = read_rows(verified(root, f"sst2/{name}.tsv"), what="mirror file").columns  # header: sentence, label
        splits.append(make_split([text.strip() for text in rows["sentence"]], [int(label) for label in rows["label"]]))
    return Task("sst2", splits[0], splits[1], SST2_LABELS, "local mirror (DIET_DATA_DIR): GLUE train; dev as test")


@register_task("mnli")
def mnli(root: Path | None) -> Task:
    """MultiNLI sentence pairs. Mirror: 1,000-pair SAMPLES (matched as train, mismatched as test)."""
    if root is None:
        return _from_hub("glue", "mnli", "premise", "hypothesis", "train", "validation_matched", MNLI_LABELS)
    index = {name: i for i, name in enumerate(MNLI_LABELS)}
    splits = []
    for name in ("matched_1000", "mismatched_1000"):
        rows = read_rows(verified(root, f"mnli_sample/{name}.tsv"), what="mirror file", names=("label", "premise", "hypothesis")).columns
        splits.append(make_split(rows["premise"], [index[label] for label in rows["label"]], text_pair=rows["hypothesis"]))
    return Task("mnli", splits[0], splits[1], MNLI_LABELS, "local mirror (DIET_DATA_DIR): 1,000-pair samples, matched as train, mismatched as test (a sample, not the official splits)")


OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
HUB_TIMEOUT = 3.0  # seconds to wait for the hub before saying it cannot be reached


def hub_unavailable() -> str | None:
    """Why the Hugging Face hub cannot serve a dataset now (offline mode set, or no answer within
    HUB_TIMEOUT seconds), or None when it answered; asked before `datasets`, which retries for tens of seconds."""
    for name in OFFLINE_ENV:
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{name} is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_TIMEOUT)
    except urllib.error.HTTPError:
        return None  # it answered, if only with an error status: the hub is there
    except (OSError, ValueError) as error:  # URLError, timeouts, refused connections, a malformed endpoint
        return f"{endpoint} cannot be reached ({getattr(error, 'reason', error)})"
    return None


def _from_hub(path, config, text_col, pair_col, train_name, test_name, label_names) -> Task:
    hub_name = f"{path}{'/' + config if config else ''}"
    why = hub_unavailable()
    if why:
        raise DietError(f"cannot load {hub_name} from the Hugging Face hub: {why}. Set DIET_DATA_DIR to a local mirror of the datasets, such as ../shared/data")
    try:
        import datasets

        data = datasets.load_dataset(path, config)
    except Exception as error:  # the hub is unreachable, or datasets is missing
        raise DietError(
            f"could not load {hub_name} from the Hugging Face hub ({type(error).__name__}: {error}). "
            "Offline? Set DIET_DATA_DIR to a local mirror such as ../shared/data"
        ) from error
    splits = []
    for name in (train_name, test_name):
        part = data[name]
        splits.append(make_split(part[text_col], part["label"], text_pair=part[pair_col] if pair_col else None))
    label = f"{path}/{config}" if config else path
    return Task(config or path, splits[0], splits[1], tuple(label_names), f"hub {label}")
