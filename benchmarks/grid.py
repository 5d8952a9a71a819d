"""Wall time of one small real grid, run one job after another and by parallel workers, side by side.

    python benchmarks/grid.py                       # CPU: sequential with 2 threads vs 2 workers x 1 thread
    python benchmarks/grid.py --gpu-workers 1 4 8   # GPU: 1, 4 and 8 workers sharing GPU 0

Each mode fills a fresh temporary store through the real command line (`diet precompute`), so
the numbers include process start-up, planning and storing. The last line is the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(label: str, extra: list[str], grid: list[str], slots: int) -> float:
    """Fill a fresh store; print the wall time, and how busy the `slots` job slots were (the sum of the
    jobs' own seconds from jobs.jsonl over slots x wall: the rest is start-up, planning and the tail)."""
    with tempfile.TemporaryDirectory() as store:
        cmd = [sys.executable, "-m", "diet.cli.main", "precompute", *grid, "--store", store, *extra]
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{label} failed:\n{done.stdout}\n{done.stderr}")
        runs = len(list(Path(store).glob("*/*/data.parquet")))
        log = Path(store) / "jobs.jsonl"
        job_seconds = sum(json.loads(line)["seconds"] for line in log.read_text().splitlines()) if log.is_file() else float("nan")
    print(f"{label:<36} {runs:>4} runs  {wall:8.1f} s  {runs / wall * 60:6.2f} runs/min  "
          f"jobs {job_seconds:7.1f} s, {job_seconds / runs:5.1f} s a run, slots busy {job_seconds / (slots * wall):4.0%}", flush=True)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--task", default="ag_news")
    parser.add_argument("--n-train", default="256")
    parser.add_argument("--n-test", default="256")
    parser.add_argument("--figures", nargs="+", default=["3"])
    parser.add_argument("--fractions", nargs="+", default=["0.5"])
    parser.add_argument("--seeds", nargs="+", default=["0", "1"])
    parser.add_argument("--retrain-seeds", nargs="+", default=["0", "1"])
    parser.add_argument("--workers", type=int, default=2, help="CPU: parallel workers (one thread each)")
    parser.add_argument("--gpu-workers", type=int, nargs="+", default=None, help="GPU: worker counts to compare on GPU 0")
    parser.add_argument("--one-thread", action="store_true", help="CPU: also run sequentially on 1 thread (the per-core baseline)")
    args = parser.parse_args()
    grid = ["--preset", args.preset, "--task", args.task, "--n-train", args.n_train, "--n-test", args.n_test,
            "--figures", *args.figures, "--fractions", *args.fractions, "--seeds", *args.seeds, "--retrain-seeds", *args.retrain_seeds]
    print(f"grid: {' '.join(grid)}; {os.cpu_count()} CPU cores")
    if args.gpu_workers:
        walls = {k: run(f"GPU 0, {k} worker(s)", ["--gpus", "0", "--workers", str(k)], grid, k) for k in args.gpu_workers}
        base, best = walls[args.gpu_workers[0]], min(walls, key=walls.get)
        for k, wall in walls.items():
            print(f"{k} worker(s) / {args.gpu_workers[0]} worker(s): {base / wall:.2f}x")
        print(f"best GPU workers ({best}) / {args.gpu_workers[0]} worker(s) speed-up: {base / walls[best]:.2f}")
        return
    cores = os.cpu_count() or 1
    if args.one_thread:
        single = run("sequential, 1 thread", ["--gpus", "none", "--threads", "1"], grid, 1)
    sequential = run(f"sequential, {cores} threads", ["--gpus", "none", "--threads", str(cores)], grid, 1)
    parallel = run(f"{args.workers} workers x {max(1, cores // args.workers)} thread(s)", ["--gpus", "none", "--workers", str(args.workers)], grid, args.workers)
    if args.one_thread:
        print(f"sequential {cores} threads / sequential 1 thread speed-up: {single / sequential:.2f}")
        print(f"workers {args.workers} / sequential 1 thread speed-up: {single / parallel:.2f}")
    print(f"workers {args.workers} / sequential {cores} threads speed-up: {sequential / parallel:.2f}")


if __name__ == "__main__":
    main()
