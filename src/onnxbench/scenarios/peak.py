"""The highest rate whose percentile latency stays within a bound, with a queue that holds.

LoadGen's FindPeakPerformance mode (``loadgen.cc``: ``FindBoundaries``, then
``FindPeakPerformanceBinarySearch``) checks that a starting rate passes, widens the upper
bound by ``(1 + step)`` until a rate fails, then bisects ``[pass, fail)`` until it is narrow.
Here the same search runs in Python, each probe being one LoadGen Server run (or one run of
onnxbench's open loop), because we want what LoadGen's mode does not give: every probe kept
(rate, percentile, early-stopping confidence, utilisation, queue trend) for the
latency-throughput curve, a relative stopping width (``precision_pct`` of the rate, where
LoadGen stops at a number of decimals), and a starting rate derived from a calibration when
none is given (LoadGen needs a passing one from the user). A starting rate that fails is
halved until one passes.

A probe passes when its percentile is within the bound (LoadGen's ``PerfConstraintsMet``)
**and its queue did not grow** over the window (``stationarity``): near saturation a queue
grows slowly, and a short window's percentile does not show it. The capacity each probe
measures (workers / busy time per request, its upper confidence bound, from probes whose
workers were at least half busy; none with dynamic batching, whose batches grow with the
load) caps the bracket: no rate above it can hold, so the search bisects below it instead
of widening past it (``Peak.capped``).

The rate the bracket converged on is then *confirmed* for ``confirm_s`` seconds, the window
the peak claims; when that run fails the bound or its queue grows the rate steps down by
``max(precision_pct, 10) %`` (to at most 95 % of the capacity that run measured) and is
confirmed again, at most ``MAX_CONFIRMS`` runs. The peak is the highest confirmed rate,
with the run it rests on (``Peak.evidence``: its window, ρ, queue); the search rate is kept
beside it. When no rate holds there is no peak, the reason names the rates, and
``Peak.lower_bound`` is the highest rate that held in any window, with that window.
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
CAP_RHO = 0.5     # capacity estimates count from probes whose workers were this busy
CONFIRM_RHO = 0.95  # after a failed confirmation, step to at most this share of its capacity


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
    if best is not None and confirm_s > 0:
        peak, best = _confirm(run, peak, best, confirm_s, duration_s)
    peak.capacity_qps = capacity(tried)
    if best is not None:
        peak.evidence = best.probe
    else:
        peak.lower_bound = held = lower_bound(tried)
        if held is not None:
            peak.reason = (f"{peak.reason}; the highest rate that held: {sig(held.target_qps, 4)} "
                           f"QPS for {held.window_s or held.duration_s or 0:.3g} s "
                           f"({held.phase} run, p{percentile:g} {_ms(held.value_ms)}, queue "
                           f"{held.queue or 'not tested'})")
    return peak, tried, best


def lower_bound(tried: list[ProbeOutcome]) -> Probe | None:
    """The highest rate that held (bound met, queue not growing) in any window."""
    held = [t.probe for t in tried if t.probe.met]
    return max(held, key=lambda p: (p.target_qps, p.duration_s or 0.0)) if held else None


def capacity(tried: list[ProbeOutcome]) -> float | None:
    """The lowest capacity (upper confidence bound) the busy enough probes measured."""
    caps = [t.probe.capacity_qps for t in tried
            if t.probe.capacity_qps and (t.probe.rho or 0.0) >= CAP_RHO]
    return min(caps) if caps else None


def _search(run: Run, start_qps: float, tried: list[ProbeOutcome], bound_ms: float,
            percentile: float, precision_pct: float, step: float,
            max_probes: int) -> tuple[Peak, ProbeOutcome | None]:
    """Widen (never past the capacity bound), then bisect (the short-window search)."""
    lo, hi = _start(run, start_qps)
    if lo is None:
        assert hi is not None  # the first probe failed, so it is the upper end
        return _peak(None, hi, None, bound_ms, percentile, precision_pct, False,
                     f"no rate met the bound: {sig(hi.probe.target_qps, 4)} QPS still failed "
                     f"({_why(hi.probe, percentile)})"), None
    narrow = precision_pct / 100.0

    def upper(lo: ProbeOutcome) -> tuple[float | None, bool]:
        """The bracket's upper end: the lowest failing rate or the capacity bound."""
        h = hi.probe.target_qps if hi else None
        cap = capacity(tried)
        if cap is not None and cap > lo.probe.target_qps and (h is None or cap < h):
            return cap, True
        return h, False

    while upper(lo)[0] is None and len(tried) < max_probes:  # widen
        out = run(lo.probe.target_qps * (1.0 + step), "widen")
        lo, hi = (out, hi) if out.probe.met else (lo, out)
    while len(tried) < max_probes and (u := upper(lo)[0]) is not None and \
            u - lo.probe.target_qps > narrow * lo.probe.target_qps:
        out = run((lo.probe.target_qps + u) / 2.0, "bisect")
        lo, hi = (out, hi) if out.probe.met else (lo, out)
    top, capped = upper(lo)
    converged = top is not None and top - lo.probe.target_qps <= narrow * lo.probe.target_qps
    reason = None if converged else f"stopped after {len(tried)} probes before the bracket " \
                                    f"was within {precision_pct:g} %"
    return _peak(lo, hi, top if capped else None, bound_ms, percentile, precision_pct,
                 converged, reason), lo


def _start(run: Run, start_qps: float) -> tuple[ProbeOutcome | None, ProbeOutcome | None]:
    """The starting rate, halved while it fails: (lowest passing, lowest failing)."""
    first = run(start_qps, "start")
    if first.probe.met:
        return first, None
    hi = first
    for _ in range(MAX_HALVINGS):
        out = run(hi.probe.target_qps / 2.0, "start")
        if out.probe.met:
            return out, hi
        hi = out
    return None, hi


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
        rho = out.probe.rho
        qps = min(qps * factor, CONFIRM_RHO * qps / rho) if rho and rho > 0 else qps * factor
    rates = ", ".join(sig(f.probe.target_qps, 4) for f in failed)
    q = f"p{found.percentile:g}"
    last = failed[-1].probe
    reason = (f"no rate held for {confirm_s:g} s: the {duration_s:g} s search found "
              f"{sig(search, 4)} QPS ({q} {_ms(best.probe.value_ms)}), but {confirm_s:g} s at "
              f"{rates} QPS failed (last: {_why(last, found.percentile)})")
    return found.model_copy(update={
        "qps": None, "achieved_qps": None, "value_ms": None, "confidence": None,
        "confirm_s": confirm_s, "confirmed": False, "reason": reason}), None


def _confirmed(found: Peak, out: ProbeOutcome, confirm_s: float) -> Peak:
    p = out.probe
    return found.model_copy(update={
        "qps": p.target_qps, "achieved_qps": p.achieved_qps, "value_ms": p.value_ms,
        "confidence": p.confidence, "confirm_s": confirm_s,
        "confirmed": True})


def _why(p: Probe, percentile: float) -> str:
    return p.why_not or f"p{percentile:g} {_ms(p.value_ms)}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g} ms"


def _peak(lo: ProbeOutcome | None, hi: ProbeOutcome | None, cap: float | None,
          bound_ms: float, percentile: float, precision_pct: float, converged: bool,
          reason: str | None) -> Peak:
    best = lo.probe if lo else None
    upper = cap if cap is not None else (hi.probe.target_qps if hi else None)
    return Peak(qps=best.target_qps if best else None,
                achieved_qps=best.achieved_qps if best else None,
                value_ms=best.value_ms if best else None,
                confidence=best.confidence if best else None, bound_ms=bound_ms,
                percentile=percentile, precision_pct=precision_pct,
                bracket=[best.target_qps if best else None, upper],
                converged=converged, reason=reason,
                search_qps=best.target_qps if best else None, capped=cap is not None)


__all__ = ["MAX_CONFIRMS", "ProbeOutcome", "capacity", "find_peak", "lower_bound"]
