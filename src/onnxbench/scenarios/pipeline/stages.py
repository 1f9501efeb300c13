"""The three pipelines as ordered stages; each stage is a function of the previous output.

- ``current``: CPU preprocessing as most services ship it: PIL resize, float32 numpy
  normalisation, CHW copy, then a float32 host-to-device copy.
- ``fast``: fewer copies: PIL resize, the uint8 image goes to the device (4× fewer bytes)
  and is converted and normalised there.
- ``gpu``: preprocessing on the device: the full-size uint8 image goes to the device, which
  resizes (bilinear, no antialias) and normalises. Its resize differs from PIL's, which is
  the kind of silent divergence the accuracy check must name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

Stage = tuple[str, Callable[[Any], Any]]


@dataclass
class PipelineSettings:
    image_size: int
    device: Any            # torch.device
    pin_memory: bool
    non_blocking: bool


def decode(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.array(img.convert("RGB"))  # writable: torch.from_numpy needs it


def _pil_resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.array(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))


def _to_device(settings: PipelineSettings) -> Callable[[Any], Any]:
    def h2d(tensor):
        if settings.pin_memory:
            tensor = tensor.pin_memory()
        return tensor.to(settings.device, non_blocking=settings.non_blocking)
    return h2d


def _normalise_on_device(settings: PipelineSettings) -> Callable[[Any], Any]:
    import torch

    mean = torch.as_tensor(MEAN, device=settings.device).view(1, 3, 1, 1)
    std = torch.as_tensor(STD, device=settings.device).view(1, 3, 1, 1)

    def normalise(chw_uint8):
        x = chw_uint8.unsqueeze(0).float().div_(255.0)
        return x.sub_(mean).div_(std)
    return normalise


def pil_preprocess(img: np.ndarray, size: int) -> np.ndarray:
    """``current``'s preprocessing of one HWC uint8 image: PIL bilinear resize, float32
    normalisation, CHW (what the ``digits`` models are trained on)."""
    x = _pil_resize(img, size).astype(np.float32) / 255.0
    return np.ascontiguousarray(((x - MEAN) / STD).transpose(2, 0, 1))


def current(settings: PipelineSettings) -> list[Stage]:
    import torch

    def preprocess(img: np.ndarray):
        return torch.from_numpy(pil_preprocess(img, settings.image_size)[None])
    return [("decode", decode), ("preprocess", preprocess), ("h2d", _to_device(settings))]


def fast(settings: PipelineSettings) -> list[Stage]:
    import torch

    def resize(img: np.ndarray):
        return torch.from_numpy(_pil_resize(img, settings.image_size)).permute(2, 0, 1)
    return [("decode", decode), ("preprocess", resize), ("h2d", _to_device(settings)),
            ("normalise", _normalise_on_device(settings))]


def gpu(settings: PipelineSettings) -> list[Stage]:
    import torch
    import torch.nn.functional as F

    normalise = _normalise_on_device(settings)

    def to_tensor(img: np.ndarray):
        return torch.from_numpy(img).permute(2, 0, 1)

    def resize_normalise(chw_uint8):
        x = F.interpolate(chw_uint8.unsqueeze(0).float(), size=(settings.image_size,) * 2,
                          mode="bilinear", align_corners=False, antialias=False)
        return normalise(x.squeeze(0))  # normalise takes CHW in [0, 255]
    return [("decode", decode), ("to_tensor", to_tensor), ("h2d", _to_device(settings)),
            ("preprocess", resize_normalise)]


PIPELINES: dict[str, Callable[[PipelineSettings], list[Stage]]] = {
    "current": current, "fast": fast, "gpu": gpu,
}


def model_stages(infer: Callable[[Any], Any], device) -> list[Stage]:
    """Inference (``infer``: the model input on ``device`` → logits on ``device``, see
    ``pipeline.engines``; a torch module works too) and postprocess (softmax, top-1 back on
    the host), shared by all pipelines."""
    import torch

    def inference(x):
        with torch.inference_mode():
            out = infer(x.to(device))
        return out[0] if isinstance(out, (tuple, list)) else getattr(out, "logits", out)

    def postprocess(logits):
        probs = torch.softmax(logits.float(), dim=-1)
        top = probs.argmax(dim=-1)
        return top.cpu().numpy()
    return [("inference", inference), ("postprocess", postprocess)]
