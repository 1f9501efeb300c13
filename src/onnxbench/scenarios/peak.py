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

Short probes overestimate what a server sustains: near saturation a few seconds rarely see
the stall (GC, the OS) after which the queue takes long to drain (MLPerf asks 600 s of a
valid Server run). So the rate the bracket converged on is then *confirmed*: run again for
``confirm_s`` seconds; when that fails the bound the rate steps down by
``max(precision_pct, 10) %`` and is confirmed again, at most ``MAX_CONFIRMS`` runs. The peak
is the highest confirmed rate (the search rate is kept beside it); when no confirmation
holds there is no peak, and the reason names both rates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onnxbench.core.load_record import Peak, Probe
from onnxbench.core.numbers import sig

MAX_HALVINGS = 4  # a probe at rate q lasts >= 459 / q s (p99): do not crawl down forever
MAX_PROBES = 40
MAX_CONFIRMS = 4  # the search rate, then at most 3 steps down (each >= 10 %: to ~73 % of it)
MIN_CONFIRM_STEP = 0.10


@dataclass
class ProbeOutcome:
    """What one probe measured; ``detail`` is whatever the caller wants kept (a trace)."""

    probe: Probe
    detail: Any = None


Prober = Callable[[float, str, float], ProbeOutcome]  # probe(qps, phase, duration_s)
Run = Callable[..., ProbeOutcome]


def find_peak(probe: Prober, start_qps: float, *, bound_ms: float, percentile: float,
              precision_pct: float, duration_s: float, confirm_s: float = 0.0,
              step: float = 1.0, max_probes: int = MAX_PROBES
              ) -> tuple[Peak, list[ProbeOutcome], ProbeOutcome | None]:
    """Search with ``probe(qps, phase, duration_s)``, then confirm the rate found for
    ``confirm_s`` seconds (0: no confirmation); returns the Peak, every probe (confirmations
    included), and the best one (the confirmed probe when confirmation ran)."""
    tried: list[ProbeOutcome] = []

    def run(qps: float, phase: str, seconds: float = duration_s) -> ProbeOutcome:
        out = probe(qps, phase, seconds)
        tried.append(out)
        return out

    peak, best = _search(run, start_qps, tried, bound_ms, percentile, precision_pct, step,
                         max_probes)
    if best is None or confirm_s <= 0:
        return peak, tried, best
    peak, best = _confirm(run, peak, best, confirm_s, duration_s)
    return peak, tried, best


def _search(run: Run, start_qps: float, tried: list[ProbeOutcome], bound_ms: float,
            percentile: float, precision_pct: float, step: float,
            max_probes: int) -> tuple[Peak, ProbeOutcome | None]:
    """Widen, then bisect (the short-window search)."""
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
                     f"no rate met the bound: {sig(hi.probe.target_qps, 4)} QPS still had "
                     f"p{percentile:g} {_ms(hi.probe.value_ms)}"), None
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
    return _peak(lo, hi, bound_ms, percentile, precision_pct, converged, reason), lo


def _confirm(run: Run, found: Peak, best: ProbeOutcome, confirm_s: float,
             duration_s: float) -> tuple[Peak, ProbeOutcome | None]:
    """Run the search's rate for ``confirm_s``; step down until one holds (or give up)."""
    search = best.probe.target_qps
    factor = 1.0 - max(found.precision_pct / 100.0, MIN_CONFIRM_STEP)
    failed: list[ProbeOutcome] = []
    qps = search
    for _ in range(MAX_CONFIRMS):
        out = run(qps, "confirm", confirm_s)
        if out.probe.met:
            return _confirmed(found, out, confirm_s), out
        failed.append(out)
        qps *= factor
    rates = ", ".join(sig(f.probe.target_qps, 4) for f in failed)
    q = f"p{found.percentile:g}"
    reason = (f"no rate held for {confirm_s:g} s: the {duration_s:g} s search found "
              f"{sig(search, 4)} QPS ({q} {_ms(best.probe.value_ms)}), but {confirm_s:g} s at "
              f"{rates} QPS failed {q} <= {found.bound_ms:g} ms (last {q} "
              f"{_ms(failed[-1].probe.value_ms)})")
    return found.model_copy(update={
        "qps": None, "achieved_qps": None, "value_ms": None, "confidence": None,
        "confirm_s": confirm_s, "confirmed": False, "reason": reason}), None


def _confirmed(found: Peak, out: ProbeOutcome, confirm_s: float) -> Peak:
    p = out.probe
    return found.model_copy(update={
        "qps": p.target_qps, "achieved_qps": p.achieved_qps, "value_ms": p.value_ms,
        "confidence": p.confidence, "confirm_s": confirm_s,
        "confirmed": True})


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
                converged=converged, reason=reason,
                search_qps=best.target_qps if best else None)


__all__ = ["MAX_CONFIRMS", "ProbeOutcome", "find_peak"]
