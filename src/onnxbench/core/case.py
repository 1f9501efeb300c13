"""A Case: one measurement to make, as plain data, and its stable id.

A case names a model (a zoo name, an ``.onnx`` path or a ``file.py:factory``), its config,
the exporter that produced the ONNX graph (``None`` when the model *is* an ONNX file or
the runtime runs PyTorch directly), the runtime, one batch size, an optional sequence
length, a precision, runtime options and the measurement policy. Its id is a readable,
filesystem-safe slug of those fields, so re-runs find finished cases (resume) and a
summary can be rebuilt from ``raw/`` alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from onnxbench.core.load_spec import LoadSpec
from onnxbench.core.options import EXPORT_OPTIONS, OPTIMIZE_OPTIONS
from onnxbench.core.policy import MeasurePolicy

__all__ = ["EXPORT_OPTIONS", "OPTIMIZE_OPTIONS", "Case", "case_id", "point_id",
           "tag_colliding_models"]


# ab: keys that name a case field (the rest name an option)
AB_FIELDS = {"model": "model", "config": "config", "exporter": "exporter", "runtime": "runtime",
             "runtimes": "runtime", "batch": "batch", "seq": "seq", "precision": "precision",
             "options": "options"}

class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="zoo name, path to an .onnx file, or path/to/file.py:factory")
    config: str | None = Field(None, description="named config of a zoo model")
    exporter: str | None = Field(None, description="exporter that produced the ONNX graph")
    runtime: str = Field(
        description="runtime name, e.g. ort-cpu, torch-cpu, ort:OpenVINOExecutionProvider")
    batch: int = Field(ge=1)
    seq: int | None = Field(None, ge=1)
    precision: str = "fp32"
    options: dict[str, Any] = Field(default_factory=dict, description="runtime/model options")
    shapes: dict[str, list[int]] = Field(default_factory=dict, description="explicit input shapes")
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict,
                                                   description="value ranges of inputs (inclusive)")
    values: dict[str, float] = Field(default_factory=dict,
                                     description="inputs filled with one value")
    inputs: str | None = Field(None,
                               description="the user's inputs: .npz, .npy folder or ORT test data")
    seq_mix: list[tuple[int, float]] | None = Field(
        None, description="mixed shapes: (sequence length, weight) pairs run in one session")
    measure: MeasurePolicy = Field(default_factory=MeasurePolicy)
    repeat: int = Field(0, ge=0, description="index of this repeat (0-based)")
    seed: int = 0
    scenario: LoadSpec | None = Field(None, description="a load point (onnxbench.scenarios); "
                                      "None is single-stream, one request at a time")
    hardware: str | None = Field(None, description="machine type (a Ray node resource) it runs on")
    trim_runs: tuple[int, int] = Field(
        (0, 0), description="(min_runs, max_runs) this process times fewer than measure's "
        "share, so a point's processes add up to the runs asked for (not part of the id)")
    model_tag: str | None = Field(None, description="the parent folders (else a short hash) "
                                  "of the model, set by "
                                  "tag_colliding_models only where two models of one plan "
                                  "share a label (a/model.onnx, b/model.onnx)")

    @property
    def case_id(self) -> str:
        return case_id(self)

    @property
    def scenario_name(self) -> str:
        """How the case is measured: the scenario registry's key (``onnxbench.scenarios``)."""
        if self.scenario is not None:
            return self.scenario.name
        if self.options.get("pipeline"):
            return "pipeline"
        return "seq-mix" if self.seq_mix else "single-stream"

    @property
    def policy(self) -> MeasurePolicy:
        """The measurement policy this process runs: ``measure`` less its ``trim_runs``."""
        fewer_min, fewer_max = self.trim_runs
        if not (fewer_min or fewer_max):
            return self.measure
        m = self.measure
        return m.model_copy(update={"min_runs": max(1, m.min_runs - fewer_min),
                                    "max_runs": max(1, m.max_runs - fewer_max)})

    @property
    def point_id(self) -> str:
        """The case id without its ``_rK`` repeat suffix: the repeats of one point share it."""
        return point_id(self.case_id)

    @property
    def artifact_key(self) -> str:
        """Cases with the same key share one export (model, config, exporter, export options)."""
        export_opts = {k: v for k, v in sorted(self.options.items()) if k in EXPORT_OPTIONS}
        pad = int(self.options.get("pad_batch_to") or 0)
        if pad > int(self.options.get("export_batch") or 2):  # exported at the padded batch
            export_opts["export_batch"] = pad
        parts = [_model_part(self), self.config or "", self.exporter or "none",
                 self.precision]
        if export_opts:
            parts.append(_short_hash(export_opts))
        return "_".join(p for p in parts if p)


def _model_label(model: str) -> str:
    # a path becomes its file stem; a factory path keeps the factory name
    if ":" in model and model.split(":", 1)[0].endswith(".py"):
        path, factory = model.split(":", 1)
        return f"{path.rsplit('/', 1)[-1].removesuffix('.py')}-{factory}"
    return re.sub(r"\.onnx$", "", model.rsplit("/", 1)[-1], flags=re.IGNORECASE)


def _model_part(case: Case) -> str:
    """The model's slug in ids; with its tag where another model of the plan shares it."""
    label = _slug(_model_label(case.model))
    return f"{label}-{case.model_tag}" if case.model_tag else label


def tag_colliding_models(cases: Iterable[Case]) -> list[Case]:
    """``cases`` with ``model_tag`` set on every case whose model shares its label with
    another model of the same cases, so v1/model.onnx and v2/model.onnx get distinct case
    ids and artifact keys (``model-v1_...``, ``model-v2_...``): the tag is the nearest parent
    folders that tell the colliding files apart, else a short hash of the model string.
    Models whose labels are unique keep their ids unchanged."""
    cases = list(cases)
    by_label: dict[str, set[str]] = {}
    for c in cases:
        by_label.setdefault(_slug(_model_label(c.model)), set()).add(c.model)
    tags = {m: tag for models in by_label.values() if len(models) > 1
            for m, tag in _folder_tags(sorted(models)).items()}
    return [c.model_copy(update={"model_tag": tags[c.model]})
            if c.model in tags and c.model_tag is None else c for c in cases]


def _folder_tags(models: list[str]) -> dict[str, str]:
    """For models that share a label: the fewest trailing parent folders (joined by "-")
    that tell them apart, or a short hash each where no folders do."""
    parents = {m: [_slug(p) for p in Path(m.split(":", 1)[0]).parent.parts if p != "/"]
               for m in models}
    for depth in range(1, max(len(p) for p in parents.values()) + 1):
        tags = {m: "-".join(p[-depth:])[-40:] for m, p in parents.items()}
        if all(tags.values()) and len(set(tags.values())) == len(models):
            return tags
    return {m: _short_hash(m)[:8] for m in models}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-").lower() or "x"


def _short_hash(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:8]


def _scenario_part(case: Case, extra: dict[str, Any]) -> list[str]:
    """A load point's readable slug (its fields also enter the hash); none for single-stream."""
    if case.scenario is None:
        return []
    # newer LoadSpec fields enter the hash only when set; confirm_s only for a peak search
    skip = {k for k in ("generator",) if getattr(case.scenario, k) is None}
    if case.scenario.name != "peak":
        skip.add("confirm_s")
    extra["scenario"] = case.scenario.model_dump(mode="json", exclude=skip)
    return [_slug(case.scenario.slug())]


def case_id(case: Case) -> str:
    """Readable, stable, filesystem-safe id:
    ``model[-tag][_config]_exporter_runtime_bN[_sN]_precision[_options-slug][_hash][_hw-NAME]_rK``;
    the hash covers options, shapes, ranges, measure policy and seed when any differs from
    the defaults; ``_rK`` (always there) is the repeat, and without it the id is the
    point's."""
    parts = [_model_part(case)]
    if case.config:
        parts.append(_slug(case.config))
    parts.append(_slug(case.exporter or "none"))
    parts.append(_slug(case.runtime))
    parts.append(f"b{case.batch}")
    if case.seq is not None:
        parts.append(f"s{case.seq}")
    if case.seq_mix:
        parts.append("smix")
    parts.append(_slug(case.precision))
    extra = {"options": case.options, "shapes": case.shapes, "ranges": case.ranges,
             "measure": case.measure.model_dump(), "seed": case.seed}
    # newer fields enter the hash only when set, so the ids of older cases stay the same
    extra.update({k: v for k, v in (("values", case.values), ("inputs", case.inputs),
                                    ("seq_mix", case.seq_mix)) if v})
    default_extra = {"options": {}, "shapes": {}, "ranges": {},
                     "measure": MeasurePolicy().model_dump(), "seed": 0}
    if case.options:
        parts.append(_slug("-".join(f"{k}={v}" for k, v in sorted(case.options.items())))[:60])
    parts += _scenario_part(case, extra)
    if extra != default_extra:
        parts.append(_short_hash(extra))
    if case.hardware:
        parts.append(f"hw-{_slug(case.hardware)}")
    parts.append(f"r{case.repeat}")
    return "_".join(parts)


def point_id(case_id: str) -> str:
    """A case id without its ``_rK`` repeat suffix (the repeats of one point share it)."""
    head, sep, tail = case_id.rpartition("_r")
    return head if sep and tail.isdigit() else case_id
