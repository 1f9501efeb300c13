"""Are onnxbench's A/B answers right on real models? (issue [1/8])

Real ONNX Runtime models in worker processes (no busy waits): a 20-layer MatMul+Relu model,
an identical copy of it in another file, and a 21-layer model (5 % more work; its true
ratio to the 20-layer one is measured once, long, with ``onnxbench ab``). Sections:

* ``aa``: A/A with ``onnxbench ab`` (20 vs its copy): how often a difference is called
  (target ≤ 1 in 20) and how often the CI covers 1.0 (target ≥ 19 in 20);
* ``sens``: 20 vs 21 layers with ``onnxbench ab`` within ``--max-time`` each: how often
  ``slower`` (target ≥ 18 in 20) and how often the CI covers the true ratio (≥ 18 in 20);
  both in each ``--design`` (``interleaved``: A and B in each worker process; ``process``: a
  fresh process per block, the design before issue [4/8]), the designs' comparisons
  alternating so drift meets both alike, and the **median time to the verdict** of each
  (target: the interleaved design ≥ 3× shorter than the process design's, in the same
  session; the medians of the doc this run replaces are shown beside them);
* ``compare``: two runs of the same suite, then ``onnxbench compare`` (gate must not fire;
  CIs cover 1.0), and the suite against itself with the model rewritten at 22 layers (10 %
  more work, same case ids: the gate must fire);
* ``agree``: onnxbench's median of a bound ORT call against ``torch.utils.benchmark``'s
  ``blocked_autorange`` median of the same callable, same process, interleaved (≤ 3 %);
* ``adaptive``: ``dcnv2-cpu-adaptive`` against ``dcnv2-cpu`` (fixed 1000 runs): largest
  median deviation (target ≤ 2 %) and the wall time of each.

Usage (the committed numbers come from a quiet machine):
    python benchmarks/ab_validity.py --write
    python benchmarks/ab_validity.py --comparisons 2 --max-time 10 --true-time 20 \\
        --sections aa,sens,compare,agree    # a dry run
    python benchmarks/ab_validity.py --sections aa,sens --design interleaved   # one design
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _ab_designs import (
    BATCH,
    DIM,
    LAYERS,
    ab_once,
    ab_rows,
    committed_medians,
    pass_word,
    render_ab,
    render_speed,
    section_ab,
)
from _output import DOCS, emit
from onnxbench.isolation.env import markdown_lines

OUT = DOCS / "ab_validity.md"
SECTIONS = ("aa", "sens", "compare", "agree", "adaptive")
DESIGNS = ("interleaved", "process", "auto")


def write_mlp(path: Path, layers: int, dim: int = DIM) -> Path:
    """``layers`` × (MatMul by its own seeded weight, Relu): work grows by 1/20 per layer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits, nodes = [], []
    for i in range(layers):
        w = rng.normal(0, (2 / dim) ** 0.5, (dim, dim)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes += [helper.make_node("MatMul", [f"h{i}", f"w{i}"], [f"m{i}"]),
                  helper.make_node("Relu", [f"m{i}"], [f"h{i + 1}"])]
    io = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", dim])
          for name in ("h0", f"h{layers}")]
    graph = helper.make_graph(nodes, f"mlp{layers}", io[:1], io[1:], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


SUITE = """
suite: validity
defaults:
  processes: 3
  runtimes: [ort-cpu]
  batch: [1, 16, 64]
  options: {{threads: 1}}
  measure: {{warmup: 20, runs: 600, max_time_s: 3}}
cases:
  - model: {model}
"""


def run_suite_once(model: Path, work: Path) -> Path:
    from onnxbench.suite import expand, parse_suite
    from onnxbench.suite.runner import run_suite

    text = SUITE.format(model=model)
    return run_suite(expand(parse_suite(text, "validity.yaml")), work, suite_text=text).run_dir


def section_compare(work: Path, n: int, extra: int = 2) -> dict[str, list[dict[str, Any]]]:
    """n pairs of runs of the unchanged suite, and n with ``extra`` more layers (a regression)."""
    from onnxbench.report.compare import compare_runs

    model = work / "suite_model.onnx"
    out: dict[str, list[dict[str, Any]]] = {"same": [], "regressed": []}
    for kind, layers_b in (("same", LAYERS), ("regressed", LAYERS + extra)):
        for _ in range(n):
            write_mlp(model, LAYERS)
            run_a = run_suite_once(model, work)
            write_mlp(model, layers_b)
            run_b = run_suite_once(model, work)
            comp = compare_runs(run_a, run_b, threshold=0.05)
            out[kind].append({"gate": bool(comp.regressions or comp.broken),
                              "pairs": [p.result.to_dict() for p in comp.tested()],
                              "noise": comp.noise})
            shutil.rmtree(run_a, ignore_errors=True)
            shutil.rmtree(run_b, ignore_errors=True)
    return out


def section_agree(model: Path, rounds: int) -> list[tuple[float, float]]:
    """(onnxbench median, torch.utils.benchmark median) in ms, interleaved, one process."""
    import functools

    import onnxruntime as ort
    from torch.utils.benchmark import Timer

    from onnxbench.core.policy import MeasurePolicy
    from onnxbench.measure.timer import measure

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    feed = {"h0": np.random.default_rng(0).normal(size=(BATCH, DIM)).astype(np.float32)}
    fn = functools.partial(sess.run, None, feed)
    policy = MeasurePolicy(warmup=20, min_runs=100, max_runs=100_000, min_time_s=1.0,
                           max_time_s=1.0)
    def ours() -> float:
        return float(np.median(measure(fn, None, policy).latencies_ms))

    def theirs() -> float:
        return Timer("fn()", globals={"fn": fn}).blocked_autorange(min_run_time=1.0).median * 1e3

    out = []
    for r in range(rounds):  # alternate which goes first
        if r % 2 == 0:
            a = ours()
            b = theirs()
        else:
            b = theirs()
            a = ours()
        out.append((a, b))
    return out


def section_adaptive(work: Path, only: str | None) -> dict[str, Any]:
    from onnxbench.suite import expand, load_suite
    from onnxbench.suite.runner import run_suite

    out: dict[str, Any] = {}
    for name in ("dcnv2-cpu", "dcnv2-cpu-adaptive"):
        suite, _, text = load_suite(name)
        plan = expand(suite)
        t0 = time.perf_counter()
        res = run_suite(plan, work, suite_text=text, only=only)
        rows = {(r["config"], r["batch"]): r for r in res.summary.rows}
        out[name] = {"wall_s": time.perf_counter() - t0, "rows": rows,
                     "cases_s": sum(r.duration_s or 0.0 for r in res.results),
                     "runs": sum(r["n"] or 0 for r in rows.values())}
    fixed, adaptive = out["dcnv2-cpu"]["rows"], out["dcnv2-cpu-adaptive"]["rows"]
    out["deviation"] = {k: adaptive[k]["p50_ms"] / fixed[k]["p50_ms"] - 1 for k in fixed
                        if k in adaptive and fixed[k]["p50_ms"] and adaptive[k]["p50_ms"]}
    return out


# ---- rendering ---------------------------------------------------------------------------

def render_compare(comp: dict[str, list], extra: int = 2) -> list[str]:
    out = []
    same, reg = comp.get("same", []), comp.get("regressed", [])
    if same:
        fired = sum(d["gate"] for d in same)
        pairs = [p for d in same for p in d["pairs"]]
        cover = sum(p["ci_low"] is not None and p["ci_low"] <= 1 <= p["ci_high"] for p in pairs)
        called = sum(p["verdict"] in ("faster", "slower") for p in pairs)
        out.append(f"- **A/A with `onnxbench compare`** (two runs of an unchanged 3-point suite, "
                   f"3 processes per point): the gate fired in **{fired}/{len(same)}** "
                   f"(target 0: {pass_word(fired == 0)}); {called}/{len(pairs)} point comparisons "
                   f"called faster/slower; the CI covers 1.0 in {cover}/{len(pairs)}")
    if reg:
        fired = sum(d["gate"] for d in reg)
        ratios = [p["ratio"] for d in reg for p in d["pairs"] if p.get("ratio")]
        seen = float(np.exp(np.median(np.log(ratios)))) if ratios else float("nan")
        out.append(f"- **Regression with `onnxbench compare`** (the suite's model rewritten with "
                   f"{LAYERS + extra} layers, {100 * extra / LAYERS:.0f} % more work, same case "
                   f"ids; median B/A over the {len(ratios)} point comparisons: {seen:.3f}): "
                   f"the gate fired in **{fired}/{len(reg)}** (target ≥ "
                   f"{len(reg) - len(reg) // 10}/{len(reg)}: "
                   f"{pass_word(fired >= len(reg) - len(reg) // 10)})")
    return out


def render_agree(pairs: list[tuple[float, float]]) -> list[str]:
    if not pairs:
        return []
    ratios = [a / b for a, b in pairs]
    worst = max(abs(r - 1) for r in ratios)
    return [f"- **Agreement with `torch.utils.benchmark`** (same bound ORT call, same process, "
            f"{len(pairs)} interleaved rounds of 1 s each): onnxbench median / blocked_autorange "
            f"median = {', '.join(f'{r:.4f}' for r in ratios)}; largest deviation "
            f"**{100 * worst:.2f} %** (target ≤ 3 %: {pass_word(worst <= 0.03)})"]


def render_adaptive(res: dict[str, Any] | None) -> list[str]:
    if not res:
        return []
    dev = res["deviation"]
    worst_key = max(dev, key=lambda k: abs(dev[k]))
    fixed, adaptive = res["dcnv2-cpu"], res["dcnv2-cpu-adaptive"]
    return [f"- **Time to answer** (`dcnv2-cpu-adaptive` against `dcnv2-cpu`'s fixed 1000 runs, "
            f"{len(dev)} points): largest median deviation **{100 * dev[worst_key]:+.2f} %** at "
            f"{worst_key[0]} batch {worst_key[1]} (target ±2 %: "
            f"{pass_word(abs(dev[worst_key]) <= 0.02)}); "
            f"time in the measuring workers {adaptive['cases_s']:.0f} s ({adaptive['runs']} timed "
            f"runs) against {fixed['cases_s']:.0f} s ({fixed['runs']} timed runs); wall time of "
            f"the whole suite (export included) {adaptive['wall_s']:.0f} s against "
            f"{fixed['wall_s']:.0f} s"]


def render(results: dict[str, Any], args: argparse.Namespace, seconds: float) -> str:
    lines = ["# A/B measurement validity on real models", "",
             f"Generated by `python benchmarks/ab_validity.py {' '.join(args.argv)}` in "
             f"{seconds:.0f} s.", ""]
    aa, sens = results.get("aa", {}), results.get("sens", {})
    for design in args.designs:
        lines += render_ab(aa.get(design, []), sens.get(design, []), results.get("true"),
                           args.max_time, design)
    lines += render_speed(aa, sens, results.get("before", {}))
    lines += render_compare(results.get("compare", {}), args.regress_layers)
    lines += render_agree(results.get("agree", []))
    lines += render_adaptive(results.get("adaptive"))
    lines += ["", "## Method", "",
              f"Models: {LAYERS} × (MatMul {DIM}×{DIM} + Relu) at batch {BATCH} on ORT CPU "
              "with one thread; the A/A copy is the same graph saved to another file; the "
              f"sensitivity model has {LAYERS + 1} layers. `onnxbench ab --design "
              "interleaved` prepares A and B in each worker process and alternates them ABBA "
              "BAAB … in ~50 ms blocks; each process is a unit (the mean log ratio of its "
              "block pairs). `--design process` runs blocks ABBA BAAB …, each a fresh worker "
              "process (0.5 s timed after 10 warm-up runs), adjacent blocks the units. Both "
              "analyse the units' log ratios (paired t), look after 4, 8, 16, … units with "
              "alpha_k = 0.05·6/(π²k²) and stop once the CI is within ±1 %, the verdict is "
              f"settled (threshold ±2 %) or {args.max_time:.0f} s are spent; the time to the "
              "verdict counts the workers (the build is not counted). The true ratio comes from "
              f"one `onnxbench ab --design {args.designs[0]}` of {args.true_time:.0f} s with a "
              "±0.25 % target. `compare` "
              "judges each point with Welch's t on log process medians, each arm's variance "
              "at least its run's pooled between-process noise, Bonferroni over the points; "
              "the gate fires on a `slower` point beyond the 5 % threshold.", ""]
    for key, title in (("aa", "A/A comparisons (`onnxbench ab"),
                       ("sens", "Sensitivity comparisons (`onnxbench ab")):
        for design, docs in results.get(key, {}).items():
            more = ", 21 vs 20 layers" if key == "sens" else ""
            lines += [f"## {title} --design {design}`{more})", "", *ab_rows(docs), ""]
    lines += ["## Environment", "", *markdown_lines(), ""]
    return "\n".join(lines)


def main() -> None:
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"save the result to {OUT}")
    ap.add_argument("--comparisons", type=int, default=20)
    ap.add_argument("--max-time", type=float, default=120.0, help="budget of each `ab` (s)")
    ap.add_argument("--true-time", type=float, default=900.0,
                    help="budget of the long run that measures the true ratio (s)")
    ap.add_argument("--agree-rounds", type=int, default=10)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--only", default=None, help="adaptive: only dcnv2 cases matching REGEX")
    ap.add_argument("--regress-layers", type=int, default=2,
                    help="compare: layers the regressed model adds to the 20")
    ap.add_argument("--design", default="interleaved,process",
                    help=f"aa/sens: the `ab` designs to run, comma-separated ({','.join(DESIGNS)})")
    args = ap.parse_args()
    args.argv = sys.argv[1:]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        ap.error(f"--sections: unknown {bad}; choose from {','.join(SECTIONS)}")
    args.designs = [d.strip() for d in args.design.split(",") if d.strip()]
    if not args.designs or any(d not in DESIGNS for d in args.designs):
        ap.error(f"--design: {args.design!r}; choose from {','.join(DESIGNS)}")
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ab-validity-"))
    try:
        a = write_mlp(work / "mlp20.onnx", LAYERS)
        copy = Path(shutil.copy(a, work / "mlp20_copy.onnx"))
        b = write_mlp(work / "mlp21.onnx", LAYERS + 1)
        results: dict[str, Any] = {"before": committed_medians(OUT)}
        if "aa" in sections:
            results["aa"] = section_ab(a, copy, work, args.comparisons, args.max_time,
                                       args.designs)
        if "sens" in sections:
            results["true"] = ab_once(a, b, work, args.true_time, 0.0025, args.designs[0])
            results["sens"] = section_ab(a, b, work, args.comparisons, args.max_time,
                                         args.designs)
        if "compare" in sections:
            results["compare"] = section_compare(work, args.comparisons, args.regress_layers)
        if "agree" in sections:
            results["agree"] = section_agree(a, args.agree_rounds)
        if "adaptive" in sections:
            results["adaptive"] = section_adaptive(work, args.only)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit(render(results, args, time.perf_counter() - t0), OUT, args.write)


if __name__ == "__main__":
    main()
