"""The ``pad_batch_to`` workaround: run a small batch as a bigger one, then trim.

Some exported graphs break at batch 1 (a bare ``squeeze()`` that also drops the batch axis,
as in deepctr-torch's ``CrossNetMix``). The reference deployment avoided it by padding a
batch of 1 up to 2 with a dummy row and keeping only the real rows of the output. Rows are
independent in such models (eval mode), so the real rows' outputs are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def pad_batch(inputs: Mapping[str, np.ndarray], to: int) -> tuple[dict[str, np.ndarray], int]:
    """Pad every input along axis 0 up to ``to`` rows by repeating its last row.

    Repeating a real row (rather than zeros) keeps ids inside their vocabularies and masks
    valid. Returns the padded inputs and the number of real rows; inputs already holding
    ``to`` rows or more come back unchanged.
    """
    batches = {np.asarray(v).shape[0] for v in inputs.values() if np.ndim(v) > 0}
    if len(batches) > 1:
        raise ValueError(f"pad_batch: inputs disagree on the batch size: {sorted(batches)}")
    n_real = batches.pop() if batches else 0
    if n_real >= to or n_real == 0:
        return dict(inputs), n_real
    padded = {}
    for name, value in inputs.items():
        arr = np.asarray(value)
        if arr.ndim == 0:
            padded[name] = arr
            continue
        filler = np.repeat(arr[-1:], to - n_real, axis=0)
        padded[name] = np.ascontiguousarray(np.concatenate([arr, filler], axis=0))
    return padded, n_real


def trim(outputs: Sequence[np.ndarray], n_real: int) -> list[np.ndarray]:
    """Keep the first ``n_real`` rows of every output that has a batch axis."""
    return [o[:n_real] if np.ndim(o) > 0 else o for o in outputs]
