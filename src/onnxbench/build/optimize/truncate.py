"""Layer truncation for transformer encoders, proved rather than assumed.

A pipeline that reads only ``hidden_states[-(N+1)]`` of an encoder never needs its last N
layers (the reference cut DeBERTa-v2-large from 24 to 22 layers because it used
``hidden_states[-3]``). Dropping them is only safe if the truncated model's
``last_hidden_state`` equals the full model's ``hidden_states[-(N+1)]`` on the same inputs;
``prove_truncation`` measures exactly that, and the truncated export is refused unless it
holds.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.build.optimize.report import StepReport, summarize_graph
from onnxbench.core.errors import CheckFailed, UserError


@dataclass(frozen=True)
class TruncationProof:
    """The evidence: which hidden state was compared and how far apart they were."""

    layers_full: int
    layers_kept: int
    compared: str          # e.g. "truncated.last_hidden_state vs full.hidden_states[-3]"
    max_abs_diff: float
    atol: float
    rtol: float
    equal: bool


def find_encoder(module) -> Any:
    """The Hugging Face encoder model inside ``module`` (itself, or a wrapped submodule).

    Recognised by a ``config.num_hidden_layers`` and an ``encoder.layer`` ModuleList, which
    BERT, RoBERTa and DeBERTa(-v2) all have.
    """
    for sub in module.modules():
        encoder = getattr(sub, "encoder", None)
        if hasattr(getattr(sub, "config", None), "num_hidden_layers") and \
                hasattr(encoder, "layer"):
            return sub
    raise UserError(f"--truncate-layers: {type(module).__name__} has no transformer encoder "
                    "(config.num_hidden_layers and encoder.layer); truncation applies to "
                    "BERT/DeBERTa-style encoders only")


def encoder_depth(module) -> int:
    return len(find_encoder(module).encoder.layer)


def truncate_encoder(module, n_remove: int, *, copy_module: bool = True):
    """``module`` (a deep copy, unless ``copy_module`` is False: a runtime loading a large
    encoder need not hold it twice) with its encoder's last ``n_remove`` layers removed."""
    import torch

    depth = encoder_depth(module)
    if not 1 <= n_remove < depth:
        raise UserError(f"--truncate-layers {n_remove}: the model has {depth} layers; remove "
                        f"between 1 and {depth - 1} so at least one layer remains")
    clone = copy.deepcopy(module) if copy_module else module
    hf = find_encoder(clone)
    hf.encoder.layer = torch.nn.ModuleList(list(hf.encoder.layer)[: depth - n_remove])
    hf.config.num_hidden_layers = depth - n_remove
    return clone.eval()


def _hf_kwargs(hf, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs keyed by ONNX input names, as torch tensors the HF forward accepts."""
    import torch

    params = inspect.signature(hf.forward).parameters
    return {k: torch.as_tensor(np.asarray(v)) for k, v in inputs.items() if k in params}


def prove_truncation(full, truncated, inputs: Mapping[str, Any], *, atol: float = 1e-5,
                     rtol: float = 1e-4) -> TruncationProof:
    """Compare truncated ``last_hidden_state`` with the full ``hidden_states[-(N+1)]``."""
    import torch

    full_hf, trunc_hf = find_encoder(full), find_encoder(truncated)
    depth, kept = len(full_hf.encoder.layer), len(trunc_hf.encoder.layer)
    n_remove = depth - kept
    with torch.no_grad():
        ref = full_hf(**_hf_kwargs(full_hf, inputs), output_hidden_states=True)
        ref_state = ref.hidden_states[-(n_remove + 1)].float().numpy()
        got = trunc_hf(**_hf_kwargs(trunc_hf, inputs)).last_hidden_state.float().numpy()
    diff = float(np.max(np.abs(ref_state - got))) if ref_state.size else 0.0
    equal = ref_state.shape == got.shape and bool(np.allclose(got, ref_state, atol=atol,
                                                              rtol=rtol))
    return TruncationProof(depth, kept, "truncated.last_hidden_state vs "
                           f"full.hidden_states[-{n_remove + 1}]", diff, atol, rtol, equal)


def truncate_zoo_model(model: str, config: str | None, n_remove: int, dst: Path, *,
                       seq: int | None = None, seed: int = 0,
                       options: Mapping[str, Any] | None = None) -> StepReport:
    """Build the zoo model, truncate it, prove the equality, export the truncated graph.

    Raises CheckFailed (exit 1) if the proof fails: an unproved truncation is never saved.
    """
    import torch

    from onnxbench.model.zoo import resolve

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
