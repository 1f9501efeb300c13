"""Numbers as people read them, for every layer that writes one into a message or a table:
significant figures without scientific notation where it hides the size (QPS, percentages,
latencies in ms)."""

from __future__ import annotations

import math

DASH = "–"
SIG = 3


def sig(v: float | None, n: int = SIG) -> str:
    """``v`` to ``n`` significant figures: 0.07234 → 0.0723, 12345 → 12300, None → –.

    Large numbers print as integers (12300, not 1.23e+04); only numbers below 1e-4 use an
    exponent (``5.96e-08``), where a run of zeros would hide the figures."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return DASH
    v = float(v)
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    if abs(v) >= 10 ** n:  # round, but print as an integer rather than 1.23e+04
        return str(int(round(v, n - 1 - math.floor(math.log10(abs(v))))))
    text = f"{v:#.{n}g}"  # keep the zeros that carry precision: 2 → 2.00
    return text.rstrip(".") if "e" not in text else f"{v:.{n}g}"


def plain(v: float, digits: int = 6) -> str:
    """A value as given (a rate, a duration), never in scientific notation: 100 → "100",
    2.5 → "2.5", 1e6 → "1000000", 0.125 → "0.125"."""
    if not math.isfinite(v):
        return f"{v:g}"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.{digits}f}".rstrip("0").rstrip(".")


__all__ = ["DASH", "SIG", "plain", "sig"]
