#!/usr/bin/env bash
# The one command a session with a lent GPU runs (scripts/README.md says which device call):
#
#   bash scripts/device_run.sh BUDGET_SECONDS
#
# Runs on the device's own torch/transformers (diet from PYTHONPATH, nothing installed), with data
# and MiniLM-L6 from the carried .device/ (scripts/prepare_device_carry.py). Steps, each under
# `timeout` so the whole ends within BUDGET_SECONDS, each logged even when one fails:
#   1. the GPU benchmark table, alone (minilm-l6, bert-base; bf16, float32; length 128), then
#      benchmarks/grid.py with 1, 4 and 8 workers on the GPU
#   2. the CUDA tests, in the background beside
#   3. `diet precompute --preset gpu --task ag_news` on whatever budget is left
#   4. $OUT: summary.txt, pytest.log, bench.txt, bench.csv, logs.tar.gz, results-gpu.tar.gz (new store entries)
#
# Environment: DEVICE_DRY_RUN=1 checks the script on a CPU machine (no nvidia-smi, CPU --quick benchmarks);
# DEVICE_SKIP: steps to leave out, of "pytest bench profile gridbench precompute" (a second session: DEVICE_SKIP="pytest bench gridbench");
# DEVICE_WORKERS (default 6) processes on the GPU for each task; DEVICE_PRESET (gpu); DEVICE_TASK (ag_news; several,
# e.g. "ag_news sst2", run side by side, each with its own workers); DEVICE_STORE (results/PRESET; a git-ignored
# folder such as _build/gpu-store is seeded from results/PRESET and kept on a warm machine between calls, so a
# second call resumes without carrying the first call's entries); PYTHON (python3); OUT (set by the device tool;
# else _build/device-out). results-gpu.tar.gz always unpacks into results/PRESET.
set -uo pipefail

BUDGET=${1:?usage: bash scripts/device_run.sh BUDGET_SECONDS}
DRY=${DEVICE_DRY_RUN:-0}
WORKERS=${DEVICE_WORKERS:-6}
PRESET=${DEVICE_PRESET:-gpu}
read -r -a TASKS <<<"${DEVICE_TASK:-ag_news}"
HOME_STORE=results/$PRESET   # where the entries are committed
STORE=${DEVICE_STORE:-$HOME_STORE}
PY=${PYTHON:-python3}
RESERVE=15        # seconds kept back for packing $OUT
PART_MIB=15       # the device tool returns files of at most 16 MiB

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
OUT=${OUT:-$ROOT/_build/device-out}
mkdir -p "$OUT"
LOGS=$(mktemp -d -t device-logs.XXXXXX)
SUMMARY=$LOGS/summary.txt
START=$SECONDS
LAST_RC=0
FAILED=0          # steps that exited with an error (a timeout, 124, is not one: the budget did its job)

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TQDM_DISABLE=1
export DIET_DATA_DIR="$ROOT/.device/data" DIET_MINILM_DIR="$ROOT/.device/minilm-l6"

note() { echo "$*" | tee -a "$SUMMARY"; }

skipped() { [[ " ${DEVICE_SKIP:-} " == *" $1 "* ]] && note "$1: skipped (DEVICE_SKIP)"; }

left() { echo $((BUDGET - (SECONDS - START) - RESERVE)); }

# step NAME CAP_SECONDS COMMAND...: run under timeout min(CAP, budget left); log to $LOGS/NAME.log
step() {
    local name=$1 cap=$2 limit t0 rc
    shift 2
    limit=$(left)
    ((cap < limit)) && limit=$cap
    if ((limit < 10)); then
        note "$(printf '%-26s skipped: budget spent' "$name")"
        return 0
    fi
    t0=$SECONDS
    timeout --signal=INT --kill-after=10 "$limit" "$@" >"$LOGS/$name.log" 2>&1
    rc=$?
    LAST_RC=$rc
    ((rc != 0 && rc != 124)) && FAILED=$((FAILED + 1))
    note "$(printf '%-26s rc %3d  %4d s of %4d s%s' "$name" "$rc" $((SECONDS - t0)) "$limit" "$( ((rc == 124)) && echo '  (timed out)'; ((rc != 0 && rc != 124)) && echo '  FAILED')")"
}

note "device_run: budget $BUDGET s, dry run $DRY, $(date -u +%FT%TZ), $(hostname)"
((BUDGET > 570)) && note "warning: a device command may run 600 s at most; give the call timeout_s >= BUDGET + 30"
for path in .device/data/SHA256SUMS .device/minilm-l6/model.safetensors; do
    [[ -f $path ]] || { note "missing $path: run scripts/prepare_device_carry.py and carry .device"; exit 2; }
done

# 0. what runs here
{
    if ((DRY)); then echo "dry run: no GPU expected"; else nvidia-smi; fi
    "$PY" - <<'EOF'
import importlib, platform, sys
print("python", platform.python_version(), sys.executable)
for name in ("torch", "transformers", "numpy", "pandas", "pyarrow", "safetensors", "tokenizers", "pytest"):
    try:
        print(f"{name} {importlib.import_module(name).__version__}")
    except Exception as error:
        print(f"{name} MISSING ({type(error).__name__}: {error})")
import torch
print("cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
import diet
from diet.model.encoders import minilm_path
print("diet from", diet.__file__, "; minilm-l6 from", minilm_path())
EOF
} >"$LOGS/environment.log" 2>&1
grep -E '^(torch|transformers|cuda|python|diet from) |MISSING|NVIDIA H|dry run' "$LOGS/environment.log" | tee -a "$SUMMARY"

# 1. benchmark table, alone on the GPU: every row as a ratio to the training step, beside the peak memory
if ((DRY)); then bench_args=(--device cpu --quick); else bench_args=(--device cuda --lengths 128 --batch 32); fi
if ! skipped bench; then
    for model in minilm-l6 bert-base; do
        for dtype in bf16 float32; do
            step "bench-$model-$dtype" 75 "$PY" benchmarks/scoring.py --model "$model" --dtype "$dtype" "${bench_args[@]}" --csv "$LOGS/bench.csv"
        done
    done
    for log in "$LOGS"/bench-*.log; do echo "=== $(basename "$log" .log)"; cat "$log"; echo; done >"$OUT/bench.txt"
    [[ -f $LOGS/bench.csv ]] && cp "$LOGS/bench.csv" "$OUT/bench.csv"
fi

# 1a. where the bf16 ghost pass spends its time beside a training step (torch.profiler; alone on the GPU too)
if ! skipped profile; then
    if ((DRY)); then profile_args=(--device cpu --quick); else profile_args=(--device cuda --model bert-base --dtype bf16); fi
    step profile 60 "$PY" benchmarks/profile_ghost.py "${profile_args[@]}"
    cp "$LOGS/profile.log" "$OUT/profile.txt"
fi

# 1b. the grid with 1, 4 and 8 worker processes on the one GPU (benchmarks/grid.py; alone on the GPU too)
if ! ((DRY)) && ! skipped gridbench; then
    step gridbench 150 "$PY" benchmarks/grid.py --gpu-workers 1 4 8
    { echo "=== gridbench"; cat "$LOGS/gridbench.log"; } >>"$OUT/bench.txt"
fi

# 2. CUDA tests (skipped, so only collected, in a dry run; test_bf16_autocast also has a cuda case), in the
#    background beside the grid: they check numbers, not speed, and the grid needs every second left
PYTEST_PID=
if ! skipped pytest; then
    { step pytest 180 "$PY" -m pytest -q -s -p no:cacheprovider tests/test_gpu.py tests/test_integrations_gpu.py tests/test_grad_norms.py::test_bf16_autocast
      ((LAST_RC == 0 || LAST_RC == 124)); } &
    PYTEST_PID=$!
fi

# 3. the preset's grid on the budget that is left, one precompute per task side by side; resumable, finished
#    runs are kept when time runs out
help=$("$PY" -m diet.cli.main precompute --help 2>&1) || note "diet precompute --help failed: $(tail -n 1 <<<"$help")"
common=(--preset "$PRESET")
if grep -q -- '--workers' <<<"$help"; then
    common+=(--workers "$WORKERS")
    grep -q -- '--gpus' <<<"$help" && ! ((DRY)) && common+=(--gpus 0)
else
    note "diet precompute lists no --workers: one process"
fi
if grep -q -- '--store' <<<"$help"; then common+=(--store "$STORE"); else export DIET_STORE=$STORE; fi
mkdir -p "$STORE"
if [[ $STORE != "$HOME_STORE" && -d $HOME_STORE ]]; then
    cp -rn "$HOME_STORE/." "$STORE/"   # seed: what is committed; entries of an earlier call on this machine stay
    note "store $STORE, seeded from $HOME_STORE ($(find "$STORE" -name config.json | wc -l) entries)"
fi
touch "$LOGS/stamp"
sleep 1
has_plan=$("$PY" -m diet.cli.main plan --help >/dev/null 2>&1 && echo 1 || echo 0)
GRID_PIDS=()
if ! skipped precompute; then
    RESERVE=$((RESERVE + 25 * has_plan))  # room for the plans of what is left
    for task in "${TASKS[@]}"; do
        note "precompute: diet precompute --task $task ${common[*]}"
        { step "precompute-$task" 100000 "$PY" -m diet.cli.main precompute --task "$task" "${common[@]}"
          ((LAST_RC == 0 || LAST_RC == 124)); } &
        GRID_PIDS+=($!)
    done
    for pid in "${GRID_PIDS[@]}"; do wait "$pid" || FAILED=$((FAILED + 1)); done
    RESERVE=$((RESERVE - 25 * has_plan))
fi
if [[ -n $PYTEST_PID ]]; then
    wait "$PYTEST_PID" || FAILED=$((FAILED + 1))
    cp "$LOGS/pytest.log" "$OUT/pytest.log"
fi
if ((has_plan)); then
    for task in "${TASKS[@]}"; do
        { step "plan-after-$task" 25 "$PY" -m diet.cli.main plan --preset "$PRESET" --task "$task" --store "$STORE"; } &
    done
    wait
fi

# 4. pack: new store entries (no locks, no temporary files) and every log
find "$STORE" -type f -newer "$LOGS/stamp" ! -path '*/.locks/*' ! -name '*.tmp' | sort >"$LOGS/new_files.txt"
find "$STORE" -name config.json -newer "$LOGS/stamp" -printf '%TT %P\n' | sort >"$LOGS/entries_timeline.txt"
note "new store files: $(wc -l <"$LOGS/new_files.txt") ($(grep -c '^' "$LOGS/entries_timeline.txt") runs finished; times in logs/entries_timeline.txt)"
if [[ -s $LOGS/new_files.txt ]]; then
    tar -czf "$LOGS/results-gpu.tar.gz" --transform "s|^$STORE/|$HOME_STORE/|" -T "$LOGS/new_files.txt"
    if (($(stat -c %s "$LOGS/results-gpu.tar.gz") > PART_MIB * 1048576)); then
        split -b "${PART_MIB}M" -a 1 "$LOGS/results-gpu.tar.gz" "$OUT/results-gpu.tar.gz.part-"
        note "results split into $(ls "$OUT"/results-gpu.tar.gz.part-* | wc -l) parts: cat them in order, then tar -xzf"
    else
        cp "$LOGS/results-gpu.tar.gz" "$OUT/"
    fi
fi
note "total $((SECONDS - START)) s of $BUDGET s; $FAILED step(s) failed"
cp "$SUMMARY" "$OUT/summary.txt"
tar -czf "$OUT/logs.tar.gz" -C "$LOGS" --exclude=results-gpu.tar.gz .

# what the device tool's reply shows (its last 12,000 characters)
show() { [[ -f $2 ]] && { echo; echo "===== $1"; tail -n "$3" "$2"; }; }
show "pytest (tail)" "$LOGS/pytest.log" 25
[[ -f $OUT/bench.txt ]] && { echo; echo "===== benchmarks (full logs in bench.txt)"
    grep -E '^(=== |model |length |method |train step|EL2N|grand_|ghost,|inference|worst|real text|[A-Za-z]*(Error|Interrupt))' "$OUT/bench.txt"; }
show "profile: bf16 ghost pass against a training step (full list in profile.txt)" "$LOGS/profile.log" 40
show "grid benchmark, 1 / 4 / 8 GPU workers" "$LOGS/gridbench.log" 8
for task in "${TASKS[@]}"; do
    show "precompute $task (tail)" "$LOGS/precompute-$task.log" 12
    show "left to run, $task" "$LOGS/plan-after-$task.log" 20
done
echo; echo "===== summary"; cat "$SUMMARY"
echo; echo "===== \$OUT"; ls -l "$OUT"
exit $((FAILED > 0))
