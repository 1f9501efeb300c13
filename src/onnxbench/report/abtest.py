"""A/B answers for points already measured: two runs (``compare``) or one run's ``ab:`` pairs.

Both end in ``measure.ratio.judge`` (one verdict: ``faster``, ``slower``, ``equivalent``,
``cannot tell`` with the resolvable difference), judged as a family: with m comparisons each
CI is at level 1 - alpha/m (Bonferroni), so all of them hold together with ≥ 1 - alpha.

* **Inside one run** (a suite's ``ab:`` axis): A and B of a pair ran back to back in every
  process round (ABBA), so process r of A pairs with process r of B and the analysis is the
  paired one of ``onnxbench ab`` (``measure.pairs``): drift within a round cancels.
* **Two runs** (``compare``): nothing pairs across runs, so the unit is a point's process
  median and the test is Welch's t on their logs. Each arm's variance is the larger of the
  point's own between-process variance and its run's pooled between-process noise
  (``summary.json``'s ``noise``): a difference inside the runs' measured run-to-run noise is
  never significant. With one process per point and no noise measured in either run the
  ratio cannot be bounded: ``cannot tell``, with the reason (raw latencies of one process are
  not independent evidence about another process).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from onnxbench.measure.fold import Folded, Noise, Spread
from onnxbench.measure.pairs import judge_pairs
from onnxbench.measure.ratio import ABResult, Estimate, judge, unresolved

METHOD_RUNS = ("Welch t on log process medians; each arm's variance = max(the point's own, "
               "its run's pooled between-process noise)")
NO_NOISE = ("one process per point and no between-process noise measured in either run: "
            "the run-to-run noise is unknown (measure with processes ≥ 3)")

__all__ = [
    "METHOD_RUNS",
    "ABResult",
    "arm_variance",
    "compare_blocks",
    "compare_folds",
    "runs_estimate",
]


def arm_variance(f: Spread, noise: Noise | None, other: Noise | None = None
                 ) -> tuple[float, float, str] | None:
    """(variance of one log process median, its df, where it came from), or None.

    The larger of the point's own sample variance (k ≥ 2) and its run's pooled noise; a run
    without noise of its own borrows the other run's (same suite, same machine class).
    """
    options = []
    if f.n_processes >= 2 and f.process_rsd is not None:
        options.append((f.process_rsd ** 2, f.n_processes - 1, "own"))
    for source, label in ((noise, "run"), (other if noise is None else None, "other run")):
        if source is not None:
            options.append((source.rsd ** 2, source.df, label))
    return max(options, key=lambda o: o[0]) if options else None


def runs_estimate(a: Spread, b: Spread, noise_a: Noise | None, noise_b: Noise | None
                  ) -> Estimate | None:
    """log(B/A) of two runs' points with a Welch standard error; None when unbounded."""
    va = arm_variance(a, noise_a, noise_b)
    vb = arm_variance(b, noise_b, noise_a)
    if va is None or vb is None or a.median is None or b.median is None:
        return None
    sa, sb = va[0] / a.n_processes, vb[0] / b.n_processes
    se2 = sa + sb
    df = se2 ** 2 / (sa ** 2 / va[1] + sb ** 2 / vb[1]) if se2 > 0 else math.inf
    note = None if va[2] == vb[2] == "own" else f"noise: A {va[2]}, B {vb[2]}"
    return Estimate(math.log(b.median / a.median), math.sqrt(se2), df, a.n_processes,
                    b.n_processes, METHOD_RUNS, a.median, b.median, note)


def compare_folds(pairs: Sequence[tuple[Folded, Folded]], noise_a: Noise | None,
                  noise_b: Noise | None, *, threshold: float, alpha: float = 0.05
                  ) -> list[ABResult]:
    """Two runs' points, pair by pair, judged as one family."""
    estimates = [runs_estimate(a, b, noise_a, noise_b) for a, b in pairs]
    m = sum(e is not None for e in estimates)
    out = []
    for (a, b), est in zip(pairs, estimates):
        if est is None:
            out.append(unresolved(method=METHOD_RUNS, n_a=a.n_processes, n_b=b.n_processes,
                                  threshold=threshold, alpha=alpha, note=NO_NOISE,
                                  center_a=a.median, center_b=b.median))
        else:
            out.append(judge(est, threshold=threshold, alpha=alpha, family=m))
    return out


def compare_blocks(pairs: Sequence[tuple[Sequence[float], Sequence[float]]], *,
                   threshold: float, alpha: float = 0.05) -> list[ABResult]:
    """Paired process medians (A_r, B_r) of one run's A/B pairs, judged as one family."""
    m = sum(min(len(a), len(b)) >= 2 for a, b in pairs)
    return [judge_pairs(np.asarray(a), np.asarray(b), threshold=threshold, alpha=alpha,
                        family=max(1, m)) for a, b in pairs]
