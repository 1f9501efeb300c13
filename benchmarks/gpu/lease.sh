#!/usr/bin/env bash
# One GPU lease on a machine of 4 GPUs (nvidia-h100-x4): every GPU measurement of the GPU
# issue, in as few device calls as possible. Call it again and again on the same warm
# machine; each call keeps to a deadline (BUDGET_S, default 540 s) and resumes where the
# last one stopped:
#
#   bash benchmarks/gpu/lease.sh            # $OUT gets lease.tgz (every run, no models) + lease.log
#
# 1. ray     the Ray scale-out benchmark's Ray run (benchmarks/ray_scaleout.py): all 4 GPUs,
#            alone on the machine, before anything else starts.
# 2. lanes   then four lanes run side by side, lane i on GPU i (CUDA_VISIBLE_DEVICES=i) and
#            its 16 cores (taskset), each a list of jobs in order: the scale-out benchmark's
#            one-GPU local run, the lease suites (benchmarks/gpu/lease/*.yaml, cut from the
#            built-in GPU suites to fit), a suite split over two lanes by --only (each lane
#            its own run directory; merged into one at the end, the plan being the same),
#            an A/A `onnxbench ab` (the host's between-process noise), the GPU tests.
# 3. pack    merge split runs, aggregate, report, tar every run directory.
#
# A job cut short by the deadline keeps every finished case (SIGINT: like Ctrl-C) and is
# resumed by the next call. Expects /tmp/site (PYTHONPATH) to hold ONNX Runtime's CUDA
# build, Ray and the pure-Python packages the image lacks (benchmarks/gpu/bundle.sh builds the carry bundle).
# Dry run on a CPU machine (every GPU case is skipped with its reason; 1 lane):
#   LANES=1 BUDGET_S=120 OUT=/tmp/o RUNS=/tmp/r PATH=.venv/bin:$PATH bash benchmarks/gpu/lease.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${OUT:-/tmp/out}
runs=${RUNS:-/tmp/onnxbench-lease}
lanes=${LANES:-4}
deadline=$(( $(date +%s) + ${BUDGET_S:-540} ))
mkdir -p "$out" "$runs"
export PYTHONPATH=/tmp/site:$root/src PYTHONUNBUFFERED=1 COLUMNS=200
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
log=$runs/lease.log
say() { echo "$(date +%H:%M:%S) $*" | tee -a "$log"; }
left() { echo $(( deadline - $(date +%s) )); }
lease=benchmarks/gpu/lease
ncores=$(nproc)
per=$(( ncores / (lanes > 0 ? lanes : 1) ))

# ---- jobs ---------------------------------------------------------------------------
# suite NAME FILE [ONLY]: run (or resume) FILE into $runs/NAME/ within the time left
suite() {
  local name=$1 file=$2 only=${3:-} dir rc budget
  [ -e "$runs/$name.complete" ] && return 0
  budget=$(( $(left) - 15 ))
  [ "$budget" -lt 45 ] && { say "$name: not started ($(left) s left)"; return 1; }
  mkdir -p "$runs/$name"
  dir=$(ls -d "$runs/$name"/*_2* 2>/dev/null | tail -1)
  say "$name: ${dir:+resume }start on GPU ${CUDA_VISIBLE_DEVICES:-all}, budget $budget s"
  if [ -n "$dir" ]; then
    timeout -s INT -k 20 "$budget" python3 -m onnxbench run --resume "$dir" --trust --quiet \
      ${only:+--only "$only"} >> "$runs/$name.log" 2>&1
  else
    timeout -s INT -k 20 "$budget" python3 -m onnxbench run --suite "$file" --out "$runs/$name" \
      --quiet ${only:+--only "$only"} >> "$runs/$name.log" 2>&1
  fi
  rc=$?
  say "$name: exit $rc"
  [ $rc -le 1 ] && touch "$runs/$name.complete" && return 0
  return 1
}

raylocal() {  # the scale-out benchmark's one-GPU local run (lane 0)
  [ -e "$runs/ray/local.complete" ] && return 0
  [ -e "$runs/ray/ray.complete" ] || return 1
  local budget=$(( $(left) - 20 ))
  [ "$budget" -lt 60 ] && return 1
  say "ray-local: start, budget $budget s"
  python3 benchmarks/ray_scaleout.py run "$runs/ray/local" --executor local --budget-s "$budget" \
    >> "$runs/ray.log" 2>&1
  complete "$runs/ray/local" && touch "$runs/ray/local.complete"
  say "ray-local: $(tail -1 "$runs/ray.log")"
}

complete() {  # every planned case of the run directory under $1 has a result
  python3 - "$1" <<'PY'
import json, sys
from pathlib import Path
run = next(p for p in Path(sys.argv[1]).iterdir() if p.is_dir())
planned = json.loads((run / "configs" / "plan.json").read_text())["n_cases"]
final = [p for p in (run / "raw").glob("*/result.json") if not json.loads(p.read_text()).get("rerun")]
print(f"{run.name}: {len(final)} of {planned} cases have a result")
sys.exit(0 if len(final) >= planned else 1)
PY
}

aa() {  # A/A on the GPU host: the same case as A and B (a verify tolerance that is unused)
  local name=$1; shift
  [ -e "$runs/$name.complete" ] && return 0
  [ "$(left)" -lt 150 ] && return 1
  say "$name: start"
  timeout -s INT -k 20 $(( $(left) - 10 )) python3 -m onnxbench ab "$@" --a-option atol=1e-5 \
    --b-option atol=1e-4 --max-time 60 --target-ci 1% --out "$runs/$name" --quiet \
    > "$runs/$name.log" 2>&1 && touch "$runs/$name.complete"
  say "$name: $(grep -E '^verdict|^\| dcnv2' "$runs/$name.log" | tr '\n' ' ')"
}

gputests() {
  [ -e "$runs/gpu-tests.complete" ] && return 0
  [ "$(left)" -lt 200 ] && return 1
  say "gpu tests: start"
  timeout -k 10 $(( $(left) - 10 )) python3 -m pytest -q -p no:cacheprovider -m gpu \
    -o addopts="-ra --strict-markers" tests > "$runs/gpu-tests.log" 2>&1
  say "gpu tests: $(tail -1 "$runs/gpu-tests.log")"
  grep -qE "passed|failed" <(tail -1 "$runs/gpu-tests.log") && touch "$runs/gpu-tests.complete"
}

side() {  # side CMD NAME ARGS...: one `onnxbench CMD` run (profile: per-operator tables and
  # placement; bench: a quick check) into $runs/NAME; a side dish: its failure does not stop
  # the lane
  local cmd=$1 name=$2; shift 2
  [ -e "$runs/$name.complete" ] && return 0
  [ "$(left)" -lt 120 ] && return 1
  say "$name: start"
  timeout -s INT -k 20 $(( $(left) - 10 )) python3 -m onnxbench "$cmd" "$@" --out "$runs/$name" \
    --quiet > "$runs/$name.log" 2>&1
  say "$name: exit $? $(tail -1 "$runs/$name.log")"
  touch "$runs/$name.complete"
}

prof() { side profile "$@"; }  # prof NAME MODEL ARGS...

abgpu() {  # the GPU A/B benchmark of issue [4/8] (benchmarks/gpu/ab_gpu.py): resumable, most
  # needed first; each call adds comparisons within its budget, then renders the table
  local budget=$(( $(left) - 30 ))
  [ "$budget" -lt 200 ] && { say "ab-gpu: not started ($(left) s left)"; return 1; }
  say "ab-gpu: start, budget $budget s"
  mkdir -p "$runs/abgpu" && cp "$runs/env.json" "$runs/abgpu/env.json" 2>/dev/null
  # AB_GPU_ARGS: extra arguments (a CPU dry run: AB_MODELS_TINY=1 AB_GPU_ARGS="--tiny
  # --runtimes ort-cpu --repeats 1 --max-time 5")
  python3 benchmarks/gpu/ab_gpu.py run --out "$runs/abgpu" --budget-s "$budget" \
    ${AB_GPU_ARGS:-} >> "$runs/abgpu.log" 2>&1
  python3 benchmarks/gpu/ab_gpu.py render --out "$runs/abgpu" > "$runs/ab-gpu.md" \
    2>> "$runs/abgpu.log"
  say "ab-gpu: $(tail -1 "$runs/abgpu.log")"
  grep -q "^all done" "$runs/abgpu.log"
}

lane() {  # the jobs of lane $1, in order; a job that cannot finish stops the lane
  case $1 in
    0) raylocal && gputests && suite serving "$lease/serving-gpu-h100.yaml" \
         && suite moe moe-backends ;;
    1) suite dcnv2-a "$lease/dcnv2-cpu-vs-gpu-h100.yaml" '_(ort-cpu|ort-cuda|torch-cuda)_' \
         && suite resnet50 "$lease/resnet50-torch-vs-ort-h100.yaml" \
         && aa aa-torch-cuda dcnv2 --config heavy --exporter torchscript --runtime torch-cuda --batch 1024 \
         && aa aa-ort-cuda dcnv2 --config heavy --exporter torchscript --runtime ort-cuda --batch 1024 ;;
    2) suite dcnv2-b "$lease/dcnv2-cpu-vs-gpu-h100.yaml" '_torch-compile-cuda_' \
         && suite deberta "$lease/deberta-gpu-h100.yaml" ;;
    3) suite bert "$lease/bert-optimize-gpu-h100.yaml" \
         && suite pipelines "$lease/pipeline-runtimes-h100.yaml" ;;
    h) gputests && suite moe moe-backends '-cuda_' \
         && suite dcnv2-h100 "$lease/dcnv2-cpu-vs-gpu-h100.yaml" \
              '(heavy|100x100)_torchscript_(torch-cuda|ort-cuda|torch-compile-cuda)_b1024_fp32_(?!.*autotune)|heavy_torchscript_torch-compile-cuda_b1024_.*max-autotune.*_r0$' ;;
    # one fresh GPU (LANES=1 SINGLE_LANE=g): the headline points of each GPU suite on one card,
    # most needed first (every repeat of DCNv2's b1024 rows; first repeats elsewhere)
    g) gputests \
         && suite dcnv2-g "$lease/dcnv2-cpu-vs-gpu-h100.yaml" \
              '(heavy|100x100)_torchscript_(torch-cuda|ort-cuda|torch-compile-cuda)_b1024_fp32_(?!.*autotune)' \
         && prof prof-dcnv2 dcnv2 --config heavy --exporter torchscript --batch 1024 --runs 20 \
              --runtime ort-cuda,torch-cuda,torch-compile-cuda \
         && { [ -n "${SKIP_SERVING:-}" ] || suite serving-g "$lease/serving-gpu-h100.yaml" \
              '_concurrency-|_peak-p99-10ms-(shared-w4|lock-w4|shared-w1-mb16-2ms)_'; } \
         && suite bert-g "$lease/bert-optimize-gpu-h100.yaml" '_r0$' \
         && prof prof-bert bert --config base --exporter torchscript --batch 16 --seq 128 --runs 20 \
              --runtime ort-cuda,torch-cuda,torch-compile-cuda \
         && suite moe moe-backends '-cuda_' \
         && suite deberta-g "$lease/deberta-gpu-h100.yaml" '_r0$' \
         && suite pipelines-g "$lease/pipeline-runtimes-h100.yaml" '_r0$' \
         && suite dcnv2-ma "$lease/dcnv2-cpu-vs-gpu-h100.yaml" \
              '(heavy|100x100)_torchscript_(torch-compile-cuda_b1024_fp32_.*max-autotune|ort-cuda_b1024_fp16).*_r0$' ;;
    # one fresh GPU (LANES=1 SINGLE_LANE=n): what lanes g and s left, most needed first: the
    # suites with no GPU rows yet (all repeats), the A/A noise of the host, profiles, a check
    # of ORT's per-batch latency (dynamic batching), then BERT's repeats, confirmed peaks and
    # max-autotune
    n) suite moe moe-backends '-cuda_|_(ort|torch)-cpu_b64_fp32' \
         && suite deberta "$lease/deberta-gpu-h100.yaml" \
         && suite resnet50 "$lease/resnet50-torch-vs-ort-h100.yaml" \
         && aa aa-torch-cuda dcnv2 --config heavy --exporter torchscript --runtime torch-cuda --batch 1024 \
         && aa aa-ort-cuda dcnv2 --config heavy --exporter torchscript --runtime ort-cuda --batch 1024 \
         && suite pipelines "$lease/pipeline-runtimes-h100.yaml" \
         && prof prof-deberta deberta-v2 --config base --exporter torchscript --batch 1 --seq 128 \
              --runs 20 --runtime ort-cuda,torch-cuda,torch-compile-cuda \
         && prof prof-resnet50 resnet50 --config default --exporter torchscript --batch 16 --runs 20 \
              --runtime ort-cuda,torch-cuda,torch-compile-cuda \
         && side bench perbatch-resnet50 resnet50 --config default --exporter torchscript \
              --runtime ort-cuda --batch 1,2,3,4,5,6,7,8,12,16 --max-time 1 \
         && suite serving-b "$lease/serving-gpu-h100.yaml" '-mb16-|ort-cuda_b1_.*shared-w1_' \
         && suite bert2 "$lease/bert-optimize-gpu-h100.yaml" '_r[12]$|gpu-mem-limit' \
         && suite serving-c "$lease/serving-gpu-h100.yaml" '_peak-p99-10ms-(shared|lock)-w4_' \
         && suite dcnv2-ma "$lease/dcnv2-cpu-vs-gpu-h100.yaml" \
              '(heavy|100x100)_torchscript_(torch-compile-cuda_b1024_fp32_.*max-autotune|ort-cuda_b1024_fp16).*_r0$' \
         && gputests ;;
    # the lease after lane n's (LANES=1 SINGLE_LANE=m): what n left, DeBERTa's fused graph
    # apart and late (its build took 13+ min on the GPU host); pipelines' third repeats (their
    # raw results join lane n's run by `cp -rn`, as the split suites' do); then n's tail
    m) suite deberta-m "$lease/deberta-gpu-h100.yaml" '^(?!.*fuse-bert)' \
         && suite pipelines-m "$lease/pipeline-runtimes-h100.yaml" \
              '_r2$|torch-compile-cuda_.*pipeline-gpu_.*_r1$' \
         && side bench perbatch-resnet50 resnet50 --config default --exporter torchscript \
              --runtime ort-cuda --batch 1,2,3,4,5,6,7,8,12,16 --max-time 1 \
         && suite serving-b "$lease/serving-gpu-h100.yaml" '-mb16-|ort-cuda_b1_.*shared-w1_' \
         && prof prof-deberta deberta-v2 --config base --exporter torchscript --batch 1 --seq 128 \
              --runs 20 --runtime ort-cuda,torch-cuda,torch-compile-cuda \
         && prof prof-resnet50 resnet50 --config default --exporter torchscript --batch 16 --runs 20 \
              --runtime ort-cuda,torch-cuda,torch-compile-cuda \
         && suite deberta-fused "$lease/deberta-gpu-h100.yaml" 'fuse-bert' \
         && suite bert2 "$lease/bert-optimize-gpu-h100.yaml" '_r[12]$|gpu-mem-limit' \
         && suite serving-c "$lease/serving-gpu-h100.yaml" '_peak-p99-10ms-(shared|lock)-w4_' \
         && suite dcnv2-ma "$lease/dcnv2-cpu-vs-gpu-h100.yaml" \
              '(heavy|100x100)_torchscript_(torch-compile-cuda_b1024_fp32_.*max-autotune|ort-cuda_b1024_fp16).*_r0$' \
         && gputests ;;
    # one GPU (LANES=1 SINGLE_LANE=a): issue [4/8]'s A/B benchmark alone on the machine (the
    # host's noise is what it measures): DCNv2 heavy b1024 and BERT-base 16x128, A/A and a
    # ~5 % difference, ORT CUDA and PyTorch eager, interleaved vs a process per block
    a) abgpu ;;
    # one GPU (LANES=1): what a first lease of 4 GPUs left unfinished, most needed first
    s) gputests \
         && suite dcnv2-c "$lease/dcnv2-cpu-vs-gpu-h100.yaml" \
              'torch-compile-cuda_.*reduce-overhead.*_r[12]$|100x100_torchscript_torch-compile-cuda_b(32|1024)_.*reduce-overhead.*_r0$' \
         && suite serving2 "$lease/serving-gpu-h100.yaml" \
              '^(?!.*torch-compile)(resnet50|bert).*_peak-p99-10ms-(per-thread-w4|lock-w4|shared-w1)|^bert_base_torchscript_ort-cuda_b1_s128_fp32_peak-p99-10ms-shared-w4' \
         && suite bert2 "$lease/bert-optimize-gpu-h100.yaml" '_r[12]$|gpu-mem-limit' \
         && suite moe moe-backends '-cuda_' \
         && suite dcnv2-ma "$lease/dcnv2-cpu-vs-gpu-h100.yaml" \
              'heavy_torchscript_torch-compile-cuda_b1024_.*max-autotune.*_r0$' ;;
  esac
}

# ---- 1. the Ray run, alone --------------------------------------------------------------
python3 -m onnxbench env --json > "$runs/env.json" 2>&1
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv \
  > "$runs/nvidia-smi.csv" 2>&1
if [ "$lanes" -gt 1 ] && [ ! -e "$runs/ray/ray.complete" ]; then
  if [ ! -d "$runs/ray/ray" ]; then
    say "ray: prepare"
    python3 benchmarks/ray_scaleout.py prepare --suite dcnv2-cpu-vs-gpu \
      --only '(light|heavy)_torchscript_(ort|torch)-cuda_b(2|1024)_' --runs "$runs/ray" \
      >> "$runs/ray.log" 2>&1 || say "ray: prepare failed: $(tail -3 "$runs/ray.log")"
  fi
  if [ -d "$runs/ray/ray" ]; then
    budget=$(( $(left) - 200 ))  # leave the lanes some of this call
    [ "$budget" -gt 240 ] && budget=240
    say "ray: run on all GPUs, budget $budget s"
    python3 benchmarks/ray_scaleout.py run "$runs/ray/ray" --executor ray --budget-s "$budget" \
      >> "$runs/ray.log" 2>&1
    complete "$runs/ray/ray" >> "$runs/ray.log" 2>&1 && touch "$runs/ray/ray.complete"
    say "ray: $(tail -1 "$runs/ray.log")"
  fi
fi

# ---- 2. the lanes ------------------------------------------------------------------------
if [ -e "$runs/ray/ray.complete" ] || [ "$lanes" -eq 1 ]; then
  pids=()
  for i in $(seq 0 $(( lanes - 1 ))); do
    lo=$(( i * per )); hi=$(( lo + per - 1 ))
    if [ "$lanes" -gt 1 ]; then
      ( export CUDA_VISIBLE_DEVICES=$i; taskset -cp "$lo-$hi" $BASHPID > /dev/null; lane $i ) &
    else
      ( lane "${SINGLE_LANE:-s}" ) &
    fi
    pids+=($!)
  done
  wait "${pids[@]}"
fi
[ -e "$runs/ray/ray.complete" ] && [ -e "$runs/ray/local.complete" ] && [ ! -e "$runs/ray/summary.done" ] \
  && python3 benchmarks/ray_scaleout.py summary "$runs/ray" --out "$runs/ray-scaleout.md" >> "$runs/ray.log" 2>&1 \
  && touch "$runs/ray/summary.done"

# ---- 3. pack -----------------------------------------------------------------------------
for pair in dcnv2-a:dcnv2-b; do  # a suite split over lanes: the second's results join the first's
  a=${pair%%:*}; b=${pair##*:}
  da=$(ls -d "$runs/$a"/*_2* 2>/dev/null | tail -1); db=$(ls -d "$runs/$b"/*_2* 2>/dev/null | tail -1)
  [ -n "$da" ] && [ -n "$db" ] && cp -rn "$db/raw/." "$da/raw/" 2>/dev/null
done
for d in "$runs"/*/*_2*; do
  [ -d "$d/raw" ] || continue
  python3 -m onnxbench aggregate "$d" > /dev/null 2>&1
  python3 -m onnxbench report "$d" --format md > /dev/null 2>&1
done
cp "$log" "$out/lease.log"
tar -czf "$out/lease.tgz" -C "$runs" --exclude='*.onnx' --exclude='*.pt' --exclude='*.data' \
  --exclude='*.safetensors' --exclude='*.h5' --exclude='*.bin' --exclude='report.html' \
  --exclude='prepared' --exclude='*.npz' . 2>/dev/null
ls -la "$out"; say "call done, $(left) s left of the budget"
