"""What diet's Trainer callback adds to a training run: seconds per scoring step against one epoch of the same training.

    python benchmarks/callback.py [--models tiny minilm-l6] [--n-train 200] [--batch 16] [--max-length 128]
                                  [--dynamics-per-epoch 2] [--threads N] [--bf16]

For each model, two one-epoch `transformers.Trainer` runs on the first `--n-train` examples of ag_news
(`diet.load_task`, so DIET_DATA_DIR should name the local mirror): one without callbacks (the baseline
epoch) and one with three `diet.integrations.ScoresCallback`s, each timing itself: the output scores
(el2n, grand_head, loss: one eval forward pass) at 0 and 1ep, grand_full (ghost norms) at 0 and 1ep,
and the training-dynamics records (forgetting & co, `--dynamics-per-epoch` checkpoints an epoch; `diet score`
and the callback take 8 by default, estimated from the cost of one). The last line of each
model is the callback's seconds for one scoring step of the output scores over the baseline epoch.

Measured here (2026-12-03; 2 CPU cores under a load average of 5 to 6 from other jobs, `--threads 1`, so the
wall clock is about twice the CPU time and moves by ~30% between runs; three runs of each model):
one scoring step of el2n + grand_head + loss costs 0.10 of a training epoch with the tiny model (0.102 to
0.108) and 0.22 to 0.30 with minilm-l6 (12 s against a 45 to 55 s epoch); grand_full (ghost) 0.23 to 0.25
(tiny) and 0.36 to 0.63 (minilm-l6); one dynamics record pass costs what an el2n step does, so the default
8 checkpoints an epoch add 0.7 (tiny) to 2.0-2.6 (minilm-l6) epochs of time. The training part of a run with
the callbacks took 0.9 to 1.8 times the baseline epoch, moving with the load: timed step by step (minilm-l6,
12 updates, el2n after updates 4 and 8), the updates after a scoring step took as long as without scoring.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import datasets
import torch
from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments
from transformers.utils import logging as hf_logging

import diet
from diet.integrations import ScoresCallback
from diet.model.batching import encode
from diet.model.encoders import load_encoder, load_tokenizer


def dataset(task, model: str, max_length: int) -> datasets.Dataset:
    """The training split tokenised as a user would have it: a datasets.Dataset with a 'label' column."""
    data = encode(task.train, load_tokenizer(model), max_length)
    return datasets.Dataset.from_dict({"input_ids": data.input_ids, "token_type_ids": data.token_type_ids,
                                       "attention_mask": [[1] * len(ids) for ids in data.input_ids], "label": data.labels.tolist()})


def cpu_timed(callback: ScoresCallback) -> ScoresCallback:
    """The callback, also counting the process's CPU seconds spent scoring (in `cpu`): with one torch thread they move much
    less than the wall clock with other load on the machine."""
    step, callback.cpu = callback.scorer.step, 0.0

    def timed(model, update):
        started = time.process_time()
        try:
            return step(model, update)
        finally:
            callback.cpu += time.process_time() - started

    callback.scorer.step = timed
    return callback


def one_epoch(model_name: str, task, train_set, args: argparse.Namespace, callbacks=()) -> tuple[float, float]:
    """Wall and CPU seconds of one Trainer epoch from a fresh seeded model (callbacks included)."""
    model = load_encoder(model_name, task.num_labels, 0)
    with tempfile.TemporaryDirectory() as out:
        training = TrainingArguments(output_dir=out, per_device_train_batch_size=args.batch, num_train_epochs=1, learning_rate=1e-4,
                                     seed=0, use_cpu=True, bf16=args.bf16, report_to="none", save_strategy="no",
                                     logging_strategy="no", disable_tqdm=True)
        trainer = Trainer(model=model, args=training, train_dataset=train_set, data_collator=DataCollatorWithPadding(load_tokenizer(model_name)),
                          callbacks=list(callbacks))
        trainer.remove_callback(PrinterCallback)  # no metrics line
        started, cpu = time.perf_counter(), time.process_time()
        trainer.train()
        return time.perf_counter() - started, time.process_time() - cpu


def measure(model_name: str, task, args: argparse.Namespace) -> None:
    train_set = dataset(task, model_name, args.max_length)
    updates = -(-len(train_set) // args.batch)
    print(f"\nmodel {model_name}: {len(train_set)} ag_news training examples, max length {args.max_length}, batch {args.batch}, "
          f"1 epoch = {updates} updates, {'bf16 autocast' if args.bf16 else 'float32'}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    one_epoch(model_name, task, train_set.select(range(args.batch)), args)  # warm-up: first-call costs out of both timings
    baseline, baseline_cpu = one_epoch(model_name, task, train_set, args)
    output = cpu_timed(ScoresCallback(train_set, ["el2n", "grand_head", "loss"], ["0", "1ep"], verbose=False))
    full = cpu_timed(ScoresCallback(train_set, ["grand_full"], ["0", "1ep"], verbose=False))
    dynamics = cpu_timed(ScoresCallback(train_set, ["forgetting", "low_confidence", "variability", "neg_aum"], ["1ep"], verbose=False,
                                        dynamics_per_epoch=args.dynamics_per_epoch))
    total, total_cpu = one_epoch(model_name, task, train_set, args, [output, full, dynamics])
    scoring, scoring_cpu = (sum(getattr(c, key) for c in (output, full, dynamics)) for key in ("seconds", "cpu"))
    checkpoints = len(dynamics.scorer.schedule)
    print(f"{'':38s} {'wall s':>8s} {'cpu s':>8s}")
    print(f"{'one training epoch, no callbacks':38s} {baseline:8.2f} {baseline_cpu:8.2f}")
    print(f"{'one epoch with the callbacks':38s} {total:8.2f} {total_cpu:8.2f}")
    print(f"{'  of which training':38s} {total - scoring:8.2f} {total_cpu - scoring_cpu:8.2f}")
    print(f"{'  of which scoring':38s} {scoring:8.2f} {scoring_cpu:8.2f}")
    print(f"\n{'per scoring step':38s} {'wall s':>8s} {'x epoch':>8s} {'cpu s':>8s} {'x epoch':>8s}")
    rows = [("el2n + grand_head + loss (1 pass)", output, 2), ("grand_full (ghost)", full, 2),
            (f"dynamics record pass (1 of {checkpoints})", dynamics, checkpoints), ("dynamics at 8 an epoch (estimate)", dynamics, checkpoints / 8)]
    for name, callback, per in rows:
        wall, cpu = callback.seconds / per, callback.cpu / per
        print(f"{name:38s} {wall:8.2f} {wall / baseline:8.3f} {cpu:8.2f} {cpu / baseline_cpu:8.3f}")
    print(f"callback el2n step / training epoch ({model_name}): {output.seconds / 2 / baseline:.3f} wall, {output.cpu / 2 / baseline_cpu:.3f} cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "minilm-l6"])
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--dynamics-per-epoch", type=int, default=2, help="checkpoints an epoch of the dynamics callback (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--bf16", action="store_true", help="train (and score) under bf16 autocast")
    args = parser.parse_args()
    hf_logging.set_verbosity_error()  # the Trainer warns of a second callback of one class: three are meant here
    if args.threads:
        torch.set_num_threads(args.threads)
    task = diet.load_task("ag_news", n_train=args.n_train, n_test=100)
    for model in args.models:
        measure(model, task, args)


if __name__ == "__main__":
    main()
