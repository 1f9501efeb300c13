"""Match points into A/B pairs (two runs by point id, or one run's ``ab:`` axes) and judge them.

Two runs are matched by case id without the process suffix (``_rK``): the processes of a point
form one arm, folded by ``measure.fold`` exactly as the summary and the report fold them.
Inside one run, an ``ab:`` axis (``configs/plan.json``'s ``ab_axes``) pairs points that differ
only in that case field or option; the axis' first value is A, each other value a B. The
statistics live in ``abtest`` (family-wise Bonferroni, one verdict for every comparison).

Two versions of one model whose files are named differently (``model_v1.onnx``,
``model_v2.onnx``) share no case id; when each run holds one model, points are matched by the
rest of the id (runtime, batch, options, ...).

The gate (``check_gate``) fails when a point that is ``ok`` in A is not ``ok`` in B or is
missing from B (unless ``allow_missing``), on a regression: verdict ``slower`` (the CI, which
carries both runs' measured noise, lies above 1) with a ratio beyond the threshold, and when
it cannot see a regression of the threshold's size (unless ``allow_unresolved``): a pair
whose CI still reaches beyond 1 + threshold without being called a regression.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.core.case import AB_FIELDS, Case
from onnxbench.core.errors import CheckFailed, UserError
from onnxbench.measure.fold import Noise
from onnxbench.report.abtest import ABResult, compare_blocks, compare_folds
from onnxbench.report.labels import (
    differing,
    model_config,
    row_labels,
    runtime_label,
    split_fields,
)
from onnxbench.report.rundata import Point, RunData, group_points, load_run


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
            return self.result.verdict_text()
        bad = self.a if self.a.median is None else self.b
        return f"not compared: {'A' if bad is self.a else 'B'} {bad.status} ({bad.reason})"

    @property
    def broke(self) -> bool:
        """ok in A, not ok in B: a failure the gate reports whatever the latencies say."""
        return self.a.status == "ok" and self.b.status != "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.label, "a": self.a.key, "b": self.b.key,
                "status_a": self.a.status, "status_b": self.b.status,
                "median_a_ms": self.a.median, "median_b_ms": self.b.median,
                "processes_a": self.a.fold.n_processes, "processes_b": self.b.fold.n_processes,
                "status": self.status, **(self.result.to_dict() if self.result else {})}


@dataclass
class Comparison:
    """All pairs of a comparison, judged as one family, and what matched nothing."""

    pairs: list[Pair]
    threshold: float
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    noise: dict[str, Any] = field(default_factory=dict)  # "a"/"b": the runs' noise
    kind: str = "runs"  # "runs" (two runs) or "ab" (one run's ab: pairs)
    missing: list[str] = field(default_factory=list)  # ok in A, absent from B

    def tested(self) -> list[Pair]:
        return [p for p in self.pairs if p.result is not None]

    def results(self) -> list[tuple[Pair, ABResult]]:
        return [(p, p.result) for p in self.pairs if p.result is not None]

    @property
    def regressions(self) -> list[Pair]:
        """Significant slow-downs (B slower than A) beyond the threshold: these fail the gate."""
        return [p for p, r in self.results() if r.verdict == "slower"
                and (r.ratio or 0) > 1 + self.threshold]

    @property
    def improvements(self) -> list[Pair]:
        return [p for p, r in self.results() if r.verdict == "faster"
                and (r.ratio or 0) < 1 - self.threshold]

    @property
    def broken(self) -> list[Pair]:
        return [p for p in self.pairs if p.broke]

    @property
    def unresolved(self) -> list[Pair]:
        """Pairs measured in both runs whose CI cannot rule out a slow-down beyond the
        threshold, yet is no regression: the gate cannot see a change of that size there."""
        regressions = {id(p) for p in self.regressions}
        return [p for p, r in self.results() if id(p) not in regressions
                and (r.ci_high is None or r.ci_high > 1 + self.threshold)]

    def methods(self) -> list[str]:
        return sorted({r.method for _, r in self.results()})

    def to_dict(self) -> dict[str, Any]:
        family = len([r for _, r in self.results() if r.ci_low is not None])
        return {"threshold": self.threshold, "kind": self.kind,
                "pairs": [p.to_dict() for p in self.pairs],
                "regressions": [p.label for p in self.regressions],
                "improvements": [p.label for p in self.improvements],
                "broken": [p.label for p in self.broken], "missing_in_b": self.missing,
                "unresolved": [p.label for p in self.unresolved],
                "only_in_a": self.only_a, "only_in_b": self.only_b, "noise": self.noise,
                "methods": self.methods(),
                "multiple_comparisons": f"Bonferroni across the {family} pairs with a CI"}


def _order(case: Case) -> tuple:
    """Rows in reading order: model, config, runtime, then batch and sequence as numbers."""
    return (case.model, case.config or "", case.exporter or "", case.runtime, case.precision,
            case.batch, case.seq or 0, json.dumps(case.options, sort_keys=True, default=str))


def _noise_doc(noise: Noise | None) -> dict[str, Any] | None:
    return noise.to_dict() if noise else None


def compare_runs(run_a: str | Path | RunData, run_b: str | Path | RunData, *,
                 threshold: float = 0.05, alpha: float = 0.05) -> Comparison:
    """Match two runs by point id and judge every pair with both runs' measured noise."""
    ra = run_a if isinstance(run_a, RunData) else load_run(run_a)
    rb = run_b if isinstance(run_b, RunData) else load_run(run_b)
    pa, pb = _matched(ra, rb)
    common = sorted((k for k in pa if k in pb), key=lambda k: _order(pa[k].case))
    if not common:
        raise UserError(f"{rb.run_dir}: no case id in common with {ra.run_dir}; "
                        "compare two runs of the same suite (or of one model: a run of each "
                        "version)")
    if not any(p.median is not None for p in pa.values()):
        raise UserError(f"{ra.run_dir}: no point was measured in run A ({_statuses(pa)}); "
                        "nothing to compare against")
    if not any(p.median is not None for p in pb.values()):  # the candidate broke everywhere
        raise CheckFailed(f"{rb.run_dir}: no point was measured in run B ({_statuses(pb)}); "
                          "every case ok in A is broken in B")
    noise_a, noise_b = ra.noise(), rb.noise()
    labels = row_labels(pa[k].case for k in common)  # what differs between rows, not the id
    pairs = [Pair(label, pa[k], pb[k]) for label, k in zip(labels, common)]
    tested = [p for p in pairs if p.a.median is not None and p.b.median is not None]
    results = compare_folds([(p.a.fold, p.b.fold) for p in tested], noise_a, noise_b,
                            threshold=threshold, alpha=alpha)
    for pair, res in zip(tested, results):
        pair.result = res
    only_a = [k for k in pa if k not in pb]
    return Comparison(pairs, threshold, only_a, [k for k in pb if k not in pa],
                      {"a": _noise_doc(noise_a), "b": _noise_doc(noise_b)},
                      missing=[k for k in only_a if pa[k].status == "ok"])


def _matched(ra: RunData, rb: RunData) -> tuple[dict[str, Point], dict[str, Point]]:
    """Both runs' points by key: the point id, or, where none is shared and each run holds
    one model, the point id of a case that names no model (two versions of one model)."""
    pa = {p.key: p for p in group_points(ra.results)}
    pb = {p.key: p for p in group_points(rb.results)}
    if any(k in pb for k in pa):
        return pa, pb
    models = [{p.case.model for p in points.values()} for points in (pa, pb)]
    if any(len(m) != 1 for m in models):
        return pa, pb
    return ({_model_free(p): p for p in pa.values()}, {_model_free(p): p for p in pb.values()})


def _model_free(point: Point) -> str:
    """The point's id with the model's name left out ("model" in its place)."""
    return point.case.model_copy(update={"model": "model", "model_tag": None}).point_id


def _statuses(points: dict[str, Point]) -> str:
    counts: dict[str, int] = {}
    for p in points.values():
        counts[p.status] = counts.get(p.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def _axis_split(point: Point, axis: str, keys: set[str]) -> tuple[str, str]:
    """(what the pair shares, this point's value on the axis), both as JSON text."""
    case = point.case.model_dump(mode="json", exclude={"repeat"})
    if axis in AB_FIELDS.values() and axis != "options":
        value = case.pop(axis)
    else:
        opts = case["options"]
        value = {k: opts[k] for k in sorted(keys) if k in opts}
        case["options"] = {k: v for k, v in opts.items() if k not in keys}
        value = value if axis == "options" else value.get(axis)
    return json.dumps(case, sort_keys=True, default=str), json.dumps(value, sort_keys=True,
                                                                     default=str)


def _option_keys(axis: str, values: list[Any]) -> set[str]:
    if axis == "options":
        return {k for v in values if isinstance(v, dict) for k in v}
    return {axis}


def ab_label(point: Point, varying: list[str], axis: str) -> str:
    """"resnet18/tiny PyTorch CPU (pipeline=gpu)": what the pair shares and tells it apart
    from other pairs, without the axis it varies."""
    case = point.case
    head = [] if axis in ("model", "config") else [model_config(case)]
    head += [] if axis == "runtime" else [runtime_label(case.runtime)]
    bits = differing(case, varying, skip=(axis, f"options.{axis}"))
    return " ".join(head) + (f" ({'; '.join(bits)})" if bits else "")


def _axis_pairs(points: list[Point], axis: str, values: list[Any], varying: list[str]
                ) -> list[Pair]:
    keys = _option_keys(axis, values)
    arms: dict[str, dict[str, Point]] = {}
    for p in points:
        if axis not in AB_FIELDS.values() and axis not in p.case.options:
            continue
        rest, value = _axis_split(p, axis, keys)
        arms.setdefault(rest, {})[value] = p
    order = [json.dumps(v, sort_keys=True, default=str) for v in values]
    pairs = []
    for group in arms.values():
        present = [k for k in order if k in group] + sorted(k for k in group if k not in order)
        for kb in present[1:]:
            a, b = group[present[0]], group[kb]
            pairs.append(Pair(f"{ab_label(a, varying, axis)} [{axis}: {present[0]} → {kb}]", a, b))
    return pairs


def ab_in_run(run: RunData, *, threshold: float = 0.05, alpha: float = 0.05) -> Comparison:
    """Pairs along each of the plan's ``ab_axes`` (A = the axis' first value), paired by
    process index (A and B of one round ran back to back)."""
    points = group_points(run.results)
    _, varying = split_fields(p.case for p in points)
    pairs = [pair for axis, values in run.ab_axes.items()
             for pair in _axis_pairs(points, axis, values, varying)]
    tested = [p for p in pairs if p.a.median is not None and p.b.median is not None]
    blocks = [_paired_medians(p) for p in tested]
    for pair, res in zip(tested, compare_blocks(blocks, threshold=threshold, alpha=alpha)):
        pair.result = res
    return Comparison(pairs, threshold, kind="ab")


def _paired_medians(pair: Pair) -> tuple[list[float], list[float]]:
    """The process medians of A and B with the same process index."""
    fa, fb = pair.a.fold, pair.b.fold
    b_of = dict(zip(fb.process_repeats, fb.process_medians))
    common = [(m, b_of[r]) for r, m in zip(fa.process_repeats, fa.process_medians) if r in b_of]
    return [a for a, _ in common], [b for _, b in common]


def check_gate(comparison: Comparison, *, allow_missing: bool = False,
               allow_unresolved: bool = False) -> None:
    """Raise CheckFailed naming what broke (ok → not ok, or missing from B), the regressions
    beyond the threshold and the noise, and the pairs where a regression of the threshold's
    size would go unseen (see the module docstring)."""
    problems = []
    broken = comparison.broken
    if broken:
        first = broken[0]
        problems.append(f"{len(broken)} case(s) ok in A but not in B; first {first.label}: "
                        f"{first.b.status} ({first.b.reason})")
    if comparison.missing and not allow_missing:
        problems.append(f"{len(comparison.missing)} case(s) ok in A are missing from B; first "
                        f"{comparison.missing[0]} (--allow-missing accepts that)")
    regs = [(p, p.result) for p in comparison.regressions if p.result is not None]
    if regs:
        worst, r = max(regs, key=lambda pr: pr[1].ratio or 0.0)
        problems.append(f"{len(regs)} significant regression(s) beyond "
                        f"{comparison.threshold:.0%} and the runs' noise; worst {worst.label}: "
                        f"{r.change_pct or 0:+.1f}% (CI {r.ci_low or 0:.3f}–{r.ci_high or 0:.3f})")
    unresolved = comparison.unresolved
    if unresolved and not allow_unresolved:
        problems.append(unresolved_line(comparison))
    if problems:
        raise CheckFailed("; ".join(problems))


def unresolved_line(comparison: Comparison) -> str:
    """What the gate cannot see, and how to make it see: for the last line of ``compare``."""
    pairs = comparison.unresolved
    widest = max(pairs, key=lambda p: float("inf") if p.result is None or p.result.ci_high
                 is None else p.result.ci_high)
    r = widest.result
    reach = ("an unbounded CI" if r is None or r.ci_high is None
             else f"a CI up to {100 * (r.ci_high - 1):+.0f} %")
    more = _more_processes(widest, r, comparison.threshold)
    return (f"the gate cannot resolve {comparison.threshold:.0%}: {len(pairs)} of "
            f"{len(comparison.tested())} pair(s) could hide a slow-down beyond it (widest: "
            f"{widest.label}, {reach}); measure each run in {more} or use `onnxbench ab`; "
            "--allow-unresolved accepts it")


def _more_processes(pair: Pair, r: ABResult | None, threshold: float) -> str:
    """How many processes a point would need for its CI's half-width to shrink to the
    threshold (it falls as 1/sqrt(processes)): "about 40 processes (bench --processes 40;
    now 20)", or just "more processes" where the width says nothing usable."""
    now = max(pair.a.fold.n_processes, pair.b.fold.n_processes)
    if r is None or r.resolvable_pct is None or now < 2:
        return "3 or more processes a point (bench --processes, a suite's processes:)"
    factor = (math.log1p(r.resolvable_pct / 100) / math.log1p(threshold)) ** 2
    need = math.ceil(now * max(factor, 1.0) * 1.2)  # a margin: the width is itself noisy
    if need > 200:
        return f"many more processes than {now}"
    return f"about {need} processes a point (bench --processes {need}; now {now})"


def parse_threshold(text: str, flag: str = "--threshold") -> float:
    """'5%' or '0.05' → 0.05; UserError otherwise."""
    raw = text.strip()
    try:
        value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise UserError(f"{flag} {text!r}: expected a percentage like 5% (or a fraction like 0.05)")
    return value
