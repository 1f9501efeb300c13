"""How much does onnxbench's timing harness add over a bare ``session.run`` loop?

A tiny ONNX model (W->W MatMul + Add, batch 1; W=512 by default, about 15-20 us per call on a
server core, the size the 2 % target is stated for; ``--width 64`` gives a ~5 us model where
the same fixed per-iteration cost weighs ~4x more) on one ONNX Runtime CPU session with one
intra-op thread. In ONE process, alternating blocks (order rotated each block) of:
  (a) a bare loop: ``t0 = perf_counter_ns(); sess.run(None, feed); t1 = ...`` per iteration;
  (b) ``onnxbench.measure.measure`` on ``functools.partial(sess.run, None, feed)``, which is
      what the ORT runtime's ``bind()`` returns;
  (c) a bare loop on that same partial, which isolates the harness from the call style.
Alternating blocks spread drifts (frequency, noisy neighbours) over both arms. The figure
is the ratio of the pooled medians (harness / bare); the target is <= 1.02.

    .venv/bin/python benchmarks/overhead.py [--width 512] [--blocks 10] [--runs 2000] [--write]

``--write`` also writes the markdown to docs/benchmarks/overhead.md.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from datetime import UTC, datetime

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from _output import DOCS, emit
from onnxbench.core.policy import MeasurePolicy
from onnxbench.isolation import env as env_mod
from onnxbench.measure.timer import measure

OUT = DOCS / "overhead.md"
TARGET = 1.02


def tiny_model(width: int = 64) -> onnx.ModelProto:
    """y = x @ W + b with seeded weights: a model of a few microseconds."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((width, width)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(width).astype(np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]),
         helper.make_node("Add", ["xw", "B"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def bare_block(sess: ort.InferenceSession, feed: dict, runs: int) -> list[int]:
    """The reference: the leanest loop one would write by hand."""
    run, clock = sess.run, time.perf_counter_ns
    lat: list[int] = []
    append = lat.append
    for _ in range(runs):
        t0 = clock()
        run(None, feed)
        t1 = clock()
        append(t1 - t0)
    return lat


def bare_partial_block(sess: ort.InferenceSession, feed: dict, runs: int) -> list[int]:
    """The bare loop on the very callable the harness gets: isolates the harness itself."""
    fn, clock = functools.partial(sess.run, None, feed), time.perf_counter_ns
    lat: list[int] = []
    append = lat.append
    for _ in range(runs):
        t0 = clock()
        fn()
        t1 = clock()
        append(t1 - t0)
    return lat


def harness_block(sess: ort.InferenceSession, feed: dict, runs: int) -> list[int]:
    """onnxbench's loop with a policy that stops on max_runs exactly."""
    policy = MeasurePolicy(warmup=0, min_runs=1, max_runs=runs, min_time_s=0.0, max_time_s=3600.0)
    timing = measure(functools.partial(sess.run, None, feed), None, policy)
    assert timing.stop_rule == "max_runs" and len(timing.latencies_ms) == runs
    return [round(v * 1e6) for v in timing.latencies_ms]


ARMS = {"bare": bare_block, "bare_partial": bare_partial_block, "harness": harness_block}


def run_benchmark(blocks: int, runs: int, width: int = 512) -> dict:
    """Alternate the arms block by block (rotating the order) and pool each arm's latencies."""
    sess = session(tiny_model(width))
    feed = {"x": np.random.default_rng(1).standard_normal((1, width)).astype(np.float32)}
    for fn in ARMS.values():  # warm-up of every path, discarded
        fn(sess, feed, runs)
    names = list(ARMS)
    pooled: dict[str, list[int]] = {k: [] for k in names}
    block_ratios = []
    for i in range(blocks):
        order = names[i % len(names):] + names[:i % len(names)]
        med = {}
        for name in order:
            lat = ARMS[name](sess, feed, runs)
            pooled[name] += lat
            med[name] = statistics.median(lat)
        block_ratios.append(med["harness"] / med["bare"])
    medians = {k: float(np.median(v)) / 1e3 for k, v in pooled.items()}
    return {"width": width, "blocks": blocks, "runs_per_block": runs,
            "n": {k: len(v) for k, v in pooled.items()},
            "median_us": medians, "ratio": medians["harness"] / medians["bare"],
            "ratio_vs_partial": medians["harness"] / medians["bare_partial"],
            "block_ratio_min": min(block_ratios), "block_ratio_max": max(block_ratios)}


def markdown(res: dict, note: str) -> str:
    verdict = "meets" if res["ratio"] <= TARGET else "misses"
    lines = [
        "# Harness overhead: onnxbench `measure()` vs a bare `session.run` loop",
        "",
        f"Generated by `benchmarks/overhead.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Model: {res['width']}->{res['width']} MatMul + Add, batch 1, ONNX Runtime CPU, "
        "1 intra-op thread, one process,",
        f"{res['blocks']} alternating blocks of {res['runs_per_block']} runs per arm.",
        "",
        "| Arm | Median (µs) | Runs |",
        "| --- | ---: | ---: |",
        f"| bare `sess.run(None, feed)` loop | {res['median_us']['bare']:.2f} "
        f"| {res['n']['bare']} |",
        f"| bare loop on `partial(sess.run, None, feed)` | {res['median_us']['bare_partial']:.2f} "
        f"| {res['n']['bare_partial']} |",
        f"| onnxbench `measure()` on that partial | {res['median_us']['harness']:.2f} "
        f"| {res['n']['harness']} |",
        "",
        f"**Ratio (harness / bare, pooled medians): {res['ratio']:.4f}** "
        f"(target ≤ {TARGET}: {verdict} it; per-block ratios "
        f"{res['block_ratio_min']:.4f}–{res['block_ratio_max']:.4f}). "
        f"Against the bare loop on the same partial (the harness alone): "
        f"{res['ratio_vs_partial']:.4f} "
        f"({1e3 * (res['median_us']['harness'] - res['median_us']['bare_partial']):+.0f} ns "
        "per iteration).",
        "",
        f"> {note}" if note else "",
        "",
        "## Environment",
        "",
        *env_mod.markdown_lines(),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=512, help="model width W (W->W MatMul+Add)")
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--runs", type=int, default=2000, help="runs per block per arm")
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(OUT.parents[2])}")
    ap.add_argument("--note", default="", help="a line to add (e.g. 'machine was busy')")
    args = ap.parse_args(argv)
    res = run_benchmark(args.blocks, args.runs, args.width)
    text = markdown(res, args.note)
    emit(text, OUT, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
