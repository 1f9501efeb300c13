"""Interleaved A/B of any two points (``onnxbench.ab``): two ONNX files, two zoo models, two
runtimes, two precisions or two option sets, answered with a CI that carries the
between-process noise.

``ab(a, b, ...)`` checks both sides (``sides``), builds each side's artifact once, chooses a
design (``design``): A and B alternated ABBA BAAB … in short blocks inside each worker
process (``cohost``, ``workers``), processes as the replication unit, or, where the two
cannot share a process, each block in a fresh worker; then it measures units until the
sequential stopping of ``onnxbench.measure.pairs`` says so (``engine``). The verdict is
``faster``, ``slower``, ``equivalent`` or ``cannot tell`` with the smallest difference the
run could resolve; ``ab.json`` says which design ran and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onnxbench.executors.base import ProgressFn
from onnxbench.suite.ab.engine import ABRun, ABSettings, run_ab
from onnxbench.suite.ab.sides import Side, make_cases


def ab(a: str | Side, b: str | Side | None = None, *, runtime: str | tuple[str, str] = "ort-cpu",
       precision: str | tuple[str, str] = "fp32", config: str | tuple | None = None,
       exporter: str | tuple | None = None, options: dict[str, Any] | None = None,
       a_options: dict[str, Any] | None = None, b_options: dict[str, Any] | None = None,
       batch: int = 1, seq: int | None = None, shapes: dict[str, list[int]] | None = None,
       ranges: dict[str, tuple[float, float]] | None = None, seed: int = 0,
       settings: ABSettings | None = None, out: Path | str = "runs",
       progress: ProgressFn | None = None, **setting_fields: Any) -> ABRun:
    """Is B faster than A? Models are ONNX paths, zoo names or ``file.py:factory``; B defaults
    to A's model. ``runtime``, ``precision``, ``config`` and ``exporter`` take one value for
    both sides or a pair (A, B); ``options`` go to both, ``a_options`` / ``b_options`` on top.
    ``settings`` (or its fields as keywords: threshold, target_ci, max_time_s, design,
    block_time_s, process_time_s, warmup, alpha, timeout_s) say how long, how precisely and
    in which design. Raises ``UserError`` (before anything runs) for bad input.
    """
    settings = settings or ABSettings(**setting_fields)

    def pick(value: Any, i: int) -> Any:
        return value[i] if isinstance(value, tuple) else value

    first = a.model if isinstance(a, Side) else str(a)
    sides = []
    for i, (model, extra) in enumerate(((a, a_options), (b, b_options))):
        if isinstance(model, Side):
            sides.append(model)
            continue
        sides.append(Side(model=str(model or first), runtime=pick(runtime, i),
                          precision=pick(precision, i), config=pick(config, i),
                          exporter=pick(exporter, i),
                          options={**(options or {}), **(extra or {})}))
    ca, cb = make_cases(sides[0], sides[1], batch=batch, seq=seq, seed=seed, shapes=shapes,
                        ranges=ranges)
    return run_ab(ca, cb, settings, out_root=out, progress=progress)


__all__ = ["ABRun", "ABSettings", "Side", "ab", "make_cases", "run_ab"]
