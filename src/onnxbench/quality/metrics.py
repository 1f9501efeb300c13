"""The functions behind ``onnxbench.core.metrics.METRICS``: one per metric name, each
``f(outputs, target) -> float`` on the first output's rows (one row per sample, as float64),
``target`` being the fp32 reference's outputs or the data's labels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from onnxbench.core.errors import UserError


def rows(a: np.ndarray) -> np.ndarray:
    """One row per sample (a scalar: one row of one value)."""
    a = np.asarray(a)
    return a.reshape(len(a), -1) if a.ndim else a.reshape(1, 1)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cosine of each row of ``a`` with the same row of ``b``: two all-zero rows count
    as identical (1), a zero row against a non-zero one as unrelated (0)."""
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both = (na > 0) & (nb > 0)
    cos = (a * b).sum(axis=1) / np.where(both, na * nb, 1.0)
    return np.where(both, cos, np.where((na == 0) & (nb == 0), 1.0, 0.0))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of ``cosine_rows``."""
    return float(np.mean(cosine_rows(a, b)))


def top1_agreement(got: np.ndarray, ref: np.ndarray) -> float:
    """Share of samples whose arg-max class is the same in both."""
    return float(np.mean(got.argmax(axis=1) == ref.argmax(axis=1)))


def max_abs_diff(got: np.ndarray, ref: np.ndarray) -> float:
    """The largest absolute difference over every value (probabilities for DCNv2)."""
    return float(np.max(np.abs(got - ref))) if got.size else 0.0


def mse(out: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((out - rows(labels).astype(np.float64)) ** 2))


def auc(out: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score  # scikit-learn: a second to import

    y = labels.reshape(len(labels))
    scores = out[:, 1] if out.shape[1] == 2 else out[:, 0]
    if len(np.unique(y)) != 2:
        raise UserError("--metric auc: labels must hold exactly two classes (0 and 1)")
    return float(roc_auc_score(y, scores))


def top5(out: np.ndarray, labels: np.ndarray) -> float:
    y = labels.reshape(len(labels))
    if out.shape[1] < 5:
        raise UserError(f"--metric top5: the model scores {out.shape[1]} classes; top5 "
                        "needs at least 5 (use accuracy)")
    top = np.argpartition(-out, 4, axis=1)[:, :5]
    return float(np.mean((top == y[:, None].astype(np.int64)).any(axis=1)))


def accuracy(out: np.ndarray, labels: np.ndarray) -> float:
    """Top-1; one score column is a binary classifier (cut at 0.5 for probabilities, else 0)."""
    y = labels.reshape(len(labels)).astype(np.int64)
    if out.shape[1] == 1:
        cut = 0.5 if out.min() >= 0 and out.max() <= 1 else 0.0
        return float(np.mean((out[:, 0] > cut).astype(np.int64) == y))
    return float(np.mean(out.argmax(axis=1) == y))


FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy, "top5": top5, "auc": auc, "mse": mse,
    "cosine": lambda out, labels: cosine(out, rows(labels).astype(np.float64)),
    "cosine_similarity": cosine, "top1_agreement": top1_agreement,
    "max_abs_diff": max_abs_diff,
}
