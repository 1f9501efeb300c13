"""Mixed shapes: a distribution of sequence lengths run in one session, in a seeded order.

Dynamic-shape models serve requests of many lengths; one session sees them interleaved
(ONNX Runtime's perf_test and OpenVINO's benchmark_app offer the same). A case with
``seq_mix`` (``[(length, weight), ...]``: a list with weights, or lengths read from a file,
each line one request's length) binds one call per length, warms every length up (the first
call of a shape is slow: providers build per shape), then times a zero-argument call that
runs the next length of a seeded random order drawn by weight. The timing loop stays the
shared one (``measure.timer.measure``); the order of calls is logged, so each latency is
known to belong to its length: per-length statistics, and the mix's own p50/p99 over all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError

Mix = list[tuple[int, float]]


def parse_mix(spec: Any, where: str = "seq_mix") -> Mix:
    """A mix from ``{16: 0.5, 64: 0.5}``, ``[[16, 0.5], [64, 0.5]]``, ``[16, 64]`` (equal
    weights), ``"16:0.5,64:0.5"`` or ``"@lengths.txt"`` / ``{"file": path}`` (one length per
    line: the weights are the counts). Weights are normalised to sum to 1."""
    if isinstance(spec, Mapping) and set(spec) == {"file"}:
        return _from_file(spec["file"], where)
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("@"):
            return _from_file(text[1:], where)
        spec = [part.split(":") if ":" in part else part
                for part in text.split(",") if part.strip()]
    items = list(spec.items()) if isinstance(spec, Mapping) else list(spec or [])
    pairs = [(it, 1.0) if not isinstance(it, (list, tuple)) else tuple(it) for it in items]
    try:
        mix = [(int(length), float(weight)) for length, weight in pairs]
        ok = bool(mix) and all(int(float(x)) == float(x) for x, _ in pairs)
    except (TypeError, ValueError):
        ok = False
    if not ok or any(length < 1 or weight <= 0 for length, weight in mix):
        raise UserError(f"{where} {spec!r}: expected positive lengths with positive weights, "
                        "e.g. 16:0.5,64:0.3,128:0.2, a list of lengths, or @lengths.txt")
    return normalise(mix)


def _from_file(path: str | Path, where: str) -> Mix:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{where} @{p}: no such file; give a text file with one sequence length "
                        "per line")
    try:
        lengths = [int(tok) for tok in p.read_text(encoding="utf-8").split()]
    except ValueError:
        raise UserError(f"{where} @{p}: every line must be one whole number (a length)") from None
    if not lengths or min(lengths) < 1:
        raise UserError(f"{where} @{p}: holds no positive lengths")
    return normalise(sorted(Counter(lengths).items()))


def normalise(mix: Sequence[tuple[int, float]]) -> Mix:
    merged: dict[int, float] = {}
    for length, weight in mix:
        merged[length] = merged.get(length, 0.0) + weight
    total = sum(merged.values())
    return [(length, round(w / total, 12)) for length, w in sorted(merged.items())]


def main_length(mix: Mix | None) -> int | None:
    """The length of the heaviest weight (the one a mixed case profiles and verifies)."""
    return max(mix, key=lambda lw: (lw[1], -lw[0]))[0] if mix else None


def draw_order(mix: Mix, n: int, seed: int) -> list[int]:
    """``n`` indices into ``mix``, drawn by weight from a generator seeded by ``seed``."""
    rng = np.random.default_rng([seed, 7919])
    weights = np.array([w for _, w in mix], dtype=float)
    return rng.choice(len(mix), size=n, p=weights / weights.sum()).tolist()


class MixedCall:
    """Zero-argument call that runs ``calls[order[i]]`` for the i-th call and logs it."""

    def __init__(self, calls: Sequence[Callable[[], Any]], order: list[int]) -> None:
        self.calls, self.order = list(calls), order
        self.log: list[int] = []
        self._n = len(order)

    def __call__(self) -> Any:
        i = self.order[len(self.log) % self._n]
        self.log.append(i)
        return self.calls[i]()


def run_mix(bind: Callable[[int], Callable[[], Any]], sync: Callable[[], None] | None, policy,
            mix: Mix, seed: int, per_shape_warmup: int | None = None):
    """(Timing, mix record) of the mix: per-length warm-up, then the shared timing loop."""
    import time

    from onnxbench.measure.timer import measure

    calls, first_ms = [], {}
    for length, _ in mix:
        call = bind(length)
        t0 = time.perf_counter_ns()
        call()
        if sync is not None:
            sync()
        first_ms[length] = (time.perf_counter_ns() - t0) / 1e6
        for _ in range(per_shape_warmup if per_shape_warmup is not None else policy.warmup):
            call()
            if sync is not None:
                sync()
        calls.append(call)
    n = 1 + policy.warmup + policy.max_runs
    mixed = MixedCall(calls, draw_order(mix, n, seed))
    timing = measure(mixed, sync, policy)
    shapes = mixed.log[len(mixed.log) - len(timing.latencies_ms):]
    return timing, mix_record(mix, shapes, timing.latencies_ms, first_ms, seed)


def mix_record(mix: Mix, shapes: list[int], latencies: list[float],
               first_ms: Mapping[int, float], seed: int) -> dict[str, Any]:
    """Per-length statistics (n, mean, p50, p90, p99) and the mix's own over all latencies."""
    lat = np.asarray(latencies, dtype=float)
    idx = np.asarray(shapes)
    per = []
    for i, (length, weight) in enumerate(mix):
        mine = lat[idx == i]
        per.append({"seq": length, "weight": weight, "n": int(mine.size),
                    "first_run_ms": round(first_ms.get(length, float("nan")), 6),
                    **_quantiles(mine)})
    return {"seed": seed, "order": "seeded random draw by weight (numpy default_rng)",
            "per_shape": per, "overall": {"n": int(lat.size), **_quantiles(lat)},
            "percentile_method": "linear (numpy default, Hyndman-Fan type 7)"}


def _quantiles(lat: np.ndarray) -> dict[str, float | None]:
    if lat.size == 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    q = np.percentile(lat, [50, 90, 99])
    return {"mean": round(float(lat.mean()), 6), "p50": round(float(q[0]), 6),
            "p90": round(float(q[1]), 6), "p99": round(float(q[2]), 6)}
