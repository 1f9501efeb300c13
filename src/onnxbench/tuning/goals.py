"""What ``tune`` is asked to optimise, parsed and checked before anything runs.

Three kinds of goal:

- ``latency`` (``--goal latency --batch 1``): the lowest median latency at that batch, one
  request at a time (the p99 is reported beside it);
- a rate (``--goal "p99<=10ms@200qps"``): the cheapest configuration that holds this
  percentile at this arrival rate (fewest cores, then the lowest percentile);
- ``throughput`` (``--goal throughput --p99 50ms``): the highest sustained rate whose
  percentile stays within the bound (the ``load --find-peak`` search, confirmed).

Every mistake is a ``UserError`` of one line naming the flag, the value and what would be
right: a rate that is not positive, a bound that is not a time, an accuracy drop on a model
with nothing to score it on, a budget too small to measure one candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from onnxbench.core.errors import UserError

GoalKind = Literal["latency", "rate", "throughput"]
RATE_RE = re.compile(r"^\s*p(?P<pct>[0-9]+(?:\.[0-9]+)?)\s*<=?\s*(?P<bound>[^@]+?)\s*@\s*"
                     r"(?P<qps>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*qps\s*$",
                     re.IGNORECASE)
EXAMPLES = "latency, throughput (with --p99 50ms), or a rate such as p99<=10ms@200qps"
# the least one candidate costs, by goal kind (seconds): a worker, a session, a short timing
# (and for a rate: one server window of at least LoadGen's minimum count for the p99)
MIN_CANDIDATE_S = {"latency": 20.0, "rate": 25.0, "throughput": 60.0}


@dataclass(frozen=True)
class Goal:
    """A parsed goal: its kind, the batch per request, and the bound/rate of rate goals."""

    kind: GoalKind
    text: str
    batch: int = 1
    percentile: float = 99.0
    bound_ms: float | None = None
    qps: float | None = None

    @property
    def lower_is_better(self) -> bool:
        """Latency goals rank by milliseconds; throughput goals by QPS."""
        return self.kind != "throughput"

    def describe(self) -> str:
        q = f"p{self.percentile:g}"
        if self.kind == "latency":
            return f"lowest median latency at batch {self.batch}"
        if self.kind == "rate":
            return f"{q} <= {self.bound_ms:g} ms at {self.qps:g} QPS, fewest cores"
        return f"highest sustained QPS with {q} <= {self.bound_ms:g} ms"

    def min_candidate_s(self, export: bool = False) -> float:
        """The least one candidate of this goal costs, with the report at the end (a budget
        below it measures nothing); ``export``: its graph must be exported first."""
        from onnxbench.tuning.budget import FINISH_S, PRIOR_EXPORT_S

        base = MIN_CANDIDATE_S[self.kind] + FINISH_S + (PRIOR_EXPORT_S if export else 0.0)
        return base + (self.need_s() if self.kind == "rate" else 0.0)

    def need_s(self, qps: float | None = None) -> float:
        """Seconds of arrivals at ``qps`` (default: the goal's rate) before the percentile
        can pass LoadGen's early stopping (none over the bound)."""
        from onnxbench.measure.early_stopping import requests_needed

        return requests_needed(0, self.percentile) / float(qps or self.qps or 1.0)

    def window_s(self) -> float:
        """The server window of a rate goal: long enough for its percentile, with a margin."""
        return max(2.0, round(1.2 * self.need_s(), 1))


def _bound(flag: str, text: str) -> float:
    from onnxbench.core.load_spec import parse_time

    return parse_time(flag, text, "ms") * 1000.0


def parse_goal(text: str, *, batch: int | None = None, p99: str | None = None) -> Goal:
    """``latency`` | ``throughput`` (with ``p99``) | ``pNN<=Xms@Yqps``; UserError otherwise."""
    raw = (text or "").strip()
    if batch is not None and (isinstance(batch, bool) or batch < 1):
        raise UserError(f"--batch {batch!r}: must be a positive integer")
    b = batch or 1
    if raw.lower() == "latency":
        if p99 is not None:
            raise UserError("--p99 bounds a throughput goal; --goal latency ranks by the median "
                            "(its p99 is reported); drop --p99 or use --goal throughput")
        return Goal("latency", raw, b)
    if raw.lower() == "throughput":
        if p99 is None:
            raise UserError("--goal throughput needs a latency bound: add --p99 50ms (the "
                            "highest rate whose p99 stays within it)")
        return Goal("throughput", raw, b, 99.0, _bound("--p99", p99))
    match = RATE_RE.match(raw)
    if not match:
        raise UserError(f"--goal {raw!r}: expected {EXAMPLES}")
    if p99 is not None:
        raise UserError(f"--goal {raw!r} names its own bound; drop --p99")
    pct, qps = float(match["pct"]), float(match["qps"])
    if not 0 < pct < 100:
        raise UserError(f"--goal {raw!r}: percentile p{match['pct']} must be between 0 and 100, "
                        "e.g. p99")
    if not qps > 0 or qps == float("inf"):
        raise UserError(f"--goal {raw!r}: the rate must be a positive number of requests per "
                        "second, e.g. p99<=10ms@200qps")
    return Goal("rate", raw, b, pct, _bound(f"--goal {raw!r}: bound", match["bound"]), qps)


def parse_budget(text: str | float, goal: Goal, *, export: bool = False) -> float:
    """``15m``, ``900s``, ``900`` (seconds) → seconds; refused when below one candidate
    (``export``: whose graph must be exported first)."""
    from onnxbench.core.load_spec import parse_time

    seconds = float(text) if isinstance(text, (int, float)) else parse_time("--budget", text, "s")
    if not seconds > 0:
        raise UserError(f"--budget {text!r}: must be a positive time, e.g. 15m")
    need = goal.min_candidate_s(export)
    if seconds < need:
        window = "a server window" if goal.kind != "latency" else "a short timing"
        raise UserError(f"--budget {text}: too small to measure one candidate of goal "
                        f"{goal.text!r} (about {need:.0f} s: {'an export, ' * export}a worker, "
                        f"a session, {window}, the report); give at least "
                        f"{max(need, 60):.0f}s, or 15m to search")
    return seconds


def parse_drop(text: str | float | None) -> float | None:
    """``0.5%`` or ``0.005`` → 0.005 (in the metric's units); None: no constraint."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = str(text).strip()
        try:
            value = float(raw.rstrip("%")) / (100.0 if raw.endswith("%") else 1.0)
        except ValueError:
            value = -1.0
    if not 0 <= value < 1:
        raise UserError(f"--max-accuracy-drop {text!r}: expected a percentage like 0.5% (or "
                        "a fraction like 0.005) of the model's metric")
    return value


def accuracy_source(model: str, accuracy_data: str | Path | None,
                    max_drop: float | None) -> str | None:
    """What accuracy is scored on: ``"data"`` (the user's labelled .npz), ``"model"`` (a zoo
    or factory model's own metric against its fp32 source), or None (a bare ONNX file with
    no data). A drop asked of a model with nothing to score it on is refused."""
    from onnxbench.model.onnxfile import is_onnx_file

    if accuracy_data is not None:
        path = Path(accuracy_data)
        if not path.is_file():
            raise UserError(f"--accuracy-data {accuracy_data}: no such file; give a labelled "
                            ".npz (the model's inputs plus 'labels')")
        return "data"
    if not is_onnx_file(model):
        return "model"
    if max_drop is not None:
        raise UserError(f"--max-accuracy-drop: {model} is a bare ONNX file with no data to "
                        "score it on; give --accuracy-data FILE.npz (its inputs plus 'labels') "
                        "or drop --max-accuracy-drop")
    return None


__all__ = ["Goal", "accuracy_source", "parse_budget", "parse_drop", "parse_goal"]
