"""Where each node of an ONNX Runtime session runs: nodes per provider, CPU fallbacks, Memcpy.

The method (no profiling needed): ORT prints its own placement when a session is created with
``log_severity_level=0`` (VERBOSE): ``session_state.cc``'s ``VerifyEachNodeIsAssignedToAnEp``
logs, after partitioning and the Memcpy transformer, ::

    Node placements
     All nodes placed on [CPUExecutionProvider]. Number of nodes: 3
    # or, when several providers share the graph (subgraphs included):
     Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 340
      MemcpyFromHost (Memcpy)
      ...
     Node(s) placed on [CPUExecutionProvider]. Number of nodes: 62
      Shape (/embeddings/Shape)

and the providers say why a node went to the CPU: ``CUDA kernel not found in registries for
Op type: X node name: Y`` (no kernel) or ``Force fallback to CPU execution for node: Y
because the CPU execution path is deemed faster ...`` (ORT keeps small shape math on the
CPU on purpose); ``N Memcpy nodes are added to the graph G for P`` counts the copies. ORT
writes these lines to stderr (its C++ log sink), so ``session_placement`` creates a
separate, untimed session with the timed session's providers and options while file
descriptor 2 points at a temporary file, and parses what ORT wrote. The timed session is
never created with verbose logging (its runs would log too).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

METHOD = ("ONNX Runtime's verbose session log ('Node placements', session_state.cc), read from "
          "a separate untimed session with the timed session's providers and options")
CPU = "CPUExecutionProvider"
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider",
                 "MIGraphXExecutionProvider", "DmlExecutionProvider")
MEMCPY_OPS = ("MemcpyFromHost", "MemcpyToHost")
MAX_LISTED = 200  # CPU nodes listed by name in result.json; counts cover them all

_ALL = re.compile(r"All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)")
_SOME = re.compile(r"Node\(s\) placed on \[(\w+)\]\.\s*Number of nodes: (\d+)")
_NODE = re.compile(r"VerifyEachNodeIsAssignedToAnEp\]\s{3}(\S+) \((.*)\)\s*$")
_NO_KERNEL = re.compile(r"kernel not found in registries for Op type: (\S+) node name: (.*?)\s*$")
_HEURISTIC = re.compile(r"Force fallback to CPU execution for node: (.*?)(?: because|\s*$)")
_MEMCPY = re.compile(r"(\d+) Memcpy nodes are added to the graph (\S*) for (\w+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # ORT colours its warnings even into a file


@contextmanager
def capture_fd2() -> Iterator[list[str]]:
    """Redirect file descriptor 2 (C/C++ stderr) to a temporary file; yields a list that
    holds the captured text once the block ends."""
    holder: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield holder
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            holder.append(tmp.read().decode("utf-8", errors="replace"))


def parse_placement_log(text: str, requested: str | None = None) -> dict[str, Any]:
    """The placement record from ORT's verbose session log (see the module docstring)."""
    by_provider: Counter[str] = Counter()
    listed: dict[str, list[tuple[str, str]]] = {}
    current: str | None = None
    no_kernel: dict[str, str] = {}
    heuristic: set[str] = set()
    memcpy_warned = 0
    for line in _ANSI.sub("", text).splitlines():
        if m := _ALL.search(line):
            by_provider[m.group(1)] += int(m.group(2))
            current = None
        elif m := _SOME.search(line):
            current = m.group(1)
            by_provider[current] += int(m.group(2))
            listed.setdefault(current, [])
        elif current and (m := _NODE.search(line)):
            listed[current].append((m.group(1), m.group(2)))
        elif m := _NO_KERNEL.search(line):
            no_kernel[m.group(2)] = m.group(1)
        elif m := _HEURISTIC.search(line):
            heuristic.add(m.group(1).strip())
        elif m := _MEMCPY.search(line):
            memcpy_warned += int(m.group(1))
    return _record(by_provider, listed, no_kernel, heuristic, memcpy_warned, requested)


def _record(by_provider: Counter, listed: dict, no_kernel: dict, heuristic: set,
            memcpy_warned: int, requested: str | None) -> dict[str, Any]:
    ops = Counter(op for nodes in listed.values() for op, _ in nodes)
    memcpy = {op: ops[op] for op in MEMCPY_OPS if ops[op]}
    record: dict[str, Any] = {
        "method": METHOD, "requested_provider": requested,
        "nodes": sum(by_provider.values()), "by_provider": dict(by_provider.most_common()),
        "memcpy_nodes": sum(memcpy.values()) if listed else memcpy_warned,
        "memcpy_by_op": memcpy,
        "op_types_by_provider": {p: dict(Counter(op for op, _ in n).most_common())
                                 for p, n in listed.items()},
    }
    gpu_session = requested in GPU_PROVIDERS
    cpu_nodes = listed.get(CPU, [])
    if gpu_session:
        record["cpu_nodes"] = [{"op_type": op, "name": name,
                                "why": _why(name, no_kernel, heuristic)}
                               for op, name in cpu_nodes[:MAX_LISTED]]
        record["cpu_op_types"] = dict(Counter(op for op, _ in cpu_nodes).most_common())
    record["warnings"] = placement_warnings(record) if gpu_session else []
    if not by_provider:
        record["error"] = "ONNX Runtime printed no 'Node placements' lines (a minimal build?)"
    return record


def _why(name: str, no_kernel: dict[str, str], heuristic: set[str]) -> str | None:
    if name in no_kernel:
        return "no kernel on the requested provider"
    if name in heuristic:
        return "ORT's choice: CPU deemed faster than a copy (shape math)"
    return None


def placement_warnings(record: dict[str, Any]) -> list[str]:
    """The lint-like warnings of a GPU session: nodes on the CPU, Memcpy nodes."""
    on_cpu = record["by_provider"].get(CPU, 0)
    out = []
    if on_cpu:
        kinds = ", ".join(f"{op} ×{n}"
                          for op, n in list(record.get("cpu_op_types", {}).items())[:8])
        no_kernel = sum(1 for n in record.get("cpu_nodes", [])
                        if n["why"] and "no kernel" in n["why"])
        out.append(f"{record['requested_provider']} session places {on_cpu} of {record['nodes']} "
                   f"nodes on the CPU" + (f" ({kinds})" if kinds else "")
                   + (f"; {no_kernel} of them have no kernel on the GPU provider"
                      if no_kernel else ""))
    if record["memcpy_nodes"]:
        out.append(f"{record['memcpy_nodes']} Memcpy node(s) copy tensors between host and device "
                   "inside each run (they also prevent CUDA graph capture)")
    return out


def session_placement(model: str | Path, providers: list, make_options: Callable[[], Any],
                      requested: str | None = None) -> dict[str, Any]:
    """Create a verbose-logging session of ``model`` (never run) and return its placement.

    ``make_options()`` returns SessionOptions like the timed session's; the verbose level is
    set on that copy only. ORT's process-wide default logger goes to VERBOSE for the
    duration (the providers' fallback reasons go through it) and back to errors only.
    """
    import onnxruntime as ort

    so = make_options()
    so.log_severity_level = 0
    so.log_verbosity_level = 0
    ort.set_default_logger_severity(0)
    try:
        with capture_fd2() as log:
            sess = ort.InferenceSession(str(model), sess_options=so, providers=providers)
            del sess
    finally:
        ort.set_default_logger_severity(3)
    return parse_placement_log(log[0] if log else "", requested)
