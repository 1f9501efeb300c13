"""What to paste for the winner: how to make its graph, the session / module settings, the
serving settings, and a suite YAML that reproduces its measurement (``onnxbench run``).

The code is generated from the candidate's settings by the runtime's framework (an ONNX
Runtime session, a PyTorch module, a compiled one); the suite goes through the suite schema
(``tests`` load it back), so it runs as printed.
"""

from __future__ import annotations

from typing import Any

import yaml

from onnxbench.tuning.goals import Goal
from onnxbench.tuning.space import Candidate


def export_command(cand: Candidate, model: str, config: str | None) -> str | None:
    """The ``onnxbench export`` line that writes the winner's graph to ``exports/`` (None:
    a bare ONNX file, or a runtime that runs the source model)."""
    from onnxbench.model.onnxfile import is_onnx_file

    if cand.exporter is None or is_onnx_file(model):
        return None
    opts = cand.opts
    flags = [f"--config {config}"] if config else []
    flags.append(f"--exporter {cand.exporter}")
    flags += [f"--{k} {opts[k]}" for k in ("fix", "opset") if opts.get(k)]
    return f"onnxbench export {model} {' '.join(flags)} --out exports"


def graph_path(cand: Candidate, model: str) -> str:
    """Where the winner's graph is: the export's file, or the user's own ONNX file."""
    from onnxbench.build.export.matrix import model_stem

    return f"exports/{model_stem(model)}.onnx" if cand.exporter else "model.onnx"


def optimize_command(cand: Candidate, graph: str, model: str = "") -> str | None:
    """The ``onnxbench optimize`` line that makes the winner's graph (None: the plain one)."""
    from onnxbench.build.optimize import FUSE_TYPE_FOR_MODEL

    opts = cand.opts
    flags = []
    if opts.get("fuse"):
        flags.append(f"--fuse {FUSE_TYPE_FOR_MODEL.get(model, model)}")
    if cand.precision.startswith("int8"):
        flags.append(f"--int8 {cand.precision.split('-', 1)[1]}")
        flags += [f for k, f in (("per_channel", "--per-channel"),
                                 ("reduce_range", "--reduce-range")) if opts.get(k)]
        if cand.precision == "int8-static":
            flags.append(f"--calibration {opts.get('calibration') or 'minmax'}")
    elif cand.precision == "fp16":
        flags.append("--fp16")
    return f"onnxbench optimize {graph} {' '.join(flags)}" if flags else None


def session_code(cand: Candidate, graph: str) -> str:
    """The Python that runs the winner: an ORT session or the PyTorch call."""
    from onnxbench.runtimes import runtime_class

    cls = runtime_class(cand.runtime)
    opts = cand.opts
    pad = opts.get("pad_batch_to")
    padding = [f"# batch 1 fails on this model: pad every input to {pad} rows (repeat its "
               "last row), then keep only\n# the real rows of each output (pad_batch_to)"
               ] if pad else []
    if cls.framework == "onnx":
        provider = getattr(cls, "PROVIDER", None) or "CPUExecutionProvider"
        from onnxbench.runtimes.ort import LEVELS

        level = LEVELS.get(str(opts.get("graph_optimization_level") or "all"))
        return "\n".join([
            "import onnxruntime as ort",
            "so = ort.SessionOptions()",
            f"so.graph_optimization_level = ort.GraphOptimizationLevel.{level}",
            f"so.intra_op_num_threads = {cand.threads}",
            f"sess = ort.InferenceSession({graph!r}, so, providers=[{provider!r}])",
            *padding])
    lines = ["import torch", f"torch.set_num_threads({cand.threads})",
             "model = model.eval()  # your nn.Module"]
    if "mode" in cls.Options.model_fields:
        lines.append(f"model = torch.compile(model, mode={opts.get('mode') or 'default'!r})")
    lines += [*padding, "with torch.inference_mode():\n    out = model(*inputs)"]
    return "\n".join(lines)


def serving_text(cand: Candidate) -> str | None:
    s = cand.serving
    if s is None:
        return None
    text = (f"{s.workers} worker{'s' * (s.workers > 1)} ({s.layout}: "
            f"{'one process per worker' if s.layout == 'processes' else 'threads'}), "
            f"{cand.threads} intra-op thread{'s' * (cand.threads > 1)} each")
    if s.max_batch > 1:
        text += f", dynamic batching up to {s.max_batch} requests, waiting at most " \
                f"{s.max_delay_ms:g} ms"
    return text


def suite_yaml(cand: Candidate, goal: Goal, *, model: str, config: str | None,
               seq: int | None, accuracy: dict[str, Any], name: str = "tune-winner") -> str:
    """A suite that measures the winner again (with its load scenario for rate goals)."""
    from onnxbench.model.onnxfile import is_onnx_file

    entry: dict[str, Any] = {"model": model}
    if config and not is_onnx_file(model):
        entry["config"] = config
    if cand.exporter and not is_onnx_file(model):
        entry["exporter"] = cand.exporter
    entry.update({"runtimes": [cand.runtime], "batch": [goal.batch]})
    if seq:
        entry["seq"] = [seq]
    entry["precision"] = [cand.precision]
    entry["options"] = {**cand.opts, **accuracy}
    if cand.serving is not None:
        s = cand.serving
        block: dict[str, Any] = {"layout": s.layout, "workers": s.workers,
                                 "max_batch": s.max_batch, "percentile": goal.percentile,
                                 "bound_ms": goal.bound_ms}
        if s.max_batch > 1:
            block["max_delay_ms"] = s.max_delay_ms
        if goal.kind == "rate":
            block = {"name": "server", "qps": goal.qps, **block, "duration_s": 30}
        else:
            block = {"name": "peak", **block, "duration_s": 10, "confirm_s": 30}
        entry["scenario"] = block
    else:
        entry["processes"] = 5
        entry["measure"] = {"warmup": 20, "max_time_s": 10}
    doc = {"suite": name, "description": f"tune's pick for {goal.describe()}",
           "cases": [entry]}
    return yaml.safe_dump(doc, sort_keys=False)


def what_to_paste(cand: Candidate, goal: Goal, *, model: str, config: str | None,
                  seq: int | None, accuracy: dict[str, Any]) -> dict[str, Any]:
    graph = graph_path(cand, model)
    return {"export": export_command(cand, model, config),
            "optimize": optimize_command(cand, graph, model), "session": session_code(cand, graph),
            "serving": serving_text(cand),
            "suite_yaml": suite_yaml(cand, goal, model=model, config=config, seq=seq,
                                     accuracy=accuracy)}


__all__ = ["export_command", "optimize_command", "session_code", "suite_yaml",
           "what_to_paste"]
