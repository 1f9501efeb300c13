"""Does ``make demo`` hold its promise on this machine: at most 60 s of suite time and at
most 1 unstable point of 12, ending with the answer sentences and the accuracy column?

Runs ``onnxbench run --suite SUITE`` (what ``make demo`` runs, once set up) ``--rounds``
times for each suite given, interleaved (ABBA order, so a drift in the machine's load falls
on every variant alike), each in a fresh run directory, and reports per run: suite time
(wall clock of the command), unstable points, cases not ok, and whether the output ends
with one answer sentence per model and shows an accuracy column.

    .venv/bin/python benchmarks/demo_stability.py [--rounds 5] [--suite quickstart]
        [--suite benchmarks/quickstart_before.yaml] [--out /tmp/demo-runs] [--write]

``--write`` also writes the markdown to docs/benchmarks/demo_stability.md. Run it on a
quiet machine (nothing else running): the figures are the machine's, not onnxbench's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _output import DOCS, emit

OUT = DOCS / "demo_stability.md"
BUDGET_S, MAX_UNSTABLE = 60.0, 1
ONNXBENCH = [sys.executable, "-m", "onnxbench"]


def one_run(suite: str, out: Path) -> dict:
    """``onnxbench run --suite SUITE`` once: its wall time, unstable points, and the answer."""
    env = {**os.environ, "COLUMNS": "100"}
    start = time.perf_counter()
    done = subprocess.run([*ONNXBENCH, "run", "--suite", suite, "--out", str(out), "--quiet"],
                          capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    (run_dir,) = sorted(out.iterdir())[-1:]
    summary = json.loads((run_dir / "summary" / "summary.json").read_text())
    rows = summary["rows"]
    tail = done.stdout.strip().split("\n\n")[-1]
    return {"wall_s": wall, "rc": done.returncode, "points": len(rows),
            "unstable": sum(bool(r.get("unstable")) for r in rows),
            "not_ok": sum(r["status"] != "ok" for r in rows),
            "answers": tail.count(" fastest "),  # one "who is fastest" sentence per model
            "accuracy_column": "Accuracy" in done.stdout, "run_dir": str(run_dir)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--suite", action="append", default=None,
                    help="a suite name or YAML path (repeatable; default: quickstart)")
    ap.add_argument("--out", type=Path, default=None, help="where run directories go "
                    "(default: a temporary folder, removed afterwards)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    suites = args.suite or ["quickstart"]
    root = args.out or Path(tempfile.mkdtemp(prefix="demo-stability-"))
    runs: dict[str, list[dict]] = {s: [] for s in suites}
    for k in range(args.rounds):
        order = suites if k % 2 == 0 else list(reversed(suites))  # ABBA
        for suite in order:
            res = one_run(suite, root / f"{Path(suite).stem}-{k}")
            runs[suite].append(res)
            print(f"round {k + 1} {suite}: {res['wall_s']:.1f} s, {res['unstable']} of "
                  f"{res['points']} unstable, {res['not_ok']} not ok", file=sys.stderr)
    emit(report(runs, args.rounds), OUT, args.write)
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)


def report(runs: dict[str, list[dict]], rounds: int) -> str:
    lines = [f"# make demo on this machine ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "",
             f"`onnxbench run --suite SUITE`, {rounds} rounds, suites interleaved (ABBA); "
             f"promise: ≤ {BUDGET_S:.0f} s of suite time and ≤ {MAX_UNSTABLE} unstable point, "
             f"ending with the answer and the accuracy column.", "",
             "| suite | suite time, median (max) | unstable points per run | runs kept | "
             "cases not ok | answers | accuracy column |", "| --- | --- | --- | --- | --- | --- "
             "| --- |"]
    for suite, res in runs.items():
        walls = [r["wall_s"] for r in res]
        kept = sum(r["wall_s"] <= BUDGET_S and r["unstable"] <= MAX_UNSTABLE for r in res)
        lines.append(f"| `{suite}` | {statistics.median(walls):.1f} s ({max(walls):.1f} s) | "
                     f"{', '.join(str(r['unstable']) for r in res)} of {res[0]['points']} | "
                     f"{kept} of {len(res)} | {sum(r['not_ok'] for r in res)} | "
                     f"{', '.join(str(r['answers']) for r in res)} | "
                     f"{'yes' if all(r['accuracy_column'] for r in res) else 'no'} |")
    lines += ["", "runs kept = within both promises. Suite time includes training and exporting "
              "the two models (set-up, the venv, is not counted)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
