"""The highest rate whose percentile latency stays within a bound: widen, then bisect.

LoadGen's FindPeakPerformance mode (``loadgen.cc``: ``FindBoundaries``, then
``FindPeakPerformanceBinarySearch``) checks that a starting rate passes, widens the upper
bound by ``(1 + step)`` until a rate fails, then bisects ``[pass, fail)`` until it is narrow.
Here the same search runs in Python, each probe being one LoadGen Server run (or one
constant-arrival run), because we want what LoadGen's mode does not give: every probe kept
(rate, percentile, early-stopping confidence) for the latency-throughput curve, a relative
stopping width (``precision_pct`` of the rate, where LoadGen stops at a number of decimals),
and a starting rate derived from the single-stream latency when none is given (LoadGen
needs a passing one from the user). A starting rate that fails is halved until one passes.

A probe passes when its measured percentile is within the bound (LoadGen's
``PerfConstraintsMet``); the early-stopping confidence of the bound at the peak is reported
with it, never used to hide a figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onnxbench.scenarios.record import Peak, Probe

MAX_HALVINGS = 4  # a probe at rate q lasts >= 459 / q s (p99): do not crawl down forever
MAX_PROBES = 40


@dataclass
class ProbeOutcome:
    """What one probe measured; ``detail`` is whatever the caller wants kept (a trace)."""

    probe: Probe
    detail: Any = None


def find_peak(probe: Callable[[float, str], ProbeOutcome], start_qps: float, *,
              bound_ms: float, percentile: float, precision_pct: float, step: float = 1.0,
              max_probes: int = MAX_PROBES) -> tuple[Peak, list[ProbeOutcome], ProbeOutcome | None]:
    """Search with ``probe(qps, phase)``; returns the Peak, every probe, and the best one."""
    tried: list[ProbeOutcome] = []

    def run(qps: float, phase: str) -> ProbeOutcome:
        out = probe(qps, phase)
        tried.append(out)
        return out

    lo: ProbeOutcome | None = None
    hi: ProbeOutcome | None = None
    first = run(start_qps, "start")
    if first.probe.met:
        lo = first
    else:
        hi = first
        for _ in range(MAX_HALVINGS):
            out = run(hi.probe.target_qps / 2.0, "start")
            if out.probe.met:
                lo = out
                break
            hi = out
    if lo is None:
        assert hi is not None  # the first probe failed, so it is the upper end
        return _peak(None, hi, bound_ms, percentile, precision_pct, False,
                     f"no rate met the bound: {hi.probe.target_qps:g} QPS still had "
                     f"p{percentile:g} {_ms(hi.probe.value_ms)}"), tried, None
    while hi is None and len(tried) < max_probes:  # widen
        out = run(lo.probe.target_qps * (1.0 + step), "widen")
        if out.probe.met:
            lo = out
        else:
            hi = out
    while hi is not None and len(tried) < max_probes and \
            hi.probe.target_qps - lo.probe.target_qps > precision_pct / 100.0 * lo.probe.target_qps:
        out = run((lo.probe.target_qps + hi.probe.target_qps) / 2.0, "bisect")
        if out.probe.met:
            lo = out
        else:
            hi = out
    converged = hi is not None and \
        hi.probe.target_qps - lo.probe.target_qps <= precision_pct / 100.0 * lo.probe.target_qps
    reason = None if converged else f"stopped after {len(tried)} probes before the bracket " \
                                    f"was within {precision_pct:g} %"
    return _peak(lo, hi, bound_ms, percentile, precision_pct, converged, reason), tried, lo


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g} ms"


def _peak(lo: ProbeOutcome | None, hi: ProbeOutcome | None, bound_ms: float, percentile: float,
          precision_pct: float, converged: bool, reason: str | None) -> Peak:
    best = lo.probe if lo else None
    return Peak(qps=best.target_qps if best else None,
                achieved_qps=best.achieved_qps if best else None,
                value_ms=best.value_ms if best else None,
                confidence=best.confidence if best else None, bound_ms=bound_ms,
                percentile=percentile, precision_pct=precision_pct,
                bracket=[best.target_qps if best else None, hi.probe.target_qps if hi else None],
                converged=converged, reason=reason)


__all__ = ["ProbeOutcome", "find_peak"]
