"""Seeded inputs synthesised from an ONNX graph's declared inputs.

Works on any ONNX file: the graph says each input's element type and dims (fixed numbers
or symbols); the user supplies ``batch``, ``seq``, explicit shapes and integer value ranges.

Each input's concrete shape comes from ``onnxbench.model.dims`` (fixed dims, ``--shape``,
``batch``, ``seq``; a batch or length the graph pins is refused there).

Values: floats are standard normal (or uniform in ``ranges[name]``), integers uniform in
``ranges[name]`` with BOTH ends inclusive (``16000:16000`` is exactly 16000; default 0..99,
clipped to the dtype; masks default to ones), bools random, strings short random words.
``values[name]`` fills an input with one number instead (a scalar such as a sample rate, or
a constant tensor of the resolved shape). Real data is read by ``onnxbench.model.input_files``.
bfloat16 comes back as an ``ml_dtypes.bfloat16`` array; ONNX Runtime takes it only as an
OrtValue (``OrtValue.ortvalue_from_numpy_with_onnx_type(a.view(np.uint16),
onnx.TensorProto.BFLOAT16)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from onnxbench.core.errors import UserError, first_line, os_error_message
from onnxbench.model.dims import bind_symbols, check_pinned, declared_dims, resolve_dims
from onnxbench.model.onnxfile import check_declared_dims

DEFAULT_INT_RANGE = (0, 99)  # inclusive
_MASK_RE = re.compile(r"mask", re.IGNORECASE)
_UNSUPPORTED = {"float8", "float4", "int4", "uint4", "int2", "uint2", "complex"}


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """Load and validate an ONNX file (external data left on disk); UserError if it is bad.

    Catches: a missing path, a directory, an empty/non-ONNX/truncated file (protobuf parse
    failure or a proto without graph/opset), and a graph the ONNX checker rejects.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file; give the path to an .onnx model")
    if not p.is_file():
        raise UserError(f"{p}: is a directory, not an .onnx file")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except OSError as exc:  # permission denied, I/O error: not a format problem
        raise UserError(os_error_message(exc, "reading the ONNX model")) from None
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError and friends: the file's
        why = first_line(exc, with_type=False, limit=200)
        raise UserError(f"{p}: not a valid ONNX model (cannot parse: {why}); is the file "
                        "truncated or of another format?") from None
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise UserError(f"{p}: not a valid ONNX model (no graph, opset or IR version); "
                        "is the file truncated or of another format?")
    check_declared_dims(p, model)
    try:  # by path: external-data tensors are then checked relative to the model's folder
        onnx.checker.check_model(str(p))
    except Exception as exc:  # noqa: BLE001 - whatever the checker finds is the file's
        why = first_line(exc, with_type=False, limit=200)
        raise UserError(f"{p}: ONNX checker rejects the model: {why}") from None
    return model


def as_model(model: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    return model if isinstance(model, onnx.ModelProto) else load_onnx(model)


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """Declared inputs that a caller must feed (initializers listed as inputs skipped)."""
    inits = {t.name for t in model.graph.initializer}
    inits |= {t.name for t in model.graph.sparse_initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def elem_type(vi: onnx.ValueInfoProto) -> int:
    if vi.type.WhichOneof("value") != "tensor_type":
        kind = vi.type.WhichOneof("value") or "unknown"
        raise UserError(f"input {vi.name!r}: type {kind} is not a tensor; onnxbench can "
                        "only synthesise tensor inputs")
    return vi.type.tensor_type.elem_type


def numpy_dtype(elem_type: int, input_name: str = "?") -> np.dtype:
    """The numpy dtype for an ONNX element type; UserError for ones numpy cannot hold."""
    type_name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() \
        else str(elem_type)
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:  # noqa: BLE001 - an element type numpy has no dtype for
        dtype = None
    if dtype is None or elem_type == TensorProto.UNDEFINED or \
            any(dtype.name.startswith(u) for u in _UNSUPPORTED):
        raise UserError(f"input {input_name!r}: element type {type_name} cannot be synthesised "
                        "(numpy has no usable dtype for it); feed the model another way")
    return dtype


def describe_inputs(model: str | Path | onnx.ModelProto) -> list[dict[str, Any]]:
    """Name, dtype and declared dims of every input (symbols as strings, unknown as "?")."""
    rows = []
    for vi in graph_inputs(as_model(model)):
        elem = elem_type(vi)
        onnx_name = TensorProto.DataType.Name(elem) if elem in TensorProto.DataType.values() \
            else str(elem)
        try:
            dtype = numpy_dtype(elem, vi.name).name
        except UserError:
            dtype = None
        dims = declared_dims(vi)
        rows.append({"name": vi.name, "onnx_type": onnx_name, "dtype": dtype,
                     "dims": None if dims is None else ["?" if d is None else d for d in dims]})
    return rows


def synthesize(model: str | Path | onnx.ModelProto, *, batch: int, seq: int | None = None,
               shapes: Mapping[str, Sequence[int]] | None = None,
               ranges: Mapping[str, tuple[float, float]] | None = None,
               values: Mapping[str, float] | None = None,
               seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs for every declared input of ``model``, keyed by input name.

    Each input draws from its own generator seeded by (seed, position), so the values of
    one input do not depend on the others' shapes. ``values`` fills an input with one value.
    """
    if batch < 1:
        raise UserError(f"--batch: must be a positive integer, not {batch}")
    if seq is not None and seq < 1:
        raise UserError(f"--seq: must be a positive integer, not {seq}")
    ranges = dict(ranges or {})
    values = dict(values or {})
    specs = input_specs(model, batch=batch, seq=seq, shapes=shapes)
    for flag, given in (("--range", ranges), ("--value", values)):
        unknown = set(given) - set(specs)
        if unknown:
            raise UserError(f"{flag} {sorted(unknown)[0]}: no input of that name; inputs: "
                            f"{', '.join(specs) or 'none'}")
    feeds: dict[str, np.ndarray] = {}
    for i, (name, (dtype, shape)) in enumerate(specs.items()):
        if name in values:
            feeds[name] = filled(name, dtype, shape, values[name])
            continue
        rng = np.random.default_rng([seed, i])
        feeds[name] = _values(name, dtype, shape, rng, ranges.get(name))
    return feeds


def input_specs(model: str | Path | onnx.ModelProto, *, batch: int, seq: int | None = None,
                shapes: Mapping[str, Sequence[int]] | None = None
                ) -> dict[str, tuple[np.dtype, list[int]]]:
    """(dtype, concrete shape) of every declared input, without allocating anything."""
    shapes = dict(shapes or {})
    inputs = graph_inputs(as_model(model))
    symbols = bind_symbols(inputs, shapes)
    dtypes = {vi.name: numpy_dtype(elem_type(vi), vi.name) for vi in inputs}
    resolved = {vi.name: (resolve_dims(vi.name, declared_dims(vi),
                                       is_int=dtypes[vi.name].kind in "iu", batch=batch,
                                       seq=seq, explicit=shapes, symbols=symbols),
                          dtypes[vi.name].kind in "iu") for vi in inputs}
    check_pinned(resolved, batch, seq)
    return {name: (dtypes[name], [d.value for d in dims])
            for name, (dims, _) in resolved.items()}


def fill_values(feeds: Mapping[str, np.ndarray], values: Mapping[str, float] | None
                ) -> dict[str, np.ndarray]:
    """``feeds`` with each input named in ``values`` filled with that value (same shape and
    dtype); UserError for a name that is no input."""
    out = dict(feeds)
    for name, value in (values or {}).items():
        if name not in out:
            raise UserError(f"--value {name}: no input of that name; inputs: {', '.join(out)}")
        arr = np.asarray(out[name])
        out[name] = filled(name, arr.dtype, arr.shape, value)
    return out


def filled(name: str, dtype: np.dtype, shape: Sequence[int], value: float) -> np.ndarray:
    """An array of ``shape`` holding ``value`` (``--value``); UserError if ``dtype`` cannot
    hold it exactly (a fraction for an integer input, a number outside its range)."""
    if dtype.kind in "iub":
        if float(value) != int(value):
            raise UserError(f"--value {name}={value:g}: input {name!r} is {dtype.name}; "
                            "give a whole number")
        if dtype.kind == "b":
            if value not in (0, 1):
                raise UserError(f"--value {name}={value:g}: input {name!r} is bool; give 0 or 1")
        else:
            info = np.iinfo(dtype)
            if not info.min <= int(value) <= info.max:
                raise UserError(f"--value {name}={value:g}: outside {dtype.name} "
                                f"[{info.min}, {info.max}]")
        return np.full(tuple(shape), int(value), dtype=dtype)
    if dtype.kind in "OUS":
        raise UserError(f"--value {name}: input {name!r} holds strings; --value fills "
                        "numeric inputs only")
    return np.full(tuple(shape), value).astype(dtype)


def _values(name: str, dtype: np.dtype, shape: list[int], rng: np.random.Generator,
            value_range: tuple[float, float] | None) -> np.ndarray:
    """Random values of ``dtype`` and ``shape`` (see the module docstring for the defaults)."""
    size = tuple(shape)
    if dtype.kind == "b":
        return np.asarray(rng.integers(0, 2, size=size).astype(bool))
    if dtype.kind in "OUS":
        words = np.array(["alpha", "beta", "gamma", "delta", "epsilon"], dtype=object)
        return np.asarray(rng.choice(words, size=size), dtype=object)
    if dtype.kind in "iu":
        low, high = _int_range(name, dtype, value_range)
        return np.asarray(rng.integers(low, high, size=size, endpoint=True)).astype(dtype)
    if value_range is not None:
        lo, hi = value_range
        if lo == hi:
            return np.full(size, lo).astype(dtype)
        return np.asarray(rng.uniform(lo, hi, size=size)).astype(dtype)
    return np.asarray(rng.standard_normal(size=size)).astype(dtype)


def _int_range(name: str, dtype: np.dtype,
               value_range: tuple[float, float] | None) -> tuple[int, int]:
    """Inclusive (low, high) of an integer input."""
    info = np.iinfo(dtype)
    if value_range is None:
        if _MASK_RE.search(name):
            return 1, 1  # attention masks: attend to every position
        return max(DEFAULT_INT_RANGE[0], int(info.min)), min(DEFAULT_INT_RANGE[1], int(info.max))
    low, high = value_range
    if float(low) != int(low) or float(high) != int(high):
        raise UserError(f"--range {name}={low:g}:{high:g}: input {name!r} is {dtype.name}; "
                        "give whole numbers")
    low, high = int(low), int(high)
    if low < info.min or high > info.max:
        raise UserError(f"--range {name}={low}:{high}: outside {dtype.name} "
                        f"[{info.min}, {info.max}]")
    return low, high


def parse_shape(text: str) -> tuple[str, list[int]]:
    """``"NAME=1,3,224,224"`` -> ``("NAME", [1, 3, 224, 224])``; UserError if malformed."""
    name, sep, dims = text.partition("=")
    name = name.strip()
    fmt = "expected NAME=D0,D1,... with positive integers, e.g. pixel_values=1,3,224,224"
    if not sep or not name:
        raise UserError(f"--shape {text!r}: {fmt}")
    parts = [p.strip() for p in dims.split(",")] if dims.strip() else []
    if not parts and dims.strip() == "":
        return name, []  # a scalar: NAME=
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UserError(f"--shape {text!r}: {fmt}") from None
    if any(v < 1 for v in values):
        raise UserError(f"--shape {text!r}: dims must be positive; {fmt}")
    return name, values



def parse_range(text: str) -> tuple[str, tuple[float, float]]:
    """``"input_ids=0:29999"`` -> ``("input_ids", (0, 29999))``; both ends inclusive."""
    name, sep, rng = text.partition("=")
    name = name.strip()
    fmt = ("expected NAME=LOW:HIGH with LOW <= HIGH (both inclusive), e.g. input_ids=0:29999 "
           "or sr=16000:16000")
    low_s, colon, high_s = rng.partition(":")
    if not sep or not name or not colon:
        raise UserError(f"--range {text!r}: {fmt}")
    try:
        low, high = float(low_s), float(high_s)
    except ValueError:
        raise UserError(f"--range {text!r}: {fmt}") from None
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise UserError(f"--range {text!r}: {fmt}")
    return name, (int(low) if low.is_integer() else low, int(high) if high.is_integer() else high)


def parse_value(text: str) -> tuple[str, float]:
    """``"sample_rate=16000"`` -> ``("sample_rate", 16000)`` (``--value``)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not sep or not name or not np.isfinite(value):
        raise UserError(f"--value {text!r}: expected NAME=NUMBER, e.g. sample_rate=16000")
    return name, int(value) if value.is_integer() else value


def input_caster(sess: Any) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    """Inputs restricted to an ORT session's inputs and cast to their declared dtypes (an
    fp16 graph without keep_io_types takes float16 inputs; the zoo makes float32 ones)."""
    kinds = {"tensor(float16)": np.float16, "tensor(float)": np.float32,
             "tensor(double)": np.float64, "tensor(int64)": np.int64,
             "tensor(int32)": np.int32}
    types = {i.name: kinds.get(i.type) for i in sess.get_inputs()}

    def cast(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: (np.asarray(v).astype(types[k], copy=False) if types.get(k) else
                    np.asarray(v)) for k, v in inputs.items() if k in types}

    return cast
