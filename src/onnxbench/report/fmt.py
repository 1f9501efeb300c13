"""How numbers, reasons and accuracy dicts read in a report: one place, so every table agrees.

Numbers are rounded to three significant figures (as torch.utils.benchmark's Compare trims
its tables), without scientific notation for the latencies people read (12345 ms → "12300").
Accuracy dicts (``accuracy.py``'s ``metric``/``value``/``reference_value``/``delta``, a zoo's
``evaluate`` dict, a pipeline's agreement) become one short phrase, never a raw dict.
"""

from __future__ import annotations

import math
import re
from typing import Any

from onnxbench.core.numbers import DASH, SIG, plain, sig

__all__ = ["DASH", "SIG", "accuracy_text", "metric_delta", "metric_name", "metric_value",
           "near_one", "one_line", "pct", "plain", "ratio", "short_reason", "sig"]


def ratio(v: float | None) -> str:
    """A speed-up or ratio: 1.53×."""
    return DASH if v is None else f"{sig(v)}×"


def pct(v: float | None) -> str:
    """A share in 0..1 as a percentage with three significant figures: 0.9422 → 94.2 %
    (never in scientific notation: a share below 0.001 % reads "<0.001 %")."""
    if v is None:
        return DASH
    p = 100 * float(v)
    if 0 < abs(p) < 1e-3:
        return f"{'-' if p < 0 else ''}<0.001 %"
    return f"{sig(p)} %"


def short_reason(text: str | None, limit: int = 40) -> str:
    """The head of a reason, for a table cell: its first clause, at most ``limit`` characters.

    "no CUDA device: torch.cuda.is_available() is False" → "no CUDA device"; the full text
    goes into the table's notes once.
    """
    if not text:
        return ""
    clauses = [c.strip() for c in re.split(r"[:;(]\s|\n", text.strip()) if c.strip()]
    if len(clauses) > 1 and re.fullmatch(r"[\w.]+(Error|Exception|Exit)", clauses[0]):
        clauses = clauses[1:]  # "RuntimeError: boom" → "boom": the message says more
    head = clauses[0].rstrip(".") if clauses else text.strip()
    return head if len(head) <= limit else head[: limit - 1].rstrip() + "…"


def one_line(text: str | None, limit: int = 160) -> str:
    """A full reason on one line (notes under a table), cut at ``limit`` characters."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# metric → (how it is named, how its value reads, how its delta reads)
_NAMES = {"accuracy": "accuracy", "top5": "top-5 accuracy", "auc": "AUC", "mse": "MSE",
          "top1_agreement": "top-1 agreement vs fp32",
          "top1_agreement_vs_current": "top-1 agreement vs current",
          "cosine_similarity": "cosine vs fp32", "max_abs_diff": "max |Δ| vs fp32"}
_PERCENT = {"accuracy", "top5", "top1_agreement", "top1_agreement_vs_current"}
# metrics that already *are* a comparison with fp32: their delta repeats the value
VERSUS_FP32 = {"top1_agreement", "cosine_similarity", "max_abs_diff"}


def near_one(v: float) -> str:
    """A similarity close to 1 with enough digits to see how close: 0.99951 → 0.99951."""
    gap = 1.0 - float(v)
    digits = 4 if gap <= 0 else min(8, max(4, math.ceil(-math.log10(gap)) + 1))
    return f"{v:.{digits}f}"


def metric_value(metric: str, v: float | None) -> str:
    """A metric's value as people quote it (percent for accuracies, 4+ decimals for cosine)."""
    if v is None:
        return DASH
    if metric in _PERCENT:
        return pct(v)
    if metric == "cosine_similarity":
        return near_one(v)
    return sig(v)


def metric_delta(metric: str, d: float | None) -> str:
    """A change of a metric: percentage points for accuracies, signed figures otherwise."""
    if d is None:
        return DASH
    if d == 0:
        return "±0"
    if metric in _PERCENT:
        return f"{'+' if d > 0 else '−'}{sig(abs(100 * d))} pp"
    return f"{'+' if d > 0 else '−'}{sig(abs(d))}"


def metric_name(metric: str) -> str:
    return _NAMES.get(metric, metric.replace("_", " "))


def _context(acc: dict[str, Any]) -> str:
    bits = [f"n={acc['n']}"] if acc.get("n") is not None else []
    bits += [str(acc["split"])] if acc.get("split") else []
    return f" ({', '.join(bits)})" if bits else ""


def accuracy_text(acc: dict[str, Any] | None, *, with_delta: bool = True) -> str:
    """One phrase for an accuracy dict, e.g. "accuracy 95.1 % (n=450, held-out)",
    "top-1 agreement vs current 100 % (n=3) · diverges at preprocess", "cosine vs fp32 0.9995"."""
    if not acc:
        return DASH
    metric = acc.get("metric")
    if not metric or "value" not in acc:  # a bare {name: number} dict
        return " · ".join(f"{k} {sig(v) if isinstance(v, float) else v}" for k, v in acc.items()
                          if isinstance(v, (int, float, str)) and not isinstance(v, bool)) or DASH
    text = f"{metric_name(metric)} {metric_value(metric, acc['value'])}{_context(acc)}"
    if acc.get("first_divergent_stage"):
        text += f" · diverges at {acc['first_divergent_stage']}"
    if with_delta and acc.get("delta") is not None and metric not in VERSUS_FP32:
        text += f" · Δ {metric_delta(metric, acc['delta'])} vs fp32"
    return text
