"""Where does one runtime overtake another over a batch (or sequence) sweep?

A flip is counted only between points where the two runtimes are *not tied*: a point is a
tie when the two medians' confidence intervals overlap (the difference is within noise; a
tie is never a win or a loss). Between the two separated points that bracket a flip, the
crossover is interpolated on the medians: linearly in log(x) on the log ratio of the
medians (batch sweeps are geometric, and latency grows roughly as a power of the batch, so
that line is straight). ``within_noise`` says plainly whether tied points lie between the
two: the flip then happens inside the noise, somewhere in that span.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from onnxbench.measure.ratio import cis_overlap

INTERPOLATION = "linear in log(x) on log(median B / median A)"


@dataclass(frozen=True)
class Crossover:
    """A ranking flip between x_low (last point of the old order) and x_high (first of the new)."""

    x_low: float
    x_high: float
    x_cross: float          # interpolated point where the medians are equal
    faster_before: str      # "a" or "b": the faster one up to x_low
    faster_after: str       # the faster one from x_high
    within_noise: bool      # tied points (CIs overlap) lie between x_low and x_high
    interpolation: str = INTERPOLATION

    def to_dict(self) -> dict:
        return asdict(self)


_overlap = _tied = cis_overlap


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


def find_crossovers(xs: Sequence[float], medians_a: Sequence[float],
                    ci_a: Sequence[Sequence[float]], medians_b: Sequence[float],
                    ci_b: Sequence[Sequence[float]]) -> list[Crossover]:
    """Every x interval where the faster of A and B changes; ties within CI are not flips.

    ``ci_a``/``ci_b`` are (low, high) per x. Points must be positive; they are sorted by x.
    """
    order = np.argsort(np.asarray(xs, dtype=float))
    x = np.asarray(xs, dtype=float)[order]
    ma, mb = np.asarray(medians_a, float)[order], np.asarray(medians_b, float)[order]
    ca, cb = [ci_a[i] for i in order], [ci_b[i] for i in order]
    d = np.log(mb) - np.log(ma)  # > 0: A faster
    decided = [i for i in range(len(x)) if d[i] != 0 and not _tied(ca[i], cb[i])]
    out: list[Crossover] = []
    for j, k in itertools.pairwise(decided):
        if (d[j] > 0) == (d[k] > 0):
            continue
        out.append(Crossover(
            x_low=float(x[j]), x_high=float(x[k]), x_cross=_interpolate(x, d, j, k),
            faster_before="a" if d[j] > 0 else "b", faster_after="a" if d[k] > 0 else "b",
            within_noise=k - j > 1))
    return out


def fmt_x(x: float) -> str:
    """A batch or seq value as people say it: whole numbers from 10 up (a crossover ≈ 40)."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


_fmt = fmt_x


def leaders_at(i: int, series: dict[str, tuple[list, list]]) -> tuple[str, ...]:
    """Labels fastest at index i: the lowest median and those whose CI overlaps it."""
    cands = sorted((m[i], lab) for lab, (m, _) in series.items() if m[i] is not None)
    if not cands:
        return ()
    best = series[cands[0][1]][1][i]
    return tuple(lab for _, lab in cands if _overlap(series[lab][1][i], best))


def _who(labels: tuple[str, ...]) -> str:
    if len(labels) == 1:
        return labels[0]
    return f"{', '.join(labels[:-1])} and {labels[-1]} (tied: CIs overlap)"


def winner_sentence(axis: str, xs: Sequence[float],
                    series: dict[str, tuple[list[float | None], list]]) -> str:
    """One sentence: who is fastest where, ties named, with the crossovers, e.g.
    "ORT CPU is fastest up to batch 32; ORT CUDA from 128 (crossover ≈ 64)".

    ``series`` maps a label to (medians, CIs) over ``xs``; a None median means no number
    there. Where CIs overlap with the fastest, the runtimes are tied, not ranked.
    """
    xs = list(xs)
    runs: list[list] = []  # [leaders, first_x, last_x]
    for i, x in enumerate(xs):
        lead = leaders_at(i, series)
        if not lead:
            continue
        if runs and runs[-1][0] == lead:
            runs[-1][2] = x
        else:
            runs.append([lead, x, x])
    if not runs:
        return ""
    if len(runs) == 1:
        lead, first, last = runs[0]
        span = f"{axis} {_fmt(first)}" if first == last else f"{axis} {_fmt(first)}–{_fmt(last)}"
        verb = "is fastest" if len(lead) == 1 else "are fastest"
        return f"{_who(lead)} {verb} at every {axis} measured ({span})."
    parts = [f"{_who(runs[0][0])} {'is' if len(runs[0][0]) == 1 else 'are'} fastest up to "
             f"{axis} {_fmt(runs[0][2])}"]
    for n, (prev, cur) in enumerate(itertools.pairwise(runs), start=2):
        upto = f" to {_fmt(cur[2])}" if n < len(runs) and cur[2] != cur[1] else ""
        note = _cross_note(xs, series, prev, cur)
        parts.append(f"{_who(cur[0])} from {_fmt(cur[1])}{upto}{note}")
    return "; ".join(parts) + "."


def _cross_note(xs, series, prev, cur) -> str:
    if len(prev[0]) != 1 or len(cur[0]) != 1:
        return ""
    (ma, ca), (mb, cb) = series[prev[0][0]], series[cur[0][0]]
    idx = [i for i in range(len(xs)) if ma[i] is not None and mb[i] is not None]
    flips = find_crossovers([xs[i] for i in idx], [ma[i] for i in idx], [ca[i] for i in idx],
                            [mb[i] for i in idx], [cb[i] for i in idx])
    flip = next((f for f in flips if prev[2] <= f.x_high and f.x_low <= cur[1]), None)
    if flip is None:
        return ""
    noise = ", within noise" if flip.within_noise else ""
    return f" (crossover ≈ {_fmt(flip.x_cross)}{noise})"
