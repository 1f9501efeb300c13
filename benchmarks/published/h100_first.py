"""docs/benchmarks/h100/2026-11-21/README.md: the first release's H100 runs (one process per
point except the image pipelines), rendered with the H100 host's one-process margins."""

from __future__ import annotations

from onnxbench.report.evidence import Figure, leader_text, leaders, versus
from published.claims import accuracy, faster, fig, ms, short, tally, tally_text, vs
from published.data import Context, Run, md_tables, section, table
from published.h100_docs import wide

ROOT = "h100/2026-11-21"
GRAPH = {"cuda_graph": True, "fold_slices": None, "merge_embeddings": None}
PLAIN = {"cuda_graph": None, "fold_slices": None}


def _dcnv2(config: str, batch: int) -> dict[str, Figure]:
    run = Run(f"{ROOT}/dcnv2-cpu-vs-gpu", "gpu")
    return {"ORT CPU (16 cores)": run.pick(config=config, batch=batch, runtime="ort-cpu"),
            "PyTorch CUDA eager": run.pick(config=config, batch=batch, runtime="torch-cuda"),
            "ORT CUDA": run.pick(config=config, batch=batch, runtime="ort-cuda",
                                 precision="fp32", opts=PLAIN),
            "ORT CUDA + CUDA graph": run.pick(config=config, batch=batch, runtime="ort-cuda",
                                              precision="fp32", opts={"cuda_graph": True}),
            "ORT CUDA fp16 + CUDA graph": run.pick(config=config, batch=batch,
                                                   runtime="ort-cuda", precision="fp16")}


@section("h100-21-dcnv2")
def dcnv2(ctx: Context) -> str:
    rows = [(c, _dcnv2(c, 1024)) for c in ("light", "heavy", "100x100")]
    cols = list(rows[0][1])

    def best_vs_eager(f: dict[str, Figure]) -> str:
        eager = f["PyTorch CUDA eager"]
        return "; ".join(f"{k.removeprefix('ORT CUDA ').strip() or 'plain'}: {vs(f[k], eager)}"
                         for k in ("ORT CUDA + CUDA graph", "ORT CUDA fp16 + CUDA graph"))

    return wide(rows, cols, [("ORT GPU vs PyTorch CUDA", best_vs_eager)])


@section("h100-21-crossover")
def crossover(ctx: Context) -> str:
    run = Run(f"{ROOT}/dcnv2-cpu-vs-gpu", "gpu")
    lines = []
    for c in ("light", "heavy", "100x100"):
        xs = sorted({p.batch for p in run.points if p.config == c})
        who = []
        for b in xs:
            f = _dcnv2(c, b)
            f = {k: v for k, v in f.items() if k in ("ORT CPU (16 cores)", "ORT CUDA",
                                                      "ORT CUDA + CUDA graph")}
            who.append(f"{b}: {leader_text(leaders(f))}")
        lines.append(f"- `{c}`: " + " · ".join(who))
    return "\n".join(lines)


@section("h100-21-100x100")
def target(ctx: Context) -> str:
    run = Run(f"{ROOT}/dcnv2-100x100-gpu", "gpu")
    rows, notes = [], []
    for b in (512, 1024):
        figs = {"PyTorch CUDA eager": run.pick(batch=b, runtime="torch-cuda"),
                "ORT CUDA + graph": run.pick(batch=b, runtime="ort-cuda",
                                             opts={"fold_slices": None}),
                "+ fold + merge (fp32)": run.pick(batch=b, runtime="ort-cuda", precision="fp32",
                                                  opts={"fold_slices": True}),
                "+ fold + merge, fp16": run.pick(batch=b, runtime="ort-cuda",
                                                 precision="fp16")}
        eager = figs["PyTorch CUDA eager"]
        fp32 = versus(figs["+ fold + merge (fp32)"], eager)
        fp16 = versus(figs["+ fold + merge, fp16"], eager)
        rows.append([str(b), *(short(f) for f in figs.values()), fp32.text(), fp16.text()])
        met = "met" if fp32.ci and fp32.ci[0] >= 3 else \
            "not met" if fp32.ci and fp32.ci[1] < 3 else "not resolved"
        notes.append(f"batch {b}: {met} at fp32")
    return (table(["batch", "PyTorch CUDA eager", "ORT CUDA + graph", "+ fold + merge (fp32)",
                   "+ fold + merge, fp16", "best fp32 vs eager", "best fp16 vs eager"], rows)
            + "\n\nThe 3× target (ORT GPU against PyTorch eager, equal accuracy): "
            + "; ".join(notes) + " (one process per point: the ratio's interval is the "
            "host's ±margin).")


@section("h100-21-fold")
def fold(ctx: Context) -> str:
    run = Run(f"{ROOT}/dcnv2-gpu-fold", "gpu")
    parts = []
    for c in ("100x100", "heavy"):
        for graph, label in ((True, "with CUDA graphs"), (None, "without")):
            plain = run.pick(config=c, batch=1024, precision="fp32", runtime="ort-cuda",
                             opts={"cuda_graph": graph, "fold_slices": None})
            folded = run.pick(config=c, batch=1024, precision="fp32", runtime="ort-cuda",
                              opts={"cuda_graph": graph, "fold_slices": True})
            v = faster(folded, plain)
            text = v.text() if not v.resolved else \
                f"folded {v.text()} {'faster' if v.fast is folded else 'slower'}"
            parts.append(f"`{c}` {label}: {ms(plain)} → {ms(folded)} ({text})")
    return "- " + "\n- ".join(parts)


@section("h100-21-moe")
def moe(ctx: Context) -> str:
    run = Run(f"{ROOT}/moe-backends", "gpu")
    parts = [f"{p.runtime} {p.precision}: {fig(run.figure(p))} ({accuracy(run.figure(p))})"
             for p in run.points if p.status == "ok"]
    cpu = run.pick(runtime="ort-cpu", precision="fp32")
    cuda = run.pick(runtime="ort-cuda", precision="fp32")
    return ("; ".join(parts) + f". ORT CPU (one thread) against ORT CUDA: {vs(cpu, cuda)}; "
            f"int8 against fp32 on the CPU: fp32 "
            f"{vs(cpu, run.pick(runtime='ort-cpu', precision='int8-dynamic'))}; fp16 against "
            f"fp32 on CUDA: {vs(cuda, run.pick(runtime='ort-cuda', precision='fp16'))}.")


@section("h100-21-bert")
def bert(ctx: Context) -> str:
    run = Run(f"{ROOT}/bert-optimize-gpu", "gpu")
    rows = []
    for s in (10, 100, 500):
        f = {"PyTorch CUDA eager": run.pick(batch=16, seq=s, runtime="torch-cuda"),
             "ORT CUDA": run.pick(batch=16, seq=s, runtime="ort-cuda", opts={"fuse": None}),
             "ORT CUDA fused": run.pick(batch=16, seq=s, runtime="ort-cuda", precision="fp32",
                                        opts={"fuse": "bert"}),
             "ORT CUDA fused fp16": run.pick(batch=16, seq=s, precision="fp16")}
        rows.append([str(s), *(short(x) for x in f.values()),
                     vs(f["ORT CUDA fused fp16"], f["PyTorch CUDA eager"]),
                     vs(f["ORT CUDA"], f["PyTorch CUDA eager"]),
                     accuracy(f["ORT CUDA fused fp16"])])
    return table(["seq (batch 16)", "PyTorch CUDA eager", "ORT CUDA", "ORT CUDA fused",
                  "ORT CUDA fused fp16", "fused fp16 vs eager", "ORT fp32 (TF32) vs eager",
                  "fp16 accuracy"], rows)


@section("h100-21-pipelines")
def pipelines(ctx: Context) -> str:
    run = Run(f"{ROOT}/pipeline-ab", "gpu")
    stages = {}
    for tbl in md_tables(f"{ROOT}/pipeline-ab/report.md"):
        for r in tbl:
            if r.get("pin_memory") == "False" and r.get("non_blocking") == "False":
                stages[(r["_heading"].split("/")[0], r["Pipeline"])] = r["inference (ms)"]
    rows = []
    for model in ("resnet18", "resnet50"):
        e2e = [run.pick(model=model, opts={"pipeline": pl, "pin_memory": None,
                                           "non_blocking": None}) for pl in
               ("current", "fast", "gpu")]
        rows.append([model, *(short(f) for f in e2e),
                     " / ".join(stages.get((model, pl), "–") for pl in ("current", "fast", "gpu")),
                     vs(e2e[2], e2e[0])])
    pairs = run.flag_pairs("pin_memory") + run.flag_pairs("non_blocking")
    return (table(["model", "`current` E2E", "`fast` E2E", "`gpu` E2E",
                   "inference stage, ms (current / fast / gpu)", "`gpu` vs `current` E2E"],
                  rows)
            + "\n\npin_memory / non_blocking on against off, every pair: "
            + tally_text("on", "off", tally(pairs)) + ".")
