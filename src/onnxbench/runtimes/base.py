"""The one small protocol every runtime follows (the Polygraphy runner idea).

``prepare`` once (create the session / build the module; may raise ``Skip``), then
``bind(inputs)`` returns a zero-argument callable that runs one inference on those inputs,
``synchronize()`` waits for the device. The timing loop (``onnxbench.measure``) knows
nothing about ONNX Runtime or PyTorch beyond this protocol.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

from onnxbench.artifact import Artifact

Inputs = Mapping[str, np.ndarray]


@runtime_checkable
class Runtime(Protocol):
    name: str

    def prepare(self, artifact: Artifact, options: Mapping[str, Any]) -> None:
        """Create the session/module. Raise ``onnxbench.errors.Skip`` if this machine cannot."""

    def run(self, inputs: Inputs) -> list[np.ndarray]:
        """One inference; returns the outputs as numpy arrays on the host (for parity)."""

    def bind(self, inputs: Inputs) -> Callable[[], Any]:
        """A zero-argument callable that runs one inference on ``inputs`` (the timed call).

        Do all per-input work here (device copies, IO binding) so the callable is lean.
        """

    def synchronize(self) -> None:
        """Wait for queued device work; a no-op on the CPU."""

    def info(self) -> dict[str, Any]:
        """What the session really is: providers in use, threads, TF32, precision, versions."""

    def close(self) -> None:
        """Release the session/module."""
