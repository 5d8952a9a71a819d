"""Throughput and peak memory of per-example scores against a training step, side by side.

    python benchmarks/scoring.py [--model minilm-l6|bert-base] [--lengths 64 128] [--batch 32]
                                 [--dtype float32|bf16] [--device cpu|cuda] [--threads N] [--quick] [--csv PATH]

Same model, batch and sequence length for every method; token ids are synthetic
([CLS] random-tokens [SEP], no padding). The last line is the fast full-GraNd
throughput over the training step's, the worst over the lengths measured.
"""

from __future__ import annotations

import argparse
import copy
import csv
import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import transformers
from torch import nn
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertForSequenceClassification

from diet.model.encoders import minilm_path
from diet.scores.grad_norms import per_example_grad_norms

NUM_LABELS = 4
Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Result:
    method: str
    examples_per_s: float
    peak_mib: float


class PeakRSS:
    """Peak resident memory above the level at start, sampled every 2 ms from /proc/self/statm."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self.peak = 0

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _sample(self, start: int) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss() - start)

    @contextmanager
    def measure(self) -> Iterator[None]:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed memory back, so the start level is honest
        start = self._rss()
        thread = threading.Thread(target=self._sample, args=(start,), daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self.peak = max(self.peak, self._rss() - start)


def measure(fn: Callable[[], object], device: str, repeats: int, warmup: int = 1) -> tuple[float, float]:
    """Fastest of `repeats` calls after warm-up (seconds), and peak memory (MiB) above the level before."""
    for _ in range(warmup):
        fn()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    times = []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        peak = torch.cuda.max_memory_allocated() - start
    else:
        rss = PeakRSS()
        with rss.measure():
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        peak = rss.peak
    return min(times), peak / 2**20


def load_model(name: str, quick: bool) -> nn.Module:
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    if name == "bert-base":
        config = BertConfig(num_labels=NUM_LABELS)
        if quick:
            config = BertConfig(num_labels=NUM_LABELS, num_hidden_layers=2)
        return BertForSequenceClassification(config)
    return AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=NUM_LABELS, dtype=torch.float32)


def synthetic_batch(size: int, length: int, device: str) -> Batch:
    """[CLS] random non-special tokens [SEP], from the MiniLM (= bert-base-uncased) vocabulary."""
    tok = AutoTokenizer.from_pretrained(minilm_path())
    gen = torch.Generator().manual_seed(length)
    ids = torch.randint(1000, len(tok), (size, length), generator=gen)
    ids[:, 0], ids[:, -1] = tok.cls_token_id, tok.sep_token_id
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "token_type_ids": torch.zeros_like(ids),
        "labels": torch.randint(0, NUM_LABELS, (size,), generator=gen),
    }
    return {k: v.to(device) for k, v in batch.items()}


def inputs(batch: Batch) -> Batch:
    return {k: v for k, v in batch.items() if k != "labels"}


def train_step(model: nn.Module, batch: Batch) -> Callable[[], None]:
    """Forward, backward and AdamW step of fine-tuning (train mode, dropout on)."""
    model = copy.deepcopy(model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)

    def step() -> None:
        loss = F.cross_entropy(model(**inputs(batch)).logits.float(), batch["labels"])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def el2n(model: nn.Module, batch: Batch) -> torch.Tensor:
    """‖softmax − onehot‖ from one no-grad forward pass."""
    with torch.no_grad():
        p = model(**inputs(batch)).logits.float().softmax(-1)
        return (p - F.one_hot(batch["labels"], p.shape[-1])).norm(dim=-1)


def grand_head(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Closed-form head GraNd ‖p − y‖·√(1 + ‖h‖²), h the pooled output fed to the classifier."""
    with torch.no_grad():
        h = model.bert(**inputs(batch)).pooler_output.float()
        p = model.classifier(h).float().softmax(-1)
        err = (p - F.one_hot(batch["labels"], p.shape[-1])).norm(dim=-1)
        return err * (1 + h.pow(2).sum(-1)).sqrt()


def run_length(model: nn.Module, args: argparse.Namespace, length: int) -> list[Result]:
    batch = synthetic_batch(args.batch, length, args.device)
    few = {k: v[: args.loop_examples] for k, v in batch.items()}
    methods: list[tuple[str, int, Callable[[], object]]] = [
        ("train step", args.batch, train_step(model, batch)),
        ("EL2N inference", args.batch, lambda: el2n(model, batch)),
        ("grand_head closed form", args.batch, lambda: grand_head(model, batch)),
        ("grand_full fast (ghost)", args.batch, lambda: per_example_grad_norms(model, batch, "ghost")),
        ("grand_full vmap", args.batch, lambda: per_example_grad_norms(model, batch, "vmap")),
        ("grand_full naive loop", len(few["labels"]), lambda: per_example_grad_norms(model, few, "loop")),
    ]
    autocast = torch.autocast(args.device, dtype=torch.bfloat16) if args.dtype == "bf16" else nullcontext()
    results = []
    with autocast:
        for name, n, fn in methods:
            seconds, peak = measure(fn, args.device, args.repeats)
            results.append(Result(name, n / seconds, peak))
    return results


def real_text(model: nn.Module, args: argparse.Namespace) -> list[Result]:
    """EL2N through diet's scorer (length-bucketed batches) against bare inference, on real ag_news text."""
    import numpy as np

    from diet import TrainConfig, load_task, score_examples
    from diet.model.encoders import load_tokenizer
    from diet.model.batching import collate, encode, length_sorted_batches

    task = load_task("ag_news", n_train=args.real_examples)
    data = encode(task.train, load_tokenizer("minilm-l6"), max_length=128)
    cfg = TrainConfig(device=args.device, eval_batch_size=args.eval_batch, bf16=args.dtype == "bf16")
    sorted_batches = [collate(data, pos, args.device) for pos in length_sorted_batches(data, cfg.eval_batch_size)]
    order = np.random.default_rng(0).permutation(len(data))
    shuffled_batches = [collate(data, order[i : i + cfg.eval_batch_size], args.device) for i in range(0, len(data), cfg.eval_batch_size)]

    def bare(batches: list[Batch]) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad(), cfg.autocast():
                for b in batches:
                    model(**inputs(b))
        return run

    methods = [
        ("inference, length-sorted", bare(sorted_batches)),
        ("inference, dataset order", bare(shuffled_batches)),
        ("EL2N via diet.score_examples", lambda: score_examples(model, data, ["el2n"], cfg, progress=False)),
        ("collate only (its share of EL2N)", lambda: [collate(data, pos, args.device) for pos in length_sorted_batches(data, cfg.eval_batch_size)]),
    ]
    lengths = data.lengths
    print(f"\nreal text: {len(data)} ag_news training examples, max length 128 (mean {lengths.mean():.0f} tokens, max {lengths.max()}), batch {cfg.eval_batch_size}")
    results = []
    for name, fn in methods:
        seconds, peak = measure(fn, args.device, args.repeats)
        results.append(Result(name, len(data) / seconds, peak))
    return results


def print_table(length: int | str, results: list[Result]) -> None:
    base = results[0]
    print(f"\nlength {length}" if isinstance(length, int) else f"\n{length}")
    print(f"{'method':<26} {'examples/s':>11} {'x base':>8} {'peak MiB':>9} {'x base':>8}")
    for r in results:
        print(
            f"{r.method:<26} {r.examples_per_s:>11.1f} {r.examples_per_s / base.examples_per_s:>8.2f} "
            f"{r.peak_mib:>9.0f} {r.peak_mib / max(base.peak_mib, 1e-9):>8.2f}"
        )


def append_csv(path: str, args: argparse.Namespace, table: str, results: list[Result]) -> None:
    """One row per method, ratios to the table's first row; the header is written once per new file."""
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    base = results[0]
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["model", "device", "dtype", "batch", "table", "method", "examples_per_s", "x_base", "peak_mib", "x_base_mib"])
        for r in results:
            writer.writerow([args.model, args.device, args.dtype, args.batch, table, r.method, f"{r.examples_per_s:.2f}",
                             f"{r.examples_per_s / base.examples_per_s:.3f}", f"{r.peak_mib:.1f}", f"{r.peak_mib / max(base.peak_mib, 1e-9):.3f}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["minilm-l6", "bert-base"], default="minilm-l6")
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dtype", choices=["float32", "bf16"], default="float32")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per method, after one warm-up")
    parser.add_argument("--loop-examples", type=int, default=8, help="examples for the slow naive loop")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--real-examples", type=int, default=512, help="real ag_news examples for the EL2N-vs-inference check (needs DIET_DATA_DIR)")
    parser.add_argument("--eval-batch", type=int, default=64, help="inference batch size for the real-text check")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke check")
    parser.add_argument("--csv", help="also append every row to this CSV file (machine-readable, ratios included)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.lengths, args.batch, args.repeats, args.loop_examples, args.real_examples = [16], 4, 1, 2, 32

    model = load_model(args.model, args.quick).to(args.device).eval()
    memory = (
        "torch.cuda.max_memory_allocated above the allocation before the timed calls"
        if args.device == "cuda"
        else "peak RSS above the level before the timed calls (/proc/self/statm every 2 ms, after malloc_trim)"
    )
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"model {args.model} ({params:.1f}M parameters), device {args.device}, dtype {args.dtype}, "
          f"torch threads {torch.get_num_threads()}, batch {args.batch}")
    print("inputs: synthetic random token ids, no padding; train step = train mode (dropout) + AdamW")
    print(f"times: fastest of {args.repeats} calls after 1 warm-up; peak memory: {memory}")
    print("x base: ratio to the first row of each table (the training step for the synthetic lengths)")
    if args.real_examples and args.model == "minilm-l6":
        real = real_text(model, args)
        print_table("EL2N on real text (ratios against the first row)", real)
        if args.csv:
            append_csv(args.csv, args, "real text", real)
        print(f"EL2N scoring / plain inference (length-sorted) throughput: {real[2].examples_per_s / real[0].examples_per_s:.2f}")
    ratios = []
    for length in args.lengths:
        results = run_length(model, args, length)
        print_table(length, results)
        if args.csv:
            append_csv(args.csv, args, f"length {length}", results)
        ratios.append(results[3].examples_per_s / results[0].examples_per_s)
    print(f"\nworst over lengths {' '.join(map(str, args.lengths))}:")
    print(f"grand_full fast / train step throughput: {min(ratios):.2f}")


if __name__ == "__main__":
    main()
