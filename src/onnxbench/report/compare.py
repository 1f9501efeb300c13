"""Match cases into A/B pairs (two runs by case id, or one run's `ab:` axes) and test them.

Two runs are matched by case id without the repeat suffix (``_rK``): the repeats of a point
form one arm. Inside one run, an ``ab:`` axis (``configs/plan.json``'s ``ab_axes``) pairs
cases that differ only in that option; the axis' first value is A, each other value a B.
Every pair is tested with ``abtest.compare_arms`` and the family is Holm-corrected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.errors import CheckFailed, UserError
from onnxbench.report.abtest import ABResult, adjust, compare_arms
from onnxbench.report.labels import case_label, model_config, split_fields
from onnxbench.report.load import Point, RunData, group_points, load_run


@dataclass
class Pair:
    """One matched pair; ``result`` is None when an arm has no numbers (its status says why)."""

    label: str
    a: Point
    b: Point
    result: ABResult | None = None

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result.verdict
        bad = self.a if self.a.median is None else self.b
        return f"not compared: {'A' if bad is self.a else 'B'} {bad.status} ({bad.reason})"

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.label, "a": self.a.key, "b": self.b.key,
                "median_a_ms": self.a.median, "median_b_ms": self.b.median,
                "status": self.status, **(self.result.to_dict() if self.result else {})}


@dataclass
class Comparison:
    """All pairs of a comparison, Holm-corrected, and what matched nothing."""

    pairs: list[Pair]
    threshold: float
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)

    def tested(self) -> list[Pair]:
        return [p for p in self.pairs if p.result is not None]

    @property
    def regressions(self) -> list[Pair]:
        """Significant slow-downs (B slower than A) beyond the threshold: these fail the gate."""
        return [p for p in self.tested() if p.result.verdict == "slower"
                and p.result.ratio > 1 + self.threshold]

    @property
    def improvements(self) -> list[Pair]:
        return [p for p in self.tested() if p.result.verdict == "faster"
                and p.result.ratio < 1 - self.threshold]

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "pairs": [p.to_dict() for p in self.pairs],
                "regressions": [p.label for p in self.regressions],
                "improvements": [p.label for p in self.improvements],
                "only_in_a": self.only_a, "only_in_b": self.only_b,
                "multiple_comparisons": "Holm-Bonferroni across tested pairs"}


def test_pairs(pairs: list[Pair], threshold: float, alpha: float = 0.05) -> list[Pair]:
    """Run the A/B test on every pair whose arms both have numbers; Holm across them."""
    tested = [p for p in pairs if p.a.median is not None and p.b.median is not None]
    raw = [compare_arms(p.a.latencies(), p.b.latencies(), threshold=threshold, alpha=alpha)
           for p in tested]
    for pair, res in zip(tested, adjust(raw)):
        pair.result = res
    return pairs


def compare_runs(run_a: str | Path | RunData, run_b: str | Path | RunData, *,
                 threshold: float = 0.05, alpha: float = 0.05) -> Comparison:
    """Match two runs by case id (repeats folded) and test every pair."""
    ra = run_a if isinstance(run_a, RunData) else load_run(run_a)
    rb = run_b if isinstance(run_b, RunData) else load_run(run_b)
    pa = {p.key: p for p in group_points(ra.results)}
    pb = {p.key: p for p in group_points(rb.results)}
    common = [k for k in pa if k in pb]
    if not common:
        raise UserError(f"{rb.run_dir}: no case id in common with {ra.run_dir}; "
                        "compare two runs of the same suite")
    pairs = test_pairs([Pair(k, pa[k], pb[k]) for k in common], threshold, alpha)
    return Comparison(pairs, threshold, [k for k in pa if k not in pb],
                      [k for k in pb if k not in pa])


def _without(point: Point, axis: str) -> str:
    case = point.case
    opts = {k: v for k, v in case.options.items() if k != axis}
    rest = case.model_dump(exclude={"options", "repeat"})
    return json.dumps({**rest, "options": opts}, sort_keys=True, default=str)


def ab_label(point: Point, varying: list[str], axis: str) -> str:
    """"resnet18/tiny PyTorch CPU (pipeline=gpu)": what tells this pair apart, not the case id."""
    return f"{model_config(point.case)} " + case_label(point.case, varying, skip=(f"options.{axis}",))


def ab_in_run(run: RunData, *, threshold: float = 0.05, alpha: float = 0.05) -> Comparison:
    """Pairs along each of the plan's ``ab_axes`` (A = the axis' first value)."""
    points = group_points(run.results)
    in_ab = [p for p in points if any(axis in p.case.options for axis in run.ab_axes)]
    _, varying = split_fields(p.case for p in in_ab or points)
    pairs: list[Pair] = []
    for axis, values in run.ab_axes.items():
        arms: dict[str, dict[str, Point]] = {}
        for p in points:
            if axis in p.case.options:
                arms.setdefault(_without(p, axis), {})[json.dumps(p.case.options[axis])] = p
        order = [json.dumps(v) for v in values]
        for group in arms.values():
            keys = [k for k in order if k in group] + sorted(k for k in group if k not in order)
            for kb in keys[1:]:
                a, b = group[keys[0]], group[kb]
                pairs.append(Pair(f"{ab_label(a, varying, axis)} [{axis}: {keys[0]} → {kb}]", a, b))
    return Comparison(test_pairs(pairs, threshold, alpha), threshold)


def check_gate(comparison: Comparison) -> None:
    """Raise CheckFailed naming the regressions when any significant one exceeds the threshold."""
    regs = comparison.regressions
    if regs:
        worst = max(regs, key=lambda p: p.result.ratio)
        raise CheckFailed(f"{len(regs)} significant regression(s) beyond "
                          f"{comparison.threshold:.0%}; worst {worst.label}: "
                          f"{worst.result.change_pct:+.1f}% (p_holm={worst.result.p_adjusted:.2g})")


def parse_threshold(text: str) -> float:
    """'5%' or '0.05' → 0.05; UserError otherwise."""
    raw = text.strip()
    try:
        value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise UserError(f"--threshold {text!r}: expected a percentage like 5% (or a fraction like 0.05)")
    return value
