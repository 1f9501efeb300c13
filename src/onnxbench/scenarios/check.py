"""Does one session need a lock? Outputs under concurrency against sequential outputs.

Each of ``samples`` distinct inputs is run once, sequentially, for the reference. Then
``threads`` threads start together (a barrier) and each runs every sample ``rounds`` times in
its own rotated order, so different inputs are in flight at once on the same session (or on
the sessions of the layout). Every concurrent output is compared with the reference of its
input: bitwise, and within ``rtol``/``atol`` (``parity.compare``). Outside the tolerance, the
case fails with the difference.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from onnxbench.core.load_record import OutputCheck
from onnxbench.quality.parity import DEFAULT_ATOL, DEFAULT_RTOL, compare

RunFn = Callable[[Mapping[str, np.ndarray]], Sequence[np.ndarray]]


def check_outputs(run_fns: Sequence[RunFn], samples: Sequence[Mapping[str, np.ndarray]], *,
                  rounds: int = 3, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL
                  ) -> OutputCheck:
    """Run ``samples`` concurrently on ``run_fns`` (one per thread) and compare."""
    reference = [[np.asarray(o) for o in run_fns[0](s)] for s in samples]
    results: list[list[tuple[int, list[np.ndarray]]]] = [[] for _ in run_fns]
    errors: list[str] = []
    barrier = threading.Barrier(len(run_fns))

    def work(t: int) -> None:
        order = [(t + j) % len(samples) for j in range(len(samples))]
        try:
            barrier.wait()
            for _ in range(rounds):
                for j in order:
                    results[t].append((j, [np.array(o, copy=True) for o in run_fns[t](samples[j])]))
        except Exception as exc:  # noqa: BLE001 - reported as the check's problem
            text = str(exc).splitlines()[0] if str(exc) else ""
            errors.append(f"thread {t}: {type(exc).__name__}: {text}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(len(run_fns))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return _verdict(reference, results, errors, len(run_fns), len(samples), rtol, atol)


def _verdict(reference, results, errors, n_threads: int, n_samples: int, rtol: float,
             atol: float) -> OutputCheck:
    compared, bitwise, worst, problem = 0, True, 0.0, errors[0] if errors else None
    for t, outs in enumerate(results):
        for j, got in outs:
            compared += 1
            exp = reference[j]
            bitwise = bitwise and len(exp) == len(got) and all(
                e.shape == g.shape and e.dtype == g.dtype and np.array_equal(e, g, equal_nan=True)
                for e, g in zip(exp, got, strict=False))
            report = compare(exp, got, rtol=rtol, atol=atol)
            if report.max_abs is not None:
                worst = max(worst, report.max_abs)
            if not report.passed and problem is None:
                problem = (f"thread {t}, sample {j}: {report.first_problem()} against the "
                           "sequential output of the same input")
    return OutputCheck(threads=n_threads, samples=n_samples, compared=compared,
                       bitwise_equal=bitwise and not errors, passed=problem is None,
                       rtol=rtol, atol=atol, max_abs=worst, problem=problem)


def lock_around(fn: Callable[..., Any], lock: threading.Lock) -> Callable[..., Any]:
    """``fn`` serialised by ``lock`` (the inference-lock layout)."""
    def locked(*args: Any) -> Any:
        with lock:
            return fn(*args)
    return locked


__all__ = ["check_outputs", "lock_around"]
