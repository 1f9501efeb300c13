"""Does a suite scale out with ``--executor ray``, and are its numbers the local ones?

Two questions, one script (run it on a quiet machine; the numbers are committed):

(a) On this machine (``cpu``): the ``quickstart`` suite with ``--executor local`` and with
    ``--executor ray`` on a local Ray cluster of this machine's cores (``--cpus``, default
    all), one after the other. Reports each run's wall time (the whole ``onnxbench run``,
    artifact builds included; the cluster's start is timed apart), cases/hour, and
    ``onnxbench compare local ray`` on the per-case medians, with the environment::

        python benchmarks/ray_scaleout.py cpu [--suite quickstart] [--cpus 2] [--write]

(b) On a GPU machine (``benchmarks/gpu/ray-scaleout.sh`` drives these three steps, resumably,
    within the device tool's 600 s a call): the GPU cases of ``dcnv2-cpu-vs-gpu`` with
    ``--executor ray`` on every GPU against ``--executor local`` on one. Both runs start
    from one prepared run directory (configs and every artifact built once), so each run's
    wall time is case execution alone::

        python benchmarks/ray_scaleout.py prepare --suite dcnv2-cpu-vs-gpu --only REGEX --runs DIR
        python benchmarks/ray_scaleout.py run DIR/ray --executor ray --budget-s 500
        python benchmarks/ray_scaleout.py run DIR/local --executor local --budget-s 500
        python benchmarks/ray_scaleout.py run DIR/before --executor ray --src OLD/src  # optional
        python benchmarks/ray_scaleout.py summary DIR [--write] [--out FILE]

    (``prepare`` keeps only the ``--only`` cases in the prepared plan, so a resume runs them all;
    it makes DIR/local, DIR/ray and DIR/before.)

    ``run`` resumes the directory within the budget (SIGINT at the deadline keeps every
    finished case) and adds the call's wall time to ``DIR/<name>.walls``; cases/hour =
    cases finished / summed wall time. ``--src`` runs another checkout's sources (``before``:
    the executor before issue #29, ``git archive 090a42e src``). ``summary`` reports each
    run that has walls, the speed-up over ``local`` (target: 0.9 × the GPUs Ray used), the
    per-case costs from the results' timelines, and ``onnxbench compare local ray``
    (per-case medians; a difference inside the runs' noise is not significant).

``--dry-run`` (``cpu``) prints the plan and the commands instead of running them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _costs import analyse, arm_table, phase_table
from _output import DOCS, emit

OUT_CPU = DOCS / "ray_scaleout_cpu.md"
OUT_GPU = DOCS / "h100" / "ray-scaleout" / "README.md"
TARGET_PER_GPU = 0.9  # issue #29: a speed-up of at least 0.9 × N on N GPUs
GPU_ARMS = ("local", "ray", "before")
SRC = Path(__file__).resolve().parents[1] / "src"


def _env(src: str | Path | None = None) -> dict[str, str]:
    """This environment with ``src`` (default: this checkout's sources) first on the path,
    and no other onnxbench checkout's."""
    first = Path(src or SRC).resolve()
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if p and Path(p).resolve() not in (first, SRC)]
    return {**os.environ, "COLUMNS": "200",  # rich's tables, unwrapped in the markdown
            "PYTHONPATH": os.pathsep.join([str(first), *rest])}


def ob(*args: str) -> subprocess.CompletedProcess:
    """``onnxbench ARGS`` in a subprocess, with this interpreter and this checkout's sources."""
    return subprocess.run([sys.executable, "-m", "onnxbench", *args], capture_output=True,
                          text=True, env=_env(), check=False)


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.monotonic()
    proc = ob(*args)
    return time.monotonic() - t0, proc


def statuses(run_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in (run_dir / "raw").glob("*/result.json"):
        status = json.loads(path.read_text())["status"]
        counts[status] = counts.get(status, 0) + 1
    return counts


def _counts(run_dir: Path) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(statuses(run_dir).items()))


def compare_text(a: Path, b: Path) -> tuple[str, dict]:
    """``onnxbench compare A B`` as printed, and its verdict counts (from --json)."""
    text = ob("compare", str(a), str(b)).stdout.strip()
    try:
        doc = json.loads(ob("compare", str(a), str(b), "--json").stdout)
    except json.JSONDecodeError:
        return text, {}
    verdicts: dict[str, int] = {}
    for pair in doc.get("pairs", []):
        key = str(pair.get("status", "?")).split(":")[0]
        verdicts[key] = verdicts.get(key, 0) + 1
    return text, verdicts


def compared(title: str, text: str, verdicts: dict[str, int]) -> list[str]:
    """The markdown's tail: the comparison as printed, its verdict counts, the environment."""
    counts = ", ".join(f"{v} {k}" for k, v in sorted(verdicts.items())) or "n/a"
    return [f"## {title} `onnxbench compare local ray`", "", f"Verdicts: {counts}", "",
            "```", text, "```", "", "## Environment", "", *env_lines(), ""]


def env_lines() -> list[str]:
    from onnxbench.isolation.env import collect, markdown_lines

    lines = markdown_lines(collect())
    try:
        import ray

        lines.append(f"| ray | {ray.__version__} |")
    except ImportError:
        lines.append("| ray | not installed |")
    return lines


# ------------------------------------------------------------------------------ (a)

def cpu(args: argparse.Namespace) -> None:
    runs = Path(args.runs)
    only = ["--only", args.only] if args.only else []
    base = ["run", "--suite", args.suite, "--out", str(runs), "--quiet", *only]
    if args.dry_run:
        print(ob(*base[:3], "--dry-run", *only).stdout)
        print("would run:", " ".join(["onnxbench", *base, "--executor", "local"]))
        print("would run:", " ".join(["onnxbench", *base, "--executor", "ray",
                                       "--ray-address", ("<a local cluster of "
                                       f"{args.cpus or os.cpu_count()} CPUs>")]))
        return
    import logging

    import ray

    walls, dirs = {}, {}
    before = set(runs.glob("*")) if runs.exists() else set()
    walls["local"], proc = timed(*base, "--executor", "local")
    dirs["local"] = _new_dir(runs, before, proc)
    t0 = time.monotonic()
    info = ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
                    logging_level=logging.ERROR)
    cluster_s = time.monotonic() - t0
    try:
        before = set(runs.glob("*"))
        walls["ray"], proc = timed(*base, "--executor", "ray", "--ray-address",
                                   info.address_info["address"])
        dirs["ray"] = _new_dir(runs, before, proc)
    finally:
        ray.shutdown()
    emit(_cpu_markdown(args, walls, dirs, cluster_s), OUT_CPU, args.write)


def _new_dir(runs: Path, before: set[Path], proc: subprocess.CompletedProcess) -> Path:
    new = sorted(set(runs.glob("*")) - before)
    if proc.returncode not in (0, 1) or len(new) != 1:
        sys.exit(f"onnxbench run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return new[0]


def _cpu_markdown(args, walls: dict[str, float], dirs: dict[str, Path], cluster_s: float) -> str:
    n = {k: sum(statuses(d).values()) for k, d in dirs.items()}
    text, verdicts = compare_text(dirs["local"], dirs["ray"])
    rows = [(f"| {k} | {n[k]} | {_counts(dirs[k])} | {walls[k]:.1f} "
             f"| {3600 * n[k] / walls[k]:.0f} |") for k in ("local", "ray")]
    return "\n".join([
        f"# `{args.suite}` with `--executor ray` on this machine",
        "",
        (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
        f"`python benchmarks/ray_scaleout.py cpu --suite {args.suite}"
        f"{' --cpus ' + str(args.cpus) if args.cpus else ''}"
        f"{' --only ' + repr(args.only) if args.only else ''}`: the suite run with "
        "`--executor local`, then with `--executor ray` on a local Ray cluster of "
        f"{args.cpus or os.cpu_count()} CPUs (started once, {cluster_s:.1f} s, not in the wall "
        "time). Wall time is the whole `onnxbench run` (artifacts built, every case, summary, "
        "report)."),
        "",
        "| executor | cases | statuses | wall (s) | cases/hour |",
        "| --- | ---: | --- | ---: | ---: |",
        *rows,
        "",
        (f"Speed-up of the wall time: {walls['local'] / walls['ray']:.2f}×. Each quickstart case "
        "pins `threads: 1`, so the Ray executor runs one case per core at once (each pinned "
        "to its own core); the local executor runs one after another."),
        "",
        *compared("Are the numbers the same?", text, verdicts),
    ])


# ------------------------------------------------------------------------------ (b)

def prepare(args: argparse.Namespace) -> None:
    """A run directory with configs and every artifact of the selected cases, copied to
    RUNS/local and RUNS/ray (nothing is measured here)."""
    runs = Path(args.runs)
    if all((runs / name).is_dir() for name in GPU_ARMS):
        print(f"prepared earlier: {', '.join(f'{runs}/{n}' for n in GPU_ARMS)}")
        return
    run_path = prepared(args.suite, args.only, runs / "prepared")
    for name in GPU_ARMS:
        shutil.copytree(run_path, runs / name / run_path.name, symlinks=True)
    print(f"prepared {', '.join(f'{runs}/{n}/{run_path.name}' for n in GPU_ARMS)}")


def prepared(suite: str, only: str | None, where: Path) -> Path:
    """A new run directory under ``where`` with the suite's configs, a plan of only the
    ``only`` cases (so a resume runs them all) and every artifact they need built."""
    from onnxbench.suite import Plan, expand, load_suite
    from onnxbench.suite.rundir import create_run_dir, write_configs
    from onnxbench.suite.runner import build_artifacts, collect_env, select

    parsed, _path, text = load_suite(suite)
    full = expand(parsed)
    cases = select(full.cases, only)
    plan = Plan(full.suite, cases, {c.case_id: full.timeout_for(c) for c in cases},
                full.ab_axes, full.description)
    run = create_run_dir(where, plan.suite)
    write_configs(run, plan.to_json(), collect_env(), text)
    t0 = time.monotonic()
    build_artifacts(cases, run, plan, lambda p: None)
    print(f"{len(cases)} cases; artifacts built in {time.monotonic() - t0:.0f} s",
          file=sys.stderr)
    return run.path


def run(args: argparse.Namespace) -> None:
    """Resume the run directory with the executor, within the budget; log the call's wall time."""
    (run_dir,) = [p for p in Path(args.dir).iterdir() if p.is_dir()]
    done_before = sum(statuses(run_dir).values())
    cmd = [sys.executable, "-m", "onnxbench", "run", "--resume", str(run_dir), "--trust",
           "--executor", args.executor, "--quiet"]  # --trust: a directory this script made
    t0 = time.monotonic()
    with open(Path(args.dir) / f"{args.executor}.log", "a") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=_env(args.src))
        try:
            rc = proc.wait(timeout=args.budget_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # like Ctrl-C: finished cases stay, in flight cancelled
            try:
                rc = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
    wall = time.monotonic() - t0
    done_after = sum(statuses(run_dir).values())
    record = {"executor": args.executor, "src": str(args.src or SRC), "wall_s": round(wall, 3),
              "rc": rc, "cases_before": done_before, "cases_after": done_after,
              "at": datetime.now(UTC).isoformat(timespec="seconds")}
    with open(Path(args.dir).parent / f"{Path(args.dir).name}.walls", "a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(json.dumps(record))


def summary(args: argparse.Namespace) -> None:
    runs = Path(args.runs)
    dirs = {k: next(p for p in (runs / k).iterdir() if p.is_dir()) for k in GPU_ARMS
            if (runs / k).is_dir() and (runs / f"{k}.walls").is_file()}
    walls = {k: [json.loads(line) for line in (runs / f"{k}.walls").read_text().splitlines()]
             for k in dirs}
    n_planned = json.loads((dirs["local"] / "configs" / "plan.json").read_text())["n_cases"]
    rows, rate = [], {}
    for k, calls in walls.items():
        secs = sum(c["wall_s"] for c in calls)
        n = sum(statuses(dirs[k]).values())
        rate[k] = 3600 * n / secs if secs else 0.0
        rows.append(f"| {k} | {n} | {_counts(dirs[k])} | {len(calls)} | {secs:.0f} "
                    f"| {rate[k]:.0f} | {_placement(dirs[k])} |")
    for run_dir in dirs.values():
        ob("aggregate", str(run_dir))
    text, verdicts = compare_text(dirs["local"], dirs["ray"])
    costs = {k: [analyse(d)] for k, d in dirs.items()}
    md = "\n".join([
        "# GPU cases of `dcnv2-cpu-vs-gpu`: `--executor ray` on every GPU vs `local` on one",
        "",
        (f"Produced by `bash benchmarks/gpu/ray-scaleout.sh` ({datetime.now(UTC):%Y-%m-%d} "
        "UTC). One run directory was prepared (configs and every artifact built once), then "
        "resumed with `--executor local` (`CUDA_VISIBLE_DEVICES=0`: one GPU), with "
        "`--executor ray` (a local Ray cluster of the machine's GPUs and cores) and, as "
        "`before`, with the Ray executor before issue #29 where it ran. Wall time is the sum "
        "of the resume calls (case execution, Ray's start included); cases/hour = cases with "
        f"a result / wall time. Planned: {n_planned} cases."),
        "",
        "| run | cases | statuses | calls | wall (s) | cases/hour | placement |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- |",
        *rows, "", *speedups(rate, costs, dirs["ray"]), "",
        "## Where each case's time went (the results' timelines)", "",
        "Fixed cost = a case's dispatch to its result, less its timed loop; 'first case' is "
        "the mean over each device's first (a fork server's or Ray actor's start). The code "
        "before #29 records no timeline.", "",
        *arm_table(costs), "", *phase_table(costs), "",
        *compared("Per-case medians:", text, verdicts),
    ])
    out = Path(args.out) if args.out else OUT_GPU
    emit(md, out, args.write or bool(args.out))


def speedups(rate: dict[str, float], costs: dict[str, list[dict]], ray_dir: Path) -> list[str]:
    """Each Ray run's speed-up over local, by wall time and by execution span, against the
    target for the GPUs Ray used."""
    gpus = {g for p in (ray_dir / "raw").glob("*/result.json")
            for g in (json.loads(p.read_text()).get("ran_on") or {}).get("gpus") or []}
    target = (f"≥ {TARGET_PER_GPU * len(gpus):.1f}× ({TARGET_PER_GPU} × {len(gpus)} GPUs)"
              if gpus else "none (no case ran on a GPU)")
    out = []
    for k in (k for k in ("ray", "before") if k in rate):
        wall = rate[k] / rate["local"] if rate.get("local") else float("nan")
        span_k, span_local = (costs[a][0].get("cases_per_hour") for a in (k, "local"))
        span = f"{span_k / span_local:.2f}×" if span_k and span_local else "n/a (no timelines)"
        out.append(f"- **{k} over local: {wall:.2f}×** by wall time; {span} over the "
                   f"execution span. Target: {target}.")
    return out + ["", "The execution span runs from a run's first case dispatched to its last "
                  "result: each run's start (the Ray cluster's included), summary and report "
                  "are left out."]


def _placement(run_dir: Path) -> str:
    """Which GPUs and how many distinct cores sets the run's cases were placed on."""
    gpus, nodes = set(), set()
    for path in (run_dir / "raw").glob("*/result.json"):
        place = json.loads(path.read_text()).get("ran_on") or {}
        gpus.update(place.get("gpus") or [])
        nodes.add(place.get("host"))
    return f"GPUs {', '.join(sorted(gpus)) or '(all visible)'} on {len(nodes)} host(s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("cpu", help="(a) quickstart, local vs a local Ray cluster")
    p.add_argument("--suite", default="quickstart")
    p.add_argument("--only", default=None, help="a case-id regex (a smaller dry run)")
    p.add_argument("--cpus", type=int, default=None, help="the Ray cluster's CPUs (default: all)")
    p.add_argument("--runs", default="runs/ray-scaleout-cpu")
    p.add_argument("--write", action="store_true",
                   help=f"write {OUT_CPU.relative_to(DOCS.parents[1])}")
    p.add_argument("--dry-run", action="store_true", help="print the plan and the commands")
    p.set_defaults(fn=cpu)
    p = sub.add_parser("prepare", help="(b) one run directory, artifacts built, for both executors")
    p.add_argument("--suite", default="dcnv2-cpu-vs-gpu")
    p.add_argument("--only", default=None)
    p.add_argument("--runs", required=True)
    p.set_defaults(fn=prepare)
    p = sub.add_parser("run", help="(b) resume a prepared directory with an executor, in a budget")
    p.add_argument("dir", help="RUNS/local, RUNS/ray or RUNS/before")
    p.add_argument("--executor", required=True, choices=["local", "ray"])
    p.add_argument("--budget-s", type=float, default=500.0)
    p.add_argument("--src", default=None, help="the sources to run (default: this checkout's)")
    p.set_defaults(fn=run)
    p = sub.add_parser("summary", help="(b) cases/hour of each and the comparison")
    p.add_argument("runs")
    p.add_argument("--write", action="store_true",
                   help=f"write {OUT_GPU.relative_to(DOCS.parents[1])}")
    p.add_argument("--out", default=None, help="write the markdown here instead")
    p.set_defaults(fn=summary)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
