"""BERT-base on ONNX Runtime CPU vs PyTorch eager, and what fusion and int8 add (issue 6).

One run, side by side, on the same seeded inputs (batch 1, sequence 128 by default):
PyTorch eager fp32; ORT CPU on the plain TorchScript-exported graph; ORT CPU on the
bert-fused graph; ORT CPU on the fused graph quantised to int8 (dynamic). Each is timed with
onnxbench's own loop (``onnxbench.measure.timer.measure``) and summarised with
``onnxbench.measure.stats.summarize``; accuracy is the cosine similarity of
``last_hidden_state`` to PyTorch fp32 over a few seeded batches (``onnxbench.quality.accuracy``).
Weights are seeded random (no model hub), so cosine measures numerical drift, not task
accuracy.

Usage: python benchmarks/bert_cpu.py [--write] [--seq 128] [--batch 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _output import DOCS, emit
from onnxbench.build.optimize import apply_optimizations
from onnxbench.core.policy import MeasurePolicy
from onnxbench.isolation.env import markdown_lines
from onnxbench.measure.stats import summarize
from onnxbench.measure.timer import measure
from onnxbench.quality.accuracy import cosine_similarity, onnx_predict

OUT = DOCS / "bert_cpu.md"
POLICY = MeasurePolicy(warmup=5, min_runs=20, max_runs=60, min_time_s=1.0, max_time_s=15.0)


def _build(threads: int):
    import torch

    from onnxbench.model.zoo import resolve

    torch.set_num_threads(threads)
    spec = resolve("bert")
    return spec, spec.build("base", seed=0, train=False).eval()


def _export(spec, module, feeds, path: Path) -> Path:
    import torch

    names = spec.input_names("base")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(torch.as_tensor(feeds[n]) for n in names), str(path),
                          input_names=names, output_names=spec.output_names("base"),
                          dynamic_axes=spec.dynamic_axes("base"), opset_version=17, dynamo=False)
    return path


def _torch_predict(spec, module):
    import torch

    names = spec.input_names("base")

    def predict(feeds):
        with torch.inference_mode():
            out = module(*(torch.as_tensor(feeds[n]) for n in names))
        return [t.numpy() for t in out]

    return predict


def run(seq: int, batch: int, threads: int) -> tuple[list[dict], dict]:
    """Measure the four variants; returns their rows and the optimisation facts."""
    with tempfile.TemporaryDirectory(prefix="onnxbench-bert-cpu-") as tmp:
        return _run(Path(tmp), seq, batch, threads)


def _run(tmp: Path, seq: int, batch: int, threads: int) -> tuple[list[dict], dict]:
    spec, module = _build(threads)
    feeds = spec.make_inputs("base", batch, seq, seed=0)
    checks = [spec.make_inputs("base", batch, seq, seed=s) for s in range(1, 4)]
    t0 = time.perf_counter()
    plain = _export(spec, module, feeds, tmp / "bert-base.onnx")
    fused = apply_optimizations(plain, tmp, fuse="bert", model_type_hint="bert")
    int8 = apply_optimizations(fused.path, tmp, precision="int8-dynamic")
    prep_s = time.perf_counter() - t0
    variants = {"PyTorch eager fp32": _torch_predict(spec, module),
                "ORT CPU fp32 (plain graph)": onnx_predict(plain, threads=threads),
                "ORT CPU fp32 (fused)": onnx_predict(fused.path, threads=threads),
                "ORT CPU int8 dynamic (fused)": onnx_predict(int8.path, threads=threads)}
    reference = [variants["PyTorch eager fp32"](f)[0] for f in checks]
    rows = []
    for name, predict in variants.items():
        timing = measure(lambda p=predict: p(feeds), None, POLICY)
        stats = summarize(timing.latencies_ms)
        cos = cosine_similarity(reference, [predict(f)[0] for f in checks])
        rows.append({"variant": name, "stats": stats, "stop": timing.stop_rule, "cosine": cos})
    facts = {"fused": fused.report.steps[0].fused, "nodes": (fused.report.source.nodes,
             fused.report.final.nodes, int8.report.final.nodes),
             "bytes": (fused.report.source.file_bytes, int8.report.final.file_bytes),
             "prep_s": prep_s}
    return rows, facts


def render(rows: list[dict], facts: dict, seq: int, batch: int, threads: int,
           note: str = "") -> str:
    base = rows[0]["stats"].p50
    lines = [
        "# BERT-base on ONNX Runtime CPU vs PyTorch eager (issue 6)", "",
        f"Batch {batch}, sequence {seq}, {threads} threads (torch.set_num_threads, ORT "
        "intra_op_num_threads), seeded random weights (bert-base shapes), one process, "
        "variants measured one after another on the same inputs with onnxbench's timing "
        f"loop (warm-up {POLICY.warmup}, {POLICY.min_runs}–{POLICY.max_runs} runs).", "",
        *([f"> {note}", ""] if note else []),
        "| variant | median ms | p95 ms | mean ms | n | speed-up vs PyTorch (median) "
        "| cosine vs fp32 | note |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        s = r["stats"]
        note = "UNSTABLE" if s.unstable else ""
        lines.append(f"| {r['variant']} | {s.p50:.2f} | {s.p95:.2f} | {s.mean:.2f} | {s.n} | "
                     f"{base / s.p50:.2f}× | {r['cosine']:.6f} | {note} |")
    fused = ", ".join(f"{k} {v}" for k, v in facts["fused"].items())
    n0, n1, n2 = facts["nodes"]
    b0, b2 = facts["bytes"]
    lines += ["", f"Fusion (onnxruntime.transformers.optimizer, bert): {fused}; nodes "
              f"{n0} → {n1} fused → {n2} int8; file {b0 / 2**20:.0f} MiB → "
              f"{b2 / 2**20:.0f} MiB int8. Export + fusion + quantisation took "
              f"{facts['prep_s']:.0f} s.", "",
              "Cosine: mean over samples of the cosine similarity of `last_hidden_state` to "
              "PyTorch fp32 on 3 further seeded batches (1.0 = identical).", "",
              "Re-run: `python benchmarks/bert_cpu.py --write`.", "",
              "## Environment", "", *markdown_lines()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help=f"write {OUT}")
    parser.add_argument("--note", default="", help="a line to add (e.g. 'machine was busy')")
    args = parser.parse_args()
    rows, facts = run(args.seq, args.batch, args.threads)
    text = render(rows, facts, args.seq, args.batch, args.threads, args.note)
    emit(text, OUT, args.write)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
