"""ResNet-18 / ResNet-50 image classifiers, seeded random weights.

Built from transformers' ``ResNetConfig`` with the real stage depths and widths, because
torchvision cannot load against the CPU build of torch on these machines. Where torchvision
does import, ``options['backend'] = 'torchvision'`` builds ``torchvision.models.resnet18/50``
instead. ``options['image_size']`` (224 by default, e.g. 512) sets the input height/width.

The ``digits`` config is a small ResNet of the same block type that is *trained* (seconds,
seeded) on a real labelled image set shipped with scikit-learn: the handwritten digits
rendered as image files (``pipeline.digits``), preprocessed as the ``current`` pipeline does.
Its held-out accuracy is a real accuracy, so a pipeline's preprocessing can be scored
against labels, not only against another pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from onnxbench.core.errors import Skip, UserError
from onnxbench.model.zoo import register
from onnxbench.model.zoo.base import TOP1_AGREEMENT, ModelSpec, meta_param_count

# the real shapes of microsoft/resnet-18 and microsoft/resnet-50
SHAPES = {
    "resnet18": {"layer_type": "basic", "depths": [2, 2, 2, 2],
                 "hidden_sizes": [64, 128, 256, 512], "embedding_size": 64, "num_labels": 1000},
    "resnet50": {"layer_type": "bottleneck", "depths": [3, 4, 6, 3],
                 "hidden_sizes": [256, 512, 1024, 2048], "embedding_size": 64, "num_labels": 1000},
}
# tiny twins for tests: same block type as the real model, a few thousand parameters
TINY = {"resnet18": {"layer_type": "basic", "depths": [1, 1], "hidden_sizes": [8, 16],
                     "embedding_size": 8, "num_labels": 10, "image_size": 32},
        "resnet50": {"layer_type": "bottleneck", "depths": [1, 1], "hidden_sizes": [16, 32],
                     "embedding_size": 8, "num_labels": 10, "image_size": 32}}
# trained on scikit-learn's digits rendered as image files (pipeline.digits), at 32..128 px
DIGITS_MAX_SIZE = 128
DIGITS = {"resnet18": {"layer_type": "basic", "depths": [1, 1], "hidden_sizes": [16, 32],
                       "embedding_size": 16, "num_labels": 10, "image_size": 32,
                       "data": "digits", "epochs": 8},
          "resnet50": {"layer_type": "bottleneck", "depths": [1, 1], "hidden_sizes": [32, 64],
                       "embedding_size": 16, "num_labels": 10, "image_size": 32,
                       "data": "digits", "epochs": 8}}


def _classifier(model):
    """``pixel_values`` → ``logits`` as a plain tensor (HF returns a ModelOutput)."""
    import torch
    from torch import nn

    class ResNetLogits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            out = self.model(pixel_values)
            return out if isinstance(out, torch.Tensor) else out.logits

    return ResNetLogits()


class ResNetSpec(ModelSpec):
    description = "ResNet image classifier (transformers ResNetConfig, real shapes, random init)"
    metric = TOP1_AGREEMENT
    default_config = "default"
    preload = ("transformers", "transformers.models.resnet.modeling_resnet")

    def __init__(self, name: str) -> None:
        self.name = name
        self.configs = {"default": dict(SHAPES[name], image_size=224),
                        "512": dict(SHAPES[name], image_size=512),
                        "tiny": dict(TINY[name]),
                        "digits": dict(DIGITS[name])}

    def image_size(self, config: str | None, options: Mapping[str, Any] | None) -> int:
        size = (options or {}).get("image_size", self.config(config)["image_size"])
        try:
            size = int(size)
        except (TypeError, ValueError):
            size = 0
        if size < 32:
            raise UserError(f"model {self.name!r}: option image_size={size!r} must be an "
                            "integer >= 32 (e.g. 224 or 512)")
        return size

    def _hf(self, cfg: dict[str, Any]):
        from transformers import ResNetConfig, ResNetForImageClassification

        keys = ("layer_type", "depths", "hidden_sizes", "embedding_size", "num_labels")
        return ResNetForImageClassification(ResNetConfig(**{k: cfg[k] for k in keys}))

    def _torchvision(self, cfg: dict[str, Any]):
        try:
            import torchvision.models as tvm
        except Exception as exc:  # any import failure means "not here"
            raise Skip("backend torchvision does not import here: "
                       f"{str(exc).splitlines()[0]}") from exc
        if cfg.get("num_labels") != 1000:
            raise UserError(f"model {self.name!r}: backend torchvision has no tiny config")
        return getattr(tvm, self.name)(weights=None)

    def _make(self, config: str | None, options: Mapping[str, Any] | None):
        cfg = self.config(config)
        backend = (options or {}).get("backend", "transformers")
        if backend == "transformers":
            return self._hf(cfg)
        if backend == "torchvision":
            return self._torchvision(cfg)
        raise UserError(f"model {self.name!r}: option backend={backend!r}; choose "
                        "transformers or torchvision")

    def build(self, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True):
        import torch

        self.image_size(config, options)  # validate early
        torch.manual_seed(seed)
        module = _classifier(self._make(config, options))
        if self.config(config).get("data") == "digits" and \
                not 32 <= self.image_size(config, options) <= DIGITS_MAX_SIZE:
            raise UserError(f"model {self.name!r} config digits: option image_size must be "
                            f"32..{DIGITS_MAX_SIZE} (8x8 digits have no more detail, and the "
                            "small net does not learn them reliably at larger sizes)")
        if train and self.config(config).get("data") == "digits":
            _train_digits(module, self.config(config), self.image_size(config, options), seed)
        return module.eval()

    def held_out(self, config: str | None, options: Mapping[str, Any] | None = None):
        """(x, y) of the held-out digits as the ``current`` pipeline preprocesses them."""
        from onnxbench.model.zoo.digits import preprocessed

        if self.config(config).get("data") != "digits":
            return None
        return preprocessed("held-out", self.image_size(config, options))

    def calibration_rows(self, config: str | None = None,
                         options: Mapping[str, Any] | None = None) -> np.ndarray | None:
        """Training digits for int8 calibration (the held-out ones stay unseen until scored);
        None for a config without data (calibration then uses seeded example inputs)."""
        from onnxbench.model.zoo.digits import preprocessed

        if self.config(config).get("data") != "digits":
            return None
        return preprocessed("train", self.image_size(config, options))[0]

    def evaluate(self, predict, config: str | None,
                 options: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Top-1 accuracy on the held-out digits (``digits`` config only)."""
        data = self.held_out(config, options)
        if data is None:
            return None
        from onnxbench.model.zoo.digits import SOURCE

        x, y = data
        preds = np.concatenate([np.asarray(predict({"pixel_values": x[i:i + 128]})[0]).argmax(-1)
                                for i in range(0, len(x), 128)])
        return {"metric": "accuracy", "value": float(np.mean(preds == y)), "n": len(y),
                "split": "held-out", "data": SOURCE}

    def param_count(self, config: str | None, options: Mapping[str, Any] | None = None) -> int:
        return meta_param_count(lambda: self._make(config, options))

    def describe(self, config: str | None) -> str:
        cfg = self.config(config)
        return (f"{cfg['layer_type']}, depths {'-'.join(map(str, cfg['depths']))}, widths "
                f"{cfg['hidden_sizes'][0]}..{cfg['hidden_sizes'][-1]}, {cfg['num_labels']} "
                f"classes, {cfg['image_size']}px")

    def input_names(self, config: str | None) -> list[str]:
        return ["pixel_values"]

    def output_names(self, config: str | None) -> list[str]:
        return ["logits"]

    def dynamic_axes(self, config: str | None) -> dict[str, dict[int, str]]:
        return {"pixel_values": {0: "batch"}, "logits": {0: "batch"}}

    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *, options: Mapping[str, Any] | None = None
                    ) -> dict[str, np.ndarray]:
        """Normalised-looking pixels: standard normal, float32 [batch, 3, H, W]; for the
        ``digits`` config, ``batch`` held-out digits from a seeded offset."""
        size = self.image_size(config, options)
        data = self.held_out(config, options)
        if data is not None:
            x = data[0]
            start = int(np.random.default_rng(seed).integers(len(x)))
            return {"pixel_values": np.ascontiguousarray(x[(start + np.arange(batch)) % len(x)])}
        rng = np.random.default_rng(seed)
        return {"pixel_values": rng.standard_normal((batch, 3, size, size), dtype=np.float32)}


def _train_digits(module, cfg: dict[str, Any], image_size: int, seed: int) -> None:
    """Adam on the training digits (seconds on one thread), seeded; held-out rows unseen."""
    import torch

    from onnxbench.model.zoo.base import single_thread
    from onnxbench.model.zoo.digits import preprocessed

    x_np, y_np = preprocessed("train", image_size)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=3e-3)
    with single_thread():
        module.train()
        for _ in range(int(cfg.get("epochs", 8))):
            order = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), 64):
                idx = order[i:i + 64]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(module(x[idx]), y[idx]).backward()
                opt.step()
    module.eval()


RESNET18 = register(ResNetSpec("resnet18"))
RESNET50 = register(ResNetSpec("resnet50"))
