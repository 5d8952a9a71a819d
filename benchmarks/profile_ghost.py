"""Where a ghost GraNd pass spends its time, beside a training step: torch.profiler's top operators.

    python benchmarks/profile_ghost.py [--model bert-base|minilm-l6] [--dtype bf16|float32] [--device cuda|cpu]
                                       [--length 128] [--batch 32] [--top 15] [--quick]

For each of the two passes (same model, batch and length as benchmarks/scoring.py): the total
device time (self time summed over operators: CUDA kernels on a GPU, CPU time otherwise), the
number of kernel launches, and the operators that take the most of it, with their share. The
question it answers: why is the ghost pass 0.50x to 0.68x of a bf16 training step on bert-base
(benchmarks/README.md) when it is 1.14x in float32.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import load_model, synthetic_batch, train_step  # noqa: E402

from diet.scores.grad_norms import per_example_grad_norms  # noqa: E402


def profiled(fn, device: str, repeats: int):
    """The profiler's operator averages over `repeats` calls, after two warm-up calls."""
    for _ in range(2):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(repeats):
            fn()
        if device == "cuda":
            torch.cuda.synchronize()
    return prof.key_averages()


def self_time(event, device: str) -> float:
    """Microseconds of the operator's own work on the device that matters."""
    return event.self_device_time_total if device == "cuda" else event.self_cpu_time_total


def report(name: str, events, device: str, repeats: int, top: int) -> float:
    times = [(self_time(e, device), e) for e in events]
    total = sum(t for t, _ in times)
    launches = sum(e.count for e in events if device == "cuda" and e.self_device_time_total > 0 and not e.key.startswith("aten::"))
    unit = "device" if device == "cuda" else "CPU"
    print(f"\n{name}: {total / repeats / 1e3:.2f} ms of {unit} time a call" + (f", about {launches // repeats} kernels" if launches else ""))
    print(f"{'operator':<60} {'ms/call':>8} {'share':>6} {'calls':>6}")
    for t, e in sorted(times, key=lambda x: -x[0])[:top]:
        print(f"{e.key[:60]:<60} {t / repeats / 1e3:>8.3f} {t / max(total, 1e-9):>6.1%} {e.count // repeats:>6}")
    return total / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["minilm-l6", "bert-base"], default="bert-base")
    parser.add_argument("--dtype", choices=["float32", "bf16"], default="bf16")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=15, help="operators listed per pass")
    parser.add_argument("--quick", action="store_true", help="a 2-layer model, batch 4, length 16: a smoke check")
    args = parser.parse_args()
    if args.quick:
        args.length, args.batch, args.repeats = 16, 4, 1

    model = load_model(args.model, args.quick).to(args.device).eval()
    batch = synthetic_batch(args.batch, args.length, args.device)
    print(f"model {args.model}, device {args.device}, dtype {args.dtype}, batch {args.batch}, length {args.length}")
    autocast = torch.autocast(args.device, dtype=torch.bfloat16) if args.dtype == "bf16" else nullcontext()
    step = train_step(model, batch)
    with autocast:
        train = report("train step", profiled(step, args.device, args.repeats), args.device, args.repeats, args.top)
        ghost = report("ghost GraNd pass", profiled(lambda: per_example_grad_norms(model, batch, "ghost"), args.device, args.repeats),
                       args.device, args.repeats, args.top)
    print(f"\nghost / train step, by profiled time: {ghost / max(train, 1e-9):.2f} (above 1: the ghost pass takes longer)")


if __name__ == "__main__":
    main()
