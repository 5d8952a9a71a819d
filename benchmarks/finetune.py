"""One whole fine-tuning run (train + test-set evaluation) on real text: float32 against bf16 autocast,
length-grouped batches and fused AdamW, side by side in one process; plus EL2N and full-GraNd scoring in both
precisions, and (--accuracy) the test accuracy each variant reaches over seeds.

    python benchmarks/finetune.py [--task ag_news] [--n-train 500] [--n-test 500] [--model minilm-l6]
                                  [--max-length 64] [--batch 16] [--epochs 2] [--lr 1e-4]
                                  [--threads 1] [--repeats 1] [--chunk 8] [--variants ...] [--no-scores] [--quick]
    python benchmarks/finetune.py --accuracy [--tasks ag_news sst2] [--seeds 0 1 2] [--variants ...] [--chunk 8] [--threads 1]

Speed mode: every variant fine-tunes the same pre-trained model with the same seed on the same
examples, then predicts the test set; the timed run is what `diet.retrain` does for one seed
(tokenise, load the encoder, fine-tune, test accuracy). The float32 baseline is today's code path:
it tokenises again in every run (as each retrain call did), float32, a plain shuffle. The other
variants tokenise through the per-process cache of `diet.model.batching.encode`. Variants run
round-robin, one run of each per repeat, so load on a busy machine spreads over all of them; the
table shows the fastest run of each, by the wall clock and by this process's CPU time (with one
thread the CPU time moves much less with other load than the wall clock). The last line is the
fastest variant's throughput over the float32 baseline's, by the wall clock.

Accuracy mode: full-data retraining with each variant and seeds (by default the cpu preset's
500 / 500 of ag_news and sst2); float32 runs are loaded from the committed results/cpu store when
it holds them (same TrainConfig key), the others are trained into --store (resumable). Each row
gives mean ± sd over seeds and the difference to float32 in standard errors of that difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from diet import TrainConfig, load_task
from diet.model.batching import Encoded, clear_encode_cache, encode, length_grouped_batches, shuffled_batches
from diet.model.encoders import load_encoder, load_tokenizer
from diet.scores.registry import score_examples
from diet.model.train import accuracy, fine_tune

# name -> (dtype, length-grouped batches, fused AdamW); the first is today's float32 code path, the baseline.
# bf16: TrainConfig(dtype="bf16"); grouped: length_chunk=--chunk; fused: fused_adamw=True
VARIANTS = {
    "float32": ("auto", False, False),
    "bf16": ("bf16", False, False),
    "grouped": ("auto", True, False),
    "fused": ("auto", False, True),
    "bf16+fused": ("bf16", False, True),
    "bf16+grouped": ("bf16", True, False),
    "bf16+grouped+fused": ("bf16", True, True),
}
ACCURACY_VARIANTS = ["float32", "bf16", "bf16+grouped+fused"]  # fused AdamW alone is the same update to rounding


@dataclass(frozen=True)
class Run:
    variant: str
    seconds: float  # wall clock
    cpu_seconds: float  # this process's CPU time: with one thread, far less sensitive to other load than the wall clock
    tokenise_seconds: float
    accuracy: float


def variant_config(base: TrainConfig, variant: str, chunk: int) -> TrainConfig:
    dtype, grouped, fused = VARIANTS[variant]
    return replace(base, dtype=dtype, length_chunk=chunk if grouped else 0, fused_adamw=fused)


def whole_run(task, model_name: str, cfg: TrainConfig, seed: int, baseline: bool) -> Run:
    """Tokenise (uncached for the baseline), load, fine-tune, test accuracy: one retraining."""
    started, cpu = time.perf_counter(), time.process_time()
    if baseline:
        clear_encode_cache()
    tokenizer = load_tokenizer(model_name)
    train, test = encode(task.train, tokenizer, cfg.max_length), encode(task.test, tokenizer, cfg.max_length)
    tokenised = time.perf_counter() - started
    model = load_encoder(model_name, task.num_labels, seed)
    fine_tune(model, train, cfg, seed, progress=False)
    acc = accuracy(model, test, cfg)
    return Run("", time.perf_counter() - started, time.process_time() - cpu, tokenised, acc)


def padding_share(data: Encoded, batches) -> float:
    """Padding tokens over all tokens of these training batches."""
    lengths = data.lengths
    real = padded = 0
    for positions in batches:
        width = lengths[positions].max()
        real += lengths[positions].sum()
        padded += width * len(positions)
    return 1 - real / padded


def warm_up(task, model_name: str, base: TrainConfig) -> None:
    """A few steps in each precision so one-time kernel set-up is not timed."""
    small = task.train.take(np.arange(min(len(task.train), 4 * base.batch_size)))
    data = encode(small, load_tokenizer(model_name), base.max_length)
    for dtype, fused in (("auto", False), ("bf16", True)):
        cfg = replace(base, dtype=dtype, fused_adamw=fused, epochs=1)
        model = load_encoder(model_name, task.num_labels, 0)
        fine_tune(model, data, cfg, 0, progress=False)
        accuracy(model, data, cfg)


def time_scores(model, data: Encoded, base: TrainConfig, names: list[str], repeats: int) -> dict[str, tuple[float, float, dict]]:
    """Per precision: fastest of `repeats` score_examples calls (round-robin) as (examples/s wall, examples/s CPU time, scores)."""
    few = Encoded(data.input_ids[:8], data.token_type_ids[:8], data.labels[:8], data.ids[:8], data.pad_id)
    wall, cpu, scores = {}, {}, {}
    for dtype in ("float32", "bf16"):
        score_examples(model, few, names, replace(base, dtype=dtype), progress=False)  # warm-up
    for _ in range(repeats):
        for dtype in ("float32", "bf16"):
            t0, c0 = time.perf_counter(), time.process_time()
            scores[dtype] = score_examples(model, data, names, replace(base, dtype=dtype), progress=False)
            wall[dtype] = min(wall.get(dtype, float("inf")), time.perf_counter() - t0)
            cpu[dtype] = min(cpu.get(dtype, float("inf")), time.process_time() - c0)
    return {dtype: (len(data) / wall[dtype], len(data) / cpu[dtype], scores[dtype]) for dtype in wall}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def speed(args: argparse.Namespace) -> None:
    task = load_task(args.task, n_train=args.n_train, n_test=args.n_test, seed=0)
    base = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, max_length=args.max_length, device="cpu")
    tokenizer = load_tokenizer(args.model)
    data = encode(task.train, tokenizer, base.max_length)
    lengths = data.lengths
    seen = args.epochs * len(task.train)
    print(f"task {task.name}: {len(task.train)} train / {len(task.test)} test; model {args.model}; max length {base.max_length} "
          f"(train lengths: mean {lengths.mean():.1f}, median {np.median(lengths):.0f}, max {lengths.max()}); "
          f"batch {base.batch_size}, {args.epochs:g} epochs, lr {base.lr:g}; torch threads {torch.get_num_threads()}; "
          f"CPU bf16: {cpu_bf16_flags()}")
    gen = torch.Generator().manual_seed(args.seed)
    plain = padding_share(data, shuffled_batches(len(data), base.batch_size, gen))
    grouped = padding_share(data, length_grouped_batches(lengths, base.batch_size, torch.Generator().manual_seed(args.seed), args.chunk))
    print(f"padding share of training tokens (one epoch, seed {args.seed}): plain shuffle {plain:.1%}, length-grouped (chunks of {args.chunk} batches) {grouped:.1%}")
    print("variants: bf16 = bf16 autocast (dtype='bf16'); grouped = length-grouped batches (length_chunk); fused = fused AdamW (fused_adamw=True)")
    print(f"timed: tokenise + load encoder + fine-tune + test accuracy, seed {args.seed}; fastest of {args.repeats} run(s) per variant, round-robin "
          f"after a warm-up; examples/s = training examples seen ({seen:g}) / run seconds; 'x float32' by the wall clock, "
          f"'x cpu' by this process's CPU time (with one thread, a steadier guide than the wall clock on a machine busy with other work)\n")

    warm_up(task, args.model, base)
    runs: dict[str, list[Run]] = {v: [] for v in args.variants}
    for _ in range(args.repeats):
        for variant in args.variants:
            run = whole_run(task, args.model, variant_config(base, variant, args.chunk), args.seed, baseline=variant == "float32")
            runs[variant].append(replace(run, variant=variant))
            print(f"  ran {variant}: {run.seconds:.1f} s wall, {run.cpu_seconds:.1f} s CPU, test accuracy {run.accuracy:.4f}", file=sys.stderr, flush=True)

    best = {v: min(rs, key=lambda r: r.seconds) for v, rs in runs.items()}
    best_cpu = {v: min(r.cpu_seconds for r in rs) for v, rs in runs.items()}
    ref, ref_cpu = best["float32"].seconds, best_cpu["float32"]
    print(f"{'whole fine-tuning run':<20} {'seconds':>8} {'examples/s':>11} {'x float32':>10} {'cpu s':>7} {'x cpu':>6} {'tokenise s':>11} {'test acc':>9}")
    for variant, run in best.items():
        accs = "/".join(sorted({f"{r.accuracy:.4f}" for r in runs[variant]}))
        print(f"{variant:<20} {run.seconds:>8.1f} {seen / run.seconds:>11.1f} {ref / run.seconds:>10.2f} {best_cpu[variant]:>7.1f} "
              f"{ref_cpu / best_cpu[variant]:>6.2f} {run.tokenise_seconds:>11.3f} {accs:>9}")

    if not args.no_scores:
        model = load_encoder(args.model, task.num_labels, args.seed)
        fine_tune(model, data, base, args.seed, progress=False)
        el2n = time_scores(model, encode(task.train, tokenizer, base.max_length), replace(base, eval_batch_size=args.eval_batch), ["el2n"], args.repeats)
        few = task.train.take(np.arange(min(len(task.train), args.grand_examples)))
        grand = time_scores(model, encode(few, tokenizer, base.max_length), base, ["grand_full"], args.repeats)
        print(f"\nscoring the float32-trained model's {len(task.train)} training examples (EL2N, eval batch {args.eval_batch}) and "
              f"{len(few)} of them (grand_full ghost, batch {base.batch_size}); fastest of {args.repeats}; bf16 against float32 scores of the same model")
        print(f"{'score':<20} {'float32 ex/s':>13} {'bf16 ex/s':>10} {'x float32':>10} {'x cpu':>6} {'spearman':>9} {'max rel diff':>13}")
        for name, result in (("el2n", el2n), ("grand_full", grand)):
            (f32, f32_cpu, s32), (b16, b16_cpu, s16) = result["float32"], result["bf16"]
            a, b = s32[name], s16[name]
            rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))
            print(f"{name:<20} {f32:>13.1f} {b16:>10.1f} {b16 / f32:>10.2f} {b16_cpu / f32_cpu:>6.2f} {spearman(a, b):>9.4f} {rel:>13.4f}")

    winner = max(best, key=lambda v: ref / best[v].seconds)
    winner_cpu = max(best_cpu, key=lambda v: ref_cpu / best_cpu[v])
    print(f"\nby CPU time: {winner_cpu} {ref_cpu / best_cpu[winner_cpu]:.2f}x the float32 baseline")
    print(f"fastest by the wall clock: {winner}")
    print(f"finetune best / float32 baseline: {ref / best[winner].seconds:.2f}")


def accuracy_mode(args: argparse.Namespace) -> None:
    from diet import DietError, Store, retrain
    from diet.paper.presets import get_preset

    preset = get_preset("cpu")
    base = replace(preset.train, device="cpu")
    print(f"full-data retraining, cpu preset sizes ({preset.n_train} train / {preset.n_test} test), model {preset.model}, "
          f"{base.key()}; seeds {args.seeds}; length-grouped chunks of {args.chunk} batches; torch threads {torch.get_num_threads()}")
    print(f"float32 runs from {args.reference_store} when stored there (read-only), else trained; others trained into {args.store}\n")
    print(f"{'task':<9} {'variant':<20} {'accuracy mean ± sd':>19}  {'per seed':<20} {'s/run':>6}{'':9} {'minus float32':>13} {'in se':>6}")
    for name in args.tasks:
        task = load_task(name, preset.n_train, preset.n_test, preset.data_seed)
        accs = {}
        for variant in args.variants:
            cfg = variant_config(base, variant, args.chunk)
            frame, where = None, ""
            if variant == "float32" and args.reference_store:
                try:
                    frame, where = retrain(task, preset.model, None, args.seeds, cfg, Store(args.reference_store, readonly=True), progress=False), " (stored)"
                except DietError:
                    frame = None
            if frame is None:
                frame = retrain(task, preset.model, None, args.seeds, cfg, Store(args.store), progress=False)
            acc = accs[variant] = frame["accuracy"].to_numpy()
            sd = acc.std(ddof=1) if len(acc) > 1 else 0.0
            diff = in_se = ""
            if variant != "float32":
                ref = accs["float32"]
                se = np.sqrt(np.var(acc, ddof=1) / len(acc) + np.var(ref, ddof=1) / len(ref)) if min(len(acc), len(ref)) > 1 else np.nan
                diff = f"{acc.mean() - ref.mean():+.4f}"
                in_se = f"{(acc.mean() - ref.mean()) / se:+.1f}" if se > 0 else "0"
            seeds = " ".join(f"{a:.3f}" for a in acc)
            print(f"{name:<9} {variant:<20} {acc.mean():>10.4f} ± {sd:.4f}  {seeds:<20} {frame['seconds'].mean():>6.1f}{where:9} {diff:>13} {in_se:>6}")
        print()


def cpu_bf16_flags() -> str:
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    found = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return ", ".join(found) if found else "none (bf16 is emulated and likely slower)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="ag_news")
    parser.add_argument("--n-train", type=int, default=500)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--model", default="minilm-l6")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=8, help="length-grouped batches: batches per length-sorted chunk (default: %(default)s)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        help=f"variants to run; float32 (the baseline) is always run first (default: all; accuracy mode: {' '.join(ACCURACY_VARIANTS)})")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per variant, round-robin; the fastest is shown (default: %(default)s)")
    parser.add_argument("--eval-batch", type=int, default=128, help="EL2N inference batch (default: %(default)s)")
    parser.add_argument("--grand-examples", type=int, default=128, help="examples for the grand_full rows (default: %(default)s)")
    parser.add_argument("--no-scores", action="store_true", help="skip the EL2N / grand_full rows")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke check of the script")
    parser.add_argument("--accuracy", action="store_true", help="accuracy mode: full-data retraining per variant and seed")
    parser.add_argument("--tasks", nargs="+", default=["ag_news", "sst2"], help="accuracy mode: tasks (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="accuracy mode: seeds (default: %(default)s)")
    parser.add_argument("--store", default=os.path.join("runs", "bench-precision"), help="accuracy mode: store for the runs it trains (default: %(default)s)")
    parser.add_argument("--reference-store", default=os.path.join("results", "cpu"), help="accuracy mode: read-only store holding float32 runs ('' for none; default: %(default)s)")
    args = parser.parse_args()
    args.variants = args.variants or (ACCURACY_VARIANTS if args.accuracy else list(VARIANTS))
    args.variants = ["float32", *[v for v in args.variants if v != "float32"]]
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.n_train, args.n_test, args.epochs, args.repeats, args.grand_examples = 64, 32, 1, 1, 16
    if args.accuracy:
        accuracy_mode(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
