"""The README's GPU results: the lent H100 (and H200) hosts."""

from __future__ import annotations

from onnxbench.report.evidence import Figure, leader_text, leaders
from published.claims import faster, fig, tally, tally_text, vs
from published.data import BENCH, Context, Run, bullets, gpu_margin, md_tables, section, table

B1024 = "h100/2026-11-27-h100/dcnv2-b1024"
BERT = "h100/2026-11-27-h100/bert-optimize-gpu"
RESNET = "h100/2026-11-27-h100-b/resnet50-torch-vs-ort"
MOE = "h100/2026-11-27-h100-b/moe-backends"
PIPES = "h100/2026-11-27-h100-b/pipeline-runtimes"
H200 = "h100/2026-11-27-h200x4/dcnv2-cpu-vs-gpu"
SERVING = "h100/2026-11-27-h100/serving-gpu"
EAGER, COMPILE = "PyTorch eager", "torch.compile r-o"


def dcnv2_b1024(config: str) -> dict[str, Figure]:
    run = Run(B1024, "gpu")
    return {EAGER: run.pick(config=config, runtime="torch-cuda"),
            "ORT CUDA": run.pick(config=config, runtime="ort-cuda", opts={"cuda_graph": None}),
            "ORT CUDA + CUDA graph": run.pick(config=config, runtime="ort-cuda",
                                              opts={"cuda_graph": True}),
            COMPILE: run.pick(config=config, runtime="torch-compile-cuda")}


def bert(batch: int, seq: int) -> dict[str, Figure]:
    run = Run(BERT, "gpu")
    out = {EAGER: run.pick(runtime="torch-cuda", batch=batch, seq=seq),
           COMPILE: run.pick(runtime="torch-compile-cuda", batch=batch, seq=seq,
                             opts={"autocast": None}),
           "ORT CUDA": run.pick(runtime="ort-cuda", batch=batch, seq=seq,
                                opts={"fuse": None}),
           "ORT CUDA fused": run.pick(runtime="ort-cuda", batch=batch, seq=seq,
                                      precision="fp32", opts={"fuse": "bert"})}
    more = {"torch.compile r-o + fp16 autocast": run.all(runtime="torch-compile-cuda",
                                                         batch=batch, seq=seq,
                                                         opts={"autocast": "fp16"}),
            "ORT CUDA fused fp16": run.all(runtime="ort-cuda", batch=batch, seq=seq,
                                           precision="fp16")}
    out.update({k: v[0] for k, v in more.items() if v})
    return out


def resnet50(batch: int) -> dict[str, Figure]:
    run = Run(RESNET, "gpu")
    return {EAGER: run.pick(runtime="torch-cuda", batch=batch),
            "ORT CUDA": run.pick(runtime="ort-cuda", batch=batch),
            COMPILE: run.pick(runtime="torch-compile-cuda", batch=batch)}


def moe(config: str = "default") -> dict[str, Figure]:
    run = Run(MOE, "gpu")
    out = {"ORT CPU, 1 thread": run.pick(config=config, runtime="ort-cpu", exporter="torchscript"
                                         if config == "default" else "jit-script"),
           "PyTorch CPU": run.pick(config=config, runtime="torch-cpu"),
           EAGER: run.pick(config=config, runtime="torch-cuda")}
    for label, want in (("ORT CUDA", {"precision": "fp32"}), ("ORT CUDA fp16",
                                                               {"precision": "fp16"})):
        found = run.all(config=config, runtime="ort-cuda", exporter="torchscript"
                        if config == "default" else "jit-script", **want)
        if found:
            out[label] = found[0]
    for mode, label in (("reduce-overhead", COMPILE), ("max-autotune", "torch.compile m-a")):
        found = run.all(config=config, runtime="torch-compile-cuda", opts={"mode": mode})
        if found:
            out[label] = found[0]
    return out


def pipeline_e2e() -> dict[str, Figure]:
    run = Run(PIPES, "gpu")
    plain = {"pipeline": "current", "pin_memory": None, "non_blocking": None}
    return {EAGER: run.pick(runtime="torch-cuda", opts=plain),
            "ORT CUDA": run.pick(runtime="ort-cuda", opts=plain),
            COMPILE: run.pick(runtime="torch-compile-cuda", opts={"pipeline": "current"})}


def fastest_row(title: str, figs: dict[str, Figure]) -> list[str]:
    """| title | fastest (ties named) | its median | vs eager | vs best compile | next |"""
    lead = leaders(figs)
    best = figs[lead[0]]
    eager = vs(best, figs[EAGER]) if EAGER in figs and lead[0] != EAGER else "—"
    compiled = sorted((f.median or 0, k) for k, f in figs.items()
                      if k.startswith("torch.compile") and f.ok and k != lead[0])
    comp = f"{vs(best, figs[compiled[0][1]])} ({compiled[0][1]})" if compiled and \
        not lead[0].startswith("torch.compile") else "—"
    ranked = sorted((f.median or 0, k) for k, f in figs.items() if f.ok and k != lead[0])
    nxt = ranked[0][1]
    return [title, leader_text(lead), fig(best), eager, comp,
            f"{nxt} {fig(figs[nxt])}: {vs(best, figs[nxt])}"]


@section("gpu-margins")
def gpu_margins(ctx: Context) -> str:
    ort, torch = gpu_margin("ort"), gpu_margin("torch")
    return (f"One-process rows on these hosts resolve only differences beyond the A/A "
            f"`onnxbench ab` of the same case on the H100 host: **±{ort.pct:.0f} %** for ORT "
            f"CUDA, **±{torch.pct:.0f} %** for PyTorch eager "
            f"([ORT]({ctx.bench('h100/2026-11-27-h100-b/aa-ort-cuda/report.md')}), "
            f"[PyTorch]({ctx.bench('h100/2026-11-27-h100-b/aa-torch-cuda/report.md')})); "
            "a ratio inside that margin is written as a tie.")


AB_GPU = "h100/2026-12-08-ab"


def _ab_gpu_jobs() -> dict[tuple[str, str, str], list[dict]]:
    """The GPU A/B lease's answers (``ab_gpu.py run``), by (cell, runtime, design)."""
    import json

    jobs: dict[tuple[str, str, str], list[dict]] = {}
    for path in sorted((BENCH / AB_GPU / "jobs").glob("*.json")):
        cell, runtime, design, _ = path.stem.split("_")
        jobs.setdefault((cell, runtime, design), []).append(json.loads(path.read_text()))
    if not jobs:
        raise LookupError(f"no answers under docs/benchmarks/{AB_GPU}/jobs")
    return jobs


@section("gpu-ab")
def gpu_ab(ctx: Context) -> str:
    """A/A margins and the ~5 % difference on the H100, interleaved vs a process per block."""
    import statistics

    jobs = _ab_gpu_jobs()
    names = {"ort-cuda": "ORT CUDA", "torch-cuda": "PyTorch eager CUDA"}
    rows = []
    for runtime in ("ort-cuda", "torch-cuda"):
        for design in ("interleaved", "process"):
            aa = jobs.get(("dcnv2-aa", runtime, design), [])
            diff = jobs.get(("dcnv2-diff", runtime, design), [])
            margins = [d["outcome"]["result"]["resolvable_pct"] for d in aa
                       if d["outcome"]["result"].get("resolvable_pct") is not None]
            called = sum(d["outcome"]["result"]["verdict"] in ("faster", "slower") for d in aa)
            slower = sum(d["outcome"]["result"]["verdict"] == "slower" for d in diff)
            ratios = ", ".join(f"{d['outcome']['result']['ratio']:.3f}" for d in diff
                               if d["outcome"]["result"].get("ratio"))
            rows.append([names[runtime], design,
                         f"±{statistics.median(margins):.1f} % ({len(margins)})" if margins
                         else "–", f"{called}/{len(aa)}",
                         f"{slower}/{len(diff)} (B/A {ratios})" if diff else "–"])
    head = (f"DCNv2 `heavy` at batch 1024 on one H100, each comparison one `onnxbench ab` at its "
            f"defaults (60 s), A and B alternated in each worker process (`interleaved`, the "
            f"default now) or a fresh process per block (`process`, the design before) "
            f"([table and method]({ctx.bench('h100/ab-gpu.md')}), "
            f"[answers]({ctx.bench(AB_GPU + '/jobs')})). Few runs per cell (one short lease): "
            "the margins are indicative, the 9-of-10 target is not yet tested.")
    return head + "\n\n" + table(["runtime", "design", "A/A resolvable in 60 s, median (runs)",
                                   "A/A called different", "21 vs 20 cross layers called slower"],
                                  rows)


@section("gpu-fastest")
def gpu_fastest(ctx: Context) -> str:
    rows = [fastest_row("DCNv2 `heavy`, 1024", dcnv2_b1024("heavy")),
            fastest_row("DCNv2 `100x100`, 1024", dcnv2_b1024("100x100")),
            fastest_row("BERT-base, 1 × 128", bert(1, 128)),
            fastest_row("BERT-base, 16 × 128", bert(16, 128)),
            fastest_row("BERT-base, 16 × 500", bert(16, 500)),
            *(fastest_row(f"ResNet-50, {b}", resnet50(b)) for b in (1, 4, 16)),
            fastest_row("MoE (dense), 64", moe()),
            fastest_row("ResNet-18 digits pipeline, 1, E2E", pipeline_e2e())]
    return table(["model, batch (H100)", "fastest (ties named)", "median", "vs PyTorch eager",
                  "vs best torch.compile", "next fastest"], rows)


def _h200_heavy() -> str:
    run = Run(H200, "gpu")
    comp = run.pick(config="heavy", runtime="torch-compile-cuda", batch=1024)
    ort = run.pick(config="heavy", runtime="ort-cuda", batch=1024, precision="fp32",
                   opts={"cuda_graph": True})
    fp16 = run.pick(config="heavy", runtime="ort-cuda", batch=1024, precision="fp16")
    return (f"On the H200 (`heavy`, 1024): torch.compile {fig(comp)} against ORT + CUDA graph "
            f"{fig(ort)} ({vs(comp, ort)}) and its fp16 {fig(fp16)} ({vs(comp, fp16)})")


def _serving(ctx: Context) -> str:
    peaks = []
    for tbl in md_tables(f"{SERVING}/report.md"):
        for row in tbl:
            if row["_heading"].endswith("peak QPS under the bound") and \
                    row.get("Peak QPS", "")[:1].isdigit():
                conf = f", confidence {row['Confidence']}" if row.get("Confidence") else ""
                model = row["_heading"].split(":")[0]
                peaks.append(f"{model}, {row['Serving']}: {row['Peak QPS']} QPS (p99 "
                             f"{row.get('p99 at peak', '–')} ms{conf})")
    return ("`serving-gpu` peaks at p99 ≤ 10 ms, 3 s LoadGen probes, one process, before the "
            "peak search confirmed its result and before the load rules of issue #27: upper "
            "bounds, to be re-measured: " + "; ".join(peaks)
            + f" ([report]({ctx.bench(SERVING + '/report.md')}))")


def _pin_memory() -> str:
    pairs = Run(PIPES, "gpu").flag_pairs("pin_memory")
    return ("Image pipeline (ResNet-18 digits, E2E, 2 processes per arm): pin_memory on vs off: "
            + tally_text("on", "off", tally(pairs)))


@section("gpu-findings")
def gpu_findings(ctx: Context) -> str:
    compile_vs_ort = faster(dcnv2_b1024("heavy")[COMPILE],
                            dcnv2_b1024("heavy")["ORT CUDA + CUDA graph"])
    return bullets([f"DCNv2 `heavy` at 1024 on the H100: torch.compile against ORT's best "
                    f"(CUDA graph): {compile_vs_ort.text()}. {_h200_heavy()}.",
                    _serving(ctx), _pin_memory()])
