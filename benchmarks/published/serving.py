"""The README's serving results, from the load benchmarks' committed outputs.

``serving_cpu.md`` (``benchmarks/serving_cpu.py``) exists in two shapes: the one measured
before issue #27's load rules (5 s probes, no stationarity gate: "Bound met") and the one its
current script writes ("Held for", "Holds": each peak confirmed for its window and re-checked
by another generator). The section reads whichever is committed and says which; likewise
``stationarity.md`` once ``benchmarks/stationarity.py --write`` has committed it.
"""

from __future__ import annotations

import statistics

from published.claims import pending
from published.data import BENCH, Context, md_tables, section, table

SERVING = "serving_cpu.md"
EARLIER = (("serving_cpu_confirmed.md", "with 20 s confirmations"),
           ("serving_cpu_gc_off.md", "with 20 s confirmations and the collector off"))


def _rows(rel: str) -> list[dict[str, str]]:
    for tbl in md_tables(rel):
        if tbl and "Model" in tbl[0] and "Serving" in tbl[0]:
            return tbl
    raise LookupError(f"docs/benchmarks/{rel}: no peak table (Model | Serving | …)")


def _held(row: dict[str, str]) -> bool:
    return (row.get("Holds") or row.get("Bound met") or "").lower() == "yes"


def _current(ctx: Context, rows: list[dict[str, str]]) -> str:
    held = sum(_held(r) for r in rows)
    body = table(["model", "serving", "bound", "peak QPS", "held for", "ρ", "re-check QPS",
                  "re-check percentile (ms)", "queue", "holds", "note"],
                 [[r["Model"], r["Serving"], r["Bound"], r["Peak QPS"], r["Held for"], r["ρ"],
                   r["Achieved QPS"], r["Percentile (ms)"], r["Queue"], r["Holds"],
                   r.get("Why not / note", "")] for r in rows])
    return (f"{body}\n\n**{held} of {len(rows)}** peaks hold their re-check "
            f"([serving_cpu.md]({ctx.bench(SERVING)})).")


def _before(ctx: Context, rows: list[dict[str, str]]) -> str:
    lines = [f"Measured before the load rules of issue #27 (5 s probes, no stationarity gate, "
             f"Python's collector on): **{sum(_held(r) for r in rows)} of {len(rows)}** "
             f"reported peaks held a 60 s re-check ([serving_cpu.md]({ctx.bench(SERVING)}))"]
    for rel, what in EARLIER:
        if (BENCH / rel).is_file():
            rs = _rows(rel)
            lines.append(f"{what}: **{sum(_held(r) for r in rs)} of {len(rs)}** "
                         f"([{rel}]({ctx.bench(rel)}))")
    return ("; ".join(lines) + ". Their peaks are upper bounds and are not quoted here: "
            + pending("the serving peaks under the current rules",
                      "python benchmarks/serving_cpu.py --run-suite --write") + ".")


@section("serving-cpu")
def serving_cpu(ctx: Context) -> str:
    rows = _rows(SERVING)
    return _current(ctx, rows) if "Holds" in rows[0] else _before(ctx, rows)


@section("serving-lock")
def serving_lock(ctx: Context) -> str:
    """Does one ORT session need a lock? The outputs check of every concurrent layout."""
    rel = "cpu/serving-cpu/report.md"
    checked = [r for tbl in md_tables(rel) for r in tbl
               if r.get("Outputs under concurrency", "–") not in ("–", "")]
    equal = sum(r["Outputs under concurrency"].startswith("equal") for r in checked)
    return (f"outputs under concurrency equal to the sequential ones in **{equal} of "
            f"{len(checked)}** concurrent serving points ([serving-cpu]({ctx.bench(rel)}))")


@section("load-generator")
def load_generator(ctx: Context) -> str:
    rel = "load_generator.md"
    tables = md_tables(rel)
    ceilings = [r["Ceiling (QPS completed)"] for r in tables[0]]
    sched = tables[1]

    def worst(upto: float) -> str:
        return max((float(r["Latency p99 (µs)"]) for r in sched
                    if float(r["Target QPS"]) <= upto), default=float("nan")).__format__(".0f")

    delays = sorted(float(r["Issue delay p50 (µs)"]) for r in sched)
    return (f"no-op runtime: ceilings {', '.join(sorted(set(ceilings)))} QPS (the highest rates "
            f"tried); issue delay p50 {delays[0]:.0f}–{delays[-1]:.0f} µs; latency p99 ≤ "
            f"{worst(10000)} µs up to 10,000 QPS and ≤ {worst(1e9)} µs up to the highest rate "
            f"([load_generator.md]({ctx.bench(rel)}))")


@section("gc-stalls")
def gc_stalls(ctx: Context) -> str:
    rel = "gc_stalls.md"
    long = next(t for t in md_tables(rel) if t and t[0]["_heading"].startswith("60 s"))

    def p99(on: bool) -> float:
        return statistics.median(float(r["p99 (ms)"]) for r in long
                                 if r["Collector"].startswith("on") == on)

    pause = max(float(r["Longest pause (ms)"]) for r in long)
    return (f"no-op runtime at 10k QPS in 60 s windows: p99 {p99(True):.3g} ms with Python's "
            f"collector on, {p99(False):.2g} ms with it off (medians of the windows; longest "
            f"pause {pause:.0f} ms) ([gc_stalls.md]({ctx.bench(rel)}))")


@section("stationarity")
def stationarity(ctx: Context) -> str:
    rel = "stationarity.md"
    if not (BENCH / rel).is_file():
        return pending("the stationarity test against queues of known utilisation",
                       "python benchmarks/stationarity.py --write")
    rows = md_tables(rel)[0]
    parts = [f"ρ {r['ρ asked']} ({r['truth']}): {r['right']} right" for r in rows]
    return "; ".join(parts) + f" ([stationarity.md]({ctx.bench(rel)}))"
