"""Report 002 (TensorFlow and PyTorch against ONNX Runtime, totals of 1000 runs)."""

from __future__ import annotations

from onnxbench.report.evidence import Figure
from published.claims import fig, pending, vs
from published.data import Context, Run, section
from published.gpu import BERT, RESNET, bert, resnet50
from published.verdicts import PENDING, report_table, side, sweep, verdict

TF = "cpu/tf-vs-ort"
TF_FAST = ("tf-saved-model", "tf-predict-on-batch")


def totals(f: Figure) -> str:
    """The report's unit, total seconds of 1000 runs: 1000 × the mean (ms → s)."""
    return "–" if f.point.mean is None else f"{f.point.mean:.3g} s"


def _ort(run: Run) -> str:
    return str((run.env().get("onnxruntime") or {}).get("version", "?"))


def _processes(run: Run) -> str:
    ks = sorted({p.n_processes for p in run.points if p.n_processes})
    return "/".join(map(str, ks)) + (" process" if ks == [1] else " processes")


def _best_tf(run: Run, **want: object) -> Figure:
    found = [f for rt in TF_FAST for f in run.all(runtime=rt, **want) if f.ok]
    return min(found, key=lambda f: f.median or 0)


def _resnet(ctx: Context) -> list[str]:
    run = Run(TF, "cpu")
    xs = sorted({p.batch for p in run.points if p.model == "keras-resnet50"})
    pairs = [(run.pick(model="keras-resnet50", runtime="ort-cpu", batch=b),
              _best_tf(run, model="keras-resnet50", batch=b)) for b in xs]
    one, last = pairs[0], pairs[-1]
    return ["Keras ResNet50: ORT is faster at batch 1–2, TF's SavedModel and "
            "`predict_on_batch` from batch 4",
            f"ORT CPU against the faster of TF's SavedModel and `predict_on_batch`, per batch "
            f"([tf-vs-ort]({ctx.bench(TF + '/report.md')})): {sweep(xs, pairs, 'ORT', 'TF')}; "
            f"batch {xs[0]}: ORT {fig(one[0])}, TF {fig(one[1])}; batch {xs[-1]}: ORT "
            f"{fig(last[0])}, TF {fig(last[1])}; totals of 1000 runs at batch {xs[-1]} "
            f"(1000 × mean): ORT {totals(last[0])}, TF {totals(last[1])}",
            verdict([side(a, b) for a, b in pairs], ["a" if x <= 2 else "b" for x in xs]),
            f"a 10-core desktop CPU against 2 vCPUs, ORT 1.4 against {_ort(run)}, TF's default "
            "threads against 2 pinned ones: more than one candidate cause, not separated here"]


def _encoder(ctx: Context) -> list[str]:
    run = Run(TF, "cpu")
    cells = sorted({(p.batch, p.seq or 0) for p in run.points
                    if p.model == "keras-encoder" and p.runtime == "ort-cpu"})
    pairs = [(run.pick(model="keras-encoder", runtime="ort-cpu", batch=b, seq=s),
              run.pick(model="keras-encoder", runtime="tf-saved-model", batch=b, seq=s))
             for b, s in cells]
    claims = ["b" if s >= 100 else "a" for _, s in cells]
    texts = [f"batch {b}: " + sweep([s for bb, s in cells if bb == b],
                                     [p for (bb, _), p in zip(cells, pairs) if bb == b],
                                     "ORT", "TF")
             for b in sorted({b for b, _ in cells})]
    return ["TF BERT (SavedModel) is faster than ORT once sequences reach ~100 tokens",
            "the Keras BERT-like encoder (`small`: 4 layers, hidden 256), ORT CPU against TF's "
            "SavedModel per sequence length: " + "; ".join(texts),
            verdict([side(a, b) for a, b in pairs], claims),
            f"a 4-layer encoder, not BERT-base; {_processes(run)} per cell on the CPU VM"]


def _keras_modes(ctx: Context) -> list[str]:
    run = Run(TF, "cpu")
    predict = run.all(model="keras-resnet50", runtime="tf-predict")
    eager = run.all(model="keras-resnet50", runtime="tf-eager-call")
    if not (predict and eager):
        return ["`keras predict` and the eager `keras call` are several times slower than "
                "`predict_on_batch`, with retracing warnings",
                pending("the committed `tf-predict` and `tf-eager-call` rows",
                        "bash benchmarks/cpu_suites.sh tf-vs-ort"), PENDING,
                "the committed run predates those runtimes"]
    pob = {f.point.batch: f for f in run.all(model="keras-resnet50",
                                             runtime="tf-predict-on-batch")}
    rows = [(pob[f.point.batch], f) for f in predict + eager if f.point.batch in pob]
    return ["`keras predict` and the eager `keras call` are several times slower than "
            "`predict_on_batch`, with retracing warnings",
            "`predict` / eager call against `predict_on_batch`: "
            + "; ".join(f"{f.point.runtime} batch {f.point.batch}: {vs(a, f)}" for a, f in rows)
            + f" (retracing warnings per case: [report]({ctx.bench(TF + '/report.md')}))",
            verdict([side(a, f) for a, f in rows]),
            "Keras' data-adapter loop (`predict`) and op-by-op eager execution per call"]


def _torch_resnet(ctx: Context) -> list[str]:
    parts, sides = [], []
    cpu = Run.maybe("cpu/resnet50-torch-vs-ort", "cpu")
    if cpu is not None:
        xs = sorted({p.batch for p in cpu.points if p.runtime == "ort-cpu"})
        pairs = [(cpu.pick(runtime="ort-cpu", batch=b), cpu.pick(runtime="torch-cpu", batch=b))
                 for b in xs]
        parts.append(f"CPU, ORT vs PyTorch eager: {sweep(xs, pairs, 'ORT', 'PyTorch')}")
        sides += [side(a, b) for a, b in pairs]
    else:
        parts.append(pending("the CPU rows", "bash benchmarks/cpu_suites.sh "
                                             "resnet50-torch-vs-ort"))
    gpu = [(resnet50(b)["ORT CUDA"], resnet50(b)["PyTorch eager"]) for b in (1, 4, 16)]
    parts.append(f"H100 (3 processes), ORT CUDA vs PyTorch eager: "
                 f"{sweep([1, 4, 16], gpu, 'ORT', 'PyTorch')} "
                 f"([report]({ctx.bench(RESNET + '/report.md')}))")
    sides += [side(a, b) for a, b in gpu]
    return ["PyTorch ResNet50 and ORT are close (within ~10 % from batch 2)", "; ".join(parts),
            verdict(sides, "close"),
            "eager PyTorch on the H100 host is launch-bound and noisy (±100 % between "
            "processes): a tie there says little"]


def _torch_bert(ctx: Context) -> list[str]:
    parts, sides = [], []
    cpu = Run.maybe("cpu/bert-torch-vs-ort-cpu", "cpu")
    if cpu is not None:
        cells = sorted({(p.batch, p.seq or 0) for p in cpu.points if p.runtime == "ort-cpu"})
        pairs = [(cpu.pick(runtime="ort-cpu", batch=b, seq=s),
                  cpu.pick(runtime="torch-cpu", batch=b, seq=s)) for b, s in cells]
        sides += [side(a, b) for a, b in pairs]
        parts.append("CPU, ORT vs PyTorch eager per batch × seq: " + "; ".join(
            f"{b}×{s}: {vs(a, t) if side(a, t) != 'b' else 'PyTorch ' + vs(t, a)}"
            for (b, s), (a, t) in zip(cells, pairs)))
    else:
        parts.append(pending("the CPU grid", "bash benchmarks/cpu_suites.sh "
                                             "bert-torch-vs-ort-cpu"))
    cells = ((1, 128), (16, 128), (16, 500))
    gpu = [(bert(b, s)["ORT CUDA"], bert(b, s)["PyTorch eager"]) for b, s in cells]
    sides += [side(a, b) for a, b in gpu]
    parts.append("H100 (1 process), unfused ORT CUDA vs PyTorch eager: " + "; ".join(
        f"{b}×{s}: {vs(a, t)}" for (b, s), (a, t) in zip(cells, gpu))
        + f" ([summary]({ctx.bench(BERT + '/summary.csv')}))")
    return ["PyTorch BERT is slower than ORT in every batch × seq cell", "; ".join(parts),
            verdict(sides), "ORT CUDA runs TF32 (its default), PyTorch does not"]


def _oom(ctx: Context) -> list[str]:
    oom = Run(TF, "cpu").pick(model="keras-encoder", runtime="tf-call",
                              opts={"allocator_limit_mb": 128})
    return ["PyTorch BERT runs out of CUDA memory at batch 16 × seq 500",
            f"the CPU stand-in (TF's allocator capped at 128 MB): `{oom.point.status}`, "
            "recorded and the suite goes on; the PyTorch CUDA cell under an 860 MB cap: "
            + pending("GPU", "bash benchmarks/gpu/h100.sh bertgrid"),
            "agrees (stand-in)" if oom.point.status == "oom" else "differs",
            "an 11 GB card there; a cap stands in for the card here"]


@section("ref-002")
def ref_002(ctx: Context) -> str:
    return report_table([_resnet(ctx), _keras_modes(ctx), _encoder(ctx), _torch_resnet(ctx),
                         _torch_bert(ctx), _oom(ctx)])
