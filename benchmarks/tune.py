"""tune against the exhaustive grid: does `onnxbench tune`, given a fifth of the grid's wall
time, pick what the grid says is best (within the grid best's CI; a tie counts)?

For each model (DCNv2 light, BERT tiny seq 128, the MoE, ResNet-18 tiny, and a third-party
ONNX file this script exports from a small torch CNN that is not in the zoo) and each goal
(latency at a batch, and a rate ``pNN<=Xms@Yqps``):

1. the grid: every candidate of the same space (``tuning.axes.build_space``) measured at
   full fidelity in one run directory (latency: ``--processes`` processes of ``--seconds``
   each; rate: a ``--window`` s server window at the goal's rate), as ground truth: the
   lowest median (latency), or the fewest cores then the lowest percentile among the
   configurations that held the rate;
2. ``onnxbench.tune`` with a budget of a fifth of the grid's wall time (never less than one
   candidate's minimum);
3. the pick counts as right when the grid measured it with a CI overlapping the grid best's
   (rate: it held the rate in the grid with as few cores, its percentile CI overlapping).

Target: right in at least 8 of the 10 goals. Writes docs/benchmarks/tune.md with ``--write``.

The space is narrowed (``SPACE``) so the whole run stays within ~60-90 minutes on a quiet
2-core machine; the script prints its estimate (model by model, grid and tune) before it
starts, and ``--estimate`` prints only that.

    PYTHONPATH=src .venv/bin/python benchmarks/tune.py --estimate       # nothing measured
    PYTHONPATH=src .venv/bin/python benchmarks/tune.py [--write]        # the quiet run
    PYTHONPATH=src .venv/bin/python benchmarks/tune.py --tiny --model bert   # a dry run of
        one model (short windows, a narrower space): repeat --model, or leave it out for all
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from _output import DOCS, emit
from onnxbench.isolation import env as env_mod
from onnxbench.tuning import tune
from onnxbench.tuning.axes import build_space
from onnxbench.tuning.evidence import RunMeasure, Target
from onnxbench.tuning.goals import Goal, parse_goal
from onnxbench.tuning.records import Evidence, Fidelity, overlaps
from onnxbench.tuning.space import parse_space

OUT = DOCS / "tune.md"
SPACE = {"precision": ["fp32", "int8-dynamic"], "per_channel": [False, True],
         "threads": [1, 2]}
# rate goals: the serving settings multiply the engines, so fewer engines (one thread each,
# int8 per channel, BERT fused): 12 configurations a model
RATE_SPACE = {"precision": ["fp32", "int8-dynamic"], "per_channel": [True], "fuse": [True],
              "threads": [1], "layout": ["shared", "processes"], "workers": [1, 2],
              "max_batch": [1, 8]}
TINY_SPACE = {"precision": ["fp32", "int8-dynamic"], "per_channel": [False], "threads": [1, 2],
              "layout": ["shared"], "workers": [1], "max_batch": [1, 8]}
RUNTIMES = ["ort-cpu", "torch-cpu"]
# the estimate's costs (quiet 2-core machine): a worker with its session and warm-up, a
# server case beyond its window (session, generator ceiling, drain), an export, a derived graph
PROCESS_S, SERVER_S, EXPORT_S, DERIVE_S = 3.0, 8.0, 25.0, 3.0


@dataclass
class Model:
    name: str
    config: str | None
    seq: int | None
    batch: int
    rate: str


def models(third_party: str) -> dict[str, Model]:
    return {"dcnv2": Model("dcnv2", "light", None, 2, "p99<=5ms@300qps"),
            "bert": Model("bert", "tiny", 128, 1, "p99<=10ms@200qps"),
            "moe": Model("moe", "default", None, 1, "p99<=5ms@300qps"),
            "resnet18": Model("resnet18", "tiny", None, 1, "p99<=20ms@100qps"),
            "thirdparty": Model(third_party, None, None, 1, "p99<=5ms@300qps")}


def third_party_onnx(folder: Path) -> str:
    """A small CNN (not in the zoo) exported by torch: the "someone else's ONNX file"."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10)).eval()
    path = folder / "thirdparty_cnn.onnx"
    folder.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, (torch.randn(1, 3, 32, 32),), str(path), dynamo=False,
                      input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)
    return str(path)


def grid(m: Model, goal: Goal, out: Path, args) -> tuple[dict[str, Evidence], float, dict]:
    """Every candidate at full fidelity in one run directory; (evidence, seconds, labels)."""
    from onnxbench.core.rundir import create_run_dir, write_configs
    from onnxbench.suite.model_check import check_model
    from onnxbench.suite.runner import collect_env

    model, config, _, _ = check_model(m.name, m.config, None, None, [m.batch], m.seq)
    space = build_space(model, goal, runtimes=RUNTIMES,
                        overrides=parse_space(space_for(goal, args)))
    run = create_run_dir(out, f"grid-{Path(m.name).stem}-{goal.kind}")
    t0 = time.monotonic()
    with run.lock():
        env = collect_env()
        measure = RunMeasure(run, Target(model, config, m.batch, m.seq), goal, env=env)
        write_configs(run, measure.plan.to_json(), env)
        fid = (Fidelity("timing", args.seconds, processes=args.processes)
               if goal.kind == "latency" else Fidelity("server", max(args.window, goal.window_s())))
        got = measure("grid", fid, space.candidates)
    return got, time.monotonic() - t0, {c.key: (c.label(), c.cores) for c in space.candidates}


def best_of(goal: Goal, got: dict[str, Evidence], cores: dict) -> str | None:
    ok = [e for e in got.values() if e.ok and (goal.kind == "latency" or e.met)]
    if not ok:
        return None
    return min(ok, key=lambda e: (0 if goal.kind == "latency" else cores[e.key][1],
                                  float(e.value or 0))).key


def right(goal: Goal, pick: str | None, best: str | None, got: dict, labels: dict) -> bool:
    if pick is None or best is None or pick not in got or not got[pick].ok:
        return pick is None and best is None
    p, b = got[pick], got[best]
    if goal.kind != "latency" and (not p.met or labels[pick][1] > labels[best][1]):
        return False
    return pick == best or overlaps(p, b)


def one_goal(m: Model, goal_text: str, out: Path, args) -> list[str]:
    goal = parse_goal(goal_text, batch=m.batch)
    got, grid_s, labels = grid(m, goal, out, args)
    best = best_of(goal, got, labels)
    budget = max(grid_s / 5.0, goal.min_candidate_s(export=m.config is not None))
    t0 = time.monotonic()
    res = tune(m.name, goal_text, batch=m.batch, config=m.config, seq=m.seq, budget=budget,
               runtimes=RUNTIMES, space=space_for(goal, args), out=out)
    tune_s = time.monotonic() - t0
    ok = right(goal, res.winner, best, got, labels)

    def fig(key: str | None) -> str:
        if key is None or key not in got or got[key].value is None:
            return "–"
        e = got[key]
        ci = f" [{e.ci[0]:.3g}, {e.ci[1]:.3g}]" if e.ci else ""
        return f"{e.value:.3g}{ci}"

    name = f"{Path(m.name).stem}/{m.config}" if m.config else Path(m.name).name
    return [name, goal_text if goal.kind != "latency" else f"latency, batch {m.batch}",
            labels[best][0] if best else "none held", fig(best), f"{grid_s:.0f}",
            next((r["label"] for r in res.rows if r["winner"]), "none"), fig(res.winner),
            f"{tune_s:.0f} (budget {budget:.0f})", "yes" if ok else "NO",
            "budget spent" if res.decision and res.decision.exhausted else ""]


def space_for(goal: Goal, args) -> dict:
    return args.space if args.tiny or goal.kind == "latency" else RATE_SPACE


def estimate(m: Model, args) -> list[tuple[str, float, float]]:
    """(goal, grid seconds, tune seconds) for each goal of ``m``, from the space's size."""
    from onnxbench.suite.model_check import check_model

    model, _, _, _ = check_model(m.name, m.config, None, None, [m.batch], m.seq)
    out = []
    for text in ("latency", m.rate):
        goal = parse_goal(text, batch=m.batch)
        cands = build_space(model, goal, runtimes=RUNTIMES,
                            overrides=parse_space(space_for(goal, args))).candidates
        graphs = {c.graph for c in cands if c.exporter or m.config is None}
        build = (EXPORT_S if m.config else 0.0) + DERIVE_S * max(0, len(graphs) - 1)
        if goal.kind == "latency":
            per = args.processes * (args.seconds + PROCESS_S)
        else:
            per = max(args.window, goal.window_s()) + SERVER_S
        grid_s = build + len(cands) * per
        out.append((text, grid_s, max(grid_s / 5.0, goal.min_candidate_s(m.config is not None))))
    return out


def print_estimate(todo: dict[str, Model], args) -> None:
    total = 0.0
    for key, m in todo.items():
        for text, grid_s, tune_s in estimate(m, args):
            total += grid_s + tune_s
            print(f"estimate: {key} {text}: grid ~{grid_s / 60:.1f} min, tune ~{tune_s / 60:.1f} "
                  "min", flush=True)
    print(f"estimate: ~{total / 60:.0f} min in all (quiet machine; a loaded one is slower)",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs"))
    ap.add_argument("--seconds", type=float, default=4.0, help="grid: timed s per process")
    ap.add_argument("--processes", type=int, default=5, help="grid: processes per point")
    ap.add_argument("--window", type=float, default=20.0, help="grid: server window (s)")
    ap.add_argument("--model", action="append", choices=["dcnv2", "bert", "moe", "resnet18",
                                                          "thirdparty"],
                    help="only this model (repeatable; default: all five)")
    ap.add_argument("--tiny", action="store_true", help="dry run: short windows, a narrower "
                                                        "space (default model: thirdparty)")
    ap.add_argument("--estimate", action="store_true", help="print the estimate only")
    ap.add_argument("--write", action="store_true", help="save docs/benchmarks/tune.md")
    args = ap.parse_args()
    args.space = SPACE
    if args.tiny:
        args.seconds, args.processes, args.window, args.space = 0.3, 1, 4.0, TINY_SPACE
        args.model = args.model or ["thirdparty"]
    if args.write and (args.tiny or args.model):
        ap.error("--write records the full run only (no --tiny, no --model)")
    every = models(third_party_onnx(args.out / "thirdparty"))
    todo = {k: m for k, m in every.items() if not args.model or k in args.model}
    print_estimate(todo, args)
    if args.estimate:
        return
    rows = []
    for m in todo.values():
        for goal in ("latency", m.rate):
            rows.append(one_goal(m, goal, args.out, args))
    hits = sum(r[8] == "yes" for r in rows)
    head = ["Model", "Goal", "Grid best", "Grid figure [95 % CI]", "Grid s", "tune's pick",
            "Its grid figure", "tune s", "Within CI", "Note"]
    import sys

    command = " ".join(["python benchmarks/tune.py", *sys.argv[1:]])
    lines = ["# tune against the exhaustive grid", "", f"Generated by `{command}`.", "",
             f"tune's pick within the grid best's CI (a tie counts): **{hits} of {len(rows)}** "
             "goals (target: 8 of 10). Figures: median ms (latency goals) or the goal's "
             "percentile in ms (rate goals), from the grid's own run.",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    spaces = f"latency {args.space}; rate {args.space if args.tiny else RATE_SPACE}"
    lines += ["", f"Space: runtimes {', '.join(RUNTIMES)}; {spaces}. Grid: "
              f"{args.processes} processes × {args.seconds:g} s per latency point, "
              f"{args.window:g} s server windows for rate goals.", "", "## Environment", ""]
    lines += env_mod.markdown_lines(env_mod.collect())
    emit("\n".join(lines) + "\n", OUT, args.write)


if __name__ == "__main__":
    main()
