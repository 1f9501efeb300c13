"""One case end to end, inside its worker: bundle → runtime → inputs → measure → Result.

This runs in the isolated worker process (``onnxbench.isolation.worker``), so it may pin threads and
set environment variables freely: they die with the process. It never prints; it returns
a ``Result`` (status ``ok`` or ``skipped``). Any other exception propagates to the worker,
which records it as ``failed`` with its first line.

It knows runtimes only through the ``Runtime`` interface (``onnxbench.runtimes.base``) and
measures through the case's scenario (``onnxbench.scenarios.base.scenario_for``: single
stream, mixed shapes, an image pipeline, each load scenario). The model is resolved once
into a ``Bundle`` (``onnxbench.model.bundle``) that every step reads.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import onnx

from onnxbench.build.export.lint import lint, remedy_hint
from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import Skip, first_line
from onnxbench.core.result import Result
from onnxbench.isolation.env import collect
from onnxbench.isolation.memory import peak_memory_mb
from onnxbench.isolation.threads import pin_threads as pin
from onnxbench.model.bundle import Bundle
from onnxbench.runtimes.base import Runtime
from onnxbench.runtimes.case_options import check_options
from onnxbench.runtimes.registry import get_runtime
from onnxbench.scenarios.base import scenario_for


def now_iso() -> str:
    """UTC time stamp with microseconds (also tells resume which run wrote a result)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def pin_threads(options: Mapping[str, Any]) -> dict[str, Any]:
    """Size OMP/MKL/OpenBLAS pools and torch threads from ``threads``/``intra_op_threads``;
    return what is in effect (``onnxbench.isolation.threads``)."""
    return pin(options)


def execute_case(case: Case, artifact: Artifact, env: dict[str, Any] | None = None) -> Result:
    """Measure one case and return its Result (``ok`` or ``skipped``; errors propagate).

    ``env`` is the environment fingerprint collected once per run; None collects it here.
    """
    started, t0 = now_iso(), time.monotonic()
    check_options(case.runtime, case.options)  # the planner checked; a library call may not
    threads = pin_threads(case.options)
    runtime = get_runtime(case.runtime)
    base = dict(case_id=case.case_id, case=case, started_at=started)
    bundle = Bundle.resolve(artifact)
    try:
        result = _measure(case, bundle, runtime, base)
    except Skip as exc:
        result = Result(status="skipped", reason=first_line(exc, with_type=False) or "skipped",
                        **base)
    except Exception as exc:
        hint = _remedy(bundle)
        if hint is None:
            raise
        hinted = RuntimeError(f"{first_line(exc)} ({hint})")
        hinted.show_type = False  # type: ignore[attr-defined]  # first_line's type prefix is in
        raise hinted from exc
    finally:
        _close(runtime)
    result.runtime_info = {**threads, **result.runtime_info}
    result.memory = {**peak_memory_mb(), **result.memory}
    if env is None:
        env = collect()
    result.env = env
    result.duration_s = round(time.monotonic() - t0, 6)
    return result


def _remedy(bundle: Bundle) -> str | None:
    """A failed graph's known remedy, from its lint (the artifact's record, or the user's
    bare .onnx linted now: the failure has happened, so this costs the timing nothing)."""
    if bundle.onnx_path is None:
        return None
    findings = bundle.meta.get("lint")
    if findings is None:
        try:
            findings = [asdict(f) for f in lint(onnx.load(str(bundle.onnx_path),
                                                          load_external_data=False))]
        except Exception:  # noqa: BLE001 - no hint rather than a second error
            return None
    return remedy_hint(findings)


def _measure(case: Case, bundle: Bundle, runtime: Runtime, base: dict[str, Any]) -> Result:
    """The case's scenario (``onnxbench.scenarios.base``: one dispatch) measures it."""
    reason = runtime.unfit(bundle)
    if reason:
        raise Skip(reason)
    return scenario_for(case).run(case, bundle, runtime, base)


def _close(runtime: Runtime) -> None:
    try:
        runtime.close()
    except Exception:  # noqa: BLE001 - closing must not turn a result into a failure
        pass
