"""The image preprocessing the ResNet models are trained with: PIL bilinear resize, ImageNet
mean/std normalisation, CHW float32 (the ``current`` pipeline's, and the ``digits`` data's).
"""

from __future__ import annotations

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def pil_resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.array(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))


def pil_preprocess(img: np.ndarray, size: int) -> np.ndarray:
    """``current``'s preprocessing of one HWC uint8 image: PIL bilinear resize, float32
    normalisation, CHW (what the ``digits`` models are trained on)."""
    x = pil_resize(img, size).astype(np.float32) / 255.0
    return np.ascontiguousarray(((x - MEAN) / STD).transpose(2, 0, 1))
