"""reference.json: seeded inputs and the PyTorch outputs, to check any ONNX file later.

``onnxbench export`` writes it next to the graphs; ``onnxbench verify MODEL.onnx
--reference reference.json`` replays the inputs through ONNX Runtime anywhere, with no
PyTorch and no zoo. Arrays are stored as ``{"dtype", "shape", "data"}`` with the data as
nested lists (float32 values round-trip exactly through JSON's doubles).

Size is capped: shape keys (``b1``, ``b2``, ``b8``, ``b64``, ``b1_s16`` ...) are kept
smallest first until ``max_elements`` stored numbers are reached, always keeping at least
the two smallest; ``meta["omitted"]`` names the keys left out, so a heavy model's file
holds batch 1 and 2 only and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError
from onnxbench.core.result import atomic_write_text

FORMAT = "onnxbench-reference/1"
MAX_ELEMENTS = 400_000  # about 8 MB of JSON


def shape_key(batch: int, seq: int | None = None) -> str:
    """The key of one input shape: ``b8`` or ``b8_s16``."""
    return f"b{batch}" if seq is None else f"b{batch}_s{seq}"


def encode_array(arr: np.ndarray) -> dict[str, Any]:
    arr = np.asarray(arr)
    return {"dtype": str(arr.dtype), "shape": list(arr.shape), "data": arr.tolist()}


def decode_array(obj: Mapping[str, Any], where: str = "array") -> np.ndarray:
    try:
        arr = np.asarray(obj["data"], dtype=np.dtype(obj["dtype"]))
        return arr.reshape(obj["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{where}: not an encoded array ({exc}); "
                        "expected dtype, shape, data") from exc


def write_reference(path: Path, inputs_by_batch: Mapping[str, Mapping[str, np.ndarray]],
                    outputs_by_batch: Mapping[str, Sequence[np.ndarray]],
                    meta: Mapping[str, Any], max_elements: int = MAX_ELEMENTS) -> Path:
    """Write reference.json; keys missing from ``outputs_by_batch`` are skipped (and noted)."""
    sizes = {key: _elements(inputs_by_batch[key], outputs_by_batch[key])
             for key in inputs_by_batch if key in outputs_by_batch}
    kept: list[str] = []
    omitted: list[str] = []
    total = 0
    for key in sorted(sizes, key=sizes.__getitem__):
        if len(kept) < 2 or total + sizes[key] <= max_elements:
            kept.append(key)
            total += sizes[key]
        else:
            omitted.append(key)
    no_output = [k for k in inputs_by_batch if k not in outputs_by_batch]
    doc = {
        "format": FORMAT,
        "meta": {**meta, "omitted": omitted, "no_reference_output": no_output,
                 "max_elements": max_elements},
        "cases": {key: {"inputs": {n: encode_array(a) for n, a in inputs_by_batch[key].items()},
                        "outputs": [encode_array(o) for o in outputs_by_batch[key]]}
                  for key in kept},
    }
    path = Path(path)
    atomic_write_text(path, json.dumps(doc, separators=(",", ":")))
    return path


def _elements(inputs: Mapping[str, np.ndarray], outputs: Sequence[np.ndarray]) -> int:
    return sum(np.asarray(a).size for a in inputs.values()) + sum(np.asarray(o).size
                                                                  for o in outputs)


def read_reference(path: Path) -> tuple[dict[str, dict[str, np.ndarray]],
                                        dict[str, list[np.ndarray]], dict[str, Any]]:
    """(inputs_by_key, outputs_by_key, meta) from reference.json; UserError if it is not one."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory; pass the reference.json file that "
                        "`onnxbench export` wrote (inside its output folder)")
    if not path.is_file():
        raise UserError(f"{path}: reference file not found; pass the reference.json "
                        "that `onnxbench export` wrote")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not JSON ({exc.__class__.__name__}); expected a "
                        "reference.json written by `onnxbench export`") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "cases" not in doc:
        raise UserError(f"{path}: not an onnxbench reference (field 'format' should be "
                        f"{FORMAT!r})")
    inputs, outputs = {}, {}
    for key, case in doc["cases"].items():
        where = f"{path}: cases.{key}"
        inputs[key] = {n: decode_array(a, f"{where}.inputs.{n}") for n, a in case["inputs"].items()}
        outputs[key] = [decode_array(a, f"{where}.outputs") for a in case["outputs"]]
    return inputs, outputs, dict(doc.get("meta", {}))


def ort_session(path: str | Path):
    """A quiet ONNX Runtime CPU session (ORT would log each failed run on stderr)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def verify(model_path: Path, reference_path: Path, rtol: float, atol: float) -> dict[str, Any]:
    """Replay reference.json through ``model_path`` on ORT CPU and compare every shape.

    Returns a plain dict (``passed``, and per shape key the parity report or the ORT
    error); UserError when the files are unusable or the input names do not match.
    """
    from onnxbench.core.errors import first_line
    from onnxbench.model.inputs import load_onnx
    from onnxbench.quality.parity import compare, tolerances

    rtol, atol = tolerances(rtol, atol)
    model = load_onnx(model_path)
    inputs, outputs, meta = read_reference(reference_path)
    init = {i.name for i in model.graph.initializer}
    graph_inputs = sorted(i.name for i in model.graph.input if i.name not in init)
    ref_inputs = sorted(next(iter(inputs.values()), {}))
    if graph_inputs != ref_inputs:
        raise UserError(f"{model_path}: graph inputs {graph_inputs} do not match the inputs "
                        f"of {reference_path} {ref_inputs}; is it the same model?")
    session = ort_session(model_path)
    names = meta.get("output_names") or [o.name for o in model.graph.output]
    cases: dict[str, Any] = {}
    for key, feed in inputs.items():
        try:
            actual = session.run(None, feed)
        except Exception as exc:  # noqa: BLE001  (a graph that cannot run is a failed check)
            cases[key] = {"passed": False, "error": first_line(exc, root_cause=True)}
            continue
        cases[key] = compare(outputs[key], actual, names, rtol, atol).to_dict()
    return {"model": str(model_path), "reference": str(reference_path), "rtol": rtol,
            "atol": atol, "passed": bool(cases) and all(c["passed"] for c in cases.values()),
            "cases": cases, "omitted": meta.get("omitted", [])}


def verify_inputs(model_path: Path, inputs_path: Path, against: Path | None, rtol: float,
                  atol: float, values: Mapping[str, float] | None = None) -> dict[str, Any]:
    """``model_path`` on the user's inputs (``onnxbench.model.input_files``) on ORT CPU, compared
    with the expected outputs stored beside them (``output_N.pb``, or arrays named like the
    model's outputs) or, with ``against``, with another ONNX file's outputs on the same
    inputs (e.g. the fp32 original of an optimised graph). Same shape as ``verify``'s."""
    from onnxbench.core.errors import first_line
    from onnxbench.model.input_files import check_inputs, load_user_data
    from onnxbench.model.inputs import load_onnx
    from onnxbench.quality.parity import compare, tolerances

    rtol, atol = tolerances(rtol, atol)
    model = load_onnx(model_path)
    data = load_user_data(inputs_path)
    feeds = check_inputs(model, data, values)
    names = [o.name for o in model.graph.output]
    if against is not None:
        other = load_onnx(against)
        expected = ort_session(against).run(None, check_inputs(other, data, values))
        source = str(against)
    elif data.outputs:
        expected = [data.outputs.get(n, data.outputs.get(f"#{i}")) for i, n in enumerate(names)]
        if any(e is None for e in expected):
            missing = [n for n, e in zip(names, expected) if e is None]
            raise UserError(f"--inputs {data.source}: no expected output for {missing[0]!r}; "
                            f"the model's outputs: {', '.join(names)}")
        source = f"expected outputs in {data.source}"
    else:
        raise UserError(f"--inputs {data.source}: holds no expected outputs (output_N.pb, or "
                        "arrays named like the model's outputs); give --against OTHER.onnx or "
                        "--reference reference.json")
    try:
        actual = ort_session(model_path).run(None, feeds)
        case = compare(expected, actual, names, rtol, atol).to_dict()
    except Exception as exc:  # noqa: BLE001  (a graph that cannot run is a failed check)
        case = {"passed": False, "error": first_line(exc, root_cause=True)}
    return {"model": str(model_path), "reference": source, "rtol": rtol, "atol": atol,
            "passed": bool(case["passed"]), "cases": {"inputs": case}, "omitted": []}
