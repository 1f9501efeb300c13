"""The generator and the serving workers on different CPUs, when there are enough of them.

A generator that shares cores with the server it drives is late whenever the server is busy,
and its lateness lands in every latency. With at least ``MIN_APART`` CPUs in the case's
affinity, the last ``max(1, n // 8)`` go to the generator and the rest to serving:

- ``serve()`` pins the case's main thread to the serving CPUs before anything serving
  starts; Linux threads and forked processes inherit their creator's affinity, so the
  serving processes, the sessions' thread pools, the worker threads and the batcher all
  stay there;
- ``generating()`` moves the calling thread (the generator's: LoadGen's ``StartTest`` and
  the threads it starts, or onnxbench's open loop) to the generator's CPUs for a window,
  and back after.

With fewer CPUs (the 2-core VM) nothing is pinned and the record says they share.
``os.sched_setaffinity(0, ...)`` sets the calling thread's mask on Linux.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from onnxbench.core.load_record import Affinity

MIN_APART = 3


@dataclass
class CpuPlan:
    """Where the generator and the serving side run (``record``), and the pinning itself."""

    record: Affinity

    def _pin(self, cpus: list[int]) -> None:
        if not self.record.shared:
            os.sched_setaffinity(0, cpus)

    def serve(self) -> None:
        """Pin the calling thread (and so what it starts later) to the serving CPUs."""
        self._pin(self.record.serving)

    @contextmanager
    def generating(self) -> Iterator[None]:
        """The calling thread on the generator's CPUs for the block."""
        self._pin(self.record.generator)
        try:
            yield
        finally:
            self._pin(self.record.serving)


def plan_cpus(cpus: Iterable[int] | None = None, *, min_apart: int = MIN_APART) -> CpuPlan:
    """Split ``cpus`` (default: this thread's affinity) between generator and serving."""
    can_pin = hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")
    if cpus is None:
        cpus = os.sched_getaffinity(0) if can_pin else range(os.cpu_count() or 1)
    mine = sorted(int(c) for c in cpus)
    n = len(mine)
    if n < min_apart or not can_pin:
        why = (f"{n} CPU{'s' if n != 1 else ''}: the generator and the serving workers share "
               f"them (kept apart from {min_apart} CPUs)") if can_pin else \
            "no sched_setaffinity on this OS: the generator and the serving workers share CPUs"
        return CpuPlan(Affinity(cpus=mine, generator=mine, serving=mine, shared=True, note=why))
    k = max(1, n // 8)
    gen, serving = mine[-k:], mine[:-k]
    return CpuPlan(Affinity(cpus=mine, generator=gen, serving=serving, shared=False,
                            note=f"generator on CPU {_span(gen)}, serving workers on CPU "
                                 f"{_span(serving)} (os.sched_setaffinity)"))


def _span(cpus: list[int]) -> str:
    if len(cpus) > 2 and cpus == list(range(cpus[0], cpus[-1] + 1)):
        return f"{cpus[0]}-{cpus[-1]}"
    return ",".join(str(c) for c in cpus)


__all__ = ["MIN_APART", "CpuPlan", "plan_cpus"]
