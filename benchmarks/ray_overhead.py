"""What does a case cost beyond its measurement, with ``--executor local`` and with Ray?

One suite, one prepared run directory (configs and every artifact built once), resumed by
each arm in a fresh process, arms rotated over ``--repeats`` rounds:

- ``local``: the local executor, one case after another (one device);
- ``ray-task``: the Ray executor as before issue #29 (``warm=False``): one Ray task per case,
  whose Ray worker may have to start, and start its own fork server, for the case;
- ``ray-actor``: the Ray executor's default: one long-lived actor per device, each holding a
  warm fork server, so a case costs a fork.

Each Ray arm starts its own local cluster of ``--cpus`` CPUs (in the arm's process, with
the arm's sources; timed apart); with cases that pin ``threads: 1`` each core is one
device. ``--before-src DIR`` adds the arms ``before-local`` and ``before-ray``: the same,
run on another checkout's sources (the code before issue #29: ``git archive 090a42e src |
tar -x -C DIR/..``). The script reports, per arm: cases/hour over the execution span (first
dispatch to last result), each case's fixed cost (dispatch to result written, less its
timed seconds: from the executor's progress events, so any version of the code can be
measured), split into each device's first case and the others, and the device time per
case that was not measurement (idle gaps included); where results carry a ``timeline``
(``onnxbench.core.timeline``), each phase's median.

The default suite is written here: a small MatMul chain on ``ort-cpu`` with ``threads: 1``,
``--points`` batch sizes × ``--processes`` processes each (so ``--points 2 --processes 8``
is 16 cases) measured for ``--secs`` seconds each; ``--suite NAME|PATH`` runs another::

    python benchmarks/ray_overhead.py [--secs 3] [--points 2] [--processes 8] [--cpus 2]
        [--repeats 2] [--arms local,ray-task,ray-actor] [--before-src DIR/src] [--runs DIR]
        [--write]

``--write`` writes docs/benchmarks/ray_overhead.md (only from a quiet machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _costs import analyse, arm_table, phase_table
from _output import DOCS, emit
from ray_scaleout import _env, env_lines, prepared

OUT = DOCS / "ray_overhead.md"
ARMS = {"local": {"name": "local"},
        "ray-task": {"name": "ray", "warm": False},
        "ray-actor": {"name": "ray", "warm": True},
        "before-local": {"name": "local"},  # with --before-src: the code before issue #29
        "before-ray": {"name": "ray"}}
MINE = ["local", "ray-task", "ray-actor"]
TARGET_S = 0.5  # Ray's per-case overhead above local's (issue #29)
SUITE = """\
suite: ray-overhead
description: a small MatMul chain on ort-cpu, one thread; every case measures {secs} s
defaults:
  measure: {{warmup: 10, min_runs: 10, max_runs: 100000000, min_time_s: {secs}, \
max_time_s: {secs}}}
  options: {{threads: 1}}
  repeats: {processes}  # each process measures the whole budget
  timeout_s: {timeout}
cases:
  - model: {model}
    runtimes: [ort-cpu]
    batch: {batch}
"""


def write_model(path: Path, width: int = 256, layers: int = 8) -> Path:
    """A chain of ``layers`` MatMul+Relu of ``width`` (symbolic batch): real ORT work."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Relu", [f"m{i}"], [f"r{i}"])]
        prev = f"r{i}"
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["batch", width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def suite_file(args: argparse.Namespace, runs: Path) -> str:
    """``--suite`` as given, or the default suite written under ``runs``."""
    if args.suite:
        return args.suite
    model = write_model(runs / "chain.onnx")
    batch = [2 ** i for i in range(args.points)]
    path = runs / "ray-overhead.yaml"
    path.write_text(SUITE.format(secs=args.secs, processes=args.processes, model=model,
                                 batch=batch, timeout=int(60 + 10 * args.secs)))
    return str(path)


# ------------------------------------------------------------------------- one arm

def arm(args: argparse.Namespace) -> None:
    """(In a fresh process, perhaps on other sources) resume DIR with the arm's executor and
    log each case's progress events with the wall clock (``events.json``)."""
    from onnxbench.executors import make_executor
    from onnxbench.suite.runner import resume

    options = dict(ARMS[args.arm])
    name = options.pop("name")
    if name == "ray":  # a new local cluster, of this process's sources and environment
        options.update(address="local", init_options={"num_cpus": args.cpus})
    (run_dir,) = [p for p in Path(args.dir).iterdir() if p.is_dir()]
    events: list[tuple[str, str, float]] = []

    def progress(p) -> None:
        if p.phase == "case":
            events.append((p.name, p.event, time.time()))

    if args.arm.startswith("before-"):
        _plan_for_these_sources(run_dir)
    t0 = time.monotonic()
    executor = make_executor(name, **options)
    executor.open([])  # connects (Ray: starts the cluster); resume's own open is then free
    cluster_s = time.monotonic() - t0
    resume(run_dir, trust=True, progress=progress, executor=executor)
    (Path(args.dir) / "events.json").write_text(json.dumps(events))
    print(json.dumps({"wall_s": time.monotonic() - t0, "cluster_s": cluster_s}))


def _plan_for_these_sources(run_dir: Path) -> None:
    """The prepared plan (written by this checkout) trimmed to the case fields the older
    sources know; the fields added since (``trim_runs``) are at their defaults in this suite,
    so the cases measure the same thing."""
    from onnxbench.case import Case  # type: ignore[import-not-found]  # the older layout

    path = run_dir / "configs" / "plan.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    known = set(Case.model_fields)
    for entry in doc["cases"]:
        entry["case"] = {k: v for k, v in entry["case"].items() if k in known}
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def run_arm(name: str, prepared_dir: Path, runs: Path, cpus: int,
            before_src: str | None) -> dict:
    """Copy the prepared directory, resume it with ``name`` in a subprocess, read it back."""
    dest = runs / name
    shutil.copytree(prepared_dir, dest / prepared_dir.name, symlinks=True)
    before = name.startswith("before-")
    cmd = [sys.executable, __file__, "arm", str(dest), "--arm", name]
    env = _env()
    if before:  # the sources before issue #29 (a checkout's src/), nothing of this one
        env["PYTHONPATH"] = str(before_src)
    t0 = time.monotonic()
    proc = subprocess.run(cmd + ["--cpus", str(cpus)], env=env, capture_output=True, text=True,
                          check=False)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"{name}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    told = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"arm": name, "call_s": wall, "cluster_s": told["cluster_s"],
            **analyse(dest / prepared_dir.name, dest / "events.json")}


# ------------------------------------------------------------------------ the run

def main_run(args: argparse.Namespace) -> None:
    runs = Path(args.runs)
    arms = args.arms.split(",") if args.arms else \
        MINE + (["before-local", "before-ray"] if args.before_src else [])
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        sys.exit(f"--arms: unknown {', '.join(unknown)}; choose from {', '.join(ARMS)}")
    if any(a.startswith("before-") for a in arms) and not args.before_src:
        sys.exit("--arms before-*: needs --before-src (a checkout's src/ directory)")
    if runs.exists():
        sys.exit(f"{runs}: exists; pass a new --runs directory")
    runs.mkdir(parents=True)
    suite = suite_file(args, runs)
    t0 = time.monotonic()
    prep = prepared(suite, args.only, runs / "prepared")
    prep_s = time.monotonic() - t0
    rounds = []
    for r in range(args.repeats):
        order = arms[r % len(arms):] + arms[:r % len(arms)]  # rotate: spread drift
        rounds.append([run_arm(a, prep, runs / f"round{r}", args.cpus, args.before_src)
                       for a in order])
        print(json.dumps(rounds[-1]), file=sys.stderr)
    (runs / "results.json").write_text(json.dumps(rounds, indent=1))
    bad = sorted({r["arm"] for rnd in rounds for r in rnd
                  if set(r["statuses"]) != {"ok"} or r["timed"] != r["n"]})
    text = markdown(args, suite, rounds, prep_s, bad)
    emit(text, OUT, args.write and not bad)
    if bad:  # a figure over fewer cases than planned is not the figure asked for
        sys.exit(f"not every case of {', '.join(bad)} was measured ok: nothing written; "
                 f"see {runs}")


def _pooled(runs: list[dict], key: str) -> float | None:
    """The median over rounds of one figure (None where no round has it)."""
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def markdown(args: argparse.Namespace, suite: str, rounds: list[list[dict]], prep_s: float,
             bad: list[str]) -> str:
    by_arm: dict[str, list[dict]] = {}
    for row in (r for rnd in rounds for r in rnd):
        by_arm.setdefault(row["arm"], []).append(row)
    warning = [f"**Not every case was measured ok in: {', '.join(bad)}** (the figures below "
               "leave those cases out).", ""] if bad else []
    return "\n".join([
        "# Per-case fixed cost: `--executor local` vs Ray (issue #29)", "",
        "Method, and what each phase holds: [ray_overhead_method.md](ray_overhead_method.md).",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python benchmarks/ray_overhead.py "
        f"{' '.join(sys.argv[1:])}`. Suite: `{Path(suite).name}`; artifacts built once "
        f"({prep_s:.0f} s). Each arm resumes a copy of that run directory in a fresh process "
        f"(a Ray arm on a new local Ray cluster of {args.cpus} CPUs; its start, column "
        f"'start', is no case's). Arms rotated over {args.repeats} round(s).", "",
        "A case's fixed cost = its end minus its start (the executor's progress events: "
        "dispatch to result written) minus its timed seconds; 'first case' is the mean over "
        "each device's first case (a Ray actor's or task worker's start, a fork server's "
        "imports), 'later cases' the median over the others. Span = first start to last "
        "end; cases/hour = cases / span; device s/case not measuring = span × devices / "
        "cases − mean timed seconds (idle gaps included).", "",
        *warning, *arm_table(by_arm), "", *phase_table(by_arm), "", *verdict(by_arm), "",
        "## Environment", "", *env_lines(), ""])


def verdict(by_arm: dict[str, list[dict]]) -> list[str]:
    """Each Ray arm's fixed cost against the local arm of the same sources."""
    out = []
    for ray_arm, local_arm in (("ray-task", "local"), ("ray-actor", "local"),
                               ("before-ray", "before-local")):
        for key, what in (("fixed_median_s", "p50"), ("fixed_mean_s", "mean")):
            ray_v, local_v = _pooled(by_arm.get(ray_arm, []), key), \
                _pooled(by_arm.get(local_arm, []), key)
            if ray_v is None or local_v is None:
                continue
            above = ray_v - local_v
            out.append(f"- `{ray_arm}` fixed cost per case ({what}) {ray_v:.3f} s: "
                       f"{above:+.3f} s against `{local_arm}`'s {local_v:.3f} s (target: at "
                       f"most +{TARGET_S} s): {'met' if above <= TARGET_S else 'NOT met'}.")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("arm", help="(internal) resume DIR with one arm's executor")
    p.add_argument("dir")
    p.add_argument("--arm", required=True, choices=list(ARMS))
    p.add_argument("--cpus", type=int, default=2)
    p.set_defaults(fn=arm)
    parser.add_argument("--suite", default=None, help="a suite name or file (default: written)")
    parser.add_argument("--only", default=None, help="a case-id regex")
    parser.add_argument("--secs", type=float, default=3.0, help="seconds measured per case")
    parser.add_argument("--points", type=int, default=2, help="batch sizes 1, 2, 4, ...")
    parser.add_argument("--processes", type=int, default=8, help="processes (cases) per point")
    parser.add_argument("--cpus", type=int, default=2, help="the local Ray cluster's CPUs")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of all arms")
    parser.add_argument("--arms", default=None, help=f"a comma list of {', '.join(ARMS)} "
                        "(default: the first three, and the before-* with --before-src)")
    parser.add_argument("--before-src", default=None,
                        help="the src/ of a checkout before issue #29 (arms before-*)")
    parser.add_argument("--runs", default=None, help="a new directory (default: runs/ray-overhead-"
                        "<time>)")
    parser.add_argument("--write", action="store_true", help=f"write {OUT.name}")
    parser.set_defaults(fn=main_run)
    args = parser.parse_args()
    if args.fn is main_run and args.runs is None:
        args.runs = f"runs/ray-overhead-{datetime.now():%Y%m%d-%H%M%S}"
    args.fn(args)


if __name__ == "__main__":
    main()
