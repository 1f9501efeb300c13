#!/usr/bin/env bash
# Builds the carry bundle for one lent GPU machine (one H100/H200; CUDA 13, PyTorch, a CPU-only
# onnxruntime): ONNX Runtime's CUDA build (one ~250 MB wheel, over the 64 MiB a call carries)
# and the wheels onnxbench needs that the machine's image lacks, packed into parts of at most
# PART_MB (default 55) MiB (a call carries these and the ~4 MB working tree) under .gpu/p1 … .gpu/pN (git-ignored), each with a step.sh:
#
#   bash benchmarks/gpu/bundle.sh          # here, once (needs the package registry)
#
# then N device calls back to back (the machine keeps /tmp ~30 s after a call), call k
# carrying [".gpu/pk"]:  bash .gpu/pk/step.sh
# (.gpu/wheels alone, one call, for PyTorch CUDA work without ORT's CUDA build.)
# The last step joins the ORT parts, installs every wheel into /tmp/site and prints
# `ready`; later calls on the same warm machine need no carry (`[ -e /tmp/site/.ready ]`).
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
ver=${ORT_GPU_VERSION:-1.31.1}
part_mb=${PART_MB:-55}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/onnxbench-device
ort=onnxruntime_gpu-$ver-cp312-cp312-manylinux_2_28_x86_64.whl
mkdir -p "$cache/whl"
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_24_x86_64)
dl() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
         --implementation cp "${plat[@]}" -d "$1" "${@:2}"; }
[ -f "$cache/$ort" ] || dl "$cache" "onnxruntime-gpu==$ver"
# what onnxbench imports that the image lacks (KINDS.md lists the image's packages); pinned to
# this checkout's versions where it has them
pins=()
for p in pydantic pydantic-core annotated-types typing-inspection deepctr-torch plotly optuna \
         alembic sqlalchemy colorlog mako mlcommons-loadgen; do
  v=$(.venv/bin/python -m pip show "$p" 2>/dev/null | awk '/^Version:/{print $2}' || true)
  pins+=("$p${v:+==$v}")
done
rm -f "$cache/whl"/*.whl
dl "$cache/whl" "${pins[@]}"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/ort
( cd .gpu/ort && split -b "${part_mb}m" -d "$cache/$ort" part_ )
# pack: one ORT part a call, the wheels with the last (smallest) part
i=1; size=0; mkdir -p .gpu/p1
add() {  # add FILE: into the current part, or a new one when it would pass PART_MB
  local s; s=$(stat -c %s "$1")
  if [ $(( size + s )) -gt $(( part_mb * 1048576 )) ] && [ "$size" -gt 0 ]; then
    i=$(( i + 1 )); size=0; mkdir -p ".gpu/p$i"
  fi
  mv "$1" ".gpu/p$i/"; size=$(( size + s ))
}
for p in .gpu/ort/part_*; do add "$p"; done
for w in "$cache/whl"/*.whl; do cp "$w" .gpu/; add ".gpu/$(basename "$w")"; done
rmdir .gpu/ort
n=$i
for k in $(seq 1 "$n"); do
  cat > ".gpu/p$k/step.sh" <<STEP
# step $k of $n (carry .gpu/p$k): stage this part in /tmp/gpubundle$( [ "$k" -eq "$n" ] && echo ", then install" )
set -e
mkdir -p /tmp/gpubundle && cp .gpu/p$k/* /tmp/gpubundle/ && rm -f /tmp/gpubundle/step.sh
echo "step $k/$n staged: \$(ls /tmp/gpubundle | wc -l) files in /tmp/gpubundle"
STEP
done
cat >> ".gpu/p$n/step.sh" <<LAST
have=\$(ls /tmp/gpubundle/part_* | wc -l)
[ "\$have" -eq $(ls .gpu/p*/part_* | wc -l) ] || { echo "only \$have ORT parts staged: run the steps again (the machine was given back between calls)"; exit 3; }
cat /tmp/gpubundle/part_* > /tmp/gpubundle/$ort && rm -f /tmp/gpubundle/part_*
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site /tmp/gpubundle/*.whl
rm -rf /tmp/gpubundle && touch /tmp/site/.ready
PYTHONPATH=/tmp/site python3 -c "import onnxruntime as o, pydantic, plotly, optuna; print('ready: onnxruntime', o.__version__, o.get_available_providers())"
LAST
# the wheels alone (no ORT CUDA: PyTorch CUDA work only), one call: bash .gpu/wheels/step.sh
mkdir -p .gpu/wheels && cp "$cache/whl"/*.whl .gpu/wheels/
cat > .gpu/wheels/step.sh <<'WHEELS'
# carry .gpu/wheels: onnxbench's missing wheels only (ORT stays the image's CPU build)
set -e
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/wheels/*.whl
touch /tmp/site/.ready
PYTHONPATH=/tmp/site python3 -c "import onnxruntime as o, pydantic, plotly, optuna; print('ready (wheels only): onnxruntime', o.__version__, o.get_available_providers())"
WHEELS
echo "built $n parts (sha256 of ORT $(sha256sum "$cache/$ort" | cut -c1-16)…):"
du -sh .gpu/p* | sed 's/^/  /'
echo "device calls, back to back: carry [\".gpu/pk\"], command: bash .gpu/pk/step.sh (k = 1 … $n)"
