"""A case's model resolved once, in its worker: what every later step reads.

The worker turns the plain ``Artifact`` record into a ``Bundle`` once (``Bundle.resolve``:
one trip to the zoo) and hands it down: the runtime's ``prepare``, the inputs, parity
(``verify``), accuracy and the record of what ran all read the same bundle, so none of them
resolves the model again.

- ``spec``: the zoo/factory/plugin ``ModelSpec`` (None for a bare ONNX file);
- ``framework``: ``"onnx"`` (a bare ONNX file), ``"torch"`` or ``"tf"`` (the spec's);
- ``onnx_path``: the graph to run, if any; ``meta``: its ``artifact.json`` (read once);
- ``load_module()``: builds the source model (a PyTorch module or a Keras model) with the
  artifact's weights; a fresh one per call, so a runtime that moves or converts its module
  (``torch-cuda`` in fp16) never changes the reference that parity and accuracy use;
- ``reference()``: a predict function over a fresh source model, through its framework's
  adapter (``onnxbench.model.frameworks``): the reference of ``verify`` and ``accuracy``;
- ``make_inputs(case)``: the case's seeded inputs (the spec's own, or synthesised from the
  ONNX graph's declared inputs).

A ``loader`` callable replaces the spec's build (tests and library users hand in a module).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onnxbench.core.artifact import Artifact, read_artifact_meta
from onnxbench.core.errors import Skip
from onnxbench.measure.shape_mix import main_length
from onnxbench.model.encoder import truncate_encoder
from onnxbench.model.frameworks import framework
from onnxbench.model.zoo import resolve

if TYPE_CHECKING:
    from onnxbench.core.case import Case
    from onnxbench.model.zoo.base import ModelSpec


@dataclass(eq=False)
class Bundle:
    artifact: Artifact
    spec: ModelSpec | None = None
    loader: Callable[[], Any] | None = None
    framework_override: str | None = None  # with a loader: the loader's framework (torch)

    @classmethod
    def resolve(cls, artifact: Artifact) -> Bundle:
        """The bundle of ``artifact``: its spec looked up once (none for a bare ONNX file)."""
        if not artifact.has_module:
            return cls(artifact)
        return cls(artifact, spec=resolve(artifact.model))

    @classmethod
    def of_module(cls, make: Callable[[], Any], *, onnx_path: Path | None = None,
                  model: str = "module", framework: str = "torch") -> Bundle:
        """A bundle around a module built by ``make`` (no zoo): for tests and the API."""
        return cls(Artifact(model=model, onnx_path=onnx_path), loader=make,
                   framework_override=framework)

    @classmethod
    def of_onnx(cls, path: str | Path) -> Bundle:
        """A bundle of a bare ONNX file."""
        return cls(Artifact(model=str(path), onnx_path=Path(path)))

    # ---- what it holds ----------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.artifact.model

    @property
    def config(self) -> str | None:
        return self.artifact.config

    @property
    def onnx_path(self) -> Path | None:
        return self.artifact.onnx_path

    @functools.cached_property
    def meta(self) -> dict[str, Any]:
        """The artifact's build record (``artifact.json``), read once; ``{}`` if none."""
        return read_artifact_meta(self.artifact) or {}

    @property
    def framework(self) -> str:
        """``onnx`` for a bare ONNX file, else the source model's framework."""
        if self.loader is not None:
            return self.framework_override or "torch"
        if self.spec is None:
            return "onnx"
        return self.spec.framework

    @property
    def has_module(self) -> bool:
        return self.loader is not None or self.spec is not None

    def input_names(self) -> list[str]:
        if self.spec is None:
            raise Skip("input names need the source model; this case has only an ONNX file")
        return self.spec.input_names(self.config)

    def output_names(self) -> list[str]:
        if self.spec is None:
            raise Skip("output names need the source model; this case has only an ONNX file")
        return self.spec.output_names(self.config)

    # ---- what it builds ---------------------------------------------------------------
    def load_module(self) -> Any:
        """A fresh source model with the artifact's weights (eval mode); Skip if none.

        ``truncate_layers`` truncates a PyTorch encoder as its ONNX graph was (like for like).
        """
        if self.loader is not None:
            return self.loader()
        if self.spec is None:
            raise Skip("this case has only an ONNX file: there is no source model to run")
        art = self.artifact
        module = self.spec.load(art.config, state_path=art.state_path, options=art.options)
        n_remove = int(art.options.get("truncate_layers") or 0)
        if n_remove and self.framework == "torch":
            module = truncate_encoder(module, n_remove, copy_module=False)
        return module

    def reference(self) -> Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]:
        """A predict function over one fresh source model (fp32, CPU, built now): the
        reference of ``verify`` and ``accuracy``, through the framework's adapter."""
        fw, spec, config, model = framework(self.framework), self.spec, self.config, \
            self.load_module()

        def predict(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
            return fw.outputs(spec, config, model, feeds)

        return predict

    def make_inputs(self, case: Case, seq: int | None = None) -> dict[str, np.ndarray]:
        """The inputs of ``case``: the user's (``case.inputs``, checked against the graph,
        the first ``batch`` rows), else seeded ones, the spec's own or synthesised from the
        graph; ``case.values`` fill inputs with one number. ``seq`` overrides the case's (a
        mixed-shape case asks for each of its lengths; by default its heaviest one)."""
        from onnxbench.model.dims import PinnedDim
        from onnxbench.model.inputs import fill_values, synthesize

        seq = seq or case.seq or main_length(case.seq_mix)
        if case.inputs:
            from onnxbench.model.input_files import feeds_for

            names = self.input_names() if self.onnx_path is None else None
            return feeds_for(case.inputs, onnx_model=self.onnx_path, names=names,
                             batch=case.batch, values=case.values, cast_floats=self.has_module)
        if self.spec is not None:
            return fill_values(self.spec.make_inputs(case.config, case.batch, seq, case.seed,
                                                     options=self.artifact.options), case.values)
        if self.onnx_path is None:
            raise Skip("no ONNX graph and no source model to make inputs for")
        try:
            return synthesize(self.onnx_path, batch=case.batch, seq=seq,
                              shapes=case.shapes or None, ranges=case.ranges or None,
                              values=case.values or None, seed=case.seed)
        except PinnedDim as exc:  # a suite's batch or seq the graph does not have
            raise Skip(str(exc)) from None


__all__ = ["Bundle"]
