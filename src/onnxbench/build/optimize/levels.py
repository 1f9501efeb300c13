"""ONNX Runtime's offline graph optimisation at a chosen level, saved to a file.

ORT optimises every graph at session creation anyway; saving the optimised graph
(``SessionOptions.optimized_model_filepath``) shows what the level changed and lets a
deployment skip that work at start-up. Graphs saved at ``all`` (layout optimisations) are
specific to the provider and hardware they were made on: the step says so.
"""

from __future__ import annotations

from pathlib import Path

from onnxbench.build.optimize.report import StepReport, summarize_graph
from onnxbench.core.errors import UserError

LEVELS = ("disabled", "basic", "extended", "all")


def ort_level(level: str):
    """The ``GraphOptimizationLevel`` for a level name; UserError names the allowed ones."""
    import onnxruntime as ort

    table = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if level not in table:
        raise UserError(f"--level: unknown optimisation level {level!r}; "
                        f"choose one of: {', '.join(LEVELS)}")
    return table[level]


def optimize_level(src: Path, dst: Path, level: str,
                   providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> StepReport:
    """Create a session at ``level`` that writes its optimised graph to ``dst``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort_level(level)
    opts.optimized_model_filepath = str(dst)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    ort.InferenceSession(str(src), sess_options=opts, providers=list(providers))
    step = StepReport(step="level", settings={"level": level, "providers": list(providers)},
                      after=summarize_graph(Path(dst)))
    if level == "all":
        step.notes.append("level 'all' applies layout optimisations specific to the provider "
                          "and CPU it was saved on; re-create it on the deployment machine")
    return step
