"""Reports 000 (DCNv2: exporters, ORT CPU vs GPU) and 001 (MoE backends) against onnxbench."""

from __future__ import annotations

import json

from onnxbench.report.evidence import Figure
from onnxbench.report.fmt import short_reason
from published.claims import accuracy, fastest, fig, pending, vs
from published.data import BENCH, Context, Run, section
from published.gpu import MOE, dcnv2_b1024, moe
from published.verdicts import AGREES, CANNOT, PENDING, report_table, side, sweep, verdict

H100 = "h100/2026-11-21/dcnv2-cpu-vs-gpu"
H200 = "h100/2026-11-27-h200x4/dcnv2-cpu-vs-gpu"
CROSS = {"light": 128, "heavy": 32, "100x100": 32}  # the report's crossovers (ORT CPU → GPU)
CONFIGS = tuple(CROSS)


def _cpu_gpu(run: Run, config: str, graph: bool) -> tuple[list[int], list[tuple[Figure, Figure]]]:
    opts = {"cuda_graph": True} if graph else {"cuda_graph": None}
    xs = sorted({p.batch for p in run.points if p.config == config and p.runtime == "ort-cpu"})
    return xs, [(run.pick(config=config, runtime="ort-cpu", batch=b),
                 run.pick(config=config, runtime="ort-cuda", batch=b, precision="fp32",
                          opts=opts)) for b in xs]


def _crossover(ctx: Context) -> list[str]:
    texts, sides, claims = [], [], []
    for rel, label in ((H100, "H100, 1 process"), (H200, "H200, 3 processes")):
        run = Run(rel, "gpu")
        for c in CONFIGS:
            xs, pairs = _cpu_gpu(run, c, graph=False)
            texts.append(f"{c} ({label}): {sweep(xs, pairs, 'CPU', 'GPU')}")
            sides += [side(a, b) for a, b in pairs]
            claims += ["a" if x < CROSS[c] else "b" for x in xs]
    return ["ORT CPU is fastest up to batch 8–32; plain ORT CUDA overtakes at ~128 (`light`) "
            "and ~32 (`heavy`, `100x100`)",
            "who is faster, ORT CPU (16 cores) or ORT CUDA without CUDA graphs, per batch "
            f"([H100]({ctx.bench(H100 + '/summary.csv')}), "
            f"[H200]({ctx.bench(H200 + '/summary.csv')})): " + "; ".join(texts),
            verdict(sides, claims),
            "a 16-core Xeon against a 16-core Ryzen and an H100/H200 against an RTX 4070 Ti; "
            "plain CUDA points are launch-bound and noisy on the lent hosts (many unstable)"]


def _ort_vs_eager(ctx: Context) -> list[str]:
    texts, sides = [], []
    for rel, label in ((H100, "H100, 1 process"), (H200, "H200, 3 processes")):
        run = Run(rel, "gpu")
        pts = [(run.pick(config=c, runtime="ort-cuda", batch=b, precision="fp32",
                         opts={"cuda_graph": None}), run.pick(config=c, runtime="torch-cuda",
                                                              batch=b))
               for c in CONFIGS for b in sorted({p.batch for p in run.points
                                                 if p.config == c and p.runtime == "torch-cuda"})]
        s = [side(a, b) for a, b in pts]
        sides += s
        ties = [f"{a.point.config} {a.point.batch}" for (a, _), x in zip(pts, s) if x == "tie"]
        texts.append(f"{label}: ORT faster at {s.count('a')} of {len(s)} points"
                     + (f", tied at {', '.join(ties)}" if ties else ""))
    heavy = dcnv2_b1024("heavy")
    return ["ORT GPU is faster than PyTorch GPU everywhere (2–4×)",
            "plain ORT CUDA against PyTorch eager CUDA: " + "; ".join(texts)
            + ". At batch 1024 on the H100 (3 processes): `heavy` "
            + vs(heavy["ORT CUDA"], heavy["PyTorch eager"]),
            verdict(sides),
            "eager PyTorch only (TF32 off, ORT's on); against `torch.compile`, which the "
            "report did not try, ORT loses (next row)"]


def _compile(ctx: Context) -> list[str]:
    parts = []
    for c in ("heavy", "100x100"):
        f = dcnv2_b1024(c)
        parts.append(f"`{c}`: torch.compile {fig(f['torch.compile r-o'])}, ORT + CUDA graph "
                     f"{fig(f['ORT CUDA + CUDA graph'])}: compile "
                     f"{vs(f['torch.compile r-o'], f['ORT CUDA + CUDA graph'])}")
    return ["(not tried: `torch.compile`)", "batch 1024, H100: " + "; ".join(parts),
            "differs: ORT GPU beats eager PyTorch only",
            "Inductor fuses the elementwise chains into fewer kernels; ORT launches one per node"]


def _realtime(ctx: Context) -> list[str]:
    texts, sides = [], []
    for rel, label in ((H100, "H100, 1 process"), (H200, "H200, 3 processes")):
        run = Run(rel, "gpu")
        for c in CONFIGS:
            xs, pairs = _cpu_gpu(run, c, graph=True)
            keep = [(x, p) for x, p in zip(xs, pairs) if x <= 8]
            texts.append(f"{c} ({label}): "
                         + sweep([x for x, _ in keep], [p for _, p in keep], "CPU", "GPU"))
            sides += [side(a, b) for _, (a, b) in keep]
    return ["real-time serving (batch 1–8) needs no GPU: ORT CPU is the best there",
            "ORT CPU against ORT CUDA **with CUDA graphs** at batch ≤ 8: " + "; ".join(texts),
            verdict(sides),
            "CUDA graphs (not used by the report) remove the per-kernel launch cost that "
            "decides small batches"]


def _matrix(config: str) -> dict[str, dict] | None:
    """{variant label: row} of a committed exporter matrix, or None."""
    path = BENCH / f"cpu/export-dcnv2-{config}/matrix.json"
    if not path.is_file():
        return None
    return {r["label"]: r for r in json.loads(path.read_text(encoding="utf-8"))["rows"]}


def _state(row: dict) -> str:
    """"✓", "fails at b1" or "export failed" for one matrix row."""
    if row["export"].get("status") != "ok":
        return "export failed"
    bad = [k for k, cell in row["cells"].items() if cell.get("status") not in ("pass", "not-run")]
    return f"fails at {', '.join(bad)}" if bad else "✓"


def _exporters(ctx: Context) -> list[str]:
    claim = ("all three exporters (dynamo, TorchScript, jit.trace) work; batch 1 fails "
             "(CrossNetMix's bare squeeze): pad a dummy row")
    found = {c: m for c in CONFIGS if (m := _matrix(c)) is not None}
    if not found:
        return [claim, pending("the committed exporter matrix",
                               "bash benchmarks/cpu_suites.sh export-dcnv2"), PENDING,
                "jit.trace fails as-is where deepctr's `embedding_size` property raises"]
    texts, b1, pad, plain = [], [], [], []
    for c, rows in found.items():
        texts.append(f"[`{c}`]({ctx.bench(f'cpu/export-dcnv2-{c}/matrix.md')}): " + ", ".join(
            f"{label} {_state(r)}" for label, r in rows.items()))
        b1 += [_state(rows[e]) == "fails at b1" for e in ("dynamo", "torchscript") if e in rows]
        pad += [_state(r) == "✓" for label, r in rows.items() if label.endswith("+pad2")]
        plain += [_state(rows[e]) == "✓" for e in ("dynamo", "torchscript", "jit-trace")
                  if e in rows]
    word = {True: AGREES, False: "differs"}
    return [claim, "; ".join(texts),
            f"batch-1 failure: {word[all(b1)]}; padding: {word[all(pad) and bool(pad)]}; all "
            f"three work as-is: {word[all(plain)]}",
            "jit.trace fails as-is where deepctr's `embedding_size` property raises under "
            "`torch.jit`'s attribute scan (embedding dims differ in every config here); "
            "`--fix jit-properties` makes it pass, `--fix squeeze-dims` removes the batch-1 "
            "hazard at export"]


@section("ref-000")
def ref_000(ctx: Context) -> str:
    return report_table([_exporters(ctx), _crossover(ctx), _realtime(ctx), _ort_vs_eager(ctx),
                         _compile(ctx)])


def _moe_fastest(ctx: Context) -> list[str]:
    cpu = Run("cpu/moe-backends", "cpu")
    vm = {"ORT CPU": cpu.pick(config="default", runtime="ort-cpu", precision="fp32"),
          "PyTorch CPU": cpu.pick(config="default", runtime="torch-cpu"),
          "torch.compile CPU": cpu.pick(config="default", runtime="torch-compile-cpu")}
    host = moe()
    sides = [side(vm["ORT CPU"], vm["PyTorch CPU"])] + \
        [side(host["ORT CPU, 1 thread"], f) for k, f in host.items() if k != "ORT CPU, 1 thread"]
    return ["ORT CPU is the fastest backend (8.7 s vs PyTorch 17.6 s, ORT CUDA 12.6 s)",
            f"batch 64, digits: 2-core VM fastest {fastest(vm)} ({fig(vm['ORT CPU'])}); "
            f"H100 host fastest {fastest(host)} "
            f"([VM]({ctx.bench('cpu/moe-backends/report.md')}), "
            f"[H100]({ctx.bench(MOE + '/report.md')}))",
            verdict(sides),
            "a 38-node model: one CPU thread beats kernel launches; the H100 host's CPU rows "
            "are noisy (unstable)"]


def _moe_int8_fp16(ctx: Context) -> list[str]:
    cpu = Run("cpu/moe-backends", "cpu")
    fp32, int8 = (cpu.pick(config="default", runtime="ort-cpu", precision=p)
                  for p in ("fp32", "int8-dynamic"))
    host = moe()
    return ["int8 (dynamic) and fp16 are slower than fp32 (\"the model is too simple\")",
            f"int8 on the VM: fp32 {vs(fp32, int8)} faster at {accuracy(fp32)} vs "
            f"{accuracy(int8)}; fp16 on ORT CUDA (H100): fp32 against fp16 "
            f"{vs(host['ORT CUDA'], host['ORT CUDA fp16'])}",
            f"int8: {verdict([side(fp32, int8)])}; fp16: "
            f"{verdict([side(host['ORT CUDA'], host['ORT CUDA fp16'])])}",
            "int8's quantised matmuls cost more than the Gemms they replace at this size; "
            "fp16 kernels are launch-bound here"]


def _moe_trt_script(ctx: Context) -> list[str]:
    cpu = Run("cpu/moe-backends", "cpu")
    trt = Run("h100/2026-11-21/moe-backends", "gpu").pick(runtime="ort-trt")
    traced = cpu.pick(config="sparse", exporter="jit-trace", runtime="ort-cpu")
    script = cpu.pick(config="sparse", exporter="jit-script", runtime="ort-cpu")
    return ["TensorRT is much slower (33.6 s); the routed MoE must be exported with "
            "`torch.jit.script`",
            f"TensorRT: `{trt.point.status}` ({short_reason(trt.point.reason)}). Sparse "
            f"(routed) MoE: traced "
            f"{fig(traced)} at {accuracy(traced)} held-out, parity failed; scripted "
            f"{fig(script)} at {accuracy(script)}",
            f"TensorRT: {CANNOT}; scripting: {AGREES}",
            "TensorRT's libraries are not on the lent machines; a trace keeps only the "
            "experts the example rows used"]


@section("ref-001")
def ref_001(ctx: Context) -> str:
    return report_table([_moe_fastest(ctx), _moe_int8_fp16(ctx), _moe_trt_script(ctx)])
