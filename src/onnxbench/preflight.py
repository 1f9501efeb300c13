"""Checks made before anything is built or run: what a plan can know is wrong, it says now.

- **Inputs that cannot fit**: the bytes a case's inputs take, estimated from the ONNX
  graph's declared input shapes and dtypes (nothing allocated) or, for a zoo model, from its
  inputs at batch 1 times the batch, against the machine's memory (the cgroup limit when
  lower). ``--batch 100000000000`` is one line, not a ``MemoryError`` traceback.
- **Zoo configs**: ``bench dcnv2 --config lite`` names the configs before any worker starts.

Every problem is a ``UserError``: one line, exit 2.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from onnxbench.errors import UserError

if TYPE_CHECKING:
    from onnxbench.case import Case

_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_limit_bytes() -> int:
    """Physical memory this process may use: RAM, or its cgroup's limit when lower."""
    import psutil

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
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} PiB"


def onnx_input_bytes(model: Any, batch: int, seq: int | None = None,
                     shapes: Mapping[str, Sequence[int]] | None = None
                     ) -> tuple[int, str]:
    """(bytes, the largest input as ``name: dtype[dims]``) of the graph's inputs at
    ``batch``; nothing is allocated."""
    from onnxbench.inputs import input_specs

    specs = input_specs(model, batch=batch, seq=seq, shapes=shapes)
    sizes = {name: int(np.prod(shape, dtype=object)) * dtype.itemsize
             for name, (dtype, shape) in specs.items()}
    if not sizes:
        return 0, ""
    big = max(sizes, key=sizes.__getitem__)
    dtype, shape = specs[big]
    return sum(sizes.values()), f"{big}: {dtype.name}{list(shape)}"


def zoo_input_bytes(spec: Any, config: str | None, batch: int, seq: int | None,
                    options: Mapping[str, Any] | None = None) -> int:
    """Bytes of a zoo model's inputs at ``batch``: its inputs at batch 1, times the batch."""
    one = spec.make_inputs(config, 1, seq, 0, options=options)
    return sum(int(np.asarray(v).nbytes) for v in one.values()) * int(batch)


def check_fits(nbytes: int, what: str, fix: str, detail: str = "") -> None:
    """UserError when ``nbytes`` of inputs exceed this machine's memory."""
    limit = memory_limit_bytes()
    if nbytes > limit:
        extra = f" ({detail})" if detail else ""
        raise UserError(f"{what}: the inputs alone need {human_bytes(nbytes)}{extra} but this "
                        f"machine has {human_bytes(limit)} of memory; {fix}")


def check_config(spec: Any, config: str | None, flag: str = "--config") -> None:
    """UserError naming the model's configs when ``config`` is not one of them."""
    if config is not None and config not in spec.configs:
        import difflib

        close = difflib.get_close_matches(config, list(spec.configs), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(f"{flag} {config!r}: model {spec.name!r} has no such config; {hint}"
                        f"choose one of: {', '.join(spec.configs)}")


def check_plan_inputs(cases: Iterable["Case"]) -> None:
    """Every case's inputs fit in memory (largest batch and seq per model, checked once)."""
    from onnxbench.onnxfile import is_onnx_file

    biggest: dict[tuple, "Case"] = {}
    for case in cases:
        key = (case.model, case.config, _shape_key(case))
        best = biggest.get(key)
        if best is None or (case.batch, case.seq or 0) > (best.batch, best.seq or 0):
            biggest[key] = case
    for case in biggest.values():
        where = f"model {Path(case.model).name if is_onnx_file(case.model) else case.model}" \
                f" at batch {case.batch}" + (f", seq {case.seq}" if case.seq else "")
        fix = "lower the suite's batch (or seq)"
        if is_onnx_file(case.model):
            nbytes, detail = _onnx_bytes(case.model, case.batch, case.seq,
                                         tuple(sorted((k, tuple(v))
                                                      for k, v in case.shapes.items())))
            check_fits(nbytes, where, fix, detail)
        else:
            nbytes = _zoo_bytes(case.model, case.config, case.batch, case.seq,
                                tuple(sorted(case.options.items(), key=str)))
            if nbytes is not None:
                check_fits(nbytes, where, fix)


def _shape_key(case: "Case") -> tuple:
    return tuple(sorted((k, tuple(v)) for k, v in case.shapes.items()))


@lru_cache(maxsize=64)
def _load_graph(path: str, mtime: float):
    from onnxbench.inputs import load_onnx

    return load_onnx(path)


def _onnx_bytes(path: str, batch: int, seq: int | None, shapes: tuple) -> tuple[int, str]:
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return 0, ""  # a missing file is reported by the resume/model checks
    return onnx_input_bytes(_load_graph(path, mtime), batch, seq,
                            {k: list(v) for k, v in shapes})


def _zoo_bytes(model: str, config: str | None, batch: int, seq: int | None,
               options: tuple) -> int | None:
    """The estimate for a PyTorch zoo or factory model; None where making even batch-1
    inputs here would be costly or impossible (TensorFlow sources, missing data)."""
    from onnxbench.zoo import resolve

    try:
        spec = resolve(model)
        if getattr(spec, "framework", "torch") != "torch":
            return None
        return zoo_input_bytes(spec, config, batch, seq or spec.default_seq, dict(options))
    except UserError:
        raise
    except Exception:  # noqa: BLE001 - the worker will say what is wrong, with its status
        return None


def check_bench_inputs(model: Any, batches: list[int], seqs: list[int], *,
                       shapes: Mapping[str, Sequence[int]] | None = None,
                       config: str | None = None) -> None:
    """``bench``'s largest batch (and seq) fits: ``model`` is an ONNX proto or a zoo spec."""
    import onnx

    batch, seq = max(batches), (max(seqs) if seqs else None)
    what, fix = f"--batch {batch}" + (f" --seq {seq}" if seq else ""), "choose a smaller --batch"
    if isinstance(model, onnx.ModelProto):
        nbytes, detail = onnx_input_bytes(model, batch, seq, shapes)
        check_fits(nbytes, what, fix, detail)
    elif getattr(model, "framework", "torch") == "torch":
        try:
            nbytes = zoo_input_bytes(model, config, batch, seq or model.default_seq)
        except UserError:
            raise
        except Exception:  # noqa: BLE001 - the worker says what is wrong, with its status
            return
        check_fits(nbytes, what, fix)
