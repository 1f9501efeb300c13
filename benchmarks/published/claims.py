"""Sentences about figures that every section shares: a figure, a ratio, a sweep of ratios."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from onnxbench.report.evidence import Figure, Versus, leader_text, leaders, pct_text, versus
from onnxbench.report.fmt import near_one, sig
from published.data import BENCH


def fig(f: Figure, unit: str = "ms") -> str:
    return f.text(unit)


def vs(fast: Figure, slow: Figure) -> str:
    """"2.50× (CI 2.21–2.83)" or "tie (1.15×; …)": how much faster ``fast`` is."""
    return versus(fast, slow).text()


def faster(a: Figure, b: Figure) -> Versus:
    """``versus`` with the faster of the two first."""
    return versus(a, b) if (a.median or 0) <= (b.median or 0) else versus(b, a)


def tally(pairs: Iterable[tuple[Figure, Figure]]) -> tuple[int, int, int]:
    """(A resolved faster, B resolved faster, ties) over (A, B) pairs."""
    a = b = tie = 0
    for fa, fb in pairs:
        v = faster(fa, fb)
        if not v.resolved:
            tie += 1
        elif v.fast is fa:
            a += 1
        else:
            b += 1
    return a, b, tie


def tally_text(a: str, b: str, counts: tuple[int, int, int]) -> str:
    """"A faster in 3, B in 1, tied in 5 of 9"."""
    na, nb, tie = counts
    return f"{a} faster in {na}, {b} in {nb}, tied in {tie} of {na + nb + tie}"


def fastest(figures: dict[str, Figure]) -> str:
    """"ORT CPU" or "tie: ORT CPU, PyTorch CPU" (``evidence.leaders``)."""
    return leader_text(leaders(figures))


def accuracy(f: Figure) -> str:
    """The figure's task metric as people quote it ("94.2 %", "cosine 0.99954")."""
    acc = f.point.accuracy or {}
    value, metric = acc.get("value"), acc.get("metric", "")
    if value is None:
        return "–"
    if metric in ("accuracy", "top1_agreement", "top1_agreement_vs_current"):
        return f"{sig(100 * float(value))} %"
    if metric == "cosine_similarity":
        return f"cosine {near_one(float(value))}"
    return f"{metric.replace('_', ' ')} {sig(float(value))}"


def md_value(rel: str, pattern: str) -> str:
    """The first group of ``pattern`` in a committed benchmark output (LookupError if absent)."""
    text = (BENCH / rel).read_text(encoding="utf-8")
    m = re.search(pattern, text, re.S)
    if m is None:
        raise LookupError(f"docs/benchmarks/{rel}: no match for {pattern!r}")
    return m.group(1)


def md_bullets(rel: str) -> list[str]:
    """The headline bullets ("- **…") of a committed benchmark output, as printed."""
    text = (BENCH / rel).read_text(encoding="utf-8")
    found = [line[2:].strip() for line in text.splitlines() if line.startswith("- **")]
    if not found:
        raise LookupError(f"docs/benchmarks/{rel}: no headline bullets")
    return found


def join(parts: Sequence[str], sep: str = "; ") -> str:
    return sep.join(p for p in parts if p)


def pending(what: str, command: str) -> str:
    """A row that awaits a run: said plainly, with the command that produces it."""
    return f"*pending*: {what} (`{command}`)"


def short(f: Figure) -> str:
    """A table cell: "0.697 ± 14 %" (≥ 2 processes), "1.31" (one), marked † when unstable."""
    if not f.ok:
        return f.word()
    spread = f" ± {pct_text(f.half_pct)}" if f.n_processes >= 2 and f.half_pct is not None \
        else ""
    return f"{sig(f.median)}{spread}{f.mark()}"


def ms(f: Figure) -> str:
    """"2.86 ms †": the median with its unit, marked when unstable (no spread)."""
    return f"{sig(f.median)} ms{f.mark()}" if f.ok else f.word()
