"""Accuracy next to speed: each model's task metric and its delta against fp32.

An optimisation is only a win if what it costs in accuracy is known. Models with labelled
data (the MoE on digits) report their task accuracy and the change from the fp32
reference; models without labels compare outputs with the fp32 reference on seeded
inputs: each spec declares its metric (``ModelSpec.metric``): BERT/DeBERTa by cosine
similarity, ResNet by top-1 agreement, DCNv2 by the largest difference of predicted
probabilities. Everything runs through ``predict`` functions
(inputs dict -> list of arrays), so PyTorch and any ORT session are measured alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from onnxbench.model.zoo.base import ModelSpec

Predict = Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]

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


def accuracy_delta(spec: ModelSpec, predict: Predict, reference: Predict, *,
                   config: str | None = None, batch: int = 8, seq: int | None = None,
                   n_batches: int = 4, seed: int = 0,
                   options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The metric ``spec`` declares (``ModelSpec.metric``) for ``predict``, and its delta
    against the fp32 ``reference``.

    A task metric (``accuracy``) compares both on the spec's held-out data
    (``spec.evaluate``); an output comparison runs both on ``n_batches`` seeded inputs
    from ``spec.make_inputs``. ``delta`` is value minus the reference's (task accuracy) or
    minus the ideal (fp32 against itself), so 0 means no change.
    """
    metric = spec.metric
    if metric.name == "accuracy":
        got = spec.evaluate(predict, config, options)
        ref = spec.evaluate(reference, config, options)
        if got is None or ref is None:
            raise ValueError(f"model {spec.name!r} declares a task accuracy but evaluate() "
                             "returned no metric")
        return {**got, "reference_value": ref["value"], "delta": got["value"] - ref["value"],
                "higher_is_better": True}
    if metric.name not in COMPARISONS or metric.ideal is None:
        raise ValueError(f"model {spec.name!r}: unknown output metric {metric.name!r}; "
                         f"known: accuracy, {', '.join(COMPARISONS)}")
    seq = seq or spec.default_seq
    extra = {"options": options} if options else {}  # the inputs must fit the built module
    batches = [spec.make_inputs(config, batch, seq, seed=seed + i, **extra)
               for i in range(n_batches)]
    out = compare_to_reference(metric.name, predict, reference, batches)
    return {**out, "reference_value": metric.ideal, "delta": out["value"] - metric.ideal,
            "higher_is_better": metric.higher_is_better, "against": "fp32 outputs",
            "inputs": f"{n_batches} seeded batches of {batch}" + (f", seq {seq}" if seq else "")}


def onnx_predict(path, providers: tuple[str, ...] = ("CPUExecutionProvider",),
                 threads: int | None = None) -> Predict:
    """A predict function over an ONNX file that casts inputs to the graph's dtypes."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    from onnxbench.runtimes.ort import input_caster

    sess = ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))
    cast = input_caster(sess)

    def predict(inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return sess.run(None, cast(inputs))

    return predict


class CachedReference:
    """A reference predict function whose outputs are kept on disk, keyed by the inputs.

    Every variant of a model (plain, fused, fp16, int8, each runtime) is compared with the
    same fp32 PyTorch outputs on the same seeded inputs; computing them once per input and
    weights, and building the module only on a miss, keeps accuracy cheap for big models.
    """

    def __init__(self, make: Callable[[], Predict], cache_dir: Path | None, key: str) -> None:
        self._make = make
        self._predict: Predict | None = None
        self.cache_dir, self.key = (Path(cache_dir) if cache_dir else None), key
        self.hits = self.misses = 0

    def _digest(self, inputs: Mapping[str, np.ndarray]) -> str:
        h = hashlib.sha1(self.key.encode())
        for name in sorted(inputs):
            arr = np.ascontiguousarray(inputs[name])
            h.update(f"{name}|{arr.dtype}|{arr.shape}".encode())
            h.update(arr.tobytes())
        return h.hexdigest()[:20]

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        path = self.cache_dir / f"{self._digest(inputs)}.npz" if self.cache_dir else None
        if path is not None and path.is_file():
            self.hits += 1
            with np.load(path) as data:
                return [data[f"out{i}"] for i in range(len(data.files))]
        self.misses += 1
        if self._predict is None:
            self._predict = self._make()
        outputs = [np.asarray(o) for o in self._predict(inputs)]
        if path is not None:
            _save_npz(path, outputs)
        return outputs


def _save_npz(path: Path, outputs: list[np.ndarray]) -> None:
    """Write atomically: a reader sees the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ref.", suffix=".npz", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        # numpy's stub types savez's **kwds, but mypy also matches a ** dict to allow_pickle
        np.savez(fh, **{f"out{i}": o for i, o in enumerate(outputs)})  # type: ignore[arg-type]
    os.replace(tmp, path)


ACCURACY_BATCH, ACCURACY_BATCHES, ACCURACY_SEED = 4, 2, 1000


def case_accuracy(case, bundle, predict: Predict) -> dict[str, Any]:
    """``predict`` (this case's runtime) scored against the fp32 source model (PyTorch or
    TensorFlow, ``Bundle.reference``) for one suite case.

    MoE: held-out accuracy of both and the delta; the others: the metric over
    ``ACCURACY_BATCHES`` seeded batches of ``ACCURACY_BATCH`` rows at the case's sequence
    length, whatever the case's batch: accuracy is about numerics, the same rows serve
    every batch and variant (one cached reference), and a model that cannot run batch 1
    (DCNMix) still gets a reference. The reference is the bundle's own module (truncated when
    the case truncates: its graph is proved equal to the full model's
    ``hidden_states[-(N+1)]``), fp32, on the CPU, cached beside the weights so variants
    share it.
    """
    from onnxbench.core.options import OPTIMIZE_OPTIONS

    artifact = bundle.artifact
    spec = bundle.spec
    state = Path(artifact.state_path) if artifact.state_path else None
    cache = state.parent / "reference" if state and state.is_file() else None
    # what the PyTorch module depends on: graph-only passes (fuse, precision...) do not count
    module_opts = {k: v for k, v in sorted(artifact.options.items())
                   if k not in OPTIMIZE_OPTIONS or k == "truncate_layers"}
    key = json.dumps([artifact.model, artifact.config, module_opts, str(state.resolve())
                      if state else None, state.stat().st_size if cache and state else None,
                      state.stat().st_mtime_ns if cache and state else None], default=str)
    reference = CachedReference(bundle.reference, cache, key)
    result = accuracy_delta(spec, predict, reference, config=case.config,
                            batch=ACCURACY_BATCH, seq=case.seq,
                            n_batches=ACCURACY_BATCHES, seed=case.seed + ACCURACY_SEED,
                            options=artifact.options or None)
    n_remove = int(artifact.options.get("truncate_layers") or 0)
    from onnxbench.model.frameworks import framework

    label = framework(bundle.framework).label
    result["reference"] = f"fp32 {label}, CPU" + (f", truncated by {n_remove} layers"
                                                 if n_remove else "")
    result["reference_cached"] = reference.misses == 0
    return result
