"""The two levels of an interleaved A/B: block pairs within a process, processes as the unit.

Inside a process (``measure.interleave``) adjacent blocks form pairs with log ratios
d_pj = log(B_pj / A_pj); slow drift moves both blocks of a pair and cancels. But the two
sessions of one process may differ by a percent or two on their own (where their memory
landed, which was created first), and that difference is fixed for the process's life: the
pairs of one process are not independent evidence about another. So the replication unit
is the **process**: its log ratio D_p = mean_j d_pj (= log of B's geometric-mean block median
over A's), and the ratio B/A is exp(mean D_p) with the t-interval on the D_p, k − 1 degrees
of freedom for k processes, the same paired analysis as ``measure.pairs`` with processes as
its pairs (A_p, B_p). Equal weights keep it exact whatever the correlation of pairs within a
process; with a fixed time per process the units are balanced, which is where this
equals the random-effects (mixed-model) interval.

pyperf, the anchor for spreading a benchmark over many worker processes, compares two
benchmarks with one t-test on the values of all their processes together (``compare_to``):
the processes' own offsets then pass for evidence, which is how it called an identical pair
different (issue [4/8]). Here the processes are the sample; the values inside one only make
its ratio precise.

``components`` says where the noise is: the variance of D_p split into what the within-
process pair noise explains (s_p² / m_p) and the rest, between processes (sessions,
placement). A large between share means more processes narrow the CI, longer ones do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from onnxbench.measure.pairs import Unit

PROCESS_PAIRED = ("paired t on per-process log(B/A), processes as the unit (k − 1 df); in each "
                  "process A and B alternated ABBA in short blocks, its ratio the mean log "
                  "ratio of its adjacent block pairs")


@dataclass(frozen=True)
class ProcessPairs:
    """One process's block pairs: A's and B's block medians (ms), pair by pair."""

    a: tuple[float, ...]
    b: tuple[float, ...]

    @property
    def pairs(self) -> int:
        return len(self.a)

    @property
    def log_ratios(self) -> np.ndarray:
        return np.log(np.asarray(self.b)) - np.log(np.asarray(self.a))

    def unit(self) -> tuple[float, float]:
        """(A, B): the geometric means of the process's block medians (their log ratio is
        the mean pair log ratio)."""
        return (float(np.exp(np.mean(np.log(self.a)))),
                float(np.exp(np.mean(np.log(self.b)))))

    def to_unit(self) -> Unit:
        """The process as one unit of ``measure.pairs``' sequential loop."""
        a, b = self.unit()
        return Unit(a, b, blocks=2 * self.pairs, pairs=self.pairs, processes=1)

    @property
    def within_sd(self) -> float | None:
        return float(np.std(self.log_ratios, ddof=1)) if self.pairs >= 2 else None


def pair_blocks(arms: Sequence[str], values: Sequence[float | None]) -> ProcessPairs | None:
    """Blocks in run order → pairs (0, 1), (2, 3), …; None when a value is missing (a side
    without a device clock) or the blocks do not pair one A with one B."""
    a, b = [], []
    for i in range(0, len(arms) - 1, 2):
        got = dict(zip(arms[i:i + 2], values[i:i + 2]))
        if set(got) != {"a", "b"} or got["a"] is None or got["b"] is None:
            return None
        a.append(float(got["a"]))
        b.append(float(got["b"]))
    return ProcessPairs(tuple(a), tuple(b)) if a else None


def components(units: Sequence[ProcessPairs]) -> dict[str, float | int | None]:
    """The variance of a process's log ratio, split into within- and between-process parts.

    ``within_pair_sd``: the pooled sd of one pair's log ratio inside a process;
    ``process_sd``: the sd of the processes' log ratios (what the CI is built from);
    ``between_process_sd``: what of it the within-process noise does not explain,
    sqrt(max(0, var(D_p) − mean(s_p² / m_p))); ``between_share``: its share of var(D_p).
    """
    k = len(units)
    pairs = [u.pairs for u in units]
    spread = [(u.within_sd, u.pairs) for u in units if u.within_sd is not None]
    dof = sum(m - 1 for _, m in spread)
    within = math.sqrt(sum((m - 1) * s * s for s, m in spread) / dof) if dof else None
    out: dict[str, float | int | None] = {
        "processes": k, "pairs": int(sum(pairs)),
        "pairs_per_process": float(np.mean(pairs)) if pairs else None,
        "within_pair_sd": within, "process_sd": None, "between_process_sd": None,
        "between_share": None}
    if k < 2:
        return out
    means = np.array([float(np.mean(u.log_ratios)) for u in units])
    var_d = float(means.var(ddof=1))
    explained = float(np.mean([s * s / m for s, m in spread])) if spread else 0.0
    between = max(0.0, var_d - explained)
    out.update(process_sd=math.sqrt(var_d), between_process_sd=math.sqrt(between),
               between_share=between / var_d if var_d > 0 else None)
    return out


__all__ = ["PROCESS_PAIRED", "ProcessPairs", "components", "pair_blocks"]
