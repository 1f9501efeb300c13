"""The `onnxbench ab` part of ``ab_validity.py``: A/A and sensitivity comparisons in each
design, their rendering, and the median time to the verdict (against the doc they replace)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

DIM, BATCH, LAYERS = 128, 16, 20


def ab_once(a: Path, b: Path, work: Path, max_time: float, target: float | None,
            design: str = "auto") -> dict[str, Any]:
    from onnxbench.suite.ab import ab

    res = ab(str(a), str(b), batch=BATCH, options={"threads": 1}, out=work, max_time_s=max_time,
             target_ci=target, design=design)
    doc = res.to_dict()
    shutil.rmtree(res.run_dir, ignore_errors=True)
    return doc


def section_ab(a: Path, b: Path, work: Path, n: int, max_time: float,
               designs: list[str]) -> dict[str, list[dict[str, Any]]]:
    """n comparisons per design, the designs alternating (drift meets each alike)."""
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in designs}
    for i in range(n):
        for d in designs if i % 2 == 0 else designs[::-1]:
            out[d].append(ab_once(a, b, work, max_time, 0.01, d))
    return out


def _verdict_counts(docs: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for d in docs:
        v = d["outcome"]["result"]["verdict"]
        counts[v] = counts.get(v, 0) + 1
    return ", ".join(f"{v} {c}" for v, c in sorted(counts.items()))


def _covers(docs: list[dict[str, Any]], value: float) -> int:
    return sum(r["ci_low"] is not None and r["ci_low"] <= value <= r["ci_high"]
               for r in (d["outcome"]["result"] for d in docs))


def ab_rows(docs: list[dict[str, Any]]) -> list[str]:
    """One row per comparison; units = processes (interleaved) or block pairs (process)."""
    head = ["| # | B/A | CI | units | looks | time (s) | stopped by | verdict | block pairs |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows = []
    for i, d in enumerate(docs, 1):
        r, o = d["outcome"]["result"], d["outcome"]
        ci = "–" if r["ci_low"] is None else f"{r['ci_low']:.4f}–{r['ci_high']:.4f}"
        rows.append(f"| {i} | {r['ratio']:.4f} | {ci} | {o.get('units') or o['pairs']} | "
                    f"{o['looks']} | {o['elapsed_s']:.1f} | {o['stop_rule']} | {d['verdict']} "
                    f"| {o['pairs']} |")
    return head + rows


def pass_word(ok: bool) -> str:
    return "PASS" if ok else "MISSED"


def render_ab(aa: list, sens: list, true: dict | None, max_time: float,
              design: str) -> list[str]:
    out: list[str] = []
    n = len(aa)
    tag = f"`onnxbench ab --design {design}`"
    if aa:
        called = sum(d["outcome"]["result"]["verdict"] in ("faster", "slower") for d in aa)
        cover = _covers(aa, 1.0)
        out += [f"- **A/A with {tag}** ({LAYERS} layers vs an identical copy): "
                f"**{called}/{n}** called faster/slower (target ≤ {n // 20}/{n}: "
                f"{pass_word(called <= n // 20)}); the CI covers 1.0 in **{cover}/{n}** (target ≥ "
                f"{n - n // 20}/{n}: {pass_word(cover >= n - n // 20)}); verdicts: "
                f"{_verdict_counts(aa)}; median time to the verdict **{_median_time(aa):.1f} s**"
                f"{_used(aa, design)}"]
    if sens and true:
        ratio = true["outcome"]["result"]["ratio"]
        slower = sum(d["outcome"]["result"]["verdict"] == "slower" for d in sens)
        cover = _covers(sens, ratio)
        worst = max(d["outcome"]["elapsed_s"] for d in sens)
        m = len(sens)
        out += [f"- **Sensitivity with {tag}** ({LAYERS + 1} vs {LAYERS} layers; true "
                f"ratio {ratio:.4f}, CI {true['outcome']['result']['ci_low']:.4f}–"
                f"{true['outcome']['result']['ci_high']:.4f} from one long run): "
                f"**{slower}/{m}** called slower (target ≥ {m - m // 10}/{m}: "
                f"{pass_word(slower >= m - m // 10)}) in at most {worst:.0f} s of workers each "
                f"(budget {max_time:.0f} s), median **{_median_time(sens):.1f} s**; the CI covers "
                f"the true ratio in **{cover}/{m}** (target ≥ {m - m // 10}/{m}: "
                f"{pass_word(cover >= m - m // 10)})"]
    return out


def _median_time(docs: list[dict[str, Any]]) -> float:
    return float(np.median([d["outcome"]["elapsed_s"] for d in docs]))


def _used(docs: list[dict[str, Any]], asked: str) -> str:
    used = sorted({(d.get("design") or {}).get("used", "process") for d in docs})
    return "" if used == [asked] else f" (design used: {', '.join(used)})"


def render_speed(aa: dict[str, list], sens: dict[str, list], before: dict[str, float]
                 ) -> list[str]:
    """Median time to the verdict per design, and the interleaved design's speed-up."""
    if "interleaved" not in aa or "process" not in aa:
        return []
    both = {d: _median_time(aa[d] + sens.get(d, [])) for d in ("interleaved", "process")}
    gain = both["process"] / both["interleaved"] if both["interleaved"] > 0 else float("nan")
    old = (f"; the doc this run replaced: A/A {before['aa']:.1f} s, sensitivity "
           f"{before['sens']:.1f} s (the process design)" if before else "")
    return [f"- **Time to the verdict** (median over the A/A and sensitivity comparisons, "
            f"same session): interleaved **{both['interleaved']:.1f} s**, process "
            f"{both['process']:.1f} s: **{gain:.1f}× shorter** (target ≥ 3×: "
            f"{pass_word(gain >= 3)}){old}"]


ROW = re.compile(r"^\| \d+ \| [\d.]+ \| [^|]+ \| \d+ \| \d+ \| ([\d.]+) \|")


def committed_medians(path: Path) -> dict[str, float]:
    """The median time column of the process design's A/A and sensitivity tables in the
    committed doc (before this run overwrites it); {} when it has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    out: dict[str, float] = {}
    for key, head in (("aa", "## A/A comparisons"), ("sens", "## Sensitivity comparisons")):
        for part in text.split(head)[1:]:
            title, _, body = part.partition("\n")
            if "interleaved" in title:
                continue
            times = [float(m.group(1)) for line in body.split("\n## ")[0].splitlines()
                     if (m := ROW.match(line))]
            if times:
                out[key] = float(np.median(times))
    return out if len(out) == 2 else {}
