"""The project's remedies for a candidate that fails at a small batch, tried before it is
dropped (README: "The DCNMix batch-1 hazard and its two fixes").

A bare ``squeeze()`` in the model (deepctr-torch's ``CrossNetMix``) drops the batch axis at
batch 1: the exported graph fails in ORT (``Concat ... Ranks of input data are different``)
and so does the PyTorch module itself. Two ways out, in the order ``tune`` tries them:

- ``fix: squeeze-dims``: the export-side fix (``onnxbench export --fix squeeze-dims``): the
  squeeze gets its explicit dim before export, so the graph runs batch 1 natively. For a
  candidate that runs an exported graph of a framework with export fixes, when the graph's
  lint found ``squeeze-no-axes``.
- ``pad_batch_to: 2``: the runtime workaround: batch 1 is padded with a dummy row and the
  output trimmed (what the reference deployment did). For any candidate whose graph was
  built and that failed when it ran, at a batch below 2.

A remedy that works is kept for the candidate's whole family (runtime and exporter), so the
other candidates of the family are measured with it directly; one that fails is said in the
drop reason with its own failure, and so is one the budget left no time to try.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onnxbench.tuning.records import Evidence
from onnxbench.tuning.space import Candidate

SQUEEZE_FINDING = "squeeze-no-axes"


@dataclass(frozen=True)
class Remedy:
    name: str                         # as the answer names it
    options: tuple[tuple[str, Any], ...]
    says: str                         # what it does
    applies: Callable[[Candidate, Evidence, int], bool]  # (candidate, its failure, batch)

    def apply(self, cand: Candidate) -> Candidate:
        return cand.with_options(dict(self.options))


def _pad_to() -> int:
    from onnxbench.build.export.matrix import PAD_TO

    return PAD_TO


def _squeeze_fix(cand: Candidate, ev: Evidence, batch: int) -> bool:
    return (batch < _pad_to() and cand.exporter is not None and "fix" not in cand.opts
            and SQUEEZE_FINDING in ev.findings)


def _pad(cand: Candidate, ev: Evidence, batch: int) -> bool:
    return batch < _pad_to() and ev.failed_at == "run" and "pad_batch_to" not in cand.opts


def squeeze_fix() -> Remedy:
    return Remedy("--fix squeeze-dims", (("fix", "squeeze-dims"),),
                  "the export gives the bare squeeze() its explicit dim, so batch 1 runs "
                  "natively", _squeeze_fix)


def pad() -> Remedy:
    to = _pad_to()
    return Remedy(f"pad_batch_to: {to}", (("pad_batch_to", to),),
                  f"batch 1 padded to {to} rows with a dummy row, the output trimmed", _pad)


def remedies_for(model: str) -> tuple[Remedy, ...]:
    """The remedies that can apply to ``model``, in the order they are tried (the export
    fix only where its framework has export-side fixes)."""
    from onnxbench.model.onnxfile import is_onnx_file

    if is_onnx_file(model):
        return (pad(),)
    from onnxbench.model.frameworks import framework_of
    from onnxbench.model.zoo import resolve

    return (squeeze_fix(), pad()) if framework_of(resolve(model)).fixes else (pad(),)


__all__ = ["Remedy", "pad", "remedies_for", "squeeze_fix"]
