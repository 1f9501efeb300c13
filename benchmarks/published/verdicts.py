"""Agree / differ / cannot tell: a reference report's claim against onnxbench's figures.

A claim is checked point by point; each point is *for* the claim (resolved the way it says),
*against* it (resolved the other way) or a tie (not resolved: ``evidence.versus``). The
verdict names the counts, so a reader sees how much of the claim the data carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from onnxbench.report.evidence import Figure, versus
from published.data import table

AGREES, DIFFERS, CANNOT, PENDING = "agrees", "differs", "cannot tell", "pending"
HEADERS = ["the report concluded", "onnxbench measured", "verdict", "the condition"]


def side(a: Figure, b: Figure) -> str:
    """"a", "b" or "tie": which of two figures is resolved faster."""
    v = versus(a, b) if (a.median or 0) <= (b.median or 0) else versus(b, a)
    if not v.resolved:
        return "tie"
    return "a" if v.fast is a else "b"


def verdict(sides: Iterable[str], claim: str | Sequence[str] = "a") -> str:
    """The verdict over points, each "a", "b" or "tie"; ``claim`` is the side the report
    says wins (one for every point, or one per point). "agrees", "agrees at 5 of 6 points
    (1 tied)", "differs …", "cannot tell (all 4 tied)"."""
    s = list(sides)
    claims = [claim] * len(s) if isinstance(claim, str) else list(claim)
    n, tie = len(s), s.count("tie")
    yes = sum(x == c for x, c in zip(s, claims))
    no = n - yes - tie
    if not n:
        return PENDING
    if yes == 0 and no == 0:
        return f"{CANNOT} (tied)" if n == 1 else f"{CANNOT} (all {n} tied)"
    if no == 0:
        return AGREES if tie == 0 else f"{AGREES} at {yes} of {n} points ({tie} tied)"
    if yes == 0:
        return DIFFERS if tie == 0 else f"{DIFFERS} at {no} of {n} points ({tie} tied)"
    return f"mixed: {yes} of {n} points agree, {no} differ, {tie} tied"


def sweep(xs: Sequence[int], pairs: Sequence[tuple[Figure, Figure]], a: str, b: str) -> str:
    """"2: CPU · 8: CPU · 32: tie · 128: GPU" over a sweep of (a, b) pairs."""
    words = {"a": a, "b": b, "tie": "tie"}
    return " · ".join(f"{x}: {words[side(fa, fb)]}" for x, (fa, fb) in zip(xs, pairs))


def report_table(rows: Sequence[Sequence[str]]) -> str:
    return table(HEADERS, rows)
