"""Which design an A/B runs with, and why: A and B in one process, or a process per block.

``interleaved`` (the default where it can): every worker process prepares both sides and
alternates them in short blocks (``measure.interleave``); processes are the replication
unit (``measure.twolevel``). ``process``: every block is a fresh worker process of one side
(blocks ABBA BAAB …, ``measure.pairs``), the design for two sides that cannot share a
process. They cannot when (``obstacle``):

* a side's runtime declares ``shares_process = False``;
* the runtimes are of different frameworks (ONNX Runtime and PyTorch, say): their thread
  pools would oversubscribe the cores;
* the sides differ in an option that sets process-wide state (the thread options every
  worker pins, and each runtime's ``process_options``: torch's TF32 flags, an allocator
  cap …): the second side's setting would overwrite the first's;
* a side is measured by a loop of its own (an image pipeline);
* both models would not fit in memory together (``memory_obstacle``, after the build).

Decided from the runtimes' declared capabilities, never from their names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import UserError

DESIGNS = ("auto", "interleaved", "process")
OWN_LOOP_OPTIONS = ("pipeline",)   # options whose case is measured by a loop of its own
MEMORY_FACTOR = 3.0                # a loaded model takes up to ~this × its files' size
MEMORY_SHARE = 0.5                 # both together may take at most this share of free memory


@dataclass(frozen=True)
class Design:
    """The design used (``interleaved`` or ``process``), what was asked, and why."""

    used: str
    requested: str
    reason: str
    process_s: float | None = None   # interleaved: the timed seconds each process ran

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def obstacle(a: Case, b: Case) -> str | None:
    """Why A and B cannot share a worker process (None: they can)."""
    from onnxbench.isolation.threads import THREAD_OPTIONS
    from onnxbench.runtimes.registry import runtime_class

    ra, rb = runtime_class(a.runtime), runtime_class(b.runtime)
    for rt, name in ((ra, a.runtime), (rb, b.runtime)):
        if not rt.shares_process:
            return f"runtime {name} does not share a process with another model"
    if ra.framework != rb.framework and "test" not in (ra.framework, rb.framework):
        return (f"{a.runtime} ({ra.framework}) and {b.runtime} ({rb.framework}) run on "
                "different thread pools: in one process they would oversubscribe the cores")
    for key in sorted(set(THREAD_OPTIONS) | ra.process_options | rb.process_options):
        if a.options.get(key) != b.options.get(key):
            return (f"option {key} differs ({a.options.get(key)} vs {b.options.get(key)}) and "
                    "is process-wide: each side needs a process of its own")
    for case in (a, b):
        own = [k for k in OWN_LOOP_OPTIONS if case.options.get(k)]
        if own or case.scenario is not None or case.seq_mix:
            return f"{case.model} is measured by a loop of its own ({own[0] if own else 'load'})"
    return None


def choose(a: Case, b: Case, requested: str) -> Design:
    """The design for ``requested`` (``auto``, ``interleaved`` or ``process``); UserError
    when ``interleaved`` was asked for and A and B cannot share a process."""
    if requested not in DESIGNS:
        raise UserError(f"--design {requested!r}: expected one of {', '.join(DESIGNS)}")
    if requested == "process":
        return Design("process", requested, "asked for: a fresh process per block")
    why = obstacle(a, b)
    if why is None:
        return Design("interleaved", requested, "A and B alternate in short blocks inside "
                                                "each worker process")
    if requested == "interleaved":
        raise UserError(f"--design interleaved: {why}; use --design process (or auto)")
    return Design("process", requested, why)


def _size(path: Path | None) -> int:
    try:
        return Path(path).stat().st_size if path is not None else 0
    except OSError:
        return 0


def memory_obstacle(artifacts: dict[str, Artifact], available: int | None = None) -> str | None:
    """Why both models would not fit in this machine's memory together (None: they fit):
    ``MEMORY_FACTOR`` × their files' size beyond ``MEMORY_SHARE`` of the free memory."""
    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    files = sum(_size(art.onnx_path) + _size(art.state_path) for art in artifacts.values())
    need = MEMORY_FACTOR * files
    if need <= MEMORY_SHARE * available:
        return None
    return (f"both models together need ~{need / 2**30:.1f} GiB ({MEMORY_FACTOR:g} × their "
            f"files), over {MEMORY_SHARE:.0%} of the {available / 2**30:.1f} GiB free")


def after_build(design: Design, artifacts: dict[str, Artifact],
                available: int | None = None) -> Design:
    """``design`` once the artifacts are built: ``auto`` falls back to ``process`` when both
    would not fit (an estimate: an ``interleaved`` asked for is tried, and an out-of-memory
    ends it like any failure)."""
    if design.used != "interleaved" or design.requested != "auto":
        return design
    why = memory_obstacle(artifacts, available)
    return design if why is None else Design("process", design.requested, why)


def after_oom(design: Design, reason: str) -> Design:
    """The process design after A and B together ran out of memory in the first process."""
    return Design("process", design.requested,
                  f"A and B together ran out of memory in one process ({reason})")


__all__ = ["DESIGNS", "Design", "after_build", "after_oom", "choose", "memory_obstacle",
           "obstacle"]
