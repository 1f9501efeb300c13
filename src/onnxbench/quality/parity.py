"""Output comparison, and the minimum tolerance that would pass (the Polygraphy idea).

A plain pass/fail hides how far off a graph is; every comparison here also says the
smallest ``atol`` (at the given ``rtol``) and the smallest ``rtol`` (at the given ``atol``)
that would have passed, so a user can tell a float-rounding miss from a broken graph.

The element test is ``numpy.isclose``'s: ``|actual - expected| <= atol + rtol * |expected|``,
with NaN never close to anything (NaN vs NaN included): a NaN in an output always fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-5


def tolerances(rtol: float, atol: float, labels: tuple[str, str] = ("rtol", "atol")
               ) -> tuple[float, float]:
    """(rtol, atol) as the harness options validate them (finite numbers >= 0: a negative
    tolerance passes nothing, or everything once ``min_atol`` is read as an answer); a
    one-line UserError naming ``labels`` (the flags, for the command line) otherwise."""
    from onnxbench.core.options import HarnessOptions, checked

    return (checked(HarnessOptions, "rtol", rtol, labels[0]),
            checked(HarnessOptions, "atol", atol, labels[1]))


def _jsonable(value: Any) -> Any:
    """Non-finite floats become strings ("inf", "nan") so the dict is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class OutputParity:
    """How one output compares; numbers are None when shapes differ (nothing to compare)."""

    name: str
    passed: bool
    expected_shape: list[int]
    actual_shape: list[int]
    expected_dtype: str
    actual_dtype: str
    size: int = 0
    mismatches: int = 0
    nan_count: int = 0
    max_abs: float | None = None
    max_rel: float | None = None  # over elements whose expected value is non-zero
    mean_abs: float | None = None
    cosine: float | None = None
    min_atol: float | None = None  # smallest atol that passes at the given rtol
    min_rtol: float | None = None  # smallest rtol that passes at the given atol
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class ParityReport:
    """Every output's comparison, and the verdict at the tolerances used."""

    rtol: float
    atol: float
    outputs: list[OutputParity] = field(default_factory=list)
    reason: str | None = None  # e.g. a different number of outputs

    @property
    def passed(self) -> bool:
        return self.reason is None and all(o.passed for o in self.outputs)

    def _worst(self, attr: str) -> float | None:
        values = [getattr(o, attr) for o in self.outputs]
        if any(v is None for v in values) or not values:
            return None
        return float(max(values))

    @property
    def max_abs(self) -> float | None:
        return self._worst("max_abs")

    @property
    def max_rel(self) -> float | None:
        return self._worst("max_rel")

    @property
    def min_atol(self) -> float | None:
        return self._worst("min_atol")

    @property
    def min_rtol(self) -> float | None:
        return self._worst("min_rtol")

    def first_problem(self) -> str | None:
        """One line naming the first failing output (None when everything passed)."""
        if self.reason:
            return self.reason
        for out in self.outputs:
            if not out.passed:
                if out.reason:
                    return f"{out.name}: {out.reason}"
                return (f"{out.name}: {out.mismatches}/{out.size} elements differ, "
                        f"max abs {out.max_abs:.3g}, max rel {out.max_rel:.3g}")
        return None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({
            "passed": self.passed, "rtol": self.rtol, "atol": self.atol,
            "max_abs": self.max_abs, "max_rel": self.max_rel,
            "min_atol": self.min_atol, "min_rtol": self.min_rtol,
            "reason": self.reason, "outputs": [o.to_dict() for o in self.outputs],
        })


def compare(expected: Sequence[np.ndarray], actual: Sequence[np.ndarray],
            names: Sequence[str] | None = None, rtol: float = DEFAULT_RTOL,
            atol: float = DEFAULT_ATOL, check_dtype: bool = True) -> ParityReport:
    """Compare ``actual`` outputs against ``expected`` ones, output by output."""
    rtol, atol = tolerances(rtol, atol)
    names = list(names) if names is not None else [f"output_{i}" for i in range(len(expected))]
    report = ParityReport(rtol=rtol, atol=atol)
    if len(expected) != len(actual):
        report.reason = f"{len(actual)} outputs, expected {len(expected)}"
    for i, (exp, act) in enumerate(zip(expected, actual)):
        name = names[i] if i < len(names) else f"output_{i}"
        report.outputs.append(compare_one(name, np.asarray(exp), np.asarray(act), rtol, atol,
                                          check_dtype))
    return report


def compare_one(name: str, expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float,
                check_dtype: bool = True) -> OutputParity:
    """One output: shape and dtype first, then the element statistics."""
    out = OutputParity(name=name, passed=False, expected_shape=list(expected.shape),
                       actual_shape=list(actual.shape), expected_dtype=str(expected.dtype),
                       actual_dtype=str(actual.dtype), size=int(expected.size))
    if expected.shape != actual.shape:
        out.reason = f"shape {tuple(actual.shape)} != expected {tuple(expected.shape)}"
        return out
    _fill_stats(out, expected.astype(np.float64), actual.astype(np.float64), rtol, atol)
    out.passed = out.mismatches == 0
    if check_dtype and expected.dtype != actual.dtype:
        out.passed = False
        out.reason = f"dtype {actual.dtype} != expected {expected.dtype}"
    return out


def _fill_stats(out: OutputParity, e: np.ndarray, a: np.ndarray, rtol: float,
                atol: float) -> None:
    """Element statistics of two same-shape float64 arrays (NaN-aware)."""
    close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=False)
    out.mismatches = int(close.size - np.count_nonzero(close))
    out.nan_count = int(np.count_nonzero(np.isnan(a) | np.isnan(e)))
    if e.size == 0:
        out.max_abs = out.max_rel = out.mean_abs = out.min_atol = out.min_rtol = 0.0
        out.cosine = 1.0
        return
    diff = np.abs(a - e)
    mag = np.abs(e)
    if out.nan_count:
        out.max_abs = out.max_rel = out.min_atol = out.min_rtol = math.nan
        out.mean_abs = out.cosine = math.nan
        return
    out.max_abs = float(diff.max())
    out.mean_abs = float(diff.mean())
    nonzero = mag > 0
    out.max_rel = float((diff[nonzero] / mag[nonzero]).max()) if nonzero.any() else 0.0
    out.cosine = _cosine(e.ravel(), a.ravel())
    out.min_atol = float(max(0.0, (diff - rtol * mag).max()))
    out.min_rtol = _min_rtol(diff, mag, atol)


def _min_rtol(diff: np.ndarray, mag: np.ndarray, atol: float) -> float:
    """Smallest rtol with ``diff <= atol + rtol * mag`` everywhere (inf if none exists)."""
    excess = diff - atol
    over = excess > 0
    if not over.any():
        return 0.0
    if np.any(over & (mag == 0)):
        return math.inf
    return float((excess[over] / mag[over]).max())


def _cosine(e: np.ndarray, a: np.ndarray) -> float:
    """Cosine similarity; two all-zero vectors count as identical."""
    ne, na = float(np.linalg.norm(e)), float(np.linalg.norm(a))
    if ne == 0 and na == 0:
        return 1.0
    if ne == 0 or na == 0:
        return 0.0
    return float(np.dot(e, a) / (ne * na))
