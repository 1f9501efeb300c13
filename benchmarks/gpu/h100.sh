#!/usr/bin/env bash
# Everything onnxbench measures on the lent GPU machine, in as few calls as possible.
#
#   bash benchmarks/gpu/h100.sh main    # env, dcnv2-cpu-vs-gpu
#   bash benchmarks/gpu/h100.sh extra   # GPU tests, pipeline-ab, moe-backends, bert-optimize-gpu
#
# It expects ONNX Runtime's CUDA build in /tmp/site (../shared/device/ort-gpu-parts.sh) and
# the pure-Python wheels the machine lacks in .whl/ (pydantic, plotly, deepctr-torch). Each
# step has its own time limit, so one slow step cannot eat the call; a suite cut short keeps
# every finished case (results are written as cases end) and is aggregated from raw/.
# A dry run on a CPU machine: SKIP_WHEELS=1 ONLY='light.*_b2_' OUT=/tmp/o PATH=.venv/bin:$PATH \
#   bash benchmarks/gpu/h100.sh main   (every GPU case is then skipped with its reason)
set -uo pipefail
cd "$(dirname "$0")/../.."
part=${1:-main}
out=${OUT:-/tmp/out}
runs=/tmp/onnxbench-runs
mkdir -p "$out" "$runs"

if [ -d .whl ] && [ -z "${SKIP_WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
ob() { python3 -m onnxbench "$@"; }

# one suite: run it under a time limit, aggregate what finished, report, pack the run dir
suite() {
  local name=$1 limit=$2; shift 2
  local start=$(date +%s)
  timeout -k 10 "$limit" python3 -m onnxbench run --suite "$name" --out "$runs" --quiet \
    ${ONLY:+--only "$ONLY"} "$@" \
    > "$runs/$name.log" 2>&1
  echo "suite $name: exit $? after $(( $(date +%s) - start )) s"
  local dir
  dir=$(ls -d "$runs/${name}"_* 2>/dev/null | tail -1)
  [ -n "$dir" ] || { tail -5 "$runs/$name.log"; return; }
  ob aggregate "$dir" > /dev/null 2>&1
  ob report "$dir" --format md > /dev/null 2>&1
  cp "$runs/$name.log" "$dir/run.log"
  tar -czf "$out/$name.tgz" -C "$runs" --exclude='*.onnx' --exclude='*.pt' --exclude='*.data' \
    --exclude='*.h5' --exclude='report.html' "$(basename "$dir")"
  tail -4 "$runs/$name.log"
}

case "$part" in
  main)
    ob env --json > "$out/env.json"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
      --format=csv > "$out/nvidia-smi.csv" 2>&1
    suite dcnv2-cpu-vs-gpu 500
    ;;
  extra)
    timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_gpu_runtimes.py \
      tests/test_pipeline.py > "$out/gpu-tests.log" 2>&1
    echo "gpu tests: $(tail -1 "$out/gpu-tests.log")"
    suite pipeline-ab 200
    suite moe-backends 60
    suite bert-optimize-gpu 140
    ;;
esac
ls -la "$out"
