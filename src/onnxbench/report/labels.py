"""Short labels: say once what every case of a group shares, and per case only what differs.

A suite usually sets the same options on every case (threads, verify, accuracy, ...). Repeating
them in every column and row label makes tables nobody can read, so a group's shared options
are factored out into one line ("options (all cases): threads=1, verify=True") and a label
names the runtime plus the fields that vary inside the group (exporter, precision, options).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from onnxbench.case import Case
from onnxbench.errors import UserError

RUNTIME_LABELS = {
    "ort-cpu": "ORT CPU", "ort-cuda": "ORT CUDA", "ort-trt": "ORT TensorRT",
    "torch-cpu": "PyTorch CPU", "torch-cuda": "PyTorch CUDA",
    "torch-compile-cpu": "PyTorch compiled CPU", "torch-compile-cuda": "PyTorch compiled CUDA",
    "tf-call": "TF call (tf.function)", "tf-eager-call": "TF eager call",
    "tf-predict-on-batch": "TF predict_on_batch",
    "tf-predict": "TF predict", "tf-saved-model": "TF SavedModel",
}
# case fields a label may need besides the runtime; options are keyed "options.<name>"
FIELDS = ("exporter", "precision", "batch", "seq", "hardware")
# fields that some cases lack by nature (not "differ"): varying only with two values
SOMETIMES = ("exporter",)


def runtime_label(runtime: str) -> str:
    return RUNTIME_LABELS.get(runtime, runtime)


@cache
def runtime_traits(runtime: str) -> tuple[str, str] | None:
    """(framework, device) the runtime registry declares for ``runtime`` (plugins included);
    None for a name no longer registered here (a run made with a plugin not installed now).
    The report asks the registry, never the name, what a runtime is."""
    from onnxbench.runtimes.registry import runtime_class

    try:
        cls = runtime_class(runtime)
    except UserError:
        return None
    return str(cls.framework), str(cls.device)


def runtime_framework(runtime: str) -> str | None:
    """``onnx`` / ``torch`` / ``tf`` / ``test`` as registered, or None when unknown here."""
    traits = runtime_traits(runtime)
    return traits[0] if traits else None


def model_title(model: str) -> str:
    """A zoo name as is; a path (``.onnx`` or ``file.py:factory``) by its file name."""
    return model.rsplit("/", 1)[-1] if "/" in model else model


def model_config(case: Case) -> str:
    return model_title(case.model) + (f"/{case.config}" if case.config else "")


def _value(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str) if isinstance(v, (dict, list)) else str(v)


def fields_of(case: Case) -> dict[str, str]:
    """The label-worthy fields of a case, flattened, as text. The exporter counts only where
    the runtime runs the exported graph (PyTorch runtimes run the module itself)."""
    out = {f: _value(getattr(case, f)) for f in FIELDS if getattr(case, f) is not None}
    if runtime_framework(case.runtime) == "torch":
        out.pop("exporter", None)
    out.update({f"options.{k}": _value(v) for k, v in case.options.items()})
    return out


def split_fields(cases: Iterable[Case]) -> tuple[dict[str, str | None], list[str]]:
    """(fields equal in every case, names of fields that differ), in a stable order."""
    cases = list(cases)
    flat = [fields_of(c) for c in cases]
    names: list[str] = []
    for f in flat:
        names += [k for k in f if k not in names]
    common, varying = {}, []
    for k in names:
        values = {f.get(k) for f in flat if k in f or k not in SOMETIMES}
        if len(values) == 1:
            common[k] = values.pop()
        else:
            varying.append(k)
    return common, varying


def common_options_line(cases: Iterable[Case]) -> str:
    """"options (all cases): threads=1, verify=True", or "" when no option is shared."""
    common, _ = split_fields(cases)
    opts = [f"{k.removeprefix('options.')}={v}" for k, v in sorted(common.items())
            if k.startswith("options.")]
    return f"options (all cases): {', '.join(opts)}" if opts else ""


def differing(case: Case, varying: Iterable[str], skip: Iterable[str] = ()) -> list[str]:
    """The case's values of the varying fields, as "name=value" (precision/exporter bare)."""
    flat, skip = fields_of(case), set(skip)
    out = []
    for k in varying:
        if k in skip:
            continue
        v = flat.get(k)
        if v is None:  # an option this case does not set: nothing to say
            continue
        out.append(v if k in ("precision", "exporter") else f"{k.removeprefix('options.')}={v}")
    return out


def case_label(case: Case, varying: Iterable[str], *, skip: Iterable[str] = (),
               prefix: str = "") -> str:
    """"ORT CPU (int8-dynamic; fuse=bert)": runtime plus what differs, nothing shared."""
    bits = differing(case, varying, skip)
    head = f"{prefix}{runtime_label(case.runtime)}"
    return head + (f" ({'; '.join(bits)})" if bits else "")
