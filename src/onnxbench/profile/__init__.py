"""Why is it slow: per-operator profiles, provider placement, explained A/B.

- ``ort``: ONNX Runtime's session profiler on a fresh session (per node: op type, provider,
  time); ``torch``: torch.profiler on the bound call (operators by self time);
- ``placement``: where each node of an ORT session runs (nodes per provider, CPU fallbacks
  of a GPU session with their op types and why, Memcpy nodes), from ORT's own verbose
  placement log, with or without profiling;
- ``attribution``: the end-to-end difference of two profiled points split by op type and,
  where the graphs share node names, by node;
- ``record``: the profile record's shape (one for every profiler).

``after_timing`` is the one call the executor makes once a case's timed loop is done: both
passes run on fresh sessions, never the timed one, and a failure in either is recorded
(``{"error": ...}``), never turned into a failed case. A runtime takes part through the
``Runtime`` interface's hooks ``placement()`` and ``profile(inputs, runs)`` (their defaults
return None: not supported).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from onnxbench.core.errors import UserError, first_line
from onnxbench.profile.record import attach_measured

if TYPE_CHECKING:
    from onnxbench.runtimes.base import Runtime

DEFAULT_RUNS = 20
DEFAULT_WARMUP = 5
MAX_RUNS = 10_000


def profile_runs(value: Any, where: str = "option profile") -> int:
    """Profiled runs asked by the ``profile`` option: 0 (off), ``true`` (the default 20) or N."""
    if value is None or value is False:
        return 0
    if value is True:
        return DEFAULT_RUNS
    text = str(value).strip().lower()
    if text in ("true", "yes", "on"):
        return DEFAULT_RUNS
    if text in ("false", "no", "off", "0"):
        return 0
    try:
        runs = int(text)
    except ValueError:
        runs = -1
    if not 1 <= runs <= MAX_RUNS:
        raise UserError(f"{where}={value!r}: give true, false or a number of profiled runs "
                        f"(1..{MAX_RUNS})")
    return runs


def required_runs(value: Any, where: str) -> int:
    """``profile_runs`` where a profile is the point (``onnxbench profile``): at least one
    run; 0 or false would measure nothing and print "no profile"."""
    runs = profile_runs(value, where)
    if runs < 1:
        raise UserError(f"{where}={value!r}: a profile needs at least one profiled run "
                        f"(1..{MAX_RUNS})")
    return runs


def node_placement(runtime: Runtime) -> dict[str, Any] | None:
    """The runtime's node placement, if it has one (ONNX Runtime sessions)."""
    try:
        return runtime.placement()
    except Exception as exc:  # noqa: BLE001 - a diagnostic must not fail the measured case
        return {"error": f"placement not recorded: {first_line(exc)}"}


def run_profile(runtime: Runtime, inputs: Mapping[str, Any], runs: int,
                median_ms: float | None) -> dict[str, Any]:
    """The runtime's profile of ``runs`` runs on ``inputs``, set against the timed median."""
    try:
        record = runtime.profile(inputs, runs)
    except Exception as exc:  # noqa: BLE001 - as above: the timed result stands
        return {"error": f"profile failed: {first_line(exc)}"}
    if record is None:
        return {"skipped": f"runtime {runtime.name} offers no profiler"}
    return attach_measured(record, median_ms)


def after_timing(runtime: Runtime, inputs: Mapping[str, Any], options: Mapping[str, Any],
                 median_ms: float | None) -> tuple[dict | None, dict | None]:
    """(placement, profile) of a measured case: placement always where the runtime has one,
    the profile when option ``profile`` asks for it. Both use fresh sessions."""
    runs = profile_runs(options.get("profile"))
    prof = run_profile(runtime, inputs, runs, median_ms) if runs else None
    return node_placement(runtime), prof


__all__ = ["DEFAULT_RUNS", "after_timing", "node_placement", "profile_runs", "required_runs",
           "run_profile"]
