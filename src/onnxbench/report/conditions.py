"""Why a CPU/GPU crossover lands where it does: the conditions next to each crossover.

The DCNv2 reference concluded "ORT CPU is best up to batch 8-32"; onnxbench's H100 run says
the GPU wins from batch 2. Both can be right: the crossover is decided by conditions the
two measurements did not share. This table puts every GPU series of a sweep next to the
CPU series it is compared with, with the conditions read from what actually ran
(``runtime_info``, not the options asked for):

- CUDA graphs (ORT ``cuda_graph``; torch.compile ``reduce-overhead`` captures graphs too):
  launch overhead, which dominates small batches, disappears;
- how inputs reach the device: IO binding / resident tensors (inference only) or host
  copies timed per run (``timing: e2e``);
- TF32 (on by default in ORT's CUDA provider, off in PyTorch), precision and autocast;

and, per pair, where the GPU becomes faster and stays so (a tie within the CIs is not a
flip). The plain-CUDA crossover and the CUDA-graph one stand in adjacent rows.
"""

from __future__ import annotations

from typing import Any

from onnxbench.report.crossover import fmt_x
from onnxbench.report.fmt import DASH
from onnxbench.report.labels import runtime_framework
from onnxbench.report.tables import Cell, Group, Series, Table, device_of, word


def _info(s: Series) -> dict[str, Any]:
    p = next(iter(s.points.values()))
    return next((r.runtime_info for r in p.results if r.runtime_info), {}) or {}


def conditions(s: Series) -> dict[str, str]:
    """CUDA graphs, inputs, TF32, precision of one series, from what ran."""
    info, case = _info(s), next(iter(s.points.values())).case
    compiled = str(info.get("compile_mode") or case.options.get("mode") or "")
    graphs = bool(info.get("cuda_graph")) or compiled == "reduce-overhead"
    if runtime_framework(s.runtime) == "onnx":
        timing = info.get("timing", case.options.get("timing", "inference"))
        inputs = ("IO binding, device-resident" if info.get("io_binding", True)
                  and timing != "e2e" else "host copies timed")
    else:
        inputs = "device-resident tensors"
    tf32 = info.get("tf32")
    if isinstance(tf32, dict):
        tf32 = tf32.get("matmul")
    precision = case.precision + (f", autocast {info['autocast']}" if info.get("autocast") else "")
    return {"CUDA graphs": ("yes" if graphs else "no") + (f" ({compiled})" if compiled else ""),
            "inputs": inputs,
            "TF32": DASH if tf32 is None else ("on" if tf32 else "off"),
            "precision": precision}


def _usable(s: Series, x) -> bool:
    return x in s.points and word(s.points[x]) is None


def _tied(a, b) -> bool:
    return bool(a.ci and b.ci) and a.ci[0] <= b.median <= a.ci[1] and b.ci[0] <= a.median <= b.ci[1]


def overtake(group: Group, cpu: Series, gpu: Series) -> str:
    """Where ``gpu`` becomes faster than ``cpu`` and stays so over the sweep."""
    xs = [x for x in group.xs if _usable(cpu, x) and _usable(gpu, x)]
    decided = [(x, float(gpu.points[x].median or 0) < float(cpu.points[x].median or 0))
               for x in xs if not _tied(gpu.points[x], cpu.points[x])]
    if not decided:
        return "tied everywhere" if xs else "no common points"
    if not decided[-1][1]:
        return f"never (CPU faster up to {group.axis} {fmt_x(decided[-1][0])})"
    first = len(decided)
    while first > 0 and decided[first - 1][1]:
        first -= 1
    if first == 0:
        return f"from {group.axis} {fmt_x(decided[0][0])} (every point measured)"
    return (f"from {group.axis} {fmt_x(decided[first][0])} (CPU faster at "
            f"{fmt_x(decided[first - 1][0])})")


def conditions_table(group: Group) -> Table | None:
    """One row per (GPU series, CPU series) pair of a sweep with both devices."""
    cpus = [s for s in group.series if device_of(s.runtime) == "cpu"]
    gpus = [s for s in group.series if device_of(s.runtime) == "gpu"]
    if not cpus or not gpus or len(group.xs) < 2:
        return None
    gpus.sort(key=lambda s: (s.runtime, conditions(s)["CUDA graphs"], s.label))
    rows = []
    for cpu in cpus:
        for gpu in gpus:
            cond = conditions(gpu)
            rows.append([Cell(gpu.label), *[Cell(v) for v in cond.values()], Cell(cpu.label),
                         Cell(overtake(group, cpu, gpu))])
    if not any(r[-1].text not in ("no common points",) for r in rows):
        return None
    return Table(f"{group.title}: where the GPU overtakes the CPU, and under which conditions",
                 ["GPU series", "CUDA graphs", "inputs", "TF32", "precision", "vs CPU series",
                  "GPU faster"], rows,
                 ["conditions are what ran (runtime_info); a point where the CIs overlap is a "
                  "tie, not a flip. CUDA graphs remove per-kernel launch overhead, which "
                  "decides small batches; host copies timed per run move the crossover up"])
