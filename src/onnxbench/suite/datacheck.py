"""What a suite's cases run on, checked before anything runs (a dry run included):
``inputs`` (a readable file matching a bare graph's inputs, with rows for every batch),
``values``, and ``seq_mix`` (well formed, and only on a model with a sequence axis, the rule
``model.checks.check_seq`` has for ``seq``).

A batch the graph pins is not refused here: that case is ``skipped`` with the reason in its
worker (``model.dims.check_pinned``), so the other models and batches of the suite still run.

It reads a suite entry through ``Entry`` (the fields of ``suite.schema.CaseEntry`` it
needs), so the schema imports it and not the other way round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from onnxbench.core.errors import UserError
from onnxbench.measure.shape_mix import parse_mix
from onnxbench.model.checks import check_model_seq
from onnxbench.model.onnxfile import is_onnx_file

# a problem of a suite: (the field's path, e.g. ("cases", 0, "seq_mix"), one line)
Problem = tuple[tuple, str]


class Defaults(Protocol):
    """The suite-wide axes a case entry inherits (``suite.schema.Defaults``)."""

    @property
    def batch(self) -> list[int] | None: ...

    @property
    def seq(self) -> list[int] | None: ...


class Entry(Defaults, Protocol):
    """What one case entry runs on (``suite.schema.CaseEntry``)."""

    @property
    def model(self) -> list[str] | None: ...

    @property
    def shapes(self) -> dict[str, list[int]] | None: ...

    @property
    def values(self) -> dict[str, float] | None: ...

    @property
    def inputs(self) -> str | None: ...

    @property
    def seq_mix(self) -> Any: ...


def check_data(i: int, entry: Entry, defaults: Defaults) -> Problem | None:
    """The first problem of entry ``i``'s data (see the module docstring), or None."""
    try:
        mix = parse_mix(entry.seq_mix) if entry.seq_mix is not None else None
        longest = max((n for n, _ in mix or []), default=None)
        for model in entry.model or []:
            check_model_seq(model, longest, entry.shapes)
    except UserError as exc:
        return ("cases", i, "seq_mix"), str(exc)
    seqs = [n for n, _ in mix] if mix else list(entry.seq or defaults.seq or [])
    return _check_inputs(i, entry, defaults, seqs[0] if seqs else None)


def _check_inputs(i: int, entry: Entry, defaults: Defaults, seq: int | None) -> Problem | None:
    graphs = [m for m in entry.model or [] if is_onnx_file(m) and Path(m).is_file()]
    try:
        for graph in graphs:
            if entry.inputs:
                from onnxbench.model.input_files import read_inputs, rows

                feeds = read_inputs(entry.inputs, graph, entry.values)
                for batch in entry.batch or defaults.batch or [1]:
                    rows(feeds, graph, batch, f"--inputs {entry.inputs}")
            elif entry.values:
                _check_values(graph, entry, seq)
        if entry.inputs and not graphs:
            from onnxbench.model.input_files import load_user_data

            load_user_data(entry.inputs)
    except UserError as exc:
        return ("cases", i, "inputs" if entry.inputs else "values"), str(exc)
    return None


def _check_values(graph: str, entry: Entry, seq: int | None) -> None:
    from onnxbench.model.dims import PinnedDim
    from onnxbench.model.inputs import synthesize

    try:
        synthesize(graph, batch=1, seq=seq, shapes=entry.shapes, values=entry.values)
    except PinnedDim:
        pass  # a pinned length: that case is skipped with the reason in its worker


__all__ = ["Defaults", "Entry", "Problem", "check_data"]
