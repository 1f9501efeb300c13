#!/usr/bin/env bash
# Everything onnxbench measures on the lent GPU machine, in as few calls as possible.
#
#   bash benchmarks/gpu/h100.sh main pipelines bert tests   # any parts, in this order
#
# Every call also writes env.json and nvidia-smi.csv to $OUT.
#   main       dcnv2-cpu-vs-gpu
#   fold       dcnv2-gpu-fold (fold_slices on heavy and 100x100)
#   target     dcnv2-100x100-gpu (the 100x100 target with every CTR graph rewrite)
#   pipelines  pipeline-ab
#   bert       bert-optimize-gpu
#   moe        moe-backends
#   serving    serving-gpu (load: peak QPS under p99, concurrency, layouts, batching)
#   resnet     resnet50-torch-vs-ort (the second report's PyTorch ResNet-50 table)
#   bertgrid   bert-torch-vs-ort (the second report's BERT grid and its CUDA oom cell)
#   pipeacc    pipeline-runtimes (every runtime x pipeline, accuracy on labelled digits)
#   tests      the GPU tests (tests/test_gpu_runtimes.py, tests/test_pipeline.py,
#              tests/test_profile_gpu.py, tests/test_scenarios.py -m gpu,
#              tests/test_pipeline_runtimes.py, tests/test_reference_suites.py)
#
# One call of the device tool may run 600 s, so the whole script keeps to a deadline
# (BUDGET_S, default 560 s) and every suite gets the time left. A suite cut short keeps each
# finished case (results are written as cases end); calling the script again while the
# machine is warm resumes it (`onnxbench run --resume`) and skips suites already complete.
# Each call packs every suite's run directory, complete or not, as $OUT/<suite>.tgz.
#
# It expects ONNX Runtime's CUDA build in /tmp/site (../shared/device/ort-gpu-parts.sh) and
# the wheels the machine lacks in .whl/ (pydantic, plotly, deepctr-torch; mlcommons-loadgen's
# cp312 manylinux wheel for serving-gpu: it is a compiled extension, not pure Python).
# A dry run on a CPU machine: SKIP_WHEELS=1 ONLY='light.*_b2_' OUT=/tmp/o PATH=.venv/bin:$PATH \
#   bash benchmarks/gpu/h100.sh main   (every GPU case is then skipped with its reason)
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/out}
runs=${RUNS:-/tmp/onnxbench-runs}
deadline=$(( $(date +%s) + ${BUDGET_S:-560} ))
mkdir -p "$out" "$runs"

if [ -d .whl ] && [ -z "${SKIP_WHEELS:-}" ] && [ ! -e /tmp/site/.onnxbench-wheels ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && touch /tmp/site/.onnxbench-wheels
fi
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
ob() { python3 -m onnxbench "$@"; }
left() { echo $(( deadline - $(date +%s) )); }

# one suite: run (or resume) it within the time left, aggregate what finished, report, pack
suite() {
  local name=$1 dir start=$(date +%s) limit
  dir=$(ls -d "$runs/${name}"_* 2>/dev/null | tail -1)
  if [ -e "$runs/$name.complete" ]; then
    echo "suite $name: complete in an earlier call"
  elif [ "$(left)" -lt 40 ]; then
    echo "suite $name: not started, $(left) s left"
  else
    limit=$(left)
    # SIGINT: the runner stops like on Ctrl-C, keeping every finished case
    if [ -n "$dir" ]; then
      timeout -s INT -k 20 "$limit" python3 -m onnxbench run --resume "$dir" --quiet \
        ${ONLY:+--only "$ONLY"} \
        >> "$runs/$name.log" 2>&1
    else
      timeout -s INT -k 20 "$limit" python3 -m onnxbench run --suite "$name" --out "$runs" \
        --quiet ${ONLY:+--only "$ONLY"} >> "$runs/$name.log" 2>&1
    fi
    local rc=$?
    echo "suite $name: exit $rc after $(( $(date +%s) - start )) s"
    # exit 0 or 1 (some cases failed) means every case has a result
    [ $rc -le 1 ] && touch "$runs/$name.complete"
    dir=$(ls -d "$runs/${name}"_* 2>/dev/null | tail -1)
  fi
  [ -n "$dir" ] || { tail -5 "$runs/$name.log"; return; }
  ob aggregate "$dir" > /dev/null 2>&1
  ob report "$dir" --format md > /dev/null 2>&1
  cp "$runs/$name.log" "$dir/run.log"
  tar -czf "$out/$name.tgz" -C "$runs" --exclude='*.onnx' --exclude='*.pt' --exclude='*.data' \
    --exclude='*.h5' --exclude='report.html' "$(basename "$dir")"
  echo "  $(ls "$dir/raw" | wc -l) case results; $(tail -2 "$runs/$name.log" | tr '\n' ' ')"
}

ob env --json > "$out/env.json"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
  --format=csv > "$out/nvidia-smi.csv" 2>&1
for part in "$@"; do
  case "$part" in
    main) suite dcnv2-cpu-vs-gpu ;;
    fold) suite dcnv2-gpu-fold ;;
    target) suite dcnv2-100x100-gpu ;;
    pipelines) suite pipeline-ab ;;
    bert) suite bert-optimize-gpu ;;
    moe) suite moe-backends ;;
    serving) suite serving-gpu ;;
    resnet) suite resnet50-torch-vs-ort ;;
    bertgrid) suite bert-torch-vs-ort ;;
    pipeacc) suite pipeline-runtimes ;;
    tests)
      if [ "$(left)" -gt 60 ]; then
        timeout -k 10 "$(( $(left) - 10 ))" python3 -m pytest -q -p no:cacheprovider \
          tests/test_gpu_runtimes.py tests/test_pipeline.py tests/test_profile_gpu.py \
          tests/test_pipeline_runtimes.py tests/test_reference_suites.py \
          > "$out/gpu-tests.log" 2>&1
        echo "gpu tests: $(tail -1 "$out/gpu-tests.log")"
        timeout -k 10 "$(( $(left) - 10 ))" python3 -m pytest -q -p no:cacheprovider -m gpu \
          tests/test_scenarios.py >> "$out/gpu-tests.log" 2>&1
        echo "gpu load tests: $(tail -1 "$out/gpu-tests.log")"
      else
        echo "gpu tests: not started, $(left) s left"
      fi ;;
    *) echo "unknown part $part (main, fold, target, pipelines, bert, moe, serving, resnet," \
         "bertgrid, pipeacc, tests)"; exit 2 ;;
  esac
done
ls -la "$out"
