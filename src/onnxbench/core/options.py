"""A case's options: declared families, typed values, and the one check the planner runs.

A case's ``options`` mix settings for different parts of the pipeline. Each part declares
its own as a pydantic model (types, defaults, help text), an *option family*:

- ``harness``: the executor's own (``threads``, ``verify``, ``accuracy``, ``pad_batch_to``,
  ``mem_limit_mb``, ``rtol``/``atol``);
- ``pipeline``: the end-to-end image pipelines (``pipeline``, ``images``, ...);
- ``model``: the zoo model's build options (``weights``, ``image_size``, ...);
- ``export``: the ONNX export (``opset``, ``fix``, ``export_batch``);
- ``optimize``: the graph passes (``fuse``, ``level``, ``truncate_layers``, ...);
- each runtime's own ``Options`` (``onnxbench.runtimes.base.Runtime.Options``).

``onnxbench.runtimes.case_options.check_options`` validates one case's options against the union of
the families that apply to its runtime, before anything runs.

The value types (:data:`Flag`, :data:`PosInt`, :data:`Count`, :data:`NonNegFloat`,
:data:`Text`, :data:`Table`, and ``Annotated`` with :func:`integer`, :func:`number`,
:func:`choice`) accept what YAML and the command line give (``yes``/``on``/``1`` for a flag,
``"4"`` for an integer) and reject the rest; a boolean is never a number.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from onnxbench.core.errors import UserError

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


# ----------------------------------------------------------------------- value types

def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("must be true or false")


def _integer(minimum: int | None, allow_none: bool) -> Callable[[Any], int | None]:
    def check(value: Any) -> int | None:
        if value is None and allow_none:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
                isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            number = int(value)
        if number is None or (minimum is not None and number < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            raise ValueError(f"must be an integer{bound}")
        return number

    return check


def _number(minimum: float | None, above: bool, allow_none: bool) -> Callable[[Any], float | None]:
    def check(value: Any) -> float | None:
        if value is None and allow_none:
            return None
        number: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        low_ok = minimum is None or number is None or (number > minimum if above
                                                        else number >= minimum)
        if number is None or not low_ok or not math.isfinite(number):  # NaN, inf: no answer
            bound = "" if minimum is None else f" {'>' if above else '>='} {minimum:g}"
            finite = "finite " if number is not None and not math.isfinite(number) else ""
            raise ValueError(f"must be a {finite}number{bound}")
        return number

    return check


def _choice(values: tuple[str, ...], allow_none: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None and allow_none:
            return None
        for choice in values:
            if isinstance(value, str) and value.lower() == choice.lower():
                return choice
        raise ValueError(f"must be one of: {', '.join(values)}")

    return check


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if hasattr(value, "__fspath__"):
        return str(value)
    raise ValueError("must be a string")


def _table(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping of names to values")
    return {str(k): v for k, v in value.items()}


def integer(minimum: int | None = 0, *, optional: bool = True) -> BeforeValidator:
    """Metadata for ``Annotated[int | None, integer(1)]``: an integer at least ``minimum``."""
    return BeforeValidator(_integer(minimum, optional))


def number(minimum: float | None = None, *, above: bool = False,
           optional: bool = True) -> BeforeValidator:
    """Metadata for ``Annotated[float | None, number(0)]``: a real number at least (or,
    ``above``, more than) ``minimum``."""
    return BeforeValidator(_number(minimum, above, optional))


def choice(*values: str, optional: bool = False) -> BeforeValidator:
    """Metadata for ``Annotated[str, choice("a", "b")]``: one of ``values``,
    case-insensitive, returned in its canonical spelling."""
    return BeforeValidator(_choice(values, optional))


MIN_OPSET = 7  # the oldest opset the exporters write


def _opset(value: Any) -> int | None:
    """An ONNX opset this machine's ``onnx`` knows (an unknown one fails deep in the
    exporter, after pages of its IR)."""
    number = _integer(MIN_OPSET, True)(value)
    if number is None:
        return None
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if number > newest:
        raise ValueError(f"must be an ONNX opset from {MIN_OPSET} to {newest} (the newest "
                         f"onnx {onnx.__version__} knows)")
    return number


Flag = Annotated[bool, BeforeValidator(_flag)]
"""true/false; also yes/no, on/off, 1/0 (YAML and command-line spellings)."""
OptFlag = Annotated[bool | None, BeforeValidator(lambda v: None if v is None else _flag(v))]
PosInt = Annotated[int | None, integer(1)]
Count = Annotated[int | None, integer(0)]
NonNegFloat = Annotated[float | None, number(0)]
Text = Annotated[str | None, BeforeValidator(_text)]
Table = Annotated[dict[str, Any], BeforeValidator(_table)]
Opset = Annotated[int | None, BeforeValidator(_opset)]


# --------------------------------------------------------------------------- families

class OptionModel(BaseModel):
    """Base of every option family: unknown names forbidden, values typed, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    family: ClassVar[str] = ""

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(cls.model_fields)

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None, who: str) -> Any:
        """The family's options from a case's ``options`` (other names left out), validated;
        ``OptionError`` (a one-line ``UserError``) naming ``who``, the option and the value."""
        mine = {k: v for k, v in (options or {}).items() if k in cls.model_fields}
        try:
            return cls.model_validate(mine)
        except ValidationError as exc:
            raise option_error(exc, mine, who) from None

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each option's help text (the field descriptions)."""
        return {name: f.description or "" for name, f in cls.model_fields.items()}


def _profile_runs(value: Any) -> int:
    """The ``profile`` option as a number of runs (``onnxbench.profile.profile_runs``)."""
    from onnxbench.profile import profile_runs

    try:
        return profile_runs(value)
    except UserError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None


class HarnessOptions(OptionModel):
    """Options the executor itself reads, for any runtime."""

    family: ClassVar[str] = "harness"

    threads: PosInt = Field(None, description="pin OMP/MKL/OpenBLAS, torch and the runtime's "
                                               "intra-op threads to this number")
    pad_batch_to: PosInt = Field(None, description="pad a smaller batch to this size with "
                                                    "dummy rows and trim the outputs")
    verify: Flag = Field(False, description="after timing, compare the outputs with the "
                                             "source model's at this batch")
    rtol: NonNegFloat = Field(None, description="relative tolerance of verify")
    atol: NonNegFloat = Field(None, description="absolute tolerance of verify")
    accuracy: Flag = Field(False, description="after timing, the task metric through this "
                                               "runtime and its delta against fp32")
    mem_limit_mb: PosInt = Field(None, description="address-space limit of the worker (MB)")
    profile: Annotated[int, BeforeValidator(_profile_runs)] = Field(
        0, description="after timing, an untimed per-operator profiling pass on a fresh "
                       "session: true (20 runs) or the number of runs")
    accuracy_data: Text = Field(None, description="after timing, the task metric on this "
                                                  "labelled .npz (inputs plus 'labels')")
    metric: Annotated[str | None, choice("accuracy", "top5", "auc", "mse", "cosine",
                                         optional=True)] = Field(
        None, description="accuracy_data's metric (accuracy)")
    reference: Text = Field(None, description="accuracy_data: the fp32 .onnx to compare with")
    accuracy_batch: PosInt = Field(None, description="accuracy_data: rows per call (32)")


class PipelineOptions(OptionModel):
    """End-to-end image pipelines (``onnxbench.scenarios.pipeline``)."""

    family: ClassVar[str] = "pipeline"

    pipeline: Text = Field(None, description="current, fast or gpu: makes the case a "
                                             "pipeline case")
    images: PosInt = Field(None, description="number of images: seeded synthetic ones (16), "
                                             "or the first N held-out labelled digits for a "
                                             "model trained on them (all 450)")
    image_format: Annotated[str | None, choice("jpeg", "png", optional=True)] = Field(
        None, description="jpeg or png")
    pin_memory: Flag = Field(False, description="pinned host memory for the device copy")
    non_blocking: Flag = Field(False, description="asynchronous host-to-device copy")


class ModelOptions(OptionModel):
    """The zoo model's build options (part of the artifact key)."""

    family: ClassVar[str] = "model"

    weights: Text = Field(None, description="local weights folder (transformers models)")
    attn_implementation: Text = Field(None, description="transformers attention: eager, sdpa")
    data_dir: Text = Field(None, description="data folder (MNIST IDX files for moe)")
    backend: Text = Field(None, description="resnet: transformers or torchvision")
    image_size: PosInt = Field(None, description="image side (ResNet models, pipelines)")


class ExportOptions(OptionModel):
    """The ONNX export (part of the artifact key)."""

    family: ClassVar[str] = "export"

    opset: Opset = Field(None, description="ONNX opset of the export")
    fix: Text = Field(None, description="export-side fix: squeeze-dims, jit-properties "
                                        "(comma-separated to combine)")
    export_batch: PosInt = Field(None, description="example batch of the export (2)")


class OptimizeOptions(OptionModel):
    """The graph passes (``onnxbench.build.optimize``); a case setting one gets its own artifact."""

    family: ClassVar[str] = "optimize"

    level: Annotated[str | None, choice("basic", "extended", "all", optional=True)] = Field(
        None, description="ONNX Runtime offline optimisation level")
    fuse: Annotated[bool | str | None, BeforeValidator(
        lambda v: v if v is None or isinstance(v, bool) else str(v))] = Field(
        None, description="transformer fusion model type (true: the model's own name)")
    truncate_layers: Count = Field(None, description="remove the encoder's last N layers")
    keep_io_types: Flag = Field(False, description="fp16: keep float32 inputs and outputs")
    calibration: Annotated[str | None, choice("minmax", "entropy", "percentile",
                                                          optional=True)] = Field(
        None, description="int8-static calibration method")
    per_channel: OptFlag = Field(None, description="int8: one weight scale per output channel "
                                                   "(ORT's default: one per tensor)")
    reduce_range: OptFlag = Field(None, description="int8: 7-bit weights (avoids saturation "
                                                    "on CPUs without VNNI)")
    int8_op_types: Annotated[str | list[str] | None, BeforeValidator(
        lambda v: v if v is None or isinstance(v, list) else str(v))] = Field(
        None, description="int8: op types quantised, e.g. MatMul,Gemm (default: dynamic, "
                          "every type ORT knows; static, MatMul, Gemm, Conv, ConvTranspose)")
    op_block_list: Annotated[str | list[str] | None, BeforeValidator(
        lambda v: v if v is None or isinstance(v, list) else str(v))] = Field(
        None, description="fp16: op types kept in float32")
    num_heads: Count = Field(None, description="fusion hint (0 = detect)")
    hidden_size: Count = Field(None, description="fusion hint (0 = detect)")
    split_concat: Count = Field(None, description="split Concats of more than N inputs")
    fold_slices: Flag = Field(False, description="fold CTR feature slices and id casts")
    merge_embeddings: Flag = Field(False, description="merge per-feature embedding lookups")


FAMILIES: dict[str, type[OptionModel]] = {
    m.family: m for m in (HarnessOptions, PipelineOptions, ModelOptions, ExportOptions,
                          OptimizeOptions)}

# case options that act on the exported graph (onnxbench.build.optimize); precision too
OPTIMIZE_OPTIONS = OptimizeOptions.names()
# options that change the exported/optimised graph rather than how it is run: the model's
# build options, the export, the passes
EXPORT_OPTIONS = ModelOptions.names() | ExportOptions.names() | OPTIMIZE_OPTIONS


def register_family(model: type[OptionModel]) -> None:
    """Add an option family (a plugin's, or a new part of the pipeline's)."""
    FAMILIES[model.family] = model


# ---------------------------------------------------------------------- error messages

class OptionError(UserError):
    """A bad option: ``key`` is the option's name (so a suite error can point at its line)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def option_error(exc: ValidationError, given: Mapping[str, Any], who: str) -> OptionError:
    """One line for the first problem of a family's validation."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = loc[0] if loc else ""
    message = str(err["msg"]).removeprefix("Value error, ").rstrip(".")
    if err["type"] == "extra_forbidden":  # OptionModel.parse filters these: a direct call
        return OptionError(key, f"{who}: unknown option {key!r}")
    if not key:  # a model-level check (one option needs another)
        return OptionError(next(iter(given), ""), f"{who}: {message}")
    return OptionError(key, f"{who}: option {key}={given.get(key)!r} {message}")


def checked(model: type[OptionModel], name: str, value: Any, label: str | None = None) -> Any:
    """``value`` of option ``name`` as ``model`` validates it (the same constraint for the
    command line, suites and the library); a one-line ``OptionError`` naming ``label`` (the
    flag or argument, default the option's name) and the value otherwise."""
    try:
        return getattr(model.model_validate({name: value}), name)
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ").rstrip(".")
        raise OptionError(name, f"{label or name} {value!r}: {message}") from None


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.75) -> str | None:
    near = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=cutoff)
    return near[0] if near else None


__all__ = [
    "EXPORT_OPTIONS",
    "FAMILIES",
    "OPTIMIZE_OPTIONS",
    "Count",
    "ExportOptions",
    "Flag",
    "HarnessOptions",
    "ModelOptions",
    "NonNegFloat",
    "Opset",
    "OptFlag",
    "OptimizeOptions",
    "OptionError",
    "OptionModel",
    "PipelineOptions",
    "PosInt",
    "Table",
    "Text",
    "checked",
    "choice",
    "did_you_mean",
    "integer",
    "number",
    "register_family",
]
