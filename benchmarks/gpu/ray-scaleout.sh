#!/usr/bin/env bash
# The GPU cases of dcnv2-cpu-vs-gpu with `--executor ray` on every GPU of the lent machine
# against `--executor local` on one GPU (and, with BEFORE_SRC, the Ray executor before issue
# #29 on every GPU): cases/hour of each, the per-case costs from the results' timelines and
# `onnxbench compare` of the per-case medians. Resumable: call it again (same warm machine)
# until it says "complete".
#
#   bash benchmarks/gpu/ray-scaleout.sh        # in one device call; $OUT gets the results
#
# Steps, each skipped once done (state under $RUNS, default /tmp/onnxbench-ray-scaleout,
# which the machine keeps while warm):
#   1. prepare  one run directory with the GPU cases' plan and every artifact built once,
#               copied to $RUNS/ray, $RUNS/local and $RUNS/before (nothing measured)
#   2. ray      resume $RUNS/ray with --executor ray (a local Ray cluster: all GPUs, cores)
#   3. local    resume $RUNS/local with --executor local and CUDA_VISIBLE_DEVICES=0
#   4. before   (only with BEFORE_SRC=DIR/src, a checkout of the code before #29 carried in the
#               working tree: `git archive 090a42e src | tar -x -C .before`) resume
#               $RUNS/before with --executor ray on those sources
#   5. summary  $OUT/ray-scaleout.md (cases/hour, speed-ups against 0.9 x GPUs, per-case
#               costs and their phases, compare, environment)
# ONLY (a case-id regex) picks the cases: default the 48 of the 4x H200 lease that measured
# 1.81x before #29 (light/heavy x ORT/PyTorch CUDA x batch 2/1024, 3 processes each);
# ONLY='_(ort|torch)-cuda_' takes all 216 GPU cases (several calls).
# A step cut short by the deadline (BUDGET_S, default 560 s a call) keeps every finished case
# (SIGINT, like Ctrl-C) and goes on in the next call; the wall time of every call is summed.
# Every call packs the run directories (no models) as $OUT/ray-scaleout-runs.tgz.
#
# It expects, in /tmp/site (PYTHONPATH): ONNX Runtime's CUDA build (../shared/device/
# ort-gpu-parts.sh), Ray and jsonschema & co. (benchmarks/gpu/ray-parts.sh), and the
# pure-Python wheels the machine lacks in .whl/ (pydantic, plotly, deepctr-torch; see h100.sh).
# A dry run on a CPU machine (every GPU case is skipped with its reason):
#   SKIP_WHEELS=1 ONLY='light_torchscript_(ort|torch)-cuda_b2_' OUT=/tmp/o RUNS=/tmp/r \
#     PATH=/work/main/.venv/bin:$PATH bash benchmarks/gpu/ray-scaleout.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/out}
runs=${RUNS:-/tmp/onnxbench-ray-scaleout}
only=${ONLY:-(light|heavy)_torchscript_(ort|torch)-cuda_b(2|1024)_}
before_src=${BEFORE_SRC:-}
deadline=$(( $(date +%s) + ${BUDGET_S:-560} ))
mkdir -p "$out" "$runs"
log="$runs/script.log"

if [ -d .whl ] && [ -z "${SKIP_WHEELS:-}" ] && [ ! -e /tmp/site/.onnxbench-wheels ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && touch /tmp/site/.onnxbench-wheels
fi
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
bench() { python3 benchmarks/ray_scaleout.py "$@"; }
left() { echo $(( deadline - $(date +%s) )); }
say() { echo "$*" | tee -a "$log"; }

python3 -m onnxbench env --json > "$out/env.json" 2>&1
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv > "$out/nvidia-smi.csv" 2>&1
python3 -c 'import ray; print("ray", ray.__version__)' 2>&1 | tee -a "$log"

if [ ! -d "$runs/ray" ]; then
  start=$(date +%s)
  bench prepare --suite dcnv2-cpu-vs-gpu --only "$only" --runs "$runs" >> "$log" 2>&1 \
    || { say "prepare failed"; tail -20 "$log"; exit 1; }
  say "prepare: $(( $(date +%s) - start )) s"
fi

# one executor's run within the time left; "complete" once every planned case has a result
step() {
  local name=$1 budget
  if [ -e "$runs/$name.complete" ]; then say "$name: complete in an earlier call"; return 0; fi
  budget=$(( $(left) - 30 ))
  if [ "$budget" -lt 60 ]; then say "$name: not started, $(left) s left"; return 1; fi
  case $name in
    local) CUDA_VISIBLE_DEVICES=0 bench run "$runs/local" --executor local --budget-s "$budget" ;;
    ray) bench run "$runs/ray" --executor ray --budget-s "$budget" ;;
    before) bench run "$runs/before" --executor ray --budget-s "$budget" --src "$before_src" ;;
  esac | tee -a "$log"
  python3 - "$runs/$name" <<'PY' && touch "$runs/$name.complete"
import json, sys
from pathlib import Path
run = next(p for p in Path(sys.argv[1]).iterdir() if p.is_dir())
planned = json.loads((run / "configs" / "plan.json").read_text())["n_cases"]
final = [p for p in (run / "raw").glob("*/result.json") if not json.loads(p.read_text()).get("rerun")]
print(f"{run.name}: {len(final)} of {planned} cases have a result")
sys.exit(0 if len(final) >= planned else 1)
PY
}

step ray && step local && { [ -z "$before_src" ] || step before; }
if [ -e "$runs/ray.complete" ] && [ -e "$runs/local.complete" ] \
    && { [ -z "$before_src" ] || [ -e "$runs/before.complete" ]; }; then
  bench summary "$runs" --out "$out/ray-scaleout.md" > /dev/null 2>> "$log" \
    && say "complete: $out/ray-scaleout.md" || say "summary failed"
fi
cp "$log" "$out/ray-scaleout.log"
tar -czf "$out/ray-scaleout-runs.tgz" -C "$runs" --exclude='*.onnx' --exclude='*.pt' \
  --exclude='*.data' --exclude='report.html' --exclude='prepared' . 2>/dev/null
ls -la "$out"
