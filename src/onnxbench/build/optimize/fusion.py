"""Transformer fusion through ``onnxruntime.transformers.optimizer``, with onnxscript's ORT
fusion rewriter for the attention the optimizer does not recognise.

The optimizer recognises exact subgraph patterns (attention, LayerNorm with a residual,
Gelu, embeddings) and replaces each with one fused contrib operator. Its attention patterns
are the TorchScript exporter's; a graph from the default (dynamo, ``torch.export``)
exporter spells attention differently (SDPA or the eager softmax path, with its own mask
arithmetic) and gets no Attention. When the expected attention is missing, the step runs
onnxscript's rewriter (``onnxscript.rewriter.ort_fusions.optimize_for_ort``: SDPA → MHA →
Attention, written for dynamo exports) first and the optimizer on its output, keeps that
graph when it has more fused attention (and ONNX Runtime loads it), and says which fuser
found it. It has no DeBERTa model type; applying the ``bert`` type to DeBERTa fuses some
pieces and not others, so the step reports, per expected fused operator, whether it
appeared and, if not, the most likely reason: a claim of speed-up needs a fused graph, not
a flag.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from onnxbench.build.optimize.report import StepReport, quiet, summarize_graph
from onnxbench.core.errors import UserError, first_line

LOG = logging.getLogger(__name__)

# For each fused-op family the bert optimizer can produce: the fused op names that count.
EXPECTED = {
    "bert": {
        "Attention": ("Attention", "MultiHeadAttention"),
        "EmbedLayerNormalization": ("EmbedLayerNormalization",),
        "SkipLayerNormalization": ("SkipLayerNormalization", "SkipSimplifiedLayerNormalization"),
        "Gelu": ("Gelu", "FastGelu", "BiasGelu", "GemmFastGelu"),
    },
}

def fusion_model_types() -> list[str]:
    from onnxruntime.transformers.optimizer import MODEL_TYPES

    return sorted(MODEL_TYPES)


def _missing_reason(family: str, ops: Counter, gaps: Mapping[str, str]) -> str:
    """Why an expected fused family did not appear: the model's own knowledge
    (``ModelSpec.fusion_gaps``) first, then the graph."""
    known = gaps.get(family)
    if known:
        return known
    if family == "Attention":
        if not ops.get("Softmax"):
            return "no Softmax in the graph: there is no attention to fuse"
        return ("attention subgraph did not match the fusion pattern (an SDPA-exported "
                "attention or a non-BERT mask path); export with attn_implementation='eager' "
                "and the TorchScript exporter for the pattern the optimizer knows")
    if family == "Gelu" and not (ops.get("Erf") or ops.get("Tanh") or ops.get("Gelu")):
        return "no Erf/Tanh/Gelu in the graph: there is no Gelu to fuse"
    if family in ("SkipLayerNormalization", "EmbedLayerNormalization") and not (
            ops.get("LayerNormalization") or ops.get("ReduceMean")):
        return "no LayerNormalization in the graph"
    if family == "EmbedLayerNormalization" and not ops.get("Gather"):
        return "no embedding lookup (Gather) feeding a LayerNormalization"
    return "the subgraph around it did not match the optimizer's pattern"


def _const_ints(model) -> dict[str, list[int]]:
    """Integer constants of the graph (Constant nodes and initializers) by output name."""
    from onnx import numpy_helper

    found = {}
    for init in model.graph.initializer:
        if init.data_type in (6, 7) and 0 < np.prod(init.dims or [1]) <= 8:
            found[init.name] = numpy_helper.to_array(init).ravel().tolist()
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            arr = numpy_helper.to_array(node.attribute[0].t)
            if arr.dtype.kind in "iu" and arr.size <= 8:
                found[node.output[0]] = arr.ravel().tolist()
    return found


def detect_heads(path: Path) -> tuple[int, int]:
    """(num_heads, hidden_size) read from the graph, or (0, 0) when not found.

    hidden = the width of the LayerNormalization scales; heads = hidden / D of the first
    ``Reshape(x, [b, s, H or -1, D])`` that splits hidden into heads, whose
    shape is a constant or a Concat of constants, as the TorchScript exporter writes it.
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    ln_scales = [n.input[1] for n in model.graph.node if n.op_type == "LayerNormalization"]
    dims = {i.name: list(i.dims) for i in model.graph.initializer}
    hidden = next((dims[s][0] for s in ln_scales if len(dims.get(s, [])) == 1), 0)
    consts, producers = _const_ints(model), {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.op_type != "Reshape" or not hidden:
            continue
        shape = consts.get(node.input[1])
        src = producers.get(node.input[1])
        if shape is None and src is not None and src.op_type == "Concat" and len(src.input) == 4:
            tail = [consts.get(i) or [] for i in src.input[2:]]
            shape = [0, 0] + [t[0] for t in tail] if all(len(t) == 1 for t in tail) else None
        if not shape or len(shape) != 4 or shape[3] <= 0 or hidden % shape[3]:
            continue
        heads = hidden // shape[3]  # H may be written as -1 ([b, s, -1, D])
        if shape[2] in (-1, heads):
            return int(heads), int(hidden)
    return 0, 0  # the optimizer takes both or neither


def fuse(src: Path, dst: Path, model_type: str = "bert", *, model_hint: str | None = None,
         num_heads: int = 0, hidden_size: int = 0,
         gaps: Mapping[str, str] | None = None) -> StepReport:
    """Fuse ``src`` with the transformer optimizer's ``model_type`` and save to ``dst``.

    Never raises for a model the optimizer cannot fuse: the step comes back with
    ``applied=False`` and the reason, and ``after`` is None (the chain keeps ``src``).
    """
    if model_type not in fusion_model_types():
        raise UserError(f"--fuse: unknown model type {model_type!r}; choose one of: "
                        f"{', '.join(fusion_model_types())}")
    step = StepReport(step="fuse", settings={"model_type": model_type, "model_hint": model_hint,
                                             "num_heads": num_heads, "hidden_size": hidden_size})
    before = Counter(summarize_graph(Path(src)).op_counts)
    if not (num_heads and hidden_size):
        num_heads, hidden_size = detect_heads(Path(src))
        step.settings.update(num_heads=num_heads, hidden_size=hidden_size, detected=True)
    t0 = time.perf_counter()
    try:
        optimized = _ort_optimize(str(src), model_type, num_heads, hidden_size)
    except Exception as exc:  # noqa: BLE001 - it fails on graphs it does not understand
        step.applied = False
        step.notes.append(f"the {model_type} optimizer could not process this graph: "
                          f"{first_line(exc, limit=200)}")
        return step
    stats = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
    step.settings["attention_fuser"] = "onnxruntime.transformers.optimizer"
    _stage(step, "optimizer", t0)
    attention = EXPECTED.get(model_type, {}).get("Attention")
    if attention and not any(stats.get(n) for n in attention) and before.get("Softmax"):
        optimized, stats = _with_onnxscript(Path(src), Path(dst), model_type, num_heads,
                                            hidden_size, attention, optimized, stats, step)
    step.fused = dict(sorted(stats.items()))
    for family, names in EXPECTED.get(model_type, {}).items():
        if not any(stats.get(n) for n in names):
            step.not_fused[family] = _missing_reason(family, before, gaps or {})
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    optimized.save_model_to_file(str(dst))
    _stage(step, "save", t0)
    step.after = summarize_graph(Path(dst))
    if not stats:
        step.applied = False
        step.notes.append(f"no {model_type} fusion pattern matched this graph; "
                          "the saved graph is only cleaned up, not fused")
    return step


def _stage(step: StepReport, name: str, t0: float) -> float:
    """Record a stage's seconds in ``step.details["stage_s"]`` and log it (a worker's log
    shows it: ``isolation.worker``), so a build that takes long shows which stage holds it."""
    now = time.perf_counter()
    step.details.setdefault("stage_s", {})[name] = round(now - t0, 3)
    LOG.info("[fuse] %s: %.1f s", name, now - t0)
    return now


def _ort_optimize(src: str, model_type: str, num_heads: int, hidden_size: int):
    from onnxruntime.transformers.optimizer import optimize_model

    with quiet():
        return optimize_model(src, model_type=model_type, num_heads=num_heads,
                              hidden_size=hidden_size, opt_level=0)


def _with_onnxscript(src: Path, dst: Path, model_type: str, num_heads: int, hidden_size: int,
                     attention: tuple[str, ...], optimized, stats: dict, step: StepReport):
    """onnxscript's ORT fusions, then the optimizer; kept when it fuses more attention and
    ONNX Runtime loads the result. Returns the (optimizer model, statistics) to keep."""
    best = sum(stats.get(n, 0) for n in attention)
    with tempfile.TemporaryDirectory(prefix="onnxbench-fuse-") as tmp:
        pre = Path(tmp) / f"{dst.stem}.ortfusions.onnx"
        t0 = time.perf_counter()
        try:
            counts = onnxscript_fusions(src, pre)
            t0 = _stage(step, "onnxscript_fusions", t0)
            candidate = _ort_optimize(str(pre), model_type, num_heads, hidden_size)
            candidate.save_model_to_file(str(pre))
            t0 = _stage(step, "optimizer_after_onnxscript", t0)
            _loads(pre)
            _stage(step, "load_check", t0)
        except Exception as exc:  # noqa: BLE001 - a second opinion that fails changes nothing
            step.notes.append("onnxscript's ORT fusion rewriter could not fuse this graph "
                              f"either: {first_line(exc, limit=200)}")
            return optimized, stats
        new_stats = {k: v for k, v in candidate.get_fused_operator_statistics().items() if v}
    if sum(new_stats.get(n, 0) for n in attention) <= best:
        step.notes.append("onnxscript's ORT fusion rewriter found no attention either")
        return optimized, stats
    step.settings["attention_fuser"] = ("onnxscript.rewriter.ort_fusions.optimize_for_ort, then "
                                        "onnxruntime.transformers.optimizer")
    step.details["onnxscript_fusions"] = {k: v for k, v in counts.items() if v}
    step.notes.append("attention fused by onnxscript's ORT fusion rewriter (the optimizer's own "
                      "patterns did not match this export)")
    return candidate, new_stats


def onnxscript_fusions(src: Path, dst: Path) -> dict[str, int]:
    """Apply onnxscript's ONNX Runtime fusions (``optimize_for_ort``) to ``src``; save to
    ``dst``; the count of each fusion applied."""
    import onnx_ir as ir
    from onnxscript.rewriter.ort_fusions import optimize_for_ort

    with quiet():
        model = ir.load(str(src))
        model, counts = optimize_for_ort(model)
        ir.save(model, str(dst))
    return dict(counts)


def _loads(path: Path) -> None:
    """Raise unless ONNX Runtime (CPU) can create a session for ``path``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
