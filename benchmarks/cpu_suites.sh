#!/usr/bin/env bash
# Runs the built-in CPU suites on this machine and commits-ready copies their summaries,
# reports and environment under docs/benchmarks/cpu/<suite>/. Run it on a quiet machine:
#   bash benchmarks/cpu_suites.sh [suite ...]     (default: all CPU suites below)
set -uo pipefail
cd "$(dirname "$0")/.."
ob=${ONNXBENCH:-.venv/bin/onnxbench}
runs=${RUNS:-runs}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(dcnv2-cpu moe-backends deberta-latency bert-optimize tf-vs-ort
  resnet50-torch-vs-ort pipeline-runtimes)
for name in "${suites[@]}"; do
  start=$(date +%s)
  "$ob" run --suite "$name" --out "$runs" --quiet > "/tmp/onnxbench-$name.log" 2>&1
  rc=$?
  dir=$(ls -d "$runs/${name}"_* | tail -1)
  dest=docs/benchmarks/cpu/$name
  mkdir -p "$dest"
  cp "$dir/summary/summary.csv" "$dir/report.md" "$dest/"
  cp "$dir/configs/env.json" "$dest/env.json"
  echo "$name: exit $rc in $(( $(date +%s) - start )) s -> $dest (run dir $dir)"
done
