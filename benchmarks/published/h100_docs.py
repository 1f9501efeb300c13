"""docs/benchmarks/h100/README.md: the 2026-11-27 leases' tables, rendered."""

from __future__ import annotations

import json
import statistics

from onnxbench.report.evidence import Figure, leader_text, leaders
from onnxbench.report.fmt import sig
from published.claims import fig, md_value, short, tally, tally_text, vs
from published.data import BENCH, Context, Run, bullets, md_tables, section, table
from published.gpu import (
    B1024,
    BERT,
    COMPILE,
    EAGER,
    PIPES,
    SERVING,
    bert,
    dcnv2_b1024,
    moe,
    pipeline_e2e,
    resnet50,
)

H200_BERT = "h100/2026-11-27-h200x4/bert-optimize-gpu"


def wide(rows: list[tuple[str, dict[str, Figure]]], cols: list[str],
         extra: list[tuple[str, object]]) -> str:
    """| row | <col figures> | fastest | <extra columns: fn(figs) -> str> |"""
    out = []
    for title, figs in rows:
        lead = leaders(figs)
        cells = [f"**{short(figs[c])}**" if c in lead else short(figs[c]) if c in figs else "–"
                 for c in cols]
        out.append([title, *cells, leader_text(lead),
                    *(fn(figs) for _, fn in extra)])  # type: ignore[operator]
    return table(["", *cols, "fastest", *(h for h, _ in extra)], out)


def _best(figs: dict[str, Figure], prefix: str) -> Figure:
    return min((f for k, f in figs.items() if k.startswith(prefix) and f.ok),
               key=lambda f: f.median or 0)


@section("h100-dcnv2-b1024")
def dcnv2(ctx: Context) -> str:
    rows = [(c, dcnv2_b1024(c)) for c in ("heavy", "100x100")]
    return wide(rows, [EAGER, "ORT CUDA", "ORT CUDA + CUDA graph", COMPILE],
                [("fastest vs eager", lambda f: vs(f[leaders(f)[0]], f[EAGER])),
                 ("compile vs best ORT", lambda f: vs(f[COMPILE], _best(f, "ORT")))])


@section("h100-noise")
def noise(ctx: Context) -> str:
    run = Run(B1024, "gpu")
    plain = [f.half_pct or 0 for f in run.all(runtime="ort-cuda", opts={"cuda_graph": None})]
    graph = [f.half_pct or 0 for f in run.all(runtime="ort-cuda", opts={"cuda_graph": True})]
    a, b = Run(BERT, "gpu"), Run(H200_BERT, "gpu")
    other = {p.point_id: p for p in b.points if p.median}
    diffs = sorted(abs(p.median / other[p.point_id].median - 1) * 100 for p in a.points
                   if p.median and p.point_id in other and other[p.point_id].median)
    return bullets([f"DCNv2 at batch 1024 (3 processes): up to ±{max(plain):.0f} % for ORT "
                    f"CUDA without CUDA graphs; ±{min(graph):.1f}–{max(graph):.1f} % with them.",
                    f"The {len(diffs)} BERT cases that ran on both leases (H100 and H200, one "
                    f"process each) differ by {diffs[0]:.1f}–{diffs[-1]:.0f} % (median "
                    f"{statistics.median(diffs):.1f} %): across processes and cards, a "
                    f"one-process difference below that is not a result."])


@section("h100-bert")
def bert_table(ctx: Context) -> str:
    cols = [EAGER, COMPILE, "torch.compile r-o + fp16 autocast", "ORT CUDA", "ORT CUDA fused",
            "ORT CUDA fused fp16"]
    rows = [(f"{b} × {s}", bert(b, s)) for b, s in ((1, 128), (16, 128), (16, 500))]
    return wide(rows, cols, [("fastest vs eager", lambda f: vs(f[leaders(f)[0]], f[EAGER])),
                             ("vs best torch.compile",
                              lambda f: vs(f[leaders(f)[0]], _best(f, "torch.compile")))])


@section("h100-aa")
def aa(ctx: Context) -> str:
    rows = []
    for name, label in (("aa-torch-cuda", "PyTorch eager CUDA"),
                        ("aa-ort-cuda", "ORT CUDA (IO binding, no CUDA graph)")):
        doc = json.loads((BENCH / f"h100/2026-11-27-h100-b/{name}/ab.json").read_text())
        r = doc["outcome"]["result"]
        rows.append([label, f"{r['center_a']:.3g}", f"{r['center_b']:.3g}", f"{r['ratio']:.3g}",
                     f"{r['ci_low']:.3g}–{r['ci_high']:.3g}", f"{100 * r['level']:.1f} %",
                     str(r["n_a"]), f"±{r['resolvable_pct']:.0f} %", r["verdict"]])
    return table(["runtime", "A (ms)", "B (ms)", "B/A", "CI", "CI level", "pairs",
                  "resolvable", "verdict"], rows)


@section("h100-moe")
def moe_table(ctx: Context) -> str:
    cols = ["ORT CPU, 1 thread", "ORT CUDA", "ORT CUDA fp16", "PyTorch CPU", EAGER, COMPILE,
            "torch.compile m-a"]
    return wide([("default (dense)", moe("default")), ("sparse (jit-script)", moe("sparse"))],
                cols, [])


@section("h100-resnet50")
def resnet_table(ctx: Context) -> str:
    return wide([(str(b), resnet50(b)) for b in (1, 4, 16)], [EAGER, "ORT CUDA", COMPILE],
                [("fastest vs eager", lambda f: vs(f[leaders(f)[0]], f[EAGER])),
                 ("compile vs ORT", lambda f: vs(f[COMPILE], f["ORT CUDA"]))])


@section("h100-pipelines")
def pipelines(ctx: Context) -> str:
    figs = pipeline_e2e()
    run = Run(PIPES, "gpu")
    pairs = run.flag_pairs("pin_memory") + run.flag_pairs("non_blocking")
    return (f"E2E per image, `current` pipeline: {leader_text(leaders(figs))} fastest: "
            + ", ".join(f"{k} {fig(f)}" for k, f in figs.items())
            + "; pin_memory / non_blocking on vs off: "
            + tally_text("on", "off", tally(pairs)))


@section("h100-serving")
def serving(ctx: Context) -> str:
    rows = []
    for tbl in md_tables(f"{SERVING}/report.md"):
        for r in tbl:
            if r["_heading"].endswith("peak QPS under the bound") and "Peak QPS" in r:
                rows.append([r["_heading"].split(":")[0], r["Serving"], r["Peak QPS"],
                             r.get("p99 at peak", "–"), r.get("Confidence", "–")])
    conc = Run(SERVING, "gpu")
    sweep = []
    for model in ("resnet50", "bert"):
        for rt, label in (("ort-cuda", "ORT"), ("torch-cuda", "PyTorch eager")):
            pts = sorted((p for p in conc.points if p.model == model and p.runtime == rt
                          and p.scenario.startswith("concurrency") and p.throughput),
                         key=lambda p: int(p.scenario.split("-c")[1].split("-")[0]))
            sweep.append(f"{model} {label}: " + " → ".join(sig(p.throughput) for p in pts))
    return (table(["model", "serving", "peak QPS (upper bound)", "p99 at peak (ms)",
                   "LoadGen confidence"], rows)
            + "\n\nInferences/s at concurrency 1 → 4 → 16, one shared session or module: "
            + "; ".join(sweep) + ".")


@section("h100-ray")
def ray(ctx: Context) -> str:
    rel = "h100/2026-11-27-h200x4/ray-scaleout/README.md"
    walls = {r["executor"]: r for r in md_tables(rel)[0]}
    speed = md_value(rel, r"\*\*Throughput, ray over local: ([\d.]+×)\*\*")
    target = md_value(rel, r"\(target (≥ [\d.]+×) with")
    return (f"wall time {walls['local']['wall (s)']} s on one GPU with `--executor local` and "
            f"{walls['ray']['wall (s)']} s on four with `--executor ray`: **{speed}, short of "
            f"the {target} target** (one run each).")
