"""The README's CPU results: the 2-core VM's suites and benchmark outputs."""

from __future__ import annotations

from onnxbench.report.evidence import Figure
from onnxbench.report.summary_rows import SummaryPoint
from published.claims import (
    accuracy,
    fastest,
    fig,
    join,
    md_bullets,
    md_value,
    ms,
    tally,
    tally_text,
    vs,
)
from published.data import BENCH, Context, Run, cpu_margin, md_tables, section, table

SUITES = ("dcnv2-cpu", "bert-optimize", "deberta-latency", "moe-backends", "tf-vs-ort",
          "serving-cpu", "resnet50-torch-vs-ort", "bert-torch-vs-ort-cpu", "seq-mix-deberta",
          "deberta-threads", "pipeline-runtimes")


@section("cpu-runs")
def cpu_runs(ctx: Context) -> str:
    """Which machine and versions each committed CPU suite ran on (its env.json)."""
    rows = []
    for name in SUITES:
        run = Run.maybe(f"cpu/{name}", "cpu")
        if run is None:
            continue
        ks = sorted({p.n_processes for p in run.points if p.n_processes})
        rows.append([f"[{name}]({ctx.bench(f'cpu/{name}/report.md')})", run.machine(),
                     "/".join(map(str, ks)) or "–", str(len(run.points))])
    m = cpu_margin()
    return (table(["suite", "machine (env.json)", "processes per point", "points"], rows)
            + f"\n\nOne-process rows resolve only differences beyond ±{m.pct:.0f} % "
            f"(the {m.source}).")


def _dcnv2(ctx: Context) -> list[str]:
    run = Run("cpu/dcnv2-cpu", "cpu")
    parts = [f"{c}: " + " / ".join(run.pick(config=c, batch=b).value() for b in (2, 128, 1024))
             for c in ("light", "heavy", "100x100")]
    return ["DCNv2 on ORT CPU (`dcnv2-cpu`)",
            "median ms at batch 2 / 128 / 1024, one process each: " + "; ".join(parts),
            f"[dcnv2-cpu]({ctx.bench('cpu/dcnv2-cpu/report.md')})"]


def _table_figure(row: dict[str, str], key: str = "median ms") -> Figure:
    """A one-process figure from a benchmark output's table row (the CPU VM's margin)."""
    point = SummaryPoint(point_id=row.get("variant", ""), model="", config="", exporter="",
                         runtime="", batch=1, seq=None, precision="", options={}, status="ok",
                         reason=None, n_processes=1, median=float(row[key]), ci=None,
                         ci_method=None, process_rsd=None, unstable=False)
    return Figure(point, cpu_margin())


def _bert_cpu(ctx: Context) -> list[str]:
    rows = {r["variant"]: r for r in md_tables("bert_cpu.md")[0]}
    f = {k: _table_figure(r) for k, r in rows.items()}
    eager, plain = f["PyTorch eager fp32"], f["ORT CPU fp32 (plain graph)"]
    fused, int8 = f["ORT CPU fp32 (fused)"], f["ORT CPU int8 dynamic (fused)"]
    cos = rows["ORT CPU int8 dynamic (fused)"]["cosine vs fp32"]
    return ["BERT-base, batch 1, seq 128, 2 threads (`bert_cpu.py`)",
            f"PyTorch eager {fig(eager)}; ORT plain {fig(plain)}: {vs(plain, eager)} faster; "
            f"ORT fused {fig(fused)} against plain: {vs(fused, plain)}; int8-dynamic (fused) "
            f"{fig(int8)}: {vs(int8, eager)} faster than eager, cosine to fp32 {cos}",
            f"[bert_cpu.md]({ctx.bench('bert_cpu.md')})"]


def _bert_grid(ctx: Context) -> list[str]:
    run = Run("cpu/bert-optimize", "cpu")
    plain = {(p.batch, p.seq): run.figure(p) for p in run.points
             if p.precision == "fp32" and not p.options.get("fuse")}

    def variant(precision: str) -> dict[tuple[int, int | None], Figure]:
        return {(p.batch, p.seq): run.figure(p) for p in run.points
                if p.precision == precision and p.options.get("fuse")}

    fused, fp16, int8 = variant("fp32"), variant("fp16"), variant("int8-dynamic")
    cells = sorted(plain)
    b1 = [k for k in cells if k[0] == 1]
    int8_b1 = " / ".join(int8[k].value() for k in b1)
    plain_b1 = " / ".join(plain[k].value() for k in b1)
    seqs = " / ".join(str(k[1]) for k in b1)
    cos = accuracy(int8[b1[0]])
    return ["BERT-base grid, 2 threads (`bert-optimize`)",
            f"batch 1, seq {seqs}: int8-dynamic {int8_b1} ms against fp32 plain {plain_b1} ms "
            f"({cos}); one process per cell. Over all {len(cells)} cells: "
            + tally_text("fusion", "plain", tally((fused[k], plain[k]) for k in cells)) + "; "
            + tally_text("fp16", "plain", tally((fp16[k], plain[k]) for k in cells))
            + "; " + tally_text("int8", "plain", tally((int8[k], plain[k]) for k in cells)),
            f"[bert-optimize]({ctx.bench('cpu/bert-optimize/report.md')})"]


def _deberta(ctx: Context) -> list[str]:
    run = Run("cpu/deberta-latency", "cpu")

    def pick(runtime: str, seq: int, **opts: object) -> Figure:
        return run.pick(runtime=runtime, seq=seq,
                        opts={"truncate_layers": None, "fuse": None, **opts})

    seqs = (5, 20, 40)
    ort = [f"seq {s}: ORT {fig(pick('ort-cpu', s))}, PyTorch {ms(pick('torch-cpu', s))} "
           f"(ORT {vs(pick('ort-cpu', s), pick('torch-cpu', s))}), torch.compile "
           f"{ms(pick('torch-compile-cpu', s))}" for s in seqs]
    trunc = [f"seq {s}: ORT {vs(pick('ort-cpu', s, truncate_layers=2), pick('ort-cpu', s))}, "
             f"PyTorch {vs(pick('torch-cpu', s, truncate_layers=2), pick('torch-cpu', s))}"
             for s in seqs]
    fuse = [f"seq {s}: {vs(pick('ort-cpu', s, fuse='bert'), pick('ort-cpu', s))}"
            for s in seqs]
    return ["DeBERTa-v2-base, batch 1, 2 threads (`deberta-latency`, 3 processes per point)",
            "ORT CPU against PyTorch CPU: " + "; ".join(ort)
            + ". Dropping the last 2 layers (proved equal to `hidden_states[-3]`), truncated "
            "vs full: " + "; ".join(trunc) + ". The `bert` fusion applied to DeBERTa, fused "
            "vs plain: " + "; ".join(fuse),
            f"[deberta-latency]({ctx.bench('cpu/deberta-latency/report.md')})"]


def _moe(ctx: Context) -> list[str]:
    run = Run("cpu/moe-backends", "cpu")
    dense = {"ORT CPU": run.pick(config="default", runtime="ort-cpu", precision="fp32"),
             "PyTorch CPU": run.pick(config="default", runtime="torch-cpu"),
             "torch.compile CPU": run.pick(config="default", runtime="torch-compile-cpu")}
    ort, int8 = dense["ORT CPU"], run.pick(config="default", runtime="ort-cpu",
                                           precision="int8-dynamic")
    traced = run.pick(config="sparse", exporter="jit-trace", runtime="ort-cpu")
    scripted = run.pick(config="sparse", exporter="jit-script", runtime="ort-cpu")
    return ["MoE on digits, batch 64, 1 thread (`moe-backends`, 3 processes per point)",
            f"fastest {fastest(dense)}: ORT CPU {fig(ort)} ({accuracy(ort)} held-out), "
            f"PyTorch CPU {ms(dense['PyTorch CPU'])}, torch.compile "
            f"{ms(dense['torch.compile CPU'])}; int8-dynamic {fig(int8)} "
            f"({accuracy(int8)}): fp32 is {vs(ort, int8)} faster. Sparse MoE: the traced "
            f"export {fig(traced)} at {accuracy(traced)} (a wrong graph: parity fails, never "
            f"named fastest) against the scripted export {fig(scripted)} at "
            f"{accuracy(scripted)}",
            f"[moe-backends]({ctx.bench('cpu/moe-backends/report.md')})"]


def _keras(ctx: Context) -> list[str]:
    run = Run("cpu/tf-vs-ort", "cpu")
    resnet = []
    xs = sorted({p.batch for p in run.points if p.model == "keras-resnet50"})
    for b in (xs[0], xs[-1]):
        o = run.pick(model="keras-resnet50", runtime="ort-cpu", batch=b)
        t = run.pick(model="keras-resnet50", runtime="tf-call", batch=b)
        resnet.append(f"batch {b}: ORT {fig(o)}, TF `tf.function` call {ms(t)} "
                      f"(ORT {vs(o, t)})")
    oom = run.pick(model="keras-encoder", runtime="tf-call", opts={"allocator_limit_mb": 128})
    return ["Keras ResNet50 through tf2onnx, 2 threads (`tf-vs-ort`)",
            "; ".join(resnet) + "; the encoder's batch 16 × seq 500 cell under a 128 MB TF "
            + ("allocator budget is recorded as `oom` and the suite goes on"
               if oom.point.status == "oom" else
               f"allocator budget did not run out of memory (`{oom.point.status}`)"),
            f"[tf-vs-ort]({ctx.bench('cpu/tf-vs-ort/report.md')})"]


def _overhead(ctx: Context) -> list[str]:
    ratio = md_value("overhead.md", r"\*\*Ratio \(harness / bare, pooled medians\): ([\d.]+)")
    blocks = md_value("overhead.md", r"per-block ratios ([\d.]+–[\d.]+)")
    return ["harness overhead",
            f"onnxbench's timing loop vs a bare `session.run` loop on a 24 µs model: ratio of "
            f"the pooled medians **{ratio}** (target ≤ 1.02); one process, per-block ratios "
            f"{blocks}", f"[overhead.md]({ctx.bench('overhead.md')})"]


def _ab_validity(ctx: Context) -> list[str]:
    lines = md_bullets("ab_validity.md")
    return ["are A/B verdicts honest? (real ORT models in worker processes)",
            join([*lines, *(f"again: {x}" for x in md_bullets("ab_validity_regression.md"))],
                 "<br>"),
            f"[ab_validity.md]({ctx.bench('ab_validity.md')}), "
            f"[ab_validity_regression.md]({ctx.bench('ab_validity_regression.md')})"]


@section("cpu")
def cpu(ctx: Context) -> str:
    rows = [_overhead(ctx), _ab_validity(ctx), _dcnv2(ctx), _bert_cpu(ctx), _bert_grid(ctx),
            _deberta(ctx), _moe(ctx), _keras(ctx)]
    assert BENCH.is_dir()
    return table(["question", "result", "from"], rows)


@section("ray-overhead")
def ray_overhead(ctx: Context) -> str:
    """The per-case fixed cost of the Ray executor against the local one (its verdict lines)."""
    text = (BENCH / "ray_overhead.md").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.startswith("- `") and "fixed cost" in ln
             and "(p50)" in ln]
    if not lines:
        raise ValueError("docs/benchmarks/ray_overhead.md has no verdict lines")
    return (f"Per-case fixed cost on this 2-core machine (a local Ray cluster; "
            f"[ray_overhead.md]({ctx.bench('ray_overhead.md')})):\n\n" + "\n".join(lines))
