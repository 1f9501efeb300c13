"""What a case hands its runtime: the options it is prepared with and its inputs, padded.

Shared by the single-stream executor (``onnxbench.scenarios.execute``) and the load scenarios
(``onnxbench.scenarios``), so a case prepares the same way whatever measures it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from onnxbench.core.errors import Skip
from onnxbench.core.options import OPTIMIZE_OPTIONS

if TYPE_CHECKING:
    from onnxbench.core.case import Case
    from onnxbench.model.bundle import Bundle
    from onnxbench.runtimes.base import Runtime


def pad_inputs(inputs: dict[str, np.ndarray], case: Case
               ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Pad the batch up to ``pad_batch_to`` (graphs that break at batch 1 need it).

    Returns the inputs and what was done, for runtime_info; throughput still counts only
    the real rows.
    """
    to = case.options.get("pad_batch_to")
    if not to or int(to) <= case.batch:
        return inputs, {}
    from onnxbench.model.pad import pad_batch

    padded, n_real = pad_batch(inputs, int(to))
    return padded, {"padded_batch": int(to), "real_batch": n_real}


def runtime_options(case: Case, bundle: Bundle, runtime: Runtime) -> dict[str, Any]:
    """The options the runtime is prepared with: the case's, plus its precision for a
    runtime that converts the source model itself (its ``precision`` option). Skip where the
    case's label cannot be honoured: a precision the runtime does not apply (int8 is an
    ONNX graph quantisation), or a bare ``.onnx`` file asked to be optimised (the suite does
    not optimise one: run ``onnxbench optimize`` and benchmark its output)."""
    options = dict(case.options)
    if runtime.needs_module:
        if case.precision != "fp32":
            if case.precision not in runtime.precisions:
                raise Skip(f"precision {case.precision}: {runtime.name} runs "
                           f"{', '.join(runtime.precisions)} (int8 is an ONNX graph "
                           "quantisation)")
            options.setdefault("precision", case.precision)
    elif not bundle.has_module and _wants_optimization(case):
        asked = sorted(k for k in OPTIMIZE_OPTIONS if case.options.get(k))
        asked += [f"precision {case.precision}"] if case.precision != "fp32" else []
        raise Skip(f"{', '.join(asked)}: a bare .onnx model is not "
                   "optimised in a suite; run `onnxbench optimize` and benchmark its output")
    return options


def _wants_optimization(case: Case) -> bool:
    return case.precision != "fp32" or any(case.options.get(k) for k in OPTIMIZE_OPTIONS)


__all__ = ["pad_inputs", "runtime_options"]
