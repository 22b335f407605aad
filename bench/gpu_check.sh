#!/usr/bin/env bash
# The one script for a lent GPU machine: everything that only a GPU can show, in one call,
# one table at the end. Prepare first, here: `bash bench/gpu_prepare.sh` (wheels into .whl),
# then in ONE device run carry [".whl"] and run `bash bench/gpu_check.sh` with timeout_s 540.
# It must finish in under 8 minutes (each step has its own limit below).
#
# Steps: install the carried wheels beside the image's CUDA torch; the GPU-only tests
# (tests/test_gpu.py: bf16 4-bit training, gradient checkpointing, a real CUDA out-of-memory
# recorded as OOM, NVML's sample of the real GPU); the demo search on the GPU, then `evaluate`
# of its 2 best trials and the base model (batched bf16 generation on the GPU); the 12B-shaped
# throughput bench (bench/gpu_throughput.py). The demo model is built untaught
# (LORASEARCH_DEMO_PRETRAIN_STEPS=0): teaching it to read runs on the CPU and would spend a
# minute of the device's time on what the CPU machines already check. Results also land in
# $OUT (the device tool's folder that comes back) when it is set.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
began=$(date +%s)
elapsed() { echo $(( $(date +%s) - began )); }

python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>"$out/install.log"
export PYTHONPATH=/tmp/site:$PWD
export LORASEARCH_CACHE_DIR=/tmp/lscache HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python3 - <<'PY' > "$out/versions.txt" 2>&1
import torch, transformers, peft, trl, bitsandbytes, optuna
print("gpu", torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
for m in (torch, transformers, peft, trl, bitsandbytes, optuna):
    print(m.__name__, m.__version__)
PY
echo "install + versions: $(elapsed) s"; cat "$out/versions.txt"

# 1. The GPU-only tests (about 2 minutes).
timeout 240 python3 -m pytest -q -p no:cacheprovider -rA tests/test_gpu.py > "$out/tests.log" 2>&1
tests_rc=$?
echo "gpu tests: rc $tests_rc at $(elapsed) s"

# 2. The demo search on the GPU, headless (4 trials), then evaluate on the GPU.
mkdir -p /tmp/gpu_demo
export LORASEARCH_DEMO_PRETRAIN_STEPS=0
( cd /tmp/gpu_demo && timeout 150 python3 -m lorasearch_tui demo --no-tui --n-trials 4 ) > "$out/demo.log" 2>&1
demo_rc=$?
echo "demo search: rc $demo_rc at $(elapsed) s"
study=$(find /tmp/gpu_demo/optuna_studies -name '*_best_params.json' -printf '%f\n' 2>/dev/null | head -1 | sed 's|_best_params\.json$||')
( cd /tmp/gpu_demo && timeout 90 python3 -m lorasearch_tui evaluate "${study:-none}" --top 2 --json ) > "$out/evaluate.json" 2> "$out/evaluate.log"
evaluate_rc=$?
echo "evaluate: rc $evaluate_rc at $(elapsed) s"

# 3. Throughput, 12B shape, seq 1024 (what is left of the time, at most 4 minutes).
# GPU_CHECK_THROUGHPUT=0 skips it: a rerun after a fix, when its figures are already in hand.
left=$(( 460 - $(elapsed) ))
[ "$left" -gt 240 ] && left=240
if [ "${GPU_CHECK_THROUGHPUT:-1}" = 0 ]; then
    echo "skipped: GPU_CHECK_THROUGHPUT=0" > "$out/throughput.log"
    bench_rc=skipped
elif [ "$left" -ge 30 ]; then
    timeout "$left" python3 bench/gpu_throughput.py --json "$out/throughput.json" > "$out/throughput.log" 2>&1
    bench_rc=$?
else  # `timeout 0` would mean no limit at all
    echo "skipped: only ${left} s of the 460 s budget left" > "$out/throughput.log"
    bench_rc=skipped
fi
echo "throughput: rc $bench_rc at $(elapsed) s"

python3 - "$out" "$tests_rc" "$demo_rc" "$bench_rc" "$evaluate_rc" <<'PY'
import json, re, sys
from pathlib import Path
out, tests_rc, demo_rc, bench_rc, evaluate_rc = Path(sys.argv[1]), *sys.argv[2:]
print("\n| check | result |\n|---|---|")
print(f"| GPU | {(out / 'versions.txt').read_text().splitlines()[0]} |")
for line in (out / "tests.log").read_text().splitlines():
    m = re.match(r"(PASSED|FAILED|ERROR|SKIPPED)\S* (tests/\S+)", line)
    if m:
        print(f"| {m.group(2).split('::')[-1]} | {m.group(1)} |")
demo = (out / "demo.log").read_text()
done = re.search(r"(\d+) complete, (\d+) pruned, (\d+) failed", demo)
print(f"| demo search, 4 trials (rc {demo_rc}) | {done.group(0) if done else 'see demo.log'} |")
try:
    rows = json.loads((out / "evaluate.json").read_text())["candidates"]
    said = ", ".join(f"{r['name']} CER {r['metrics']['cer']['value']:.4f}" for r in rows)
except (OSError, ValueError, KeyError):
    said = "see evaluate.log"
print(f"| evaluate --top 2, bf16 on the GPU (rc {evaluate_rc}) | {said} |")
try:
    for row in json.loads((out / "throughput.json").read_text())["rows"]:
        chose = f" ({row['chosen']})" if row.get("chosen") else ""
        print(f"| 12B shape {row['setting']}{chose} | {row['tokens_per_s']:.0f} tokens/s, peak {row['peak_gib']:.1f} GiB |")
except (OSError, ValueError, KeyError):
    print(f"| throughput (rc {bench_rc}) | see throughput.log |")
PY
echo "total: $(elapsed) s"
