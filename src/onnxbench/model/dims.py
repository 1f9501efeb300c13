"""Dim resolution: the concrete shape of each declared input of an ONNX graph, and what
the graph pins.

Per dim, first match wins:
1. an explicit shape for the input (``--shape NAME=1,3,224,224``), or a symbol bound by one
   (``--shape height=224`` binds the symbol ``height`` everywhere; an explicit input shape
   also binds the symbols at its axes);
2. a fixed dim from the graph;
3. a symbol named like a sequence (seq, sequence, seq_len, sequence_length, ...) -> ``seq``;
4. the first axis, or a symbol named like a batch (batch, batch_size, N, ...) -> ``batch``;
5. the second axis of an integer input (token ids) -> ``seq``;
6. a tf2onnx/ORT placeholder symbol ``unk__*`` -> ``batch``;
anything left is a UserError naming the input, the dim and the ``--shape`` that sets it.

A batch or sequence length that no dim takes would be a label on a number measured at
another shape (a graph exported without dynamic axes runs [1, 64] whatever ``--batch``
says): ``check_pinned`` refuses it with a ``PinnedDim`` error naming the input, its fixed
dim and what was asked; a suite case meets it in its worker and is ``skipped`` with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import onnx

from onnxbench.core.errors import UserError

SEQ_NAMES = frozenset({"seq", "sequence", "seq_len", "seqlen", "sequence_length",
                       "seq_length", "num_tokens", "tokens", "length"})
BATCH_NAMES = frozenset({"batch", "batch_size", "batchsize", "n", "b", "bs", "num_batches"})
NO_SEQ_FIX = "leave out --seq / --seq-mix (a suite's seq / seq_mix)"
EXPORT_HINT = "export it with a dynamic axis there (torch.onnx.export(..., dynamic_axes=...))"


class PinnedDim(UserError):
    """The graph fixes a dim to another value than the batch or sequence length asked for
    (or has no such axis at all): a number measured here would carry a wrong label."""


class NoSeqAxis(PinnedDim):
    """A sequence length asked of a model that has no sequence axis at all."""


@dataclass(frozen=True)
class Dim:
    """One resolved dim: its value and where it came from (``fixed``, ``explicit``,
    ``batch`` or ``seq``)."""

    value: int
    role: str


def declared_dims(vi: onnx.ValueInfoProto) -> list[int | str | None] | None:
    """Declared dims: int (fixed), str (symbol) or None (unknown); None if rank unknown."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            out.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def fmt_dims(dims: Sequence[int | str | None] | None) -> str:
    if dims is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def resolve_dims(name: str, dims: list[int | str | None] | None, *, is_int: bool, batch: int,
                 seq: int | None, explicit: Mapping[str, Sequence[int]],
                 symbols: Mapping[str, int]) -> list[Dim]:
    """Concrete dims of one input under the rules in the module docstring."""
    if name in explicit:
        return [Dim(v, "explicit") for v in _check_explicit(name, dims, list(explicit[name]))]
    if dims is None:
        raise UserError(f"input {name!r}: the graph does not declare its rank; "
                        f"set it with --shape {name}=D0,D1,...")
    return [_resolve_dim(name, axis, d, is_int=is_int, batch=batch, seq=seq, symbols=symbols)
            for axis, d in enumerate(dims)]


def _check_explicit(name: str, dims: list[int | str | None] | None, shape: list[int]) -> list[int]:
    if dims is not None and len(dims) != len(shape):
        raise UserError(f"--shape {name}: gives {len(shape)} dims but the input has rank "
                        f"{len(dims)} ({fmt_dims(dims)})")
    for axis, (want, got) in enumerate(zip(dims or [], shape)):
        if isinstance(want, int) and want != got:
            raise UserError(f"--shape {name}: dim {axis} is fixed to {want} in the graph, "
                            f"not {got} ({fmt_dims(dims)})")
    return shape


def _resolve_dim(name: str, axis: int, d: int | str | None, *, is_int: bool, batch: int,
                 seq: int | None, symbols: Mapping[str, int]) -> Dim:
    if isinstance(d, int):
        return Dim(d, "fixed")
    if d is not None and d in symbols:
        return Dim(symbols[d], "explicit")
    key = (d or "").lower()
    if _is_batch(axis, key):
        return Dim(batch, "batch")
    if is_seq_dim(axis, key, is_int):
        if seq is None:
            raise UserError(f"input {name!r}: dim {axis} ({d or '?'}) is a sequence length; "
                            f"set it with --seq N or --shape {name}=...")
        return Dim(seq, "seq")
    if key.startswith("unk__"):
        return Dim(batch, "batch")
    raise UserError(f"input {name!r}: dim {axis} ({d or 'unnamed'}) is symbolic and unresolved; "
                    f"set it with --shape {name}=D0,D1,... or --shape {d or 'DIM'}=N")


def _is_batch(axis: int, key: str) -> bool:
    """A free dim the batch fills: axis 0, or one named like a batch (unless named seq)."""
    named_seq = key in SEQ_NAMES or key.startswith(("seq", "sequence"))
    return not named_seq and (axis == 0 or key in BATCH_NAMES or key.startswith("batch"))


def is_seq_dim(axis: int, key: str, is_int: bool) -> bool:
    """A free dim ``--seq`` fills: one named like a sequence, or axis 1 of integer ids."""
    named_seq = key in SEQ_NAMES or key.startswith(("seq", "sequence"))
    return named_seq or (not _is_batch(axis, key) and is_int and axis == 1)


def bind_symbols(inputs: Sequence[onnx.ValueInfoProto],
                 shapes: Mapping[str, Sequence[int]]) -> dict[str, int]:
    """Symbols bound by explicit shapes: ``--shape SYMBOL=N`` or an input's explicit shape."""
    names = {vi.name for vi in inputs}
    all_symbols: set[str] = set()
    bound: dict[str, int] = {}
    for vi in inputs:
        dims = declared_dims(vi) or []
        all_symbols |= {d for d in dims if isinstance(d, str)}
        if vi.name in shapes and len(shapes[vi.name]) == len(dims):
            bound.update({d: int(v) for d, v in zip(dims, shapes[vi.name]) if isinstance(d, str)})
    for key, value in shapes.items():
        if key in names:
            continue
        if key in all_symbols and len(value) == 1:
            bound[key] = int(value[0])
            continue
        raise UserError(f"--shape {key}: no input or dim of that name; inputs: "
                        f"{', '.join(sorted(names)) or 'none'}"
                        + (f"; dims: {', '.join(sorted(all_symbols))}" if all_symbols else ""))
    return bound


def check_pinned(resolved: Mapping[str, tuple[list[Dim], bool]], batch: int,
                 seq: int | None) -> None:
    """PinnedDim unless the shapes that will run are the ``batch`` (and ``seq``) asked for.

    ``resolved``: input name -> (its dims, integer input?). A batch no dim takes is fine
    only where it is 1 (a graph without a batch axis runs one sample) or every input's
    first axis already equals it; a sequence length no dim takes only where an integer
    input's second axis equals it."""
    dims = {name: d for name, (d, _) in resolved.items()}
    if batch != 1 and not any(x.role == "batch" for d in dims.values() for x in d):
        ranked = {name: d for name, d in dims.items() if d}
        off = next(((n, d) for n, d in ranked.items() if d[0].value != batch), None)
        if not ranked:
            raise PinnedDim(f"batch {batch}: the model has no batch axis (every input is a "
                            "scalar); run it at batch 1")
        if off is not None:
            name, d = off
            if d[0].role == "explicit":
                raise PinnedDim(f"batch {batch}: the shape given for input {name!r} "
                                f"({_shape(d)}) sets its dim 0 to {d[0].value}; give the batch "
                                "in that shape, or leave the shape's batch dim to batch")
            raise PinnedDim(f"batch {batch}: input {name!r} has its batch dim (dim 0) "
                            f"fixed to {d[0].value} in the graph ({_shape(d)}); run it at batch "
                            f"{d[0].value}, or {EXPORT_HINT}")
    if seq is None or any(x.role == "seq" for d in dims.values() for x in d):
        return
    second = {name: d[1] for name, (d, is_int) in resolved.items() if is_int and len(d) > 1}
    if second and all(x.value == seq for x in second.values()):
        return
    if second:
        name, fixed = next((n, x) for n, x in second.items() if x.value != seq)
        raise PinnedDim(f"seq {seq}: input {name!r} has its sequence dim (dim 1) fixed to "
                        f"{fixed.value} in the graph ({_shape(dims[name])}); run it at seq "
                        f"{fixed.value}, or {EXPORT_HINT}")
    shown = ", ".join(f"{n} {_shape(d)}" for n, d in list(dims.items())[:4])
    raise NoSeqAxis(f"no sequence axis (inputs: {shown}), so seq {seq} cannot apply; "
                    f"{NO_SEQ_FIX}")


def _shape(dims: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d.value) for d in dims) + "]"


__all__ = ["BATCH_NAMES", "NO_SEQ_FIX", "SEQ_NAMES", "Dim", "NoSeqAxis", "PinnedDim",
           "bind_symbols", "check_pinned", "declared_dims", "fmt_dims", "is_seq_dim",
           "resolve_dims"]
