"""Accuracy on the user's own labelled data, for any ONNX model (not only zoo models).

A labelled ``.npz`` holds the model's inputs (one array per input name, rows on the first
axis) plus ``labels``; a metric name says how to score the model's FIRST output against them:

- ``accuracy``: arg-max of the scores equals the label (one score column: above 0.5 for
  probabilities in [0, 1], above 0 for logits);
- ``top5``: the label is among the five highest scores;
- ``auc``: ROC AUC of binary labels (the score column, or the second of two columns);
- ``mse``: mean squared error against regression targets (lower is better);
- ``cosine``: mean cosine similarity of each row with its target row (embeddings).

The same rows run through the case's runtime and through the fp32 reference, and the result
is the metric of both and the delta: the reference is option ``reference`` (an fp32
``.onnx``) when given, else the fp32 PyTorch module for zoo/factory models, else the case's
own ``.onnx`` file on ONNX Runtime CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError
from onnxbench.core.metrics import LABEL_METRICS, METRICS
from onnxbench.model.frameworks import framework
from onnxbench.quality.accuracy import onnx_predict
from onnxbench.quality.metrics import FUNCTIONS, rows

Predict = Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]
DEFAULT_BATCH = 32


def check_metric(name: str, where: str = "--metric") -> str:
    if name not in LABEL_METRICS:
        raise UserError(f"{where} {name!r}: choose one of {', '.join(LABEL_METRICS)}")
    return name


def score(metric: str, outputs: np.ndarray, labels: np.ndarray) -> float:
    """``metric`` of ``outputs`` (first output, rows first) against ``labels``."""
    out, lab = rows(outputs).astype(np.float64), np.asarray(labels)
    if len(out) != len(lab):
        raise UserError(f"labels: {len(lab)} rows but the model returned {len(out)}; the "
                        "labelled file needs one label per input row")
    return FUNCTIONS[metric](out, lab)


def predict_all(predict: Predict, feeds: Mapping[str, np.ndarray], batch: int) -> np.ndarray:
    """The first output over every row, ``batch`` rows per call (the last call may be short)."""
    n = len(next(iter(feeds.values())))
    parts = []
    for start in range(0, n, batch):
        chunk = {k: v[start:start + batch] if np.ndim(v) else v for k, v in feeds.items()}
        parts.append(np.asarray(predict(chunk)[0]))
    return np.concatenate(parts) if parts else np.zeros((0,))


def labelled_accuracy(predict: Predict, reference: Predict, feeds: Mapping[str, np.ndarray],
                      labels: np.ndarray, metric: str, batch: int = DEFAULT_BATCH,
                      fixed_batch: bool = False) -> dict[str, Any]:
    """The metric of ``predict`` and of ``reference`` on the same rows, and the delta.

    ``fixed_batch``: the graph takes exactly ``batch`` rows, so the rows are cut to a
    multiple of it (the count used is in ``n``).
    """
    check_metric(metric)
    n = len(labels)
    if fixed_batch:
        n -= n % batch
        if n == 0:
            raise UserError(f"labelled data: {len(labels)} rows, fewer than the model's fixed "
                            f"batch of {batch}")
    feeds = {k: v[:n] if np.ndim(v) else v for k, v in feeds.items()}
    value = score(metric, predict_all(predict, feeds, batch), labels[:n])
    ref = score(metric, predict_all(reference, feeds, batch), labels[:n])
    return {"metric": metric, "value": value, "reference_value": ref, "delta": value - ref,
            "higher_is_better": METRICS[metric].higher_is_better, "n": int(n), "split": "user data"}


def case_labelled_accuracy(case, bundle, predict: Predict) -> dict[str, Any]:
    """A suite case's accuracy on ``options['accuracy_data']`` with ``options['metric']``."""
    from onnxbench.model.input_files import load_user_data

    opts = case.options
    metric = check_metric(str(opts.get("metric", "accuracy")), "option metric")
    data = load_user_data(opts["accuracy_data"], "option accuracy_data")
    if data.labels is None:
        raise UserError(f"option accuracy_data {data.source}: no 'labels' array; add the "
                        "labels next to the inputs (np.savez(path, **inputs, labels=y))")
    feeds, fixed, where = _feeds(data, bundle)
    reference, described = _reference(case, bundle, where)
    batch = fixed or int(opts.get("accuracy_batch") or DEFAULT_BATCH)
    result = labelled_accuracy(predict, reference, feeds, data.labels, metric, batch,
                               fixed_batch=bool(fixed))
    return {**result, "data": data.source, "reference": described}


def _feeds(data, bundle) -> tuple[dict[str, np.ndarray], int | None, str | None]:
    """Checked feeds, the graph's fixed batch (None when free) and the graph path."""
    if bundle.onnx_path is None:
        return dict(data.inputs), None, None
    from onnxbench.model.dims import declared_dims
    from onnxbench.model.input_files import check_inputs
    from onnxbench.model.inputs import graph_inputs, load_onnx

    model = load_onnx(bundle.onnx_path)
    feeds = check_inputs(model, data, cast_floats=True)
    dims = [declared_dims(vi) for vi in graph_inputs(model)]
    fixed = next((d[0] for d in dims if d and isinstance(d[0], int)), None)
    return feeds, fixed, str(bundle.onnx_path)


def _reference(case, bundle, graph: str | None) -> tuple[Predict, str]:
    ref = case.options.get("reference")
    if ref:
        if not Path(ref).is_file():
            raise UserError(f"option reference {ref!r}: no such file; give the fp32 .onnx")
        return onnx_predict(ref), f"{ref} on ONNX Runtime CPU"
    if bundle.has_module:  # the source model, through its framework adapter
        return bundle.reference(), f"fp32 {framework(bundle.framework).label}, CPU"
    return onnx_predict(graph or case.model), f"{case.model} on ONNX Runtime CPU"
