"""Classification data for the zoo: scikit-learn's digits (offline) or local MNIST IDX files.

Accuracy must be measured on rows the model never trained on, so every loader returns a
fixed train / held-out split. The split does not depend on the build seed: whatever seed a
model is trained with, its held-out rows stay the same, so accuracies are comparable and
never leak training rows.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError

SPLIT_SEED = 0          # fixed: the held-out rows never depend on the build seed
DIGITS_HELD_OUT = 0.25  # fraction of digits kept out of training

# the four files of the MNIST distribution (a ``.gz`` twin is accepted for each)
MNIST_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Split:
    """A train / held-out split; features float32 in [0, 1], labels int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str          # "digits" or "mnist:<dir>"
    train_index: np.ndarray | None = None  # row ids in the source (digits), for disjointness checks
    test_index: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


@lru_cache(maxsize=4)
def digits_split() -> Split:
    """scikit-learn's 8x8 digits (1797 rows, 64 features), scaled to [0, 1], split 75/25."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=DIGITS_HELD_OUT, random_state=SPLIT_SEED,
                              stratify=y)
    return Split(x[tr], y[tr], x[te], y[te], "digits", np.sort(tr), np.sort(te))


def _find(data_dir: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (the MNIST format: magic, dims, big-endian payload), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise UserError(f"{path}: not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if dtype_code not in dtypes:
        raise UserError(f"{path}: unknown IDX data type 0x{dtype_code:02x}")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=dtypes[dtype_code], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise UserError(f"{path}: IDX payload has {data.size} values, header says {dims}")
    return data.reshape(dims)


@lru_cache(maxsize=4)
def mnist_split(data_dir: str) -> Split:
    """MNIST from IDX files: the official 60k train / 10k test split (test = held-out)."""
    folder = Path(data_dir).expanduser()
    paths = {key: _find(folder, stem) for key, stem in MNIST_FILES.items()}
    missing = [MNIST_FILES[k] for k, p in paths.items() if p is None]
    if not folder.is_dir() or missing:
        raise UserError(f"data_dir {str(folder)!r}: missing MNIST IDX files "
                        f"{', '.join(missing or MNIST_FILES.values())} (optionally .gz)")
    arrays = {key: read_idx(p) for key, p in paths.items() if p is not None}  # none missing

    def flat(images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), -1) / 255.0).astype(np.float32)

    return Split(flat(arrays["train_x"]), arrays["train_y"].astype(np.int64),
                 flat(arrays["test_x"]), arrays["test_y"].astype(np.int64),
                 f"mnist:{folder}")


def load_split(options: Mapping[str, Any] | None = None) -> Split:
    """MNIST when ``options['data_dir']`` is given, else digits."""
    data_dir = (options or {}).get("data_dir")
    if data_dir:
        return mnist_split(str(data_dir))
    return digits_split()
