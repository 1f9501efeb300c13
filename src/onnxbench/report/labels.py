"""Short labels: say once what every case of a group shares, and per case only what differs.

A suite usually sets the same options on every case (threads, verify, accuracy, ...). Repeating
them in every column and row label makes tables nobody can read, so a group's shared options
are factored out into one line ("options (all cases): threads=1, verify=True") and a label
names the runtime plus the fields that vary inside the group (exporter, precision, options).

What a runtime is (framework, device, display label, whether it is the reference call a
speed-up is measured against) comes from the runtime registry, never from its name:
:func:`runtime_traits`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple

from onnxbench.core.case import Case
from onnxbench.core.errors import UserError

# case fields a label may need besides the runtime; options are keyed "options.<name>"
FIELDS = ("exporter", "precision", "batch", "seq", "hardware")
# fields that some cases lack by nature (not "differ"): varying only with two values
SOMETIMES = ("exporter",)


class RuntimeTraits(NamedTuple):
    """What the runtime registry declares for a name (``Runtime`` class variables)."""

    framework: str   # onnx / torch / tf / test
    device: str      # cpu / cuda / other
    label: str       # what tables call it ("ORT CPU"); the name itself if none is declared
    reference: bool  # its framework's plain call on its device: the default baseline


@cache
def runtime_traits(runtime: str) -> RuntimeTraits | None:
    """What the runtime registry declares for ``runtime`` (plugins included); None for a
    name no longer registered here (a run made with a plugin not installed now).
    The report asks the registry, never the name, what a runtime is."""
    from onnxbench.runtimes.registry import is_reference_runtime, runtime_class, runtime_label

    try:
        cls = runtime_class(runtime)
        return RuntimeTraits(str(cls.framework), str(cls.device), runtime_label(runtime),
                             is_reference_runtime(runtime))
    except UserError:
        return None


def runtime_label(runtime: str) -> str:
    """"ORT CPU": the label the registry declares; the name itself when none is declared or
    the runtime is not registered here (its run still renders)."""
    traits = runtime_traits(runtime)
    return traits.label if traits else runtime


def is_reference(runtime: str) -> bool:
    """Is ``runtime`` registered as its framework's plain call on its device (``torch-cpu``,
    ``torch-cuda``, ``tf-call``): a series speed-ups are measured against by default?"""
    traits = runtime_traits(runtime)
    return bool(traits and traits.reference)


def runtime_framework(runtime: str) -> str | None:
    """``onnx`` / ``torch`` / ``tf`` / ``test`` as registered, or None when unknown here."""
    traits = runtime_traits(runtime)
    return traits.framework if traits else None


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


def row_labels(cases: Iterable[Case]) -> list[str]:
    """One label per case saying only what tells it apart from the others: "ORT CPU batch 8",
    "moe/default PyTorch CPU batch 64" (the model where models differ; the runtime where
    runtimes differ or nothing else would; the batch, sequence length, exporter, precision
    and options where they differ). A lone case is named in full."""
    cases = list(cases)
    _, varying = split_fields(cases)
    many_models = len({model_config(c) for c in cases}) > 1 or len(cases) == 1
    many_runtimes = len({c.runtime for c in cases}) > 1
    out = []
    for case in cases:
        bits = [b.replace("=", " ", 1) if b.startswith(("batch=", "seq=")) else b
                for b in differing(case, varying)]
        if len(cases) == 1:
            bits = [f"batch {case.batch}"] + ([f"seq {case.seq}"] if case.seq else [])
        head = [model_config(case)] if many_models else []
        head += [runtime_label(case.runtime)] if many_runtimes or not head or not bits else []
        out.append(" ".join(head + bits))
    return out


def case_label(case: Case, varying: Iterable[str], *, skip: Iterable[str] = (),
               prefix: str = "") -> str:
    """"ORT CPU (int8-dynamic; fuse=bert)": runtime plus what differs, nothing shared."""
    bits = differing(case, varying, skip)
    head = f"{prefix}{runtime_label(case.runtime)}"
    return head + (f" ({'; '.join(bits)})" if bits else "")
