"""What an optimisation buys and what it costs, in ONE table (issue [5/7]).

Within a model/config group, every series is a variant (runtime × precision × optimisation
options such as level, fuse, truncate_layers). Each row gives its median, the speed-up over
the *fp32 plain* variant of the same runtime (else PyTorch fp32 on the same device), its
accuracy metric, and the accuracy delta against that fp32 variant: taken from the result
(``accuracy.py`` writes ``delta``) or computed here from the two ``value``s when the result
has only its own value (a zoo's ``evaluate`` dict, e.g. the MoE's held-out accuracy).
"""

from __future__ import annotations

from typing import Any

from onnxbench.report.fmt import DASH, VERSUS_FP32, accuracy_text, metric_delta
from onnxbench.report.labels import runtime_framework, runtime_label
from onnxbench.report.tables import (
    Cell,
    Group,
    Series,
    Table,
    device_of,
    number_cell,
    reason_notes,
    speedup_cell,
    word,
)

# options that change the graph or the compiled program (not how it is timed)
OPT_OPTIONS = ("level", "fuse", "truncate_layers", "keep_io_types", "calibration", "mode",
               "cuda_graph", "fp16", "int8")


def _case(s: Series):
    return next(iter(s.points.values())).case


def is_plain(s: Series) -> bool:
    """fp32 without any optimisation option: the reference a variant is measured against."""
    c = _case(s)
    return c.precision == "fp32" and not any(k in c.options for k in OPT_OPTIONS)


def has_variants(group: Group) -> bool:
    """A group worth an optimisation table: some series is not fp32 plain, and some is."""
    return any(not is_plain(s) for s in group.series) and any(is_plain(s) for s in group.series)


def fp32_baseline(group: Group, s: Series) -> Series | None:
    """fp32 plain of the same runtime, else PyTorch fp32 plain on the same device."""
    plain = [b for b in group.series if is_plain(b)]
    same = [b for b in plain if b.runtime == s.runtime]
    dev = [b for b in plain if device_of(b.runtime) == device_of(s.runtime)
           and runtime_framework(b.runtime) == "torch"]
    return next(iter(same or dev), None)


def _acc(s: Series, x: int) -> dict[str, Any] | None:
    p = s.points.get(x)
    return (p.accuracy() if p else None) or next(
        (q.accuracy() for q in s.points.values() if q.accuracy()), None)


def accuracy_delta(acc: dict[str, Any] | None, ref: dict[str, Any] | None) -> float | None:
    """The result's own delta, else value minus the fp32 variant's value (same metric)."""
    if not acc or acc.get("value") is None:
        return None
    if acc.get("delta") is not None:
        return float(acc["delta"])
    if ref and ref.get("metric") == acc.get("metric") and ref.get("value") is not None \
            and acc.get("metric") not in VERSUS_FP32:
        return float(acc["value"]) - float(ref["value"])
    return None


def _speedup_cell(s: Series, b: Series | None, x: int) -> Cell:
    if b is s:
        return Cell("baseline")
    ps, pb = s.points.get(x), b.points.get(x) if b else None
    if b is None or word(ps) or word(pb) or ps is None or pb is None:
        return Cell(DASH)
    via = "" if b.runtime == s.runtime else f" (vs {runtime_label(b.runtime)})"
    return speedup_cell(ps, pb, via)


def _row(group: Group, s: Series, x: int) -> list[Cell]:
    p, b = s.points.get(x), fp32_baseline(group, s)
    c = p.case if p else _case(s)
    head = [Cell(s.label), Cell(str(c.batch), c.batch)] + (
        [Cell(str(c.seq) if c.seq else DASH, c.seq)] if _has_seq(group) else [])
    w = word(p)
    med = Cell(w or "", is_word=True) if w or p is None else number_cell(p, p.median)
    return head + [med, _speedup_cell(s, b, x), *_accuracy_cells(s, b, x)]


def _accuracy_cells(s: Series, b: Series | None, x: int) -> list[Cell]:
    acc = _acc(s, x)
    if b is s:
        return [Cell(accuracy_text(acc, with_delta=False)), Cell("fp32 reference" if acc else DASH)]
    d = accuracy_delta(acc, _acc(b, x) if b else None)
    text = DASH if d is None or acc is None else metric_delta(acc.get("metric", ""), d)
    return [Cell(accuracy_text(acc, with_delta=False)), Cell(text, d)]


def _has_seq(group: Group) -> bool:
    return any(p.case.seq for s in group.series for p in s.points.values())


def optimisation_table(group: Group) -> Table | None:
    """Variants × batch (× seq): median, speed-up vs fp32 plain, accuracy and its delta."""
    if not has_variants(group):
        return None
    order = sorted(group.series, key=lambda s: (s.runtime, not is_plain(s), s.label))
    headers = ["Variant", "Batch"] + ["Seq"] * _has_seq(group) + [
        "Median (ms)", "Speed-up vs fp32", "Accuracy", "Δ accuracy vs fp32"]
    rows = [_row(group, s, x) for s in order for x in group.xs if x in s.points]
    notes = ["speed-up = fp32 plain median / variant median (same runtime; else PyTorch fp32 on "
             "the same device, named); Δ accuracy = variant − fp32 (pp for accuracies)"]
    return Table(f"{group.title}: optimisations, speed-up and accuracy delta", headers, rows,
                 notes + reason_notes(group))
