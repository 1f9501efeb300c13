"""``--range NAME=LOW:HIGH`` checked against the graph before anything is measured.

Both ends are inclusive, so ``category=0:20`` draws id 20, which a 20-row embedding table
(ids 0..19) does not have: every case would fail in ONNX Runtime with the same message. The
graph alone cannot always say how far an id may go (deepctr's ids travel through Cast,
Concat and Slice before their Gather), so the range is probed on ONNX Runtime itself, in
an isolated worker (a crash stays there), once: the inputs at the smallest batch with every ranged
integer input at its low end, then each at its high end. A probe that fails only at an end
refuses the range with ORT's first line; anything else wrong is left to the cases, which
report it with their status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from onnxbench.core.errors import UserError, first_line
from onnxbench.isolation.worker import run_isolated

PROBE_TIMEOUT_S = 120.0


def check_ranges(path: str | Path, ranges: Mapping[str, tuple[float, float]], *,
                 batch: int = 1, seq: int | None = None,
                 shapes: Mapping[str, Sequence[int]] | None = None,
                 values: Mapping[str, float] | None = None) -> None:
    """UserError (``--range NAME=LOW:HIGH: ...``) when ONNX Runtime rejects an end of a
    range of an integer input of the graph at ``path``; nothing when all ends run."""
    if not ranges:
        return
    outcome = run_isolated(probe_ranges, str(path), dict(ranges), batch, seq, dict(shapes or {}),
                           dict(values or {}), timeout_s=PROBE_TIMEOUT_S)
    if outcome.ok and outcome.value:
        raise UserError(outcome.value)


def probe_ranges(path: str, ranges: dict[str, tuple[float, float]], batch: int, seq: int | None,
                 shapes: dict[str, list[int]], values: dict[str, float]) -> str | None:
    """In a worker: the message for the first range end ORT rejects, or None."""
    import onnxruntime as ort

    from onnxbench.model.inputs import synthesize

    ints = {name: (int(lo), int(hi)) for name, (lo, hi) in ranges.items()
            if float(lo).is_integer() and float(hi).is_integer()}
    low = {name: (lo, lo) for name, (lo, _) in ints.items()}
    feeds = synthesize(path, batch=batch, seq=seq, shapes=shapes, values=values,
                       ranges={**ranges, **low})
    ints = {n: r for n, r in ints.items() if np.asarray(feeds[n]).dtype.kind in "iu"}
    options = ort.SessionOptions()
    options.log_severity_level = 4  # the failures probed for are expected: keep ORT quiet
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    try:
        session.run(None, feeds)
    except Exception:  # noqa: BLE001 - fails even inside the ranges: the cases will say why
        return None
    bad: dict[str, str] = {}
    for name, (_, hi) in ints.items():
        trial = dict(feeds)
        trial[name] = np.full_like(feeds[name], hi)
        try:
            session.run(None, trial)
        except Exception as exc:  # noqa: BLE001 - ORT's message is what the user needs
            bad[name] = first_line(exc, with_type=False, limit=160)
    if not bad:
        return None
    name, why = next(iter(bad.items()))
    lo, hi = ints[name]
    more = [f"{n}={ints[n][0]}:{ints[n][1]}" for n in list(bad)[1:]]
    also = f"; rejected too: {', '.join(more)}" if more else ""
    return (f"--range {name}={lo}:{hi}: both ends are inclusive and ONNX Runtime rejects "
            f"{name} = {hi} ({why}){also}; give a HIGH the graph accepts, e.g. "
            f"{name}={lo}:{hi - 1}")


__all__ = ["check_ranges", "probe_ranges"]
