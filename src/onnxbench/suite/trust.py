"""A run directory is data: what resuming one may read, and what it refuses.

A run directory holds JSON (``configs/plan.json``, ``artifacts/*/artifact.json``,
``raw/*/result.json``), ONNX graphs and safetensors weights. It may have come from anyone
(a colleague's tarball, a CI artifact), so resuming one must not run code it names:

- every file an ``artifact.json`` points to (``onnx``, ``torch_state``) must resolve, links
  followed, inside the run directory's ``artifacts/``, always (onnxbench never writes one
  outside): ``confined``;
- a plan that names code (``file.py:factory``: importing it runs it) or a file outside the
  run directory (a model, a ``weights`` / ``data_dir`` folder) is refused on ``--resume``
  unless the user says ``--trust``: ``plan_references`` lists them, ``check_resume`` refuses.

Zoo models (``dcnv2``, ``bert``, ...) are onnxbench's own code and need no trust.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxbench.core.errors import UserError
from onnxbench.core.files import confined, in_dir, inside

if TYPE_CHECKING:
    from onnxbench.core.case import Case

# options that name a file or a folder (model build options, the user's labelled data)
PATH_OPTIONS = ("weights", "data_dir", "accuracy_data", "reference")


def is_code(model: str) -> bool:
    """A ``file.py:factory`` model: running it runs the user's code."""
    from onnxbench.model.zoo import is_factory

    return is_factory(model)


def plan_references(cases: Iterable[Case], run_dir: Path) -> tuple[list[str], list[str]]:
    """(code the plan would import, paths outside ``run_dir`` it would read)."""
    cases = list(cases)
    files = [v for c in cases for v in [c.inputs, *(c.options.get(k) for k in PATH_OPTIONS)]]
    return references([c.model for c in cases], files, run_dir)


def references(models: Iterable[str], files: Iterable[Any], run_dir: Path
               ) -> tuple[list[str], list[str]]:
    """(code among ``models``, models and ``files`` outside ``run_dir``): what a record read
    back from a run directory would run or read."""
    from onnxbench.model.zoo import spec_names

    names = set(spec_names())
    code: dict[str, None] = {}
    outside: dict[str, None] = {}
    for model in models:
        if is_code(model):
            code[model] = None
        elif model not in names and not inside(model, run_dir):
            outside[model] = None
    for value in files:
        if isinstance(value, str) and value and not inside(value, run_dir):
            outside[value] = None
    return list(code), list(outside)


def check_resume(cases: list[Case], run_dir: Path, trust: bool) -> None:
    """What must hold before a resume runs anything, each refused in one line: artifact
    records inside the run directory (always); no code and no outside file in the plan's
    pending ``cases`` unless ``trust``; every model file they need present."""
    check_artifact_records(run_dir)
    if not trust:
        _refuse_references(cases, run_dir)
    check_models_present(cases, run_dir)


def check_models_present(cases: Iterable[Case], run_dir: Path) -> None:
    """Each model file (or factory's .py, or TensorFlow source) of ``cases`` exists."""
    from onnxbench.model.zoo import spec_names

    names = set(spec_names())
    for model in dict.fromkeys(c.model for c in cases):
        if model in names:
            continue
        path = model.split(":", 1)[0] if is_code(model) else model
        if not os.path.exists(path):
            how = "" if os.path.isabs(path) else f" (relative to {os.getcwd()})"
            raise UserError(f"{Path(run_dir) / 'configs' / 'plan.json'}: model {path}{how} "
                            "not found; nothing ran: put it back (or resume from the "
                            "directory its path is relative to) and resume again")


def _refuse_references(cases: list[Case], run_dir: Path) -> None:
    refuse_untrusted(*plan_references(cases, run_dir), run_dir / "configs" / "plan.json")


def refuse_untrusted(code: list[str], outside: list[str], record: Path) -> None:
    """UserError naming ``record`` when it names code or outside files (a resume without
    ``--trust``)."""
    if not code and not outside:
        return
    parts = []
    if code:
        parts.append(f"code it would run ({_few(code)})")
    if outside:
        parts.append(f"files outside the run directory ({_few(outside)})")
    raise UserError(f"{record}: names {' and '.join(parts)}; a run "
                    "directory is data, so resuming it would trust whoever wrote it: add "
                    "--trust if you made it (or trust its author)")


def check_artifact_records(run_dir: Path) -> None:
    """Every ``artifacts/*/artifact.json`` names only files inside ``artifacts/``."""
    root = in_dir(run_dir, "artifacts")  # the folder itself, too, may not lead out
    for found in sorted(root.glob("*/artifact.json")):
        meta_path = in_dir(run_dir, "artifacts", found.parent.name, found.name)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # an unreadable record is rebuilt, never trusted
        for key in ("onnx", "state_file", "torch_state"):  # torch_state: older runs
            value = meta.get(key) if isinstance(meta, dict) else None
            if value:
                confined(meta_path.parent / str(value), root, f"{meta_path}: {key}")


def _few(items: list[str], n: int = 2) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
