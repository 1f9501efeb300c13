"""Measurement: the timing loop and stopping rules (``timer``), statistics (``stats``).

``measure_case`` is the one call the executor needs: time a bound runtime callable under a
policy and summarise the latencies with the same policy's instability threshold.

This package is imported by ``onnxbench.core.case`` (for ``MeasurePolicy``), and ``timer`` /
``stats`` import ``onnxbench.core.result`` which imports ``case``: so only ``policy`` is
imported eagerly here; the rest loads on first use (PEP 562) to avoid an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from onnxbench.core.policy import MeasurePolicy

if TYPE_CHECKING:
    from onnxbench.core.result import Stats, Timing

__all__ = ["MeasurePolicy", "measure", "measure_case", "median_ci_halfwidth_pct", "summarize"]

_LAZY = {"measure": "onnxbench.measure.timer", "summarize": "onnxbench.measure.stats",
         "median_ci_halfwidth_pct": "onnxbench.measure.stats"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'onnxbench.measure' has no attribute {name!r}")


def measure_case(fn: Callable[[], Any], sync: Callable[[], None] | None,
                 policy: MeasurePolicy, *, seed: int = 0) -> tuple[Timing, Stats]:
    """Time ``fn`` under ``policy`` and summarise it; ``seed`` fixes the bootstrap CI."""
    from onnxbench.measure.stats import summarize
    from onnxbench.measure.timer import measure

    timing = measure(fn, sync, policy)
    stats = summarize(timing.latencies_ms, unstable_iqr_ratio=policy.unstable_iqr_ratio,
                      seed=seed)
    return timing, stats
