"""Exclusive placement: what a case asks of a cluster, and taking it inside the worker.

Measurements stay honest only if no two timed cases share a device:

- a GPU case takes one whole GPU (``num_gpus=1``) and the cores it pins: its ``threads``
  (or ``intra_op_threads``), else an equal share of its node's cores (cores // GPUs);
- a CPU case takes the cores of its ``threads``; without ``threads`` it takes every core
  of one node (so two CPU timings never share a node), unless the suite's executor says
  ``share_cpu_nodes: true`` (then one core's worth, as ORT and torch pick their own pools);
- ``hardware: NAME`` adds a token share of the node resource ``NAME`` (or Ray's automatic
  ``accelerator_type:NAME``), so the case runs only on that machine type.

Ray accounts CPUs as numbers, not as core ids, so inside a node the cores themselves are
claimed with one ``flock`` per core under the temp directory: a worker holds its cores'
locks while its case runs (a dead worker's locks go with it) and its isolated child is pinned
to them (``sched_setaffinity``), with the thread pools sized to match.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.core.case import Case
from onnxbench.core.errors import UserError

HARDWARE_SHARE = 0.001  # a token amount of a hardware resource: selects the node type only
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Node:
    """One alive node of the cluster and its resources (``ray.nodes()``)."""

    node_id: str
    host: str
    resources: dict[str, float]

    @property
    def cpus(self) -> int:
        return int(self.resources.get("CPU", 0))

    @property
    def gpus(self) -> int:
        return int(self.resources.get("GPU", 0))

    def resource_for(self, hardware: str) -> str | None:
        """The node resource that names ``hardware``: itself, or ``accelerator_type:NAME``."""
        if hardware in self.resources:
            return hardware
        wanted = f"accelerator_type:{hardware}".lower()
        return next((k for k in self.resources if k.lower() == wanted), None)


@dataclass(frozen=True)
class Request:
    """What one case takes while it runs. ``whole_node``: every core of the node it is
    pinned to at submission (``num_cpus`` is then that node's count); ``skip``: why no node
    of the cluster can take it (the case is recorded ``skipped``)."""

    num_cpus: int = 1
    num_gpus: int = 0
    resources: dict[str, float] = field(default_factory=dict)
    whole_node: bool = False
    nodes: tuple[str, ...] = ()  # the node ids that can take it
    skip: str | None = None

    @property
    def kind(self) -> tuple:
        """Cases of one kind compete for the same slots."""
        return (self.num_cpus, self.num_gpus, tuple(sorted(self.resources)), self.whole_node)


def case_threads(case: Case) -> int | None:
    """The thread count the case pins (``threads`` / ``intra_op_threads``), if any."""
    from onnxbench.scenarios.execute import THREAD_OPTIONS

    value = next((case.options[k] for k in THREAD_OPTIONS if case.options.get(k) is not None),
                 None)
    return None if value is None else int(value)


def is_gpu_case(case: Case) -> bool:
    from onnxbench.runtimes import runtime_device

    return runtime_device(case.runtime) == "cuda"


def request_for(case: Case, nodes: list[Node], share_cpu_nodes: bool = False) -> Request:
    """The exclusive share of the cluster ``case`` needs (UserError: unknown hardware)."""
    eligible, resources = nodes, {}
    if case.hardware:
        eligible = [n for n in nodes if n.resource_for(case.hardware)]
        if not eligible:
            raise UserError(_unknown_hardware(case.hardware, nodes))
        resources = {eligible[0].resource_for(case.hardware) or case.hardware: HARDWARE_SHARE}
    threads = case_threads(case)
    where = f" with hardware {case.hardware!r}" if case.hardware else ""
    if is_gpu_case(case):
        eligible = [n for n in eligible if n.gpus >= 1]
        if not eligible:
            return Request(skip=f"no node of the Ray cluster{where} has a GPU")
        cpus = threads or max(1, min(n.cpus // n.gpus for n in eligible))
        return _fitting(Request(cpus, 1, resources), eligible, where)
    if threads or share_cpu_nodes:
        return _fitting(Request(threads or 1, 0, resources), eligible, where)
    whole = tuple(n.node_id for n in eligible if n.cpus >= 1)
    if not whole:
        return Request(skip=f"no node of the Ray cluster{where} has a CPU to give")
    return Request(0, 0, resources, whole_node=True, nodes=whole)


def _fitting(request: Request, eligible: list[Node], where: str) -> Request:
    fit = tuple(n.node_id for n in eligible if n.cpus >= request.num_cpus)
    if not fit:
        most = max((n.cpus for n in eligible), default=0)
        return Request(skip=f"asks for {request.num_cpus} cores; the largest node of the Ray "
                            f"cluster{where} has {most}")
    return Request(request.num_cpus, request.num_gpus, request.resources, nodes=fit)


def _unknown_hardware(hardware: str, nodes: list[Node]) -> str:
    names = sorted({k for n in nodes for k in n.resources
                    if not k.startswith(("node:", "memory", "object_store_memory"))})
    return (f"hardware {hardware!r}: no node of the Ray cluster has the resource {hardware!r} "
            f"or 'accelerator_type:{hardware.upper()}' (resources: {', '.join(names)}); start "
            f"those nodes with `ray start --address HEAD:6379 --resources "
            f"'{{\"{hardware}\": 1}}'`")


def slots(request: Request, nodes: list[Node]) -> int:
    """How many cases of this request the cluster can run at once (at least 1)."""
    fit = [n for n in nodes if n.node_id in request.nodes]
    if request.whole_node:
        return max(1, len(fit))
    per_node = [min(n.gpus, n.cpus // request.num_cpus) if request.num_gpus else
                n.cpus // request.num_cpus for n in fit]
    return max(1, sum(per_node))


# --------------------------------------------------------------- inside the node

def _lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"onnxbench-cores-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _try_claim(n: int) -> list[tuple[int, int]]:
    """Locks on ``n`` free cores of this process's affinity set, or none at all."""
    held: list[tuple[int, int]] = []
    for core in sorted(os.sched_getaffinity(0)):
        fd = os.open(_lock_dir() / f"cpu{core}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        held.append((core, fd))
        if len(held) == n:
            return held
    for _core, fd in held:
        os.close(fd)
    return []


@contextmanager
def claimed_cores(n: int, wait_s: float = 60.0) -> Iterator[list[int] | None]:
    """Hold ``n`` of this node's cores for the block (None when they could not be had:
    the node declares more CPUs to Ray than it has, or a process outside the cluster
    holds them past ``wait_s``)."""
    n = min(n, len(os.sched_getaffinity(0)))
    deadline = time.monotonic() + wait_s
    held = _try_claim(n)
    while not held and time.monotonic() < deadline:
        time.sleep(0.2)
        held = _try_claim(n)
    try:
        yield sorted(core for core, _fd in held) if held else None
    finally:
        for _core, fd in held:
            os.close(fd)  # closing releases the flock


def take(placement: dict[str, Any], case: Case) -> None:
    """In the worker process, before the case: keep to the cores and GPUs it was given.

    The fork server's environment dates from its start, so the GPU a worker may see and the
    size of its thread pools are set here, per case (a case's own ``threads`` still wins).
    """
    if not placement.get("pinned"):
        return
    if placement.get("gpus") is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(placement["gpus"])
    cores = placement.get("cores")
    if not cores:
        return
    os.sched_setaffinity(0, cores)
    if case_threads(case) is None:
        for var in THREAD_ENV:
            os.environ[var] = str(len(cores))
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(len(cores))
