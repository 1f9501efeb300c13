"""ModelSpec: what the zoo knows about a model.

A spec builds the PyTorch module for a named config (seeded; trained briefly where the
model has data), makes seeded example inputs for a batch (and sequence length) keyed by the
ONNX input names, names inputs/outputs and dynamic axes, and, where it has data, evaluates
its task metric through any ``predict`` function (PyTorch or ONNX Runtime alike).

The module a spec builds takes its inputs positionally in ``input_names`` order and returns
a tensor or a tuple of tensors in ``output_names`` order, so exporters and runtimes need no
model-specific code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError
from onnxbench.core.metrics import METRICS, Metric
from onnxbench.model.weights import load_state

Predict = Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]


# how ``accuracy: true`` scores a model against fp32: entries of the one metric table
TASK_ACCURACY = METRICS["accuracy"]
COSINE = METRICS["cosine_similarity"]
TOP1_AGREEMENT = METRICS["top1_agreement"]  # classifiers: same predicted class
MAX_ABS_DIFF = METRICS["max_abs_diff"]      # probabilities (CTR models)


class ModelSpec(ABC):
    # the framework ``build`` returns a model of: "torch" (an nn.Module) or a plugin's ("tf")
    framework: str = "torch"
    # how ``accuracy: true`` scores this model against fp32 (a declared property, not a
    # table of names)
    metric: Metric = COSINE
    name: str = ""
    description: str = ""
    configs: dict[str, dict[str, Any]] = {}
    default_config: str = ""
    has_seq: bool = False  # text models take a sequence length
    # heavy modules the fork server imports once for a run that uses this model
    preload: tuple[str, ...] = ()
    # the graph passes' model knowledge: the transformer optimizer's model type its fusion
    # uses (``fuse: true``), and why a fused family does not appear on this model
    fusion: str | None = None
    fusion_gaps: dict[str, str] = {}
    default_seq: int | None = None

    def config(self, name: str | None) -> dict[str, Any]:
        """The named config's settings; raises UserError naming the allowed ones."""
        key = name or self.default_config
        if key not in self.configs:
            raise UserError(f"model {self.name!r}: unknown config {key!r}; "
                            f"choose one of: {', '.join(self.configs)}")
        return self.configs[key]

    @abstractmethod
    def build(self, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None,
              train: bool = True) -> Any:
        """A fresh model (a ``torch.nn.Module`` in eval mode, or the framework's) that is
        deterministic in ``seed``.

        Specs with data (dcnv2, moe) train briefly when ``train`` is true; ``train=False``
        gives the untrained skeleton that ``load`` fills from a saved state dict.
        """

    def load(self, config: str | None, *, state_path: Path | None = None,
             options: Mapping[str, Any] | None = None):
        """Build, then load saved weights if given (cheap path used by workers): safetensors,
        or a pickle only through ``torch.load(weights_only=True)`` (onnxbench.model.weights)."""
        module = self.build(config, seed=0, options=options, train=state_path is None)
        if state_path is not None:
            load_state(module, state_path)
        return module.eval()

    @abstractmethod
    def input_names(self, config: str | None) -> list[str]: ...

    @abstractmethod
    def output_names(self, config: str | None) -> list[str]: ...

    @abstractmethod
    def dynamic_axes(self, config: str | None) -> dict[str, dict[int, str]]: ...

    @abstractmethod
    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *,
                    options: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Seeded example inputs keyed by input name, valid for the model (ids inside vocab).

        ``options`` are the model's build options (image_size, data_dir, ...): pass the same
        ones given to ``build`` so the inputs fit that module.
        """

    def evaluate(self, predict: Predict, config: str | None,
                 options: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The task metric on held-out data through ``predict``; None if the model has no data."""
        return None

    def param_count(self, config: str | None,
                    options: Mapping[str, Any] | None = None) -> int:
        """Parameters of the built module; specs override it to count without allocating."""
        module = self.build(config, seed=0, options=options, train=False)
        return sum(p.numel() for p in module.parameters())

    def describe(self, config: str | None) -> str:
        """One line on what the config is (for ``onnxbench zoo``)."""
        settings = self.config(config)
        return ", ".join(f"{k}={v}" for k, v in settings.items() if not k.startswith("_"))


def count_params(module) -> int:
    """Number of parameters of a module (shared tensors counted once)."""
    return sum(p.numel() for p in module.parameters())


def meta_param_count(make: Callable[[], Any]) -> int:
    """Count the parameters of ``make()`` built on the meta device: no memory, no init time.

    Listing base/large transformer configs would otherwise allocate gigabytes.
    """
    import torch

    with torch.device("meta"):
        return count_params(make())


@contextmanager
def single_thread():
    """Run brief training on one torch thread, then restore the thread count.

    The zoo's training steps are tiny; on a shared machine torch's intra-op thread pool
    spends far longer waiting for busy cores than computing (seconds become a minute).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
