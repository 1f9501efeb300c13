"""Checks made before anything is built or run: what a plan can know is wrong, it says now.

- **Inputs that cannot fit**: the bytes a case's inputs take, estimated from the ONNX
  graph's declared input shapes and dtypes (nothing allocated) or, for a zoo model, from its
  inputs at batch 1 times the batch, against the machine's memory (the cgroup limit when
  lower). ``--batch 100000000000`` is one line, not a ``MemoryError`` traceback.
- **Zoo configs**: ``bench dcnv2 --config lite`` names the configs before any worker starts.

Every problem is a ``UserError``: one line, exit 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psutil

from onnxbench.core.errors import UserError, suggestion
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.model.zoo import resolve

if TYPE_CHECKING:
    from onnxbench.core.case import Case

_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_limit_bytes() -> int:
    """Physical memory this process may use: RAM, or its cgroup's limit when lower."""
    limit = int(psutil.virtual_memory().total)
    for path in _CGROUP_LIMITS:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limit = min(limit, int(text))
    return limit


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{int(n)} B" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def input_bytes(model: Any, batch: int, seq: int | None = None, *,
                shapes: Mapping[str, Sequence[int]] | None = None, config: str | None = None,
                options: Mapping[str, Any] | None = None) -> tuple[int | None, str]:
    """(bytes, the largest input as ``name: dtype[dims]``) of ``model``'s inputs at
    ``batch``, allocating nothing of that size.

    ``model`` is an ONNX ``ModelProto`` (declared shapes and dtypes) or a zoo spec (its
    inputs at batch 1, times the batch). None where even that cannot be made here (a
    TensorFlow source, data that is missing): the worker then says what is wrong.
    """
    import onnx

    if isinstance(model, onnx.ModelProto):
        from onnxbench.model.inputs import input_specs

        specs = input_specs(model, batch=batch, seq=seq, shapes=shapes)
        sizes = {name: int(np.prod(shape, dtype=object)) * dtype.itemsize
                 for name, (dtype, shape) in specs.items()}
        if not sizes:
            return 0, ""
        big = max(sizes, key=sizes.__getitem__)
        return sum(sizes.values()), f"{big}: {specs[big][0].name}{list(specs[big][1])}"
    if getattr(model, "framework", "torch") != "torch":
        return None, ""
    try:
        one = model.make_inputs(config, 1, seq or model.default_seq, 0, options=options)
    except UserError:
        raise
    except Exception:  # noqa: BLE001 - the worker will say what is wrong, with its status
        return None, ""
    return sum(int(np.asarray(v).nbytes) for v in one.values()) * int(batch), ""


def check_fits(nbytes: int | None, what: str, fix: str, detail: str = "") -> None:
    """UserError when ``nbytes`` of inputs exceed this machine's memory."""
    limit = memory_limit_bytes()
    if nbytes is not None and nbytes > limit:
        extra = f" ({detail})" if detail else ""
        raise UserError(f"{what}: the inputs alone need {human_bytes(nbytes)}{extra} but this "
                        f"machine has {human_bytes(limit)} of memory; {fix}")


def check_config(spec: Any, config: str | None, flag: str = "--config") -> None:
    """UserError naming the model's configs when ``config`` is not one of them."""
    if config is not None and config not in spec.configs:
        raise UserError(f"{flag} {config!r}: model {spec.name!r} has no such config; "
                        f"{suggestion(config, spec.configs)}"
                        f"choose one of: {', '.join(spec.configs)}")


def seq_inputs(model: Any,
               shapes: Mapping[str, Sequence[int]] | None = None) -> list[str]:
    """``input:axis`` of every free dim a sequence length fills (none: the graph has no
    sequence axis, and a ``seq`` would change nothing but the case's name)."""
    from onnxbench.model.dims import declared_dims, is_seq_dim
    from onnxbench.model.inputs import as_model, elem_type, graph_inputs, numpy_dtype

    proto = as_model(model)
    given = dict(shapes or {})
    found = []
    for vi in graph_inputs(proto):
        if vi.name in given:
            continue
        is_int = numpy_dtype(elem_type(vi), vi.name).kind in "iu"
        for axis, d in enumerate(declared_dims(vi) or []):
            if not isinstance(d, int) and d not in given and \
                    is_seq_dim(axis, (d or "").lower(), is_int):
                found.append(f"{vi.name}:{axis}")
    return found


def check_seq(model: Any, seq: int | None, what: str,
              shapes: Mapping[str, Sequence[int]] | None = None, name: str = "the model"
              ) -> None:
    """A sequence length only for a model that has a sequence axis: ``model`` is an ONNX
    proto (a free dim named like a sequence, or axis 1 of integer ids) or a zoo spec
    (``has_seq``). Elsewhere ``seq`` would change nothing but the case's name: UserError."""
    if seq is None:
        return
    import onnx

    if isinstance(model, onnx.ModelProto):
        from onnxbench.model.dims import declared_dims, fmt_dims
        from onnxbench.model.inputs import graph_inputs

        if seq_inputs(model, shapes):
            return
        detail = "its inputs: " + ", ".join(f"{vi.name}{fmt_dims(declared_dims(vi))}"
                                            for vi in graph_inputs(model))
    else:
        if getattr(model, "has_seq", False):
            return
        detail = "it takes no sequence length"
    raise UserError(f"{what} {seq}: {name} has no sequence axis ({detail}); the number would "
                    "change only the case's name: leave it out")


def check_model_seq(model: str, seq: int | None,
                    shapes: Mapping[str, Sequence[int]] | None = None) -> None:
    """``check_seq`` for a model as a suite names it (an ONNX file, a zoo name, a factory)."""
    if seq is None:
        return
    graph = is_onnx_file(model)
    check_seq(onnx_graph(model) if graph else _spec(model), seq, "seq", shapes,
              f"model {Path(model if graph else model.split(':')[0]).name}")


def check_bench_inputs(model: Any, batches: list[int], seqs: list[int], *,
                       shapes: Mapping[str, Sequence[int]] | None = None,
                       config: str | None = None) -> None:
    """``bench``'s largest batch (and seq) fits: ``model`` is an ONNX proto or a zoo spec."""
    batch, seq = max(batches), (max(seqs) if seqs else None)
    check_seq(model, seq, "--seq", shapes)
    nbytes, detail = input_bytes(model, batch, seq, shapes=shapes, config=config)
    check_fits(nbytes, f"--batch {batch}" + (f" --seq {seq}" if seq else ""),
               "choose a smaller --batch", detail)


def check_plan_inputs(cases: Iterable[Case]) -> None:
    """Every case's inputs fit in memory (the largest batch and seq of each model; a shape
    mix at its longest length). A case on the user's own inputs is not sized: its arrays
    are the file's, already read (as ``suite.model_check.check_model`` does for ``bench``)."""
    from onnxbench.model.dims import PinnedDim

    biggest: dict[tuple, tuple[Case, int]] = {}
    for case in cases:
        if case.inputs:
            continue
        seq = case.seq or max((n for n, _ in case.seq_mix or ()), default=0)
        key = (case.model, case.config, json.dumps(case.shapes, sort_keys=True))
        best = biggest.get(key)
        if best is None or (case.batch, seq) > (best[0].batch, best[1]):
            biggest[key] = (case, seq)
    for case, seq in biggest.values():
        name = Path(case.model).name if is_onnx_file(case.model) else case.model
        model = onnx_graph(case.model) if is_onnx_file(case.model) else _spec(case.model)
        try:
            nbytes, detail = input_bytes(model, case.batch, seq or None, shapes=case.shapes,
                                         config=case.config, options=case.options)
        except PinnedDim:
            continue  # a shape the graph pins: that case is skipped with the reason
        check_fits(nbytes, f"model {name} at batch {case.batch}" +
                   (f", seq {seq}" if seq else ""),
                   "lower the suite's batch (or seq)", detail)


def onnx_graph(path: str):
    """The graph (weights left on disk where external), loaded once per file version."""
    try:
        stat = os.stat(path)
    except OSError:
        return None  # a missing file is reported by the model checks
    return _load_graph(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _load_graph(path: str, mtime_ns: int, size: int):
    from onnxbench.model.inputs import load_onnx

    return load_onnx(path)


def _spec(model: str):
    return resolve(model)
