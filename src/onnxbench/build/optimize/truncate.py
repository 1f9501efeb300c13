"""The truncated export of a transformer encoder, proved rather than assumed.

``onnxbench.model.encoder`` truncates the source model and proves that its
``last_hidden_state`` equals the full model's ``hidden_states[-(N+1)]``; this step exports the
truncated module, and refuses to save it unless the proof holds.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from onnxbench.build.optimize.report import StepReport, summarize_graph
from onnxbench.core.errors import CheckFailed
from onnxbench.model.encoder import prove_truncation, truncate_encoder
from onnxbench.model.zoo import resolve


def truncate_zoo_model(model: str, config: str | None, n_remove: int, dst: Path, *,
                       seq: int | None = None, seed: int = 0,
                       options: Mapping[str, Any] | None = None) -> StepReport:
    """Build the zoo model, truncate it, prove the equality, export the truncated graph.

    Raises CheckFailed (exit 1) if the proof fails: an unproved truncation is never saved.
    """
    import torch

    spec = resolve(model)
    full = spec.build(config, seed=seed, options=options, train=False).eval()
    truncated = truncate_encoder(full, n_remove)
    seq = seq or spec.default_seq or 16
    inputs = spec.make_inputs(config, 2, seq, seed=seed)
    proof = prove_truncation(full, truncated, inputs)
    if not proof.equal:
        raise CheckFailed(f"truncation not proved: {proof.compared} differ by "
                          f"{proof.max_abs_diff:.3g} (atol {proof.atol:g})")
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    names = spec.input_names(config)
    args = tuple(torch.as_tensor(inputs[n]) for n in names)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer advice; the proof above is the check
        torch.onnx.export(truncated, args, str(dst), input_names=names,
                          output_names=spec.output_names(config),
                          dynamic_axes=spec.dynamic_axes(config), opset_version=17,
                          dynamo=False)
    step = StepReport(step="truncate", settings={"model": model, "config": config,
                                                 "remove_layers": n_remove},
                      after=summarize_graph(Path(dst)))
    step.details["proof"] = asdict(proof)
    step.notes.append(f"proved on seeded inputs (batch 2, seq {seq}): {proof.compared}, "
                      f"max |diff| {proof.max_abs_diff:.3g}")
    return step
