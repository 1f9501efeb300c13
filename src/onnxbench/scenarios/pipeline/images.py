"""Seeded synthetic images written as real encoded files, so decoding is real work."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_images(directory: Path, *, n: int = 16, seed: int = 0, fmt: str = "jpeg",
                size: tuple[int, int] = (640, 480)) -> list[Path]:
    """Write ``n`` seeded images (smooth colour fields plus texture) and return their paths.

    Files are reused when they already exist (same n, seed, format and size), so every case
    of a suite decodes the same bytes.
    """
    from PIL import Image

    ext = {"jpeg": "jpg", "png": "png"}[fmt]
    folder = Path(directory) / f"images_{fmt}_{size[0]}x{size[1]}_n{n}_s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"img_{i:03d}.{ext}"
        # draw every image's pixels even when cached, so image i never depends on the cache
        low = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        noise = rng.normal(0, 12, size=(size[1], size[0], 3))
        if not path.exists():
            base = np.asarray(Image.fromarray(low).resize(size, Image.Resampling.BICUBIC),
                              dtype=np.float64)
            pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
            tmp = path.with_suffix(".tmp")
            Image.fromarray(pixels).save(tmp, format=fmt.upper(), quality=90)
            tmp.replace(path)
        paths.append(path)
    return paths
