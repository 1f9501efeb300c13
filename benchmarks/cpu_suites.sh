#!/usr/bin/env bash
# Runs the CPU suites (and the exporter matrix) quietly, one after another, and copies what
# each produced under docs/benchmarks/cpu/<name>/: summary.csv and summary.json, report.md,
# env.json, the suite as run (suite.yaml) and the command (command.txt); then re-renders the
# README's results sections from them. Run it on a quiet machine, nothing else running:
#   bash benchmarks/cpu_suites.sh [name ...]
# A name is a built-in suite, `export-dcnv2` (the exporter matrix of every DCNv2 config:
# matrix.json, matrix.md) or a group:
#   reference  the reference reports' remaining CPU rows: export-dcnv2 tf-vs-ort
#              resnet50-torch-vs-ort bert-torch-vs-ort-cpu seq-mix-deberta deberta-threads
#              pipeline-runtimes (about 60 minutes on a quiet 2-core VM: tf-vs-ort ~25,
#              bert-torch-vs-ort-cpu ~10, resnet50-torch-vs-ort ~7 (its CPU eager and ORT
#              cases), export-dcnv2 ~5, pipeline-runtimes ~5, seq-mix-deberta ~4,
#              deberta-threads ~4)
#   all        the above and dcnv2-cpu moe-backends deberta-latency bert-optimize (the default)
# RUNS (default runs/) holds the run directories; ONNXBENCH the command (.venv/bin/onnxbench).
set -uo pipefail
cd "$(dirname "$0")/.."
ob=${ONNXBENCH:-.venv/bin/onnxbench}
py=${PYTHON:-.venv/bin/python}
runs=${RUNS:-runs}
reference=(export-dcnv2 tf-vs-ort resnet50-torch-vs-ort bert-torch-vs-ort-cpu seq-mix-deberta
  deberta-threads pipeline-runtimes)
earlier=(dcnv2-cpu moe-backends deberta-latency bert-optimize)
declare -A extra=(  # per-suite arguments of the quiet run
  # the report compared PyTorch eager with ORT: torch.compile's inductor compiles each batch
  # size in each process for minutes on 2 cores; run it apart when wanted
  [resnet50-torch-vs-ort]="--only _(torch|ort)-cpu_"
)
names=()
for arg in "${@:-all}"; do
  case "$arg" in
    reference) names+=("${reference[@]}") ;;
    all) names+=("${earlier[@]}" "${reference[@]}") ;;
    *) names+=("$arg") ;;
  esac
done

commit_run() {  # name run_dir command: copy what a suite run produced into docs/
  local dest=docs/benchmarks/cpu/$1
  mkdir -p "$dest"
  cp "$2/summary/summary.csv" "$2/summary/summary.json" "$2/report.md" "$dest/"
  cp "$2/configs/env.json" "$dest/env.json"
  cp "$2/configs/suite.yaml" "$dest/suite.yaml" 2>/dev/null || true
  printf '%s\n' "$3" > "$dest/command.txt"
}

export_matrix() {  # the exporter matrix of each DCNv2 config, as committed results
  local rc=0 config out dest
  for config in light heavy 100x100; do
    out=$runs/export-dcnv2-$config
    dest=docs/benchmarks/cpu/export-dcnv2-$config
    "$ob" export dcnv2 --config "$config" --exporter all --out "$out" \
      > "/tmp/onnxbench-export-dcnv2-$config.log" 2>&1 || rc=$?
    mkdir -p "$dest"
    cp "$out/matrix.json" "$out/matrix.md" "$dest/" || rc=1
    "$ob" env --json > "$dest/env.json"
    printf 'onnxbench export dcnv2 --config %s --exporter all --out %s\n' "$config" "$out" \
      > "$dest/command.txt"
  done
  return $rc
}

for name in "${names[@]}"; do
  start=$(date +%s)
  if [ "$name" = export-dcnv2 ]; then
    export_matrix
    rc=$?
    echo "$name: exit $rc in $(( $(date +%s) - start )) s -> docs/benchmarks/cpu/export-dcnv2-*"
    continue
  fi
  # shellcheck disable=SC2086  # extra holds whole arguments, split on purpose
  "$ob" run --suite "$name" --out "$runs" --quiet ${extra[$name]:-} > "/tmp/onnxbench-$name.log" 2>&1
  rc=$?
  dir=$(ls -d "$runs/${name}"_* 2>/dev/null | tail -1)
  if [ -z "$dir" ]; then
    echo "$name: exit $rc, no run directory (see /tmp/onnxbench-$name.log)"
    continue
  fi
  commit_run "$name" "$dir" "onnxbench run --suite $name --out $runs --quiet ${extra[$name]:-}"
  echo "$name: exit $rc in $(( $(date +%s) - start )) s -> docs/benchmarks/cpu/$name (run dir $dir)"
done
"$py" benchmarks/render_results.py || echo "render_results: see above (a section the new data cannot fill)"
