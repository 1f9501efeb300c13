"""Where does one runtime overtake another over a batch (or sequence) sweep?

A flip is counted only between points where the two runtimes are *not tied*: a point is a
tie when each median lies inside the other's confidence interval (the difference is within
noise). Between the two non-tied points that bracket a flip, the crossover is interpolated
on the medians: linearly in log(x) on the log ratio of the medians (batch sweeps are
geometric, and latency grows roughly as a power of the batch, so that line is straight).
``within_noise`` says plainly whether the CIs overlap at either bracketing point.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

INTERPOLATION = "linear in log(x) on log(median B / median A)"


@dataclass(frozen=True)
class Crossover:
    """A ranking flip between x_low (last point of the old order) and x_high (first of the new)."""

    x_low: float
    x_high: float
    x_cross: float          # interpolated point where the medians are equal
    faster_before: str      # "a" or "b": the faster one up to x_low
    faster_after: str       # the faster one from x_high
    within_noise: bool      # the CIs overlap at x_low or x_high
    interpolation: str = INTERPOLATION

    def to_dict(self) -> dict:
        return asdict(self)


def _overlap(ci_a: Sequence[float], ci_b: Sequence[float]) -> bool:
    return ci_a[0] <= ci_b[1] and ci_b[0] <= ci_a[1]


def _tied(ma: float, ca: Sequence[float], mb: float, cb: Sequence[float]) -> bool:
    return ca[0] <= mb <= ca[1] and cb[0] <= ma <= cb[1]


def _interpolate(xs: np.ndarray, d: np.ndarray, lo: int, hi: int) -> float:
    """The first zero of d (log ratio) on log(x) between indices lo and hi."""
    lx = np.log(xs)
    for i in range(lo, hi):
        d0, d1 = d[i], d[i + 1]
        if d0 == 0:
            return float(xs[i])
        if d0 * d1 < 0 or d1 == 0:
            frac = d0 / (d0 - d1)
            return float(math.exp(lx[i] + frac * (lx[i + 1] - lx[i])))
    return float(math.exp((lx[lo] + lx[hi]) / 2))  # ties in between: the geometric midpoint


def find_crossovers(xs: Sequence[float], medians_a: Sequence[float], ci_a: Sequence[Sequence[float]],
                    medians_b: Sequence[float], ci_b: Sequence[Sequence[float]]) -> list[Crossover]:
    """Every x interval where the faster of A and B changes; ties within CI are not flips.

    ``ci_a``/``ci_b`` are (low, high) per x. Points must be positive; they are sorted by x.
    """
    order = np.argsort(np.asarray(xs, dtype=float))
    x = np.asarray(xs, dtype=float)[order]
    ma, mb = np.asarray(medians_a, float)[order], np.asarray(medians_b, float)[order]
    ca, cb = [ci_a[i] for i in order], [ci_b[i] for i in order]
    d = np.log(mb) - np.log(ma)  # > 0: A faster
    decided = [i for i in range(len(x)) if d[i] != 0 and not _tied(ma[i], ca[i], mb[i], cb[i])]
    out: list[Crossover] = []
    for j, k in zip(decided, decided[1:]):
        if (d[j] > 0) == (d[k] > 0):
            continue
        out.append(Crossover(
            x_low=float(x[j]), x_high=float(x[k]), x_cross=_interpolate(x, d, j, k),
            faster_before="a" if d[j] > 0 else "b", faster_after="a" if d[k] > 0 else "b",
            within_noise=_overlap(ca[j], cb[j]) or _overlap(ca[k], cb[k])))
    return out


def fmt_x(x: float) -> str:
    """A batch or seq value as people say it: whole numbers from 10 up (a crossover ≈ 40)."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


_fmt = fmt_x


def winner_sentence(axis: str, xs: Sequence[float], series: dict[str, tuple[list[float], list]]) -> str:
    """One sentence: who is fastest where, with the crossovers, e.g.
    "ORT CPU is fastest up to batch 32; ORT CUDA from 128 (crossover ≈ 64)".

    ``series`` maps a label to (medians, CIs) over ``xs``; a None median means no number there.
    """
    xs = list(xs)
    winners: list[tuple[float, str]] = []
    for i, x in enumerate(xs):
        cands = [(m[i], lab) for lab, (m, _) in series.items() if m[i] is not None]
        if cands:
            winners.append((x, min(cands)[1]))
    if not winners:
        return ""
    runs: list[list] = []  # [label, first_x, last_x]
    for x, lab in winners:
        if runs and runs[-1][0] == lab:
            runs[-1][2] = x
        else:
            runs.append([lab, x, x])
    if len(runs) == 1:
        lab, first, last = runs[0]
        span = f"{axis} {_fmt(first)}" if first == last else f"{axis} {_fmt(first)}–{_fmt(last)}"
        return f"{lab} is fastest at every {axis} measured ({span})."
    parts = [f"{runs[0][0]} is fastest up to {axis} {_fmt(runs[0][2])}"]
    for n, (prev, cur) in enumerate(zip(runs, runs[1:]), start=2):
        upto = f" to {_fmt(cur[2])}" if n < len(runs) and cur[2] != cur[1] else ""
        parts.append(f"{cur[0]} from {_fmt(cur[1])}{upto}{_cross_note(xs, series, prev, cur)}")
    return "; ".join(parts) + "."


def _cross_note(xs, series, prev, cur) -> str:
    (ma, ca), (mb, cb) = series[prev[0]], series[cur[0]]
    idx = [i for i in range(len(xs)) if ma[i] is not None and mb[i] is not None]
    flips = find_crossovers([xs[i] for i in idx], [ma[i] for i in idx], [ca[i] for i in idx],
                            [mb[i] for i in idx], [cb[i] for i in idx])
    flip = next((f for f in flips if prev[2] <= f.x_high and f.x_low <= cur[1]), None)
    if flip is None:
        return " (within noise of the previous leader)"
    noise = ", within noise" if flip.within_noise else ""
    return f" (crossover ≈ {_fmt(flip.x_cross)}{noise})"
