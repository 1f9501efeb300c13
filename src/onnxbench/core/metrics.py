"""The metrics onnxbench scores a model by: name, direction and ideal value, one table.

Two kinds (``against``): a model's outputs against the fp32 reference's on the same inputs
(``cosine_similarity``, ``top1_agreement``, ``max_abs_diff``: a zoo model's declared
``ModelSpec.metric``), and a model's outputs against the labels of a data set (``accuracy``,
``top5``, ``auc``, ``mse``, ``cosine``: the task metric, or the user's ``--metric``). The
functions that compute them are ``onnxbench.quality.metrics``, keyed by the same names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    """How a model's accuracy is scored (``onnxbench.quality``)."""

    name: str
    higher_is_better: bool = True
    ideal: float | None = None  # the value of fp32 against itself (reference metrics)
    against: Literal["reference", "labels"] = "labels"


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy"),                       # top-1 (or a threshold for one score column)
    Metric("top5"),
    Metric("auc"),                            # ROC AUC of binary labels
    Metric("mse", higher_is_better=False),    # against regression targets
    Metric("cosine"),                         # each row against its target row (embeddings)
    Metric("cosine_similarity", True, 1.0, "reference"),
    Metric("top1_agreement", True, 1.0, "reference"),  # classifiers: same predicted class
    Metric("max_abs_diff", False, 0.0, "reference"),   # probabilities (CTR models)
)}
LABEL_METRICS = tuple(n for n, m in METRICS.items() if m.against == "labels")
REFERENCE_METRICS = tuple(n for n, m in METRICS.items() if m.against == "reference")
