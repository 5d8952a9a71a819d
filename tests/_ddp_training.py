"""Run by tests/test_integrations_ddp.py under `torch.distributed.run --nproc_per_node 2`: one Trainer epoch on the CPU,
data-parallel over two processes (gloo), with diet's callback (and weight snapshots) or without; each rank saves its
final weights.  Arguments: TASK_CSV OUT_FOLDER 1|0 (with the callback or not)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import torch

import diet
from diet.integrations import ScoresCallback
from diet.model.batching import encode
from diet.model.encoders import load_tokenizer
from diet.scores.registry import register_score
from tests._own_training import Snapshots, hf_dataset, train

SCORES = ["el2n", "grand_head", "rng_probe"]
STEPS = ["0", "1", "1ep"]


@register_score("rng_probe", "output")
def rng_probe(out):
    """Draws from every RNG; zero (scoring it must not move the training)."""
    random.random(), np.random.rand(), torch.rand(3)
    return torch.zeros(len(out.labels))


def main(task_file: Path, out: Path, with_callback: bool) -> None:
    torch.set_num_threads(1)
    data = encode(diet.load_task(str(task_file)).train, load_tokenizer("tiny"), 64)
    callbacks = [ScoresCallback(hf_dataset(data), SCORES, STEPS, ids=data.ids, out=out / "scores", verbose=False), Snapshots()] if with_callback else []
    model = train(hf_dataset(data), out / "trainer", callbacks, ddp_backend="gloo")
    rank = torch.distributed.get_rank()
    torch.save(model.state_dict(), out / f"final-{rank}.pt")
    if callbacks:
        torch.save({"snapshots": callbacks[1].states, "has_table": callbacks[0]._table is not None}, out / f"callback-{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1")
