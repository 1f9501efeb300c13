#!/usr/bin/env bash
# Prepares Ray for the GPU machine (Python 3.12, no internet), in two parts under 64 MiB a call.
#
# Ray's cp312 manylinux wheel is about 79 MB, over the 64 MiB a device call may carry, so it
# travels in two halves. Ray's required packages (its METADATA's Requires-Dist without an
# extra) are click, filelock, jsonschema, msgpack, packaging, protobuf, pyyaml and requests;
# the GPU image has all but jsonschema, whose own needs bring jsonschema-specifications,
# referencing and rpds-py (compiled: its cp312 wheel); attrs and typing-extensions are there.
# Those four small wheels ride with the second half. The last call installs everything into
# /tmp/site (beside ONNX Runtime's CUDA build, ../shared/device/ort-gpu-parts.sh) and checks
# every requirement of Ray against what is installed.
#
# Run it from the project's root; it writes .raywhl/p1 and .raywhl/p2 (in .gitignore).
#   RAY_VERSION (default: the version in this venv, else 2.60.0)
set -euo pipefail
root=$(git rev-parse --show-toplevel)
py=${PYTHON:-python3}
ver=${RAY_VERSION:-$("$py" -c 'import importlib.metadata as m; print(m.version("ray"))' 2>/dev/null || echo 2.60.0)}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/onnxbench-device/ray-$ver
# the packages Ray needs that the GPU image lacks (its list: /work/.library/device/KINDS.md)
deps=(jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1)
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
mkdir -p "$cache"
if ! ls "$cache"/ray-"$ver"-cp312-*.whl > /dev/null 2>&1; then
  "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${plat[@]}" -d "$cache" "ray==$ver" "${deps[@]}"
fi
whl=$(basename "$(ls "$cache"/ray-"$ver"-cp312-*.whl)")
echo "Ray $ver requires (Requires-Dist without an extra):"
unzip -p "$cache/$whl" "ray-$ver.dist-info/METADATA" | grep '^Requires-Dist' | grep -v 'extra ==' | sed 's/^/  /'
rm -rf "$root/.raywhl" && mkdir -p "$root/.raywhl/p1" "$root/.raywhl/p2/deps"
( cd "$root/.raywhl" && split -n 2 -d "$cache/$whl" part_ && mv part_00 p1/ && mv part_01 p2/ )
for d in "${deps[@]}"; do
  name=${d%%==*}; v=${d##*==}
  cp "$cache"/"${name//-/_}"-"$v"-*.whl "$root/.raywhl/p2/deps/"
done
cat > "$root/.raywhl/p2/install.sh" <<INNER
# run on the GPU machine in the call that carries .raywhl/p2 (after the call that carried p1)
set -e
mkdir -p /tmp/raywhl && cp .raywhl/p2/part_* /tmp/raywhl/
cat /tmp/raywhl/part_00 /tmp/raywhl/part_01 > /tmp/raywhl/$whl
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \\
  /tmp/raywhl/$whl .raywhl/p2/deps/*.whl
rm -f /tmp/raywhl/part_*
PYTHONPATH=/tmp/site python3 - <<'PY'
import importlib.metadata as m
try:
    from packaging.requirements import Requirement
except ImportError:  # pip's own copy
    from pip._vendor.packaging.requirements import Requirement
bad = []
for text in m.requires("ray") or []:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        have = m.version(req.name)
    except m.PackageNotFoundError:
        bad.append(f"{req} (missing)")
        continue
    if req.specifier and not req.specifier.contains(have, prereleases=True):
        bad.append(f"{req} (have {have})")
print("ray", m.version("ray"), "installed in /tmp/site; its requirements:", "; ".join(bad) or "all met")
import ray  # noqa: E402  (fails here if a requirement is missing)
print("import ray: ok")
PY
INNER
echo "prepared .raywhl/p1 ($(du -sh "$root/.raywhl/p1" | cut -f1)) and .raywhl/p2 ($(du -sh "$root/.raywhl/p2" | cut -f1)); sha256 $(sha256sum "$cache/$whl" | cut -c1-16)…"
echo "carry them in two back-to-back device calls (the machine keeps /tmp while warm):"
echo "  call 1: carry [\".raywhl/p1\"]  command: mkdir -p /tmp/raywhl && cp .raywhl/p1/part_* /tmp/raywhl/"
echo "  call 2: carry [\".raywhl/p2\"]  command: bash .raywhl/p2/install.sh && export PYTHONPATH=/tmp/site && <your GPU work>"
echo "(ONNX Runtime's CUDA build goes to /tmp/site too: ../shared/device/ort-gpu-parts.sh)"
