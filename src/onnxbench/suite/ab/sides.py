"""The two sides of an A/B: any two points, as two ``Case``\\ s, checked before anything runs.

A and B may differ in anything a case has: the model (two ONNX files, two zoo models, two
``file.py:factory`` models), the runtime, the precision, the config, the exporter or the
options. Every check that can fail is made here, in the calling process, and fails with one
line (``UserError``): a missing or unreadable model, only one side given (nothing differs),
two sides that are the same point, a PyTorch runtime on a bare ONNX file, an option no
family of the runtime knows (``options.check_options``), inputs that differ between A and B
(names, dtypes, ranks: the two would not be fed the same data) or do not fit in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.core.case import Case, point_id, tag_colliding_models
from onnxbench.core.errors import UserError
from onnxbench.core.policy import MeasurePolicy
from onnxbench.model.checks import check_bench_inputs
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.model.zoo import resolve
from onnxbench.runtimes import validate_runtime_name
from onnxbench.runtimes.case_options import check_options

DEFAULT_EXPORTER = "dynamo"


@dataclass(frozen=True)
class Side:
    """What one side is: the fields of its case that may differ from the other side."""

    model: str
    runtime: str = "ort-cpu"
    config: str | None = None
    exporter: str | None = None
    precision: str = "fp32"
    options: dict[str, Any] = field(default_factory=dict)


def _check_model(model: str, where: str) -> None:
    """A readable ONNX file, or a zoo / factory model that resolves; UserError otherwise."""
    if is_onnx_file(model):
        from onnxbench.model.inputs import load_onnx

        try:
            load_onnx(model)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
        return
    try:
        resolve(model)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None


def make_case(side: Side, *, batch: int, seq: int | None, seed: int,
              shapes: dict[str, list[int]], ranges: dict[str, tuple[float, float]],
              measure: MeasurePolicy, where: str) -> Case:
    """The side as a case (repeat 0); names are checked, the model is read."""
    _check_model(side.model, where)
    try:
        validate_runtime_name(side.runtime)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    from onnxbench.suite.schema import check_precision

    try:
        check_options(side.runtime, side.options)
        check_precision(side.runtime, side.precision)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    onnx = is_onnx_file(side.model)
    if onnx and side.runtime.startswith(("torch", "tf-")):
        raise UserError(f"{where}: runtime {side.runtime} runs the source model; {side.model} is "
                        "a bare ONNX file (use an ort-* runtime, or give a zoo/factory model)")
    model = str(Path(side.model)) if onnx else side.model
    return Case(model=model, config=None if onnx else side.config,
                exporter=None if onnx else (side.exporter or DEFAULT_EXPORTER),
                runtime=side.runtime, batch=batch, seq=seq, precision=side.precision,
                options=dict(side.options), shapes=shapes, ranges=ranges, measure=measure,
                seed=seed)


def input_signature(case: Case) -> dict[str, tuple[str, int | None]]:
    """{input name: (dtype, rank)} of what the case's model is fed."""
    if is_onnx_file(case.model):
        from onnxbench.model.inputs import describe_inputs

        return {row["name"]: (str(row["dtype"] or row["onnx_type"]),
                              None if row["dims"] is None else len(row["dims"]))
                for row in describe_inputs(case.model)}
    spec = resolve(case.model)
    feeds = spec.make_inputs(case.config, 1, case.seq, case.seed, options=case.options)
    return {name: (str(a.dtype), a.ndim) for name, a in feeds.items()}


def check_compatible(a: Case, b: Case) -> None:
    """A and B must take the same inputs (names, dtypes, ranks); UserError naming the first
    difference otherwise."""
    if a.model == b.model and a.config == b.config:
        return
    sa, sb = input_signature(a), input_signature(b)
    who = f"A ({_name(a)}) and B ({_name(b)})"
    if set(sa) != set(sb):
        only_a, only_b = sorted(set(sa) - set(sb)), sorted(set(sb) - set(sa))
        raise UserError(f"{who} take different inputs: only A has {_few(only_a)}, only B has "
                        f"{_few(only_b)}; an A/B compares two models fed the same data")
    for name in sorted(sa):
        (da, ra), (db, rb) = sa[name], sb[name]
        if da != db or (ra is not None and rb is not None and ra != rb):
            raise UserError(f"{who} differ in input {name!r}: {da} rank {ra} vs {db} rank {rb}; "
                            "an A/B compares two models fed the same data")


def _name(case: Case) -> str:
    return case.model + (f"/{case.config}" if case.config else "")


def _few(names: list[str], limit: int = 4) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def make_cases(a: Side, b: Side, *, batch: int = 1, seq: int | None = None, seed: int = 0,
               shapes: dict[str, list[int]] | None = None,
               ranges: dict[str, tuple[float, float]] | None = None,
               measure: MeasurePolicy | None = None) -> tuple[Case, Case]:
    """Both sides as cases, every check made (see the module docstring)."""
    policy = measure or MeasurePolicy()
    ca, cb = (make_case(side, batch=batch, seq=seq, seed=seed, shapes=shapes or {},
                        ranges=ranges or {}, measure=policy, where=where)
              for side, where in ((a, "A"), (b, "B")))
    if ca == cb:
        raise UserError("only one side given: A and B are the same case; give two models, or "
                        "vary the runtime (--runtime A,B), --precision A,B, --config A,B or "
                        "--a-options / --b-options")
    ca, cb = tag_colliding_models([ca, cb])  # v1/model.onnx, v2/model.onnx: model-v1, model-v2
    if point_id(ca.case_id) == point_id(cb.case_id):  # a bug, not the user's: ids must differ
        raise UserError(f"A and B get the same case id ({point_id(ca.case_id)}); give them "
                        "different file names")
    check_compatible(ca, cb)
    for case in (ca, cb):
        _check_fits(case)
    return ca, cb


def _check_fits(case: Case) -> None:
    """The side's inputs fit in this machine's memory at its batch (and seq)."""
    model: object  # an ONNX proto or a zoo spec: check_bench_inputs takes either
    if is_onnx_file(case.model):
        from onnxbench.model.inputs import load_onnx

        model = load_onnx(case.model)
    else:
        model = resolve(case.model)
    check_bench_inputs(model, [case.batch], [case.seq] if case.seq else [],
                       shapes=case.shapes, config=case.config)
