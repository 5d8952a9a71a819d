"""Shared pieces of the tests of diet inside the user's own training (test_integrations*.py): a small CSV task,
its tokenised training split as a user's datasets.Dataset, a one-epoch Trainer run, weight snapshots, diet's own scores."""

from __future__ import annotations

import random
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

import diet
from diet.model.batching import Encoded, encode
from diet.model.config import TrainConfig
from diet.model.encoders import load_encoder, load_tokenizer
from diet.scores.registry import SCORES, register_score

POINT = ["el2n", "grand_head", "grand_full", "loss"]
DYNAMIC = ["forgetting", "low_confidence", "variability", "neg_aum"]
WORDS = "good bad fine awful great poor odd nice dull calm".split()
BATCH, CLASSES = 8, 3


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model runs fastest on one thread (two crawl on a busy machine); the setting is put back afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def task_file(tmp_path_factory) -> Path:
    """40 labelled texts of varied length in one CSV; diet holds out 8 as the test split, 32 train."""
    rows = ["text,label"] + [f"{' '.join(WORDS[(i * k + k) % 10] for k in range(1, 3 + i % 9))} {i},{'abc'[i % 3]}" for i in range(40)]
    path = tmp_path_factory.mktemp("task") / "texts.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def task(task_file):
    return diet.load_task(str(task_file))


@pytest.fixture(scope="module")
def encoded(task) -> Encoded:
    """diet's own tokenisation of the training split (the reference the scores are checked against)."""
    return encode(task.train, load_tokenizer("tiny"), 64)


def hf_dataset(data: Encoded, pad_to: int = 0) -> datasets.Dataset:
    """The training split as a user's tokenised datasets.Dataset (right-padded to `pad_to` tokens when given)."""
    width = lambda ids: max(pad_to, len(ids))
    return datasets.Dataset.from_dict({
        "input_ids": [ids + [0] * (width(ids) - len(ids)) for ids in data.input_ids],
        "token_type_ids": [types + [0] * (width(types) - len(types)) for types in data.token_type_ids],
        "attention_mask": [[1] * len(ids) + [0] * (width(ids) - len(ids)) for ids in data.input_ids],
        "label": data.labels.tolist(),
    })


class Snapshots(TrainerCallback):
    """A copy of the weights at the start and after every update."""

    def __init__(self):
        self.states = {}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.states[state.global_step] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    on_step_end = on_train_begin


def train(dataset, out: Path, callbacks=(), seed: int = 0, **arguments) -> torch.nn.Module:
    """One epoch of a Trainer on the CPU (4 updates), dropout on; returns the trained model."""
    model = load_encoder("tiny", CLASSES, 0)
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=BATCH, num_train_epochs=1, learning_rate=2e-3, seed=seed,
                             use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no", disable_tqdm=True, **arguments)
    Trainer(model=model, args=args, train_dataset=dataset, data_collator=DataCollatorWithPadding(load_tokenizer("tiny")),
            callbacks=list(callbacks)).train()
    return model


def diet_scores(state: dict, data: Encoded, names, dtype: str = "float32") -> dict[str, np.ndarray]:
    """diet's own scores (score_examples) of a model holding the weights `state`."""
    model = load_encoder("tiny", CLASSES, 0)
    model.load_state_dict(state)
    return diet.score_examples(model.eval(), data, names, TrainConfig(device="cpu", dtype=dtype), progress=False)


def column(table, score: str, step: int, ids: np.ndarray) -> np.ndarray:
    return table.mean(score, step).reindex(ids).to_numpy()


@pytest.fixture(scope="module")
def probe():
    """A registered output score that draws from every RNG (python, numpy, torch): scoring it must not move the training."""

    @register_score("rng_probe", "output")
    def rng_probe(out):
        """Draws from every RNG; zero."""
        random.random(), np.random.rand(), torch.rand(3)
        return torch.zeros(len(out.labels))

    yield "rng_probe"
    SCORES.pop("rng_probe")


