"""serving-cpu: peak QPS under the bound per runtime and layout, and a 60 s re-check of it.

1. Takes the latest ``runs/serving-cpu_*`` run (or ``--run DIR``; or runs the suite with
   ``--run-suite``: about 50 minutes on a quiet 2-core machine).
2. For the best configuration of each model, runtime and bound (the ones the report's
   sentence quotes; ``--all``: every peak), runs the reported peak rate again for
   ``--seconds`` (60) as a plain server point (LoadGen, Poisson, same layout and batching;
   the confirmed peak where the suite's ``confirm_s`` confirmed it, the search's
   short-window rate shown beside it): does the percentile still meet the bound, and at
   what early-stopping confidence?
3. Prints the markdown; ``--write`` saves it to docs/benchmarks/serving_cpu.md and copies
   the suite's summary.csv, report.md and env.json to docs/benchmarks/cpu/serving-cpu/.

    PYTHONPATH=src .venv/bin/python benchmarks/serving_cpu.py [--run-suite] [--write]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from _output import DOCS, emit
from onnxbench.isolation import env as env_mod
from onnxbench.report import build_report
from onnxbench.report.fmt import one_line, pct, sig
from onnxbench.report.load_tables import fold, is_load
from onnxbench.suite.load_plan import run_load

ROOT = Path(__file__).resolve().parents[1]
OUT = DOCS / "serving_cpu.md"
SUITE_DOCS = DOCS / "cpu" / "serving-cpu"


def latest_run(runs: Path) -> Path | None:
    dirs = sorted(runs.glob("serving-cpu_*"))
    return dirs[-1] if dirs else None


def best_peaks(run: Path, every: bool):
    """The peak points to re-check: each model × runtime × bound's highest, or all."""
    report = build_report(run)
    peaks = [fold(p) for p in report.points if is_load(p) and p.case.scenario.name == "peak"]
    peaks = [lp for lp in peaks if lp.ok and lp.peak]
    if every:
        return peaks
    best: dict[tuple, object] = {}
    for lp in peaks:
        s = lp.spec
        key = (lp.case.model, lp.case.config, lp.case.runtime, s.percentile, s.bound_ms)
        if key not in best or lp.peak > best[key].peak:
            best[key] = lp
    return list(best.values())


def recheck_case(lp, seconds: float):
    """The same case, its scenario a server point at the peak rate for ``seconds``."""
    spec = lp.spec.model_copy(update={"name": "server", "qps": round(lp.peak, 3),
                                      "duration_s": seconds, "arrival": "poisson"})
    return lp.case.model_copy(update={"scenario": type(spec)(**spec.model_dump())})


def row(lp, result) -> list[str]:
    q = f"p{lp.spec.percentile:g}"
    head = [f"{lp.case.model}/{lp.case.config}", lp.label, f"{q} ≤ {lp.spec.bound_ms:g} ms",
            sig(lp.peak), sig(lp.search), pct(lp.confidence)]
    if result is None or result.status != "ok" or result.load is None:
        why = "not run" if result is None else f"{result.status}: {one_line(result.reason, 120)}"
        return head + ["–", "–", "–", "–", why]
    load = result.load
    b = load.bound
    return head + [sig(load.achieved_qps), sig(b.value_ms) if b else "–",
                   ("yes" if b.met else "NO") if b else "–", pct(b.confidence) if b else "–",
                   "harness-limited" if load.harness and load.harness.limited else ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a finished serving-cpu run directory")
    ap.add_argument("--run-suite", action="store_true", help="run the serving-cpu suite first")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs", help="where run directories go")
    ap.add_argument("--seconds", type=float, default=60.0, help="re-check duration")
    ap.add_argument("--all", action="store_true", help="re-check every peak, not only the best")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if args.run_suite:
        subprocess.run([sys.executable, "-m", "onnxbench", "run", "--suite", "serving-cpu",
                        "--out", str(args.runs), "--quiet"], check=False)
    run = args.run or latest_run(args.runs)
    if run is None:
        sys.exit("no serving-cpu run: pass --run DIR or --run-suite")
    peaks = best_peaks(run, args.all)
    cases = [recheck_case(lp, args.seconds) for lp in peaks]
    outcome = run_load(cases, args.runs, name="serving-cpu-recheck")
    by_id = {r.case_id: r for r in outcome.results}
    rows = [row(lp, by_id.get(c.case_id)) for lp, c in zip(peaks, cases)]
    head = ["Model", "Serving", "Bound", "Peak QPS", "Search QPS", "Confidence",
            f"{args.seconds:g} s re-check: achieved QPS", "Percentile (ms)", "Bound met",
            "Confidence", "Note"]
    lines = [f"# serving-cpu: peak QPS under the bound, and a {args.seconds:g} s re-check", "",
             f"Suite run: `{run.name}`; re-check run: `{outcome.run_dir.name}`. Sentences from "
             "the suite's report:", ""]
    load = build_report(run).load
    lines += [f"- {s}" for s in (load.sentences if load else [])]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "## Environment", ""] + env_mod.markdown_lines(env_mod.collect())
    emit("\n".join(lines) + "\n", OUT, args.write)
    if args.write:
        SUITE_DOCS.mkdir(parents=True, exist_ok=True)
        for src in (run / "summary" / "summary.csv", run / "report.md",
                    run / "configs" / "env.json"):
            shutil.copy(src, SUITE_DOCS / src.name)


if __name__ == "__main__":
    main()
