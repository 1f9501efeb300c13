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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnxbench.tuning.records import Evidence, Fidelity
from onnxbench.tuning.space import Candidate

if TYPE_CHECKING:
    from onnxbench.tuning.search import Search

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


Family = tuple[str, str | None]


@dataclass
class Remedying:
    """One search's remedies: the one that worked for each family, those that failed."""

    remedies: list[Remedy]
    fixed: dict[Family, Remedy] = field(default_factory=dict)
    failed: dict[Family, list[str]] = field(default_factory=dict)

    def attempt(self, search: Search, cand: Candidate, ev: Evidence, fid: Fidelity,
                until: float) -> Evidence:
        """``cand`` failed (``ev``): measure it with each remedy that applies, in order,
        while the budget allows (until ``until`` on its clock); the first that works is
        kept for the family and its evidence returned. Every remedy tried, or left untried,
        is said in the drop reason and the notes."""
        d, batch = search.decision, search.goal.batch
        said = []
        failed = self.failed.setdefault(cand.family, [])
        for remedy in (r for r in self.remedies if r.applies(cand, ev, batch)):
            if remedy.name in failed:
                said.append(f"{remedy.name} failed on this runtime and exporter already")
                continue
            fixed = search.add(remedy.apply(cand))
            room = until - search.budget.spent()
            if not search.fits(fixed, fid, room):
                said.append(f"{remedy.name} would help ({remedy.says}) but its step did not "
                            "fit the budget")
                d.exhausted = True
                break
            got = search.step("screen", fid, fixed, room)
            if got.ok:
                self.fixed[cand.family] = remedy
                d.dropped[cand.key] = (f"{search.failure(ev)}; measured instead with "
                                       f"{remedy.name} ({remedy.says})")
                d.note(f"{_who(cand)} fails at batch {batch}; its candidates use the "
                       f"project's remedy {remedy.name}: {remedy.says}", d.remedies)
                return got
            if got.status == "budget":
                said.append(f"{remedy.name} ({remedy.says}) could not finish within the "
                            "budget")
                break
            failed.append(remedy.name)
            said.append(f"{remedy.name} failed too ({search.failure(got)})")
        if said:
            d.dropped[cand.key] = f"{search.failure(ev)}; {'; '.join(said)}"
            d.note(f"{_who(cand)} fails at batch {batch} ({ev.reason}); {'; '.join(said)}",
                   d.remedies)
        return ev


def _who(cand: Candidate) -> str:
    from onnxbench.runtimes import runtime_label

    what = f"its {cand.exporter} export" if cand.exporter else "the source model"
    return f"{runtime_label(cand.runtime)} on {what}"


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


__all__ = ["Remedy", "Remedying", "pad", "remedies_for", "squeeze_fix"]
