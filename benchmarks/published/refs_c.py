"""Reports 003 (DeBERTa acceleration survey) and 004 (image pipelines) against onnxbench."""

from __future__ import annotations

from onnxbench.report.evidence import Figure, leader_text, leaders, versus
from published.claims import accuracy, fig, pending, vs
from published.data import Context, Run, md_tables, section
from published.verdicts import AGREES, CANNOT, DIFFERS, PENDING, report_table, side, verdict

DEB = "cpu/deberta-latency"
SEQS = (5, 20, 40)
PIPE_AB = "h100/2026-11-21/pipeline-ab"
PIPE_RT = "h100/2026-11-27-h100-b/pipeline-runtimes"


def _deb(runtime: str, seq: int, **opts: object) -> Figure:
    return Run(DEB, "cpu").pick(runtime=runtime, seq=seq,
                                opts={"truncate_layers": None, "fuse": None, **opts})


def _runtime(ctx: Context) -> list[str]:
    pairs = [(_deb("ort-cpu", s), _deb("torch-cpu", s)) for s in SEQS]
    return ["ORT CPU is about 2× faster than Unity Sentis CPU at 5–40 tokens",
            "ORT CPU against PyTorch CPU (3 processes per point; "
            f"[deberta-latency]({ctx.bench(DEB + '/report.md')})): "
            + "; ".join(f"seq {s}: ORT {fig(a)}, {vs(a, b)}" for s, (a, b) in zip(SEQS, pairs)),
            verdict([side(a, b) for a, b in pairs]) + " (the direction; the baselines differ)",
            "PyTorch is the baseline here, Sentis there; DeBERTa-v2 base (12 layers) on 2 "
            "threads, not large (24) on a desktop CPU"]


def _fusion(ctx: Context) -> list[str]:
    rows, words = [], []
    for s in SEQS:
        v = versus(_deb("ort-cpu", s, fuse="bert"), _deb("ort-cpu", s))
        hi = v.ci[1] if v.ci else None
        words.append(DIFFERS if hi is not None and hi < 1.15 else CANNOT)
        rows.append(f"seq {s}: {v.text()}")
    excluded = words.count(DIFFERS)
    return ["ORT's transformer fusion should buy 15–25 % (expected, not measured)",
            "fused against plain ORT CPU: " + "; ".join(rows),
            f"{DIFFERS}: the CI excludes a 15 % gain at {excluded} of {len(SEQS)} lengths"
            if excluded else f"{CANNOT} (all tied)",
            "ORT has no attention fusion for DeBERTa's disentangled attention; the "
            "SkipLayerNormalization nodes it adds cost more than the nodes they replace (the "
            "report's explained A/B)"]


def _truncation(ctx: Context) -> list[str]:
    rows, sides = [], []
    for rt, label in (("ort-cpu", "ORT"), ("torch-cpu", "PyTorch")):
        pairs = [(_deb(rt, s, truncate_layers=2), _deb(rt, s)) for s in SEQS]
        sides += [side(a, b) for a, b in pairs]
        rows.append(f"{label}: " + ", ".join(f"seq {s} {vs(a, b)}"
                                             for s, (a, b) in zip(SEQS, pairs)))
    return ["removing 2 of 24 layers (`hidden_states[-3]`) should save ~8 %",
            "truncated (2 of 12 layers removed, proved equal to `hidden_states[-3]`) against "
            "full: " + "; ".join(rows),
            verdict(sides),
            "2 of 12 layers here (≈ 17 % of the encoder), 2 of 24 there; 3 processes resolve "
            "~10–20 % on this VM"]


def _dynamic(ctx: Context) -> list[str]:
    run = Run.maybe("cpu/seq-mix-deberta", "cpu")
    claim = "dynamic sequence length saves 10–95 % against a fixed padded length"
    if run is None:
        return [claim, pending("`--seq-mix` against padding to the longest",
                               "bash benchmarks/cpu_suites.sh seq-mix-deberta"), PENDING,
                "ORT takes dynamic shapes; Sentis did not"]
    mix = run.pick(seq=None)
    longest = max((p.seq or 0) for p in run.points)
    padded = run.pick(seq=longest)
    means = (f"; per request on average {mix.point.mean:.3g} ms against {padded.point.mean:.3g} "
             f"ms" if mix.point.mean and padded.point.mean else "")
    return [claim,
            f"DeBERTa-v2 base on ORT CPU, the same requests in one session at their own "
            f"lengths (`seq_mix`) against every request padded to {longest} tokens: median "
            f"{fig(mix)} against {fig(padded)}: {vs(mix, padded)}{means} "
            f"([report]({ctx.bench('cpu/seq-mix-deberta/report.md')}))",
            verdict([side(mix, padded)]), "the saving is the mix's share of short requests"]


def _threads(ctx: Context) -> list[str]:
    claim = ("one session runs sequentially: concurrent calls need a lock or a session per "
             "thread")
    rel = "cpu/deberta-threads/report.md"
    run = Run.maybe("cpu/deberta-threads", "cpu")
    if run is None:
        return [claim, pending("DeBERTa on one shared ORT CPU session under 2 and 4 callers",
                               "bash benchmarks/cpu_suites.sh deberta-threads"), PENDING,
                "the report's engine was ORT with DirectML through C#; this answers for the "
                "CPU provider"]
    checked = [r for t in md_tables(rel) for r in t
               if r.get("Outputs under concurrency", "–") not in ("–", "")]
    equal = sum(r["Outputs under concurrency"].startswith("equal") for r in checked)
    rates = [f"{r['Serving']} ({r['Scenario']}): {r['Inferences/s']}/s" for r in checked]
    return [claim,
            f"outputs under concurrency equal to sequential ones in {equal} of {len(checked)} "
            f"points; inferences/s: {'; '.join(rates)} ([report]({ctx.bench(rel)}))",
            DIFFERS + " (for the CPU provider)" if equal == len(checked) else "see the report",
            "ORT's `InferenceSession.run` is documented thread-safe; this answers for the CPU "
            "provider only. The report's engine was ORT with DirectML through C#, whose "
            "provider does not run ORT's parallel execution mode and whose concurrent use has "
            "had bugs (onnxruntime #20713): not measured here"]


@section("ref-003")
def ref_003(ctx: Context) -> str:
    gpu = ["(the report's question) ORT on the GPU (DirectML, CUDA) against the CPU",
           pending("ORT CUDA against PyTorch CUDA with fusion and truncation",
                   "bash benchmarks/gpu/lease.sh, lane m"), PENDING,
           "the GPU machines were not lent this session"]
    return report_table([_runtime(ctx), _fusion(ctx), _truncation(ctx), _dynamic(ctx),
                         _threads(ctx), gpu])


def _flags(ctx: Context) -> list[list[str]]:
    ab, rt = Run(PIPE_AB, "gpu"), Run(PIPE_RT, "gpu")
    rows = []
    for flag, claim, expect in (("non_blocking", "`non_blocking` improves E2E (ONNX FP32 "
                                 "ResNet-18: 2.90 vs 3.17 ms)", "a"),
                                ("pin_memory", "`pin_memory` makes no consistent difference",
                                 "none")):
        pairs = ab.flag_pairs(flag) + rt.flag_pairs(flag)
        sides = [side(a, b) for a, b in pairs]
        won = f"{flag} faster in {sides.count('a')}, slower in {sides.count('b')}"
        rows.append([claim, f"E2E, on vs off, over {len(pairs)} pairs (H100: 512 px PyTorch, "
                            f"3 processes; digits ORT/PyTorch, 2 processes): {won}, tied in "
                            f"{sides.count('tie')}", verdict(sides, expect) if expect == "a" else
                     ("agrees (none resolved)" if sides.count("tie") == len(sides)
                      else verdict(sides, "none")),
                     "the host→device copy is a small share of E2E; the report's 10 runs "
                     "carried no interval"])
    return rows


def _gpu_pipeline(ctx: Context) -> list[str]:
    run = Run(PIPE_AB, "gpu")
    parts, words = [], []
    for model in ("resnet18", "resnet50"):
        figs = {pl: run.pick(model=model, opts={"pipeline": pl, "pin_memory": None,
                                                "non_blocking": None})
                for pl in ("current", "fast", "gpu")}
        lead = leaders(figs)
        words.append(AGREES if lead == ["gpu"] else f"{CANNOT} ({model}: {leader_text(lead)})")
        parts.append(f"{model}: fastest {leader_text(lead)} (gpu {fig(figs['gpu'])}, fast "
                     f"{fig(figs['fast'])}, current {fig(figs['current'])})")
    rt = Run(PIPE_RT, "gpu")
    acc = {pl: rt.pick(runtime="ort-cuda", opts={"pipeline": pl, "pin_memory": None,
                                                 "non_blocking": None})
           for pl in ("current", "gpu")}
    doc = {pl: f.point.accuracy or {} for pl, f in acc.items()}
    lab = {pl: 100 * float(d.get("label_accuracy") or 0) for pl, d in doc.items()}
    return ["the `gpu` pipeline is fastest; ONNX FP32 on it scored 92.98 % where every other "
            "row scored 100 %, unexplained",
            "E2E, H100, 512 px PyTorch: " + "; ".join(parts)
            + f" ([pipeline-ab]({ctx.bench(PIPE_AB + '/report.md')})). ORT CUDA on the "
            f"held-out digits: label accuracy `gpu` {lab['gpu']:.3g} % vs `current` "
            f"{lab['current']:.3g} %, agreement with `current` {accuracy(acc['gpu'])}, first "
            f"divergent stage `{doc['gpu'].get('first_divergent_stage')}` "
            f"([pipeline-runtimes]({ctx.bench(PIPE_RT + '/report.md')}))",
            "speed: " + "; ".join(dict.fromkeys(words)) + "; accuracy: the divergent stage "
            "is named",
            "the `gpu` pipeline resizes on the device without antialiasing (PIL does): its "
            "inputs differ by design; on 8×8 digits that moves accuracy little"]


@section("ref-004")
def ref_004(ctx: Context) -> str:
    cpu = Run.maybe("cpu/pipeline-runtimes", "cpu")
    cpu_row = ["(the report's CPU-side rows) inference and E2E per runtime with accuracy",
               pending("CPU rows with labelled accuracy",
                       "bash benchmarks/cpu_suites.sh pipeline-runtimes") if cpu is None else
               f"[pipeline-runtimes (CPU)]({ctx.bench('cpu/pipeline-runtimes/report.md')})",
               PENDING if cpu is None else "see the report", "—"]
    trt = ["TensorRT INT8: 0.29 ms inference, the fastest row",
           pending("the INT8 row, calibrated on the model's own training digits",
                   "onnxbench run --suite pipeline-trt-int8"), PENDING,
           "TensorRT's libraries are not on the lent machines: every `ort-trt` case is "
           "skipped with that reason"]
    return report_table([*_flags(ctx), _gpu_pipeline(ctx), trt, cpu_row])
