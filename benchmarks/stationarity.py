"""The stationarity test of a load window against queues of known utilisation.

A fake runtime with a known service time (``test-delay`` with ``wait: sleep``: each call
sleeps ``--service-ms``, releasing the GIL as a native runtime does) is served by
``--workers`` worker threads. A closed-loop calibration (every worker busy) measures its busy
time per request ``b``; then open-loop Poisson windows (MLPerf LoadGen's Server, or
``--generator onnxbench`` for onnxbench's own) run at ρ = 0.7, 0.95 and 1.05, i.e. at
ρ × workers / b requests per second: ``--windows`` windows of ``--seconds`` each per ρ, each
window a case in its own worker (seeds 0, 1, ...), exactly as ``onnxbench load`` runs them.
Every window's verdict (``result.load.stationarity``) is checked against the truth:
``stable`` (0.7), stable but near saturation (``near``, 0.95), ``growing`` (1.05).
Target: at least 19 of 20 right at each utilisation.

    PYTHONPATH=src .venv/bin/python benchmarks/stationarity.py [--windows 20] [--seconds 10]
        [--service-ms 2] [--workers 1] [--generator loadgen|onnxbench] [--write]

About 15 minutes with the defaults on a quiet 2-core machine (60 windows of 10 s, each in a
fresh worker: ~3 s to start, pre-check and drain). ``--windows 2 --seconds 2`` is a dry run
(its numbers are not for committing). ``--write`` saves docs/benchmarks/stationarity.md.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from _output import DOCS, emit
from onnxbench.core.case import Case
from onnxbench.core.load_spec import LoadSpec
from onnxbench.isolation import env as env_mod
from onnxbench.suite.load_plan import run_load

OUT = DOCS / "stationarity.md"
ROOT = Path(__file__).resolve().parents[1]
TRUTH = {0.7: "stable", 0.95: "near", 1.05: "growing"}
# the verdicts table (README's stationarity section reads it by these names)
VERDICTS_HEAD = ["ρ asked", "QPS", "truth", "windows", "stable", "near", "growing", "unknown",
                 "right", "ρ measured: median [min, max]", "queue slope ms/s: median [min, max]"]
TARGET = 0.95  # share of windows classified right (19 of 20)


def tiny_onnx(folder: Path) -> Path:
    """Y = X (an Identity): test-delay needs an artifact, not a model."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "tiny",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "identity.onnx"
    onnx.save(model, path)
    return path


def case(model: Path, args, spec: LoadSpec) -> Case:
    return Case(model=str(model), runtime="test-delay", batch=1,
                options={"delay_us": args.service_ms * 1000, "wait": "sleep"}, scenario=spec)


def calibrate(model: Path, args) -> float:
    """Busy time per request (ms) with every worker busy: a closed loop of ``workers``."""
    spec = LoadSpec(name="concurrency", concurrency=args.workers, workers=args.workers,
                    duration_s=max(2.0, args.seconds / 2), ceiling=False, check_outputs=False)
    outcome = run_load([case(model, args, spec)], args.runs, name="stationarity-calibration")
    (result,) = outcome.results
    queue = result.load.stationarity if result.load else None
    if result.status != "ok" or queue is None or not queue.busy_ms:
        raise SystemExit(f"calibration failed: {result.status} {result.reason}")
    return float(queue.busy_ms)


def windows(model: Path, args, busy_ms: float):
    """Every window's result, by ρ."""
    gen = None if args.generator == "loadgen" else args.generator
    cases = {rho: [case(model, args, LoadSpec(
        name="server", qps=round(rho * args.workers / (busy_ms / 1000.0), 3),
        workers=args.workers, duration_s=args.seconds, seed=seed, generator=gen,
        ceiling=False, check_outputs=False)) for seed in range(args.windows)] for rho in TRUTH}
    flat = [c for cs in cases.values() for c in cs]
    outcome = run_load(flat, args.runs, name="stationarity")
    by_id = {r.case_id: r for r in outcome.results}
    return {rho: [by_id.get(c.case_id) for c in cs] for rho, cs in cases.items()}, outcome


def verdict_of(result) -> str:
    if result is None or result.status != "ok" or result.load is None:
        return f"{getattr(result, 'status', 'missing')}"
    s = result.load.stationarity
    return s.verdict if s is not None else "untested"


def summary_rows(by_rho, busy_ms: float, args) -> list[list[str]]:
    rows = []
    for rho, results in by_rho.items():
        verdicts = Counter(verdict_of(r) for r in results)
        right = verdicts[TRUTH[rho]]
        measured = [r.load.stationarity.rho for r in results
                    if r is not None and r.load and r.load.stationarity]
        slopes = [r.load.stationarity.queue_slope for r in results
                  if r is not None and r.load and r.load.stationarity
                  and r.load.stationarity.queue_slope is not None]
        ok = right >= TARGET * len(results)
        rows.append([f"{rho:g}", f"{rho * args.workers / (busy_ms / 1000.0):.1f}", TRUTH[rho],
                     f"{len(results)}", *(str(verdicts[v]) for v in
                                          ("stable", "near", "growing", "unknown")),
                     f"**{right}/{len(results)}**" + ("" if ok else " (below target)"),
                     _spread(measured, "{:.3f}"), _spread(slopes, "{:.3g}")])
    return rows


def _spread(values, fmt: str) -> str:
    if not values:
        return "–"
    med = fmt.format(float(np.median(values)))
    return f"{med} [{fmt.format(min(values))}, {fmt.format(max(values))}]"


def detail_rows(by_rho) -> list[list[str]]:
    rows = []
    for rho, results in by_rho.items():
        for seed, r in enumerate(results):
            s = r.load.stationarity if r is not None and r.load else None
            rows.append([f"{rho:g}", str(seed), verdict_of(r),
                         "–" if s is None or s.rho is None else f"{s.rho:.3f}",
                         "–" if s is None or s.queue_slope is None else f"{s.queue_slope:.3g}",
                         "–" if s is None or s.queue_slope_low is None else
                         f"{s.queue_slope_low:.3g}",
                         "–" if s is None or s.backlog is None else str(s.backlog),
                         "–" if r is None or r.load is None or r.load.latency_ms is None
                         else f"{r.load.latency_ms.p99:.3g}"])
    return rows


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
        ["| " + " | ".join(r) + " |" for r in rows]


def markdown(args, busy_ms: float, by_rho, run_dir: Path) -> str:
    gen = "MLPerf LoadGen Server (Poisson)" if args.generator == "loadgen" else \
        "onnxbench's own open loop (Poisson)"
    lines = [
        "<!-- Produced by: python benchmarks/stationarity.py "
        f"--windows {args.windows} --seconds {args.seconds:g} --service-ms {args.service_ms:g} "
        f"--workers {args.workers} --generator {args.generator}"
        f"{' --write' if args.write else ''} (run {run_dir.name}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC) -->", "",
        "# Stationarity test of a load window: queues of known utilisation", "",
        f"`test-delay` sleeping {args.service_ms:g} ms per call (`wait: sleep`), "
        f"{args.workers} worker thread{'s' if args.workers != 1 else ''}; busy time per "
        f"request from a closed-loop calibration: **{busy_ms:.3f} ms** (capacity "
        f"{args.workers / (busy_ms / 1000.0):.1f} QPS). {gen} at ρ = 0.7, 0.95, 1.05, "
        f"{args.windows} windows of {args.seconds:g} s each, every window a case in its own "
        "worker (`onnxbench load`'s path). The verdict is `load.stationarity.verdict` "
        "(scenarios/stationarity.py); right means stable at 0.7, near (stable, ρ ≥ 0.9) at "
        "0.95, growing at 1.05. Target: ≥ 19 of 20 right at each.", "",
        "## Verdicts", ""]
    lines += table(VERDICTS_HEAD, summary_rows(by_rho, busy_ms, args))
    lines += ["", "## Every window", ""]
    lines += table(["ρ asked", "seed", "verdict", "ρ", "queue slope (ms/s)",
                    "one-sided 99.9 % lower bound", "backlog at the last arrival", "p99 (ms)"],
                   detail_rows(by_rho))
    lines += ["", "## Environment", ""] + env_mod.markdown_lines(env_mod.collect())
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--service-ms", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--generator", choices=("loadgen", "onnxbench"), default="loadgen")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs", help="where run directories go")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="onnxbench-stationarity-") as tmp:
        model = tiny_onnx(Path(tmp))
        busy_ms = calibrate(model, args)
        by_rho, outcome = windows(model, args, busy_ms)
    emit(markdown(args, busy_ms, by_rho, outcome.run_dir), OUT, args.write)


if __name__ == "__main__":
    main()
