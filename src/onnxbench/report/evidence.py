"""Published figures at the strength of their evidence: what a README may say about a number.

A committed summary row (``summary_rows.SummaryPoint``) becomes a ``Figure``: its median, the
CI its run measured, the worker processes behind it and the unstable mark. Two figures
compare into a ``Versus``: the ratio, its CI, and whether the difference is resolved. The
rules are the project's own, so a README sentence and the run's report decide alike:

* **Ties**: two medians whose CIs overlap are tied (``measure.ratio.cis_overlap``, the rule of
  every report table, winner and crossover).
* **The ratio's CI** (both points from ≥ 2 processes): Welch's t on the log process medians,
  each point's own between-process variance (``report.abtest.runs_estimate``), judged by
  ``measure.ratio.judge``. A ratio whose CI covers 1 is a tie too.
* **One process**: its CI is that process's bootstrap, which does not sample the noise
  between processes (two processes of one model differ by several percent, tens of percent
  on a shared GPU host), so it cannot resolve a difference by itself. Such a figure carries
  its host's ``Margin``, the resolvable difference measured on the same host by other
  means (an A/A ``onnxbench ab``: its ``resolvable_pct``; or the pooled between-process noise
  of the host's multi-process runs), named with its source. Against it a ratio r has the
  interval r/(1+m) … r·(1+m) and is a tie when that covers 1.

Unstable figures keep their numbers, marked †, and so does every ratio built on one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from onnxbench.measure.fold import Noise
from onnxbench.measure.ratio import RESOLVABLE_CAP_PCT, cis_overlap, judge, quantile
from onnxbench.report.abtest import runs_estimate
from onnxbench.report.fmt import sig
from onnxbench.report.summary_rows import SummaryPoint

UNSTABLE = "†"


@dataclass(frozen=True)
class Margin:
    """The smallest ratio difference (in %) a one-process comparison resolves on a host."""

    pct: float
    source: str

    @classmethod
    def from_noise(cls, noise: Noise, source: str, alpha: float = 0.05) -> Margin:
        """Two one-process points on a host whose processes differ by ``noise.rsd`` (log SD):
        the log ratio's SD is √2·rsd, its half-width t(df)·√2·rsd."""
        half = quantile(noise.df, alpha) * math.sqrt(2.0) * noise.rsd
        return cls((math.exp(half) - 1) * 100, source)

    @classmethod
    def from_ab(cls, doc: Mapping[str, Any], source: str) -> Margin:
        """An A/A ``ab.json``: the resolvable difference its CI reached."""
        result = ((doc.get("outcome") or {}).get("result") or {})
        pct = result.get("resolvable_pct")
        if pct is None:
            raise ValueError(f"{source}: ab.json has no outcome.result.resolvable_pct")
        return cls(float(pct), source)


@dataclass(frozen=True)
class Figure:
    """One published point; ``margin`` applies when it stands on one process."""

    point: SummaryPoint
    margin: Margin | None = None

    @property
    def median(self) -> float | None:
        return self.point.median

    @property
    def n_processes(self) -> int:
        return self.point.n_processes

    @property
    def process_rsd(self) -> float | None:
        return self.point.process_rsd

    @property
    def unstable(self) -> bool:
        return self.point.unstable

    @property
    def ok(self) -> bool:
        return self.point.status == "ok" and self.median is not None

    @property
    def band(self) -> tuple[float, float]:
        m = self.median or 0.0
        return self.point.ci or (m, m)

    @property
    def half_pct(self) -> float | None:
        """The CI's upper half-width in % of the median (the resolvable difference)."""
        if not self.ok or self.point.ci is None or not self.median:
            return None
        return (self.point.ci[1] / self.median - 1) * 100

    def mark(self) -> str:
        return f" {UNSTABLE}" if self.unstable else ""

    def value(self, digits: int = 3) -> str:
        """The median alone (three significant figures), marked when unstable."""
        if not self.ok:
            return self.word()
        return sig(self.median, digits) + self.mark()

    def word(self) -> str:
        reason = (self.point.reason or "").split(";")[0].split(":")[0].strip()
        return f"{self.point.status} ({reason})" if reason else self.point.status

    def text(self, unit: str = "ms") -> str:
        """"0.697 ms ± 14 % (3 processes)", "1.31 ms (1 process)", marked † when unstable."""
        if not self.ok:
            return self.word()
        k = self.n_processes
        head = f"{sig(self.median)} {unit}".rstrip()
        if k >= 2 and self.half_pct is not None:
            head += f" ± {pct_text(self.half_pct)}"
        return f"{head} ({k} process{'es' if k != 1 else ''}){self.mark()}"


def pct_text(pct: float) -> str:
    """A half-width in %: two significant figures ("14 %", "2.3 %", "167 %"); past the cap
    of ``measure.ratio.resolvable_str`` (two processes give t quantiles of 1 degree of
    freedom) "> 1000 %": unbounded, not a measurement."""
    if pct > RESOLVABLE_CAP_PCT:
        return f"> {RESOLVABLE_CAP_PCT:.0f} %"
    return f"{float(f'{pct:.2g}'):g} %" if pct < 100 else f"{pct:.0f} %"


@dataclass(frozen=True)
class Versus:
    """``slow`` against ``fast``: ratio = slow / fast (> 1: ``fast`` is faster by that factor)."""

    fast: Figure
    slow: Figure
    ratio: float
    ci: tuple[float, float] | None
    resolved: bool
    basis: str

    @property
    def unstable(self) -> bool:
        return self.fast.unstable or self.slow.unstable

    def text(self) -> str:
        """"2.50× (CI 2.14–2.92)"; a tie says so: "tie (1.15×; CIs overlap)"."""
        mark = f" {UNSTABLE}" if self.unstable else ""
        ci = f"CI {sig(self.ci[0])}–{sig(self.ci[1])}" if self.ci else None
        if self.resolved:
            return f"{sig(self.ratio)}× ({ci}){mark}" if ci else f"{sig(self.ratio)}×{mark}"
        return f"tie ({sig(self.ratio)}×; {self.basis}){mark}"


def versus(fast: Figure, slow: Figure, alpha: float = 0.05) -> Versus:
    """How much faster ``fast`` is than ``slow``, with the CI and the tie rule above."""
    if not (fast.ok and slow.ok):
        raise ValueError("versus needs two figures with numbers")
    ratio = (slow.median or 0.0) / (fast.median or 1.0)
    overlap = cis_overlap(fast.band, slow.band)
    if fast.n_processes >= 2 and slow.n_processes >= 2 and \
            fast.process_rsd is not None and slow.process_rsd is not None:
        est = runs_estimate(fast, slow, None, None)
        if est is not None:
            res = judge(est, threshold=0.0, alpha=alpha)
            ci = (res.ci_low or ratio, res.ci_high or ratio)
            covers = ci[0] <= 1.0 <= ci[1]
            basis = "CIs overlap" if overlap else ("ratio CI covers 1" if covers else "")
            return Versus(fast, slow, ratio, ci, not (overlap or covers), basis)
    margin = _margin(fast, slow)
    if margin is None:
        return Versus(fast, slow, ratio, None, False,
                      "one process, no resolvable margin measured for this host")
    m = margin.pct / 100
    ci = (ratio / (1 + m), ratio * (1 + m))
    within = ci[0] <= 1.0 <= ci[1]
    basis = (f"within ±{pct_text(margin.pct)}, one process" if within
             else "CIs overlap" if overlap else "")
    return Versus(fast, slow, ratio, ci, not (within or overlap), basis)


def _margin(a: Figure, b: Figure) -> Margin | None:
    """The wider of the margins that apply (a point on ≥ 2 processes needs none)."""
    found = [f.margin for f in (a, b) if f.n_processes < 2 and f.margin is not None]
    if any(f.n_processes < 2 and f.margin is None for f in (a, b)):
        return None
    return max(found, key=lambda m: m.pct) if found else None


def leaders(figures: Mapping[str, Figure]) -> list[str]:
    """The fastest label and every one tied with it (``versus`` not resolved), fastest first;
    [] where none has a number."""
    ranked = sorted(((f.median, label) for label, f in figures.items() if f.ok),
                    key=lambda t: (t[0], t[1]))
    if not ranked:
        return []
    best = figures[ranked[0][1]]
    return [label for _, label in ranked
            if label == ranked[0][1] or not versus(best, figures[label]).resolved]


def leader_text(labels: Sequence[str]) -> str:
    """"ORT CPU", or "tie: ORT CPU, PyTorch CPU"."""
    if not labels:
        return "–"
    return labels[0] if len(labels) == 1 else "tie: " + ", ".join(labels)
