"""Accuracy next to speed: each model's task metric and its delta against fp32.

An optimisation is only a win if what it costs in accuracy is known. Models with labelled
data (the MoE on digits) report their task accuracy and the change from the fp32
reference; models without labels compare outputs with the fp32 reference on seeded
inputs: BERT/DeBERTa by cosine similarity, ResNet by top-1 agreement, DCNv2 by the largest
difference of predicted probabilities. Everything runs through ``predict`` functions
(inputs dict -> list of arrays), so PyTorch and any ORT session are measured alike.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np

Predict = Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]

# metric per zoo model; "ideal" is the value of fp32 against itself
METRICS: dict[str, dict[str, Any]] = {
    "moe": {"metric": "accuracy", "higher_is_better": True},
    "bert": {"metric": "cosine_similarity", "higher_is_better": True, "ideal": 1.0},
    "deberta-v2": {"metric": "cosine_similarity", "higher_is_better": True, "ideal": 1.0},
    "deberta": {"metric": "cosine_similarity", "higher_is_better": True, "ideal": 1.0},
    "resnet": {"metric": "top1_agreement", "higher_is_better": True, "ideal": 1.0},
    "dcnv2": {"metric": "max_abs_diff", "higher_is_better": False, "ideal": 0.0},
}
DEFAULT_METRIC = {"metric": "cosine_similarity", "higher_is_better": True, "ideal": 1.0}


def metric_for(model: str) -> dict[str, Any]:
    """The metric description for a zoo model (cosine similarity for anything unknown)."""
    return METRICS.get(model, DEFAULT_METRIC)


def _flat(outputs: Iterable[np.ndarray]) -> np.ndarray:
    """The first output of each batch, one row per sample, as float64."""
    rows = [np.asarray(o, dtype=np.float64).reshape(len(o), -1) for o in outputs]
    return np.concatenate(rows) if rows else np.zeros((0, 0))


def cosine_similarity(ref: Iterable[np.ndarray], got: Iterable[np.ndarray]) -> float:
    """Mean over samples of the cosine between each sample's flattened outputs."""
    a, b = _flat(ref), _flat(got)
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(np.where(den > 0, num / np.where(den > 0, den, 1), 1.0)))


def top1_agreement(ref: Iterable[np.ndarray], got: Iterable[np.ndarray]) -> float:
    """Share of samples whose arg-max class is the same in both."""
    a, b = _flat(ref), _flat(got)
    return float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))


def max_abs_diff(ref: Iterable[np.ndarray], got: Iterable[np.ndarray]) -> float:
    """The largest absolute difference over every value (probabilities for DCNv2)."""
    a, b = _flat(ref), _flat(got)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


COMPARISONS = {"cosine_similarity": cosine_similarity, "top1_agreement": top1_agreement,
               "max_abs_diff": max_abs_diff}


def compare_to_reference(metric: str, predict: Predict, reference: Predict,
                         batches: Iterable[Mapping[str, np.ndarray]]) -> dict[str, Any]:
    """Run both predict functions on the same batches and score the first outputs."""
    batches = list(batches)
    ref = [reference(b)[0] for b in batches]
    got = [predict(b)[0] for b in batches]
    value = COMPARISONS[metric](ref, got)
    return {"metric": metric, "value": value, "n": int(sum(len(r) for r in ref))}


def accuracy_delta(model: str, predict: Predict, reference: Predict, *,
                   config: str | None = None, batch: int = 8, seq: int | None = None,
                   n_batches: int = 4, seed: int = 0, spec=None,
                   options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The task metric of ``predict`` and its delta against the fp32 ``reference``.

    Labelled models (``spec.evaluate`` returns a metric) compare task accuracy on their
    held-out data; the others compare outputs on ``n_batches`` seeded inputs from
    ``spec.make_inputs``. ``delta`` is value minus the reference's (for accuracy) or minus
    the ideal (fp32 against itself), so 0 means no change.
    """
    if spec is None:
        from onnxbench.zoo import resolve

        spec = resolve(model)
    info = metric_for(model)
    if info["metric"] == "accuracy":
        got = spec.evaluate(predict, config, options)
        ref = spec.evaluate(reference, config, options)
        if got is not None and ref is not None:
            return {**got, "reference_value": ref["value"], "delta": got["value"] - ref["value"],
                    "higher_is_better": True}
    seq = seq or getattr(spec, "default_seq", None)
    batches = [spec.make_inputs(config, batch, seq, seed=seed + i) for i in range(n_batches)]
    metric = info["metric"] if info["metric"] in COMPARISONS else DEFAULT_METRIC["metric"]
    ideal = METRICS.get(model, DEFAULT_METRIC).get("ideal", DEFAULT_METRIC["ideal"])
    out = compare_to_reference(metric, predict, reference, batches)
    return {**out, "reference_value": ideal, "delta": out["value"] - ideal,
            "higher_is_better": metric != "max_abs_diff", "against": "fp32 outputs",
            "inputs": f"{n_batches} seeded batches of {batch}" + (f", seq {seq}" if seq else "")}


def onnx_predict(path, providers: tuple[str, ...] = ("CPUExecutionProvider",),
                 threads: int | None = None) -> Predict:
    """A predict function over an ONNX file that casts inputs to the graph's dtypes
    (an fp16 graph without keep_io_types takes float16 inputs)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))
    kinds = {"tensor(float16)": np.float16, "tensor(float)": np.float32,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32}
    types = {i.name: kinds.get(i.type) for i in sess.get_inputs()}

    def predict(inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        feeds = {k: (np.asarray(v).astype(types[k]) if types.get(k) else np.asarray(v))
                 for k, v in inputs.items() if k in types}
        return sess.run(None, feeds)

    return predict
