"""The user's own inputs: read from files and checked against the model's declared inputs.

Three layouts, chosen by what the path is:

- ``FILE.npz``: one array per input name. An array named like one of the model's OUTPUTS is
  an expected output (``verify`` compares against it); ``labels`` holds labels (accuracy);
- a folder of ``NAME.npy`` files (one per input), or one ``NAME.npy`` for a one-input model;
- ONNX Runtime's test-data layout: ``input_0.pb``, ``input_1.pb``... (serialized
  ``TensorProto``s, named by their ``name`` field or else by position) with optional
  ``output_N.pb``, in the folder itself or in its first ``test_data_set_*`` subfolder.

``check_inputs`` matches the arrays to the graph and raises ``UserError`` (one line, exit 2)
naming the input on any mismatch: an array for no input, an input with no array, another
dtype, another rank, a dim that contradicts a fixed one, or one symbol with two sizes.
``read_inputs`` does both: it is the one call every command (``bench``, ``verify``,
``load``, suites' ``inputs:``) makes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from onnxbench.core.errors import UserError, first_line
from onnxbench.model.dims import declared_dims, fmt_dims
from onnxbench.model.inputs import as_model, elem_type, graph_inputs, numpy_dtype

LABELS = "labels"
FORMATS = ("an .npz, a .npy, a folder of .npy files, or a folder of input_N.pb (ONNX Runtime "
           "test data)")
_PB = re.compile(r"^(input|output)_(\d+)\.pb$")


@dataclass
class UserData:
    """Arrays as read: inputs by name (``#N`` where only the position is known), expected
    outputs (by name, or ``#N``), labels, and where they came from."""

    source: str
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    labels: np.ndarray | None = None
    flag: str = "--inputs"  # what the user gave it as, for the messages

    @property
    def where(self) -> str:
        """``--inputs x.npz``: how a message names this data."""
        return f"{self.flag} {self.source}"


def load_user_data(path: str | Path, flag: str = "--inputs") -> UserData:
    """Read ``path`` in whichever layout it has (module docstring); UserError otherwise,
    naming ``flag`` (``--inputs``, ``--accuracy-data``): a directory where a file belongs,
    an unknown layout, an array holding NaN or Inf."""
    data = _read(Path(path), flag)
    data.flag = flag
    return _finite(data)


def _read(p: Path, flag: str) -> UserData:
    if not p.exists():
        raise UserError(f"{flag} {p}: no such file or folder; give {FORMATS}")
    if p.is_file() and p.suffix == ".npz":
        return _npz(p, flag)
    if p.is_file() and p.suffix == ".npy":
        return UserData(str(p), {p.stem: _npy(p, flag)})
    if p.is_file() and p.suffix == ".pb":
        name, arr = _pb(p, flag)
        return UserData(str(p), {name or "#0": arr})
    if p.is_dir():
        sets = sorted(d for d in p.glob("test_data_set_*") if d.is_dir())
        folder = p if any(p.glob("input_*.pb")) or not sets else sets[0]
        if any(folder.glob("input_*.pb")):
            return _pb_folder(folder, flag)
        npys = sorted(p.glob("*.npy"))
        if npys:
            data = {f.stem: _npy(f, flag) for f in npys}
            labels = data.pop(LABELS, None)
            return UserData(str(p), data, labels=labels)
        if p.suffix in (".npz", ".npy", ".pb"):
            raise UserError(f"{flag} {p}: is a directory where a {p.suffix} file belongs")
    raise UserError(f"{flag} {p}: not a known layout; give {FORMATS}")


def _finite(data: UserData) -> UserData:
    """UserError for a float input (or label) array holding NaN or Inf: a model run on it
    computes nothing comparable (NaN is never close to NaN: a model "mismatches" itself)."""
    arrays = {**data.inputs, **({LABELS: data.labels} if data.labels is not None else {})}
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind not in "fc":
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise UserError(f"{data.flag} {data.source}: array {name!r} holds {int(bad.sum())} "
                            f"NaN or Inf value(s) (the first at index {list(first)}); give "
                            "finite inputs")
    return data


def _npz(p: Path, flag: str) -> UserData:
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - zipfile/ValueError: not an npz, object arrays
        why = first_line(exc, limit=160)
        raise UserError(f"{flag} {p}: cannot read as .npz ({why})") from None
    if not data:
        raise UserError(f"{flag} {p}: holds no arrays")
    labels = data.pop(LABELS, None)
    return UserData(str(p), data, labels=labels)


def _npy(p: Path, flag: str) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's, one line
        why = first_line(exc, limit=160)
        raise UserError(f"{flag} {p}: cannot read as .npy ({why})") from None


def _pb(p: Path, flag: str) -> tuple[str, np.ndarray]:
    tensor = onnx.TensorProto()
    try:
        tensor.ParseFromString(p.read_bytes())
        return tensor.name, onnx.numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's, one line
        raise UserError(f"{flag} {p}: not a serialized ONNX TensorProto "
                        f"({first_line(exc, limit=160)})") from None


def _pb_folder(folder: Path, flag: str) -> UserData:
    data = UserData(str(folder), {})
    for f in sorted(folder.glob("*_*.pb"), key=lambda f: (f.name.split("_")[0], _index(f))):
        m = _PB.match(f.name)
        if not m:
            continue
        name, arr = _pb(f, flag)
        target = data.inputs if m.group(1) == "input" else data.outputs
        target[name or f"#{m.group(2)}"] = arr
    return data


def _index(f: Path) -> int:
    m = _PB.match(f.name)
    return int(m.group(2)) if m else 10**9


# --------------------------------------------------------------------------- checks

def check_inputs(model: str | Path | onnx.ModelProto, data: UserData,
                 values: Mapping[str, float] | None = None,
                 cast_floats: bool = False) -> dict[str, np.ndarray]:
    """The feeds for ``model`` from ``data`` (plus ``values`` fills), checked; UserError on
    any mismatch, naming the input and what the graph declares. ``cast_floats`` converts
    float arrays to another float width the graph takes (an fp16 variant of the model)."""
    from onnxbench.model.inputs import filled

    proto = as_model(model)
    declared = graph_inputs(proto)
    names = [vi.name for vi in declared]
    outputs = {o.name for o in proto.graph.output}
    feeds: dict[str, np.ndarray] = {}
    for key, arr in data.inputs.items():
        name = _resolve_name(key, names, data.where)
        if name is None:
            if key in outputs:
                data.outputs[key] = arr
                continue
            raise UserError(f"{data.where}: array {key!r} matches no input of the "
                            f"model; its inputs: {', '.join(names) or 'none'}")
        feeds[name] = np.asarray(arr)
    symbols: dict[str, tuple[int, str]] = {}
    for vi in declared:
        if vi.name in (values or {}):
            continue
        if vi.name not in feeds:
            raise UserError(f"{data.where}: no array for input {vi.name!r} "
                            f"({fmt_dims(declared_dims(vi))}); give one, or --value {vi.name}=N")
        want = numpy_dtype(elem_type(vi), vi.name)
        if cast_floats and feeds[vi.name].dtype.kind == want.kind == "f":
            feeds[vi.name] = feeds[vi.name].astype(want)
        _check_one(vi, feeds[vi.name], data.where, symbols)
    for name, value in (values or {}).items():
        found = next((v for v in declared if v.name == name), None)
        if found is None:
            raise UserError(f"--value {name}: no input of that name; inputs: {', '.join(names)}")
        shape = [d if isinstance(d, int) else symbols.get(d, (1, ""))[0] if isinstance(d, str)
                 else 1 for d in (declared_dims(found) or [])]
        feeds[name] = filled(name, numpy_dtype(elem_type(found), name), shape, value)
    return {n: feeds[n] for n in names}


def _resolve_name(key: str, names: list[str], where: str) -> str | None:
    if key in names:
        return key
    if key.startswith("#"):
        i = int(key[1:])
        if i >= len(names):
            raise UserError(f"{where}: input_{i}.pb but the model has "
                            f"{len(names)} input(s): {', '.join(names)}")
        return names[i]
    return None


def _check_one(vi: onnx.ValueInfoProto, arr: np.ndarray, data_where: str,
               symbols: dict[str, tuple[int, str]]) -> None:
    want = numpy_dtype(elem_type(vi), vi.name)
    where = f"{data_where}: input {vi.name!r}"
    if arr.dtype != want and not (want.kind in "OUS" and arr.dtype.kind in "OUS"):
        raise UserError(f"{where} is {arr.dtype.name} in the file, the model takes {want.name}; "
                        f"convert it (e.g. array.astype(np.{want.name}))")
    dims = declared_dims(vi)
    if dims is None:
        return
    if arr.ndim != len(dims):
        raise UserError(f"{where} has rank {arr.ndim} {list(arr.shape)}, the model declares "
                        f"rank {len(dims)} {fmt_dims(dims)}")
    for axis, (d, n) in enumerate(zip(dims, arr.shape)):
        if isinstance(d, int) and d != n:
            raise UserError(f"{where}: dim {axis} is {n}, the model fixes it to {d} "
                            f"{fmt_dims(dims)}")
        if isinstance(d, str):
            seen = symbols.setdefault(d, (n, vi.name))
            if seen[0] != n:
                raise UserError(f"{where}: dim {axis} ({d}) is {n} but {seen[1]!r} has "
                                f"{d}={seen[0]}")


def read_inputs(path: str | Path, model: str | Path | onnx.ModelProto,
                values: Mapping[str, float] | None = None,
                cast_floats: bool = False) -> dict[str, np.ndarray]:
    """Checked feeds for ``model`` from the file or folder at ``path`` (the one loader)."""
    return check_inputs(model, load_user_data(path), values, cast_floats)


def rows(feeds: Mapping[str, np.ndarray], model: str | Path | onnx.ModelProto,
         batch: int | None, source: str = "--inputs") -> dict[str, np.ndarray]:
    """The first ``batch`` rows of every input whose first dim is not fixed (the batch
    axis); all of them when ``batch`` is None. UserError when there are fewer rows."""
    if batch is None:
        return dict(feeds)
    proto = as_model(model)
    out = {}
    for vi in graph_inputs(proto):
        arr = feeds[vi.name]
        dims = declared_dims(vi)
        if arr.ndim == 0 or (dims and isinstance(dims[0], int)):
            out[vi.name] = arr
            continue
        if arr.shape[0] < batch:
            raise UserError(f"{source}: input {vi.name!r} holds {arr.shape[0]} row(s); batch "
                            f"{batch} needs at least {batch}")
        out[vi.name] = arr[:batch]
    return out


def batch_of(feeds: Mapping[str, np.ndarray], model: str | Path | onnx.ModelProto) -> int:
    """The batch the arrays hold: the first dim of the first input with a free first dim."""
    for vi in graph_inputs(as_model(model)):
        dims, arr = declared_dims(vi), feeds[vi.name]
        if arr.ndim and not (dims and isinstance(dims[0], int)):
            return int(arr.shape[0])
    return 1


def feeds_for(path: str | Path, *, onnx_model: str | Path | onnx.ModelProto | None = None,
              names: Sequence[str] | None = None, batch: int | None = None,
              values: Mapping[str, float] | None = None,
              cast_floats: bool = False) -> dict[str, np.ndarray]:
    """A case's feeds from the user's file: checked against the ONNX graph when there is
    one (else against the input ``names``), the first ``batch`` rows, ``values`` filled.
    ``cast_floats``: the graph may be an fp16 variant of the model the data was made for."""
    if onnx_model is not None:
        return rows(read_inputs(path, onnx_model, values, cast_floats), onnx_model, batch)
    from onnxbench.model.inputs import fill_values

    data = load_user_data(path)
    wanted = list(names or data.inputs)
    unknown = sorted(set(data.inputs) - set(wanted))
    missing = [n for n in wanted if n not in data.inputs]
    if unknown or missing:
        what = (f"array {unknown[0]!r} matches no input" if unknown
                else f"no array for input {missing[0]!r}")
        raise UserError(f"{data.where}: {what}; the model's inputs: {', '.join(wanted)}")
    feeds = {}
    for n in wanted:
        arr = np.asarray(data.inputs[n])
        if batch is not None and arr.ndim:
            if arr.shape[0] < batch:
                raise UserError(f"{data.where}: input {n!r} holds {arr.shape[0]} "
                                f"row(s); batch {batch} needs at least {batch}")
            arr = arr[:batch]
        feeds[n] = arr
    return fill_values(feeds, values)
