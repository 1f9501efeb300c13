"""The YAML suite format, validated with pydantic; every mistake becomes ONE line.

A suite names defaults and a list of case entries. The fields documented as *axes* (model,
config, exporter, runtimes, batch, seq, precision) take a scalar or a list, and lists
expand into the matrix; ``ab: {option: [values]}`` adds option axes that the report
compares as A/B. Everything else takes one value: a list there is an error, not an axis.

A validation error names the file, the line (from the YAML node marks), the field path,
the bad value and what would be right, e.g.::

    suites/x.yaml:7: cases[0].runtime: unknown field; did you mean 'runtimes'? ...
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

from onnxbench.build.optimize import PRECISIONS
from onnxbench.core.case import AB_FIELDS
from onnxbench.core.errors import UserError, suggestion
from onnxbench.core.load_spec import ScenarioBlock
from onnxbench.core.options import OptionError, number
from onnxbench.core.policy import bounds_problem
from onnxbench.executors import EXECUTORS
from onnxbench.model.checks import check_model_seq
from onnxbench.model.frameworks import framework_of, known_exporters
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.model.zoo import is_factory, resolve, spec_names
from onnxbench.report.table_specs import TableSpec
from onnxbench.runtimes.case_options import check_options
from onnxbench.runtimes.registry import runtime_class, validate_runtime_name
from onnxbench.suite.datacheck import Problem, check_data
from onnxbench.suite.trust import PATH_OPTIONS

AXES = ("model", "config", "exporter", "runtimes", "batch", "seq", "precision", "hardware")
DEFAULT_RUNTIMES = ["ort-cpu"]


def _as_list(value: Any) -> Any:
    """A scalar axis value becomes a one-element list; None stays None (unset)."""
    if value is None or isinstance(value, list):
        return value
    return [value]


# strict: YAML already types its scalars, so `true` is not 1 and "8" is not 8
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # an int is still a float
PosInt = Annotated[int, Strict(), Field(ge=1)]
IntAxis = Annotated[list[PosInt] | None, BeforeValidator(_as_list)]
StrAxis = Annotated[list[str] | None, BeforeValidator(_as_list)]
OptStrAxis = Annotated[list[str | None] | None, BeforeValidator(_as_list)]


class MeasureSpec(BaseModel):
    """Measurement overrides; ``runs: N`` means exactly N timed runs (min = max = N)."""

    model_config = ConfigDict(extra="forbid")

    warmup: Int | None = Field(None, ge=0)
    runs: PosInt | None = None
    min_runs: PosInt | None = None
    max_runs: PosInt | None = None
    min_time_s: Float | None = Field(None, ge=0)
    max_time_s: Float | None = Field(None, gt=0)
    target_ci_pct: Float | None = Field(None, gt=0)
    unstable_iqr_ratio: Float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _in_order(self) -> MeasureSpec:
        fields = self.model_dump(exclude_none=True)
        if "runs" in fields:  # runs: N is min = max = N unless one is given beside it
            fields = {"min_runs": fields["runs"], "max_runs": fields["runs"], **fields}
        problem = bounds_problem(fields)
        if problem:
            raise ValueError(problem)
        return self


class Axes(BaseModel):
    """Fields shared by ``defaults`` and each case entry."""

    model_config = ConfigDict(extra="forbid")

    config: OptStrAxis = None
    exporter: OptStrAxis = None
    runtimes: StrAxis = None
    batch: IntAxis = None
    seq: IntAxis = None
    precision: StrAxis = None
    hardware: StrAxis = None  # machine types: Ray node resources (needs the ray executor)
    options: dict[str, Any] | None = None
    measure: MeasureSpec | None = None
    repeats: PosInt | None = None
    processes: PosInt | None = None
    timeout_s: Annotated[float | None, number(0, above=True)] = None
    seed: Int | None = None
    scenario: ScenarioBlock | None = None  # load points (onnxbench.scenarios); lists expand


class Defaults(Axes):
    """Suite-wide values each case inherits unless it sets its own."""


class CaseEntry(Axes):
    """One block of the matrix: its axes expand into cases."""

    model: Annotated[list[str] | None, BeforeValidator(_as_list)] = None
    shapes: dict[str, list[PosInt]] | None = None
    ranges: dict[str, tuple[Float, Float]] | None = None
    values: dict[str, Float] | None = None
    inputs: str | None = None
    seq_mix: Any = None
    ab: dict[str, list[Any]] | None = None


def _executor_name(value: Any) -> Any:
    """``executor: ray`` is short for ``executor: {name: ray}``."""
    return {"name": value} if isinstance(value, str) else value


class ExecutorSpec(BaseModel):
    """Where the cases run: ``local`` (this host, one after another) or ``ray`` (a cluster)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "local"
    address: str | None = None       # ray: auto, HOST:PORT; none starts a local cluster
    share_cpu_nodes: bool = False    # ray: CPU cases without threads may share a node


class Suite(BaseModel):
    """A whole suite file."""

    model_config = ConfigDict(extra="forbid")

    suite: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    executor: Annotated[ExecutorSpec, BeforeValidator(_executor_name)] = \
        Field(default_factory=ExecutorSpec)
    defaults: Defaults = Field(default_factory=Defaults)
    cases: list[CaseEntry] = Field(min_length=1)
    tables: list[TableSpec] = Field(default_factory=list)  # extra report tables (table_specs)


# ------------------------------------------------------------------ semantic checks


def check_names(suite: Suite) -> Problem | None:
    """Names pydantic cannot know: models, configs, runtimes, option values; what the
    cases run on (``suite.datacheck``)."""
    checks = [_check_executor(suite.executor), _check_axes(("defaults",), suite.defaults, None)]
    for i, entry in enumerate(suite.cases):
        checks.append(_check_models(i, entry, defaults=suite.defaults))
        checks.append(_check_axes(("cases", i), entry, entry))
        checks.append(check_data(i, entry, suite.defaults))
        checks.append(_check_ab(i, entry))
    return next((p for p in checks if p), None)


def _check_ab(i: int, entry: CaseEntry) -> Problem | None:
    """An ``ab:`` axis over a case field takes that field's values (checked as its axis)."""
    ab = entry.ab or {}
    key_of = {ab_field(k): k for k in ab}
    if "model" in key_of:
        models = entry.model_copy(update={"model": ab[key_of["model"]]})
        problem = _check_models(i, models, ("ab", key_of["model"]))
        if problem:
            return problem
    elif not entry.model:
        return ("cases", i, "model"), "required field is missing (or give ab: {model: [A, B]})"
    kinds = {"batch": int, "seq": int, "precision": str, "config": str, "options": dict}
    for f, k in key_of.items():
        kind = kinds.get(f)
        for j, v in enumerate(ab[k]):
            if kind and (not isinstance(v, kind) or isinstance(v, bool)
                         or (kind is int and isinstance(v, int) and v < 1)):
                want = {int: "an integer >= 1", str: "a string", dict: "a mapping of options"}
                return ("cases", i, "ab", k, j), f"{want[kind]} expected for {f}; got {v!r}"
    axes = {"runtime": "runtimes", "exporter": "exporter"}
    update: dict[str, Any] = {axes[f]: ab[k] for f, k in key_of.items() if f in axes}
    problem = _check_axes(("cases", i), Axes.model_construct(**update), None) if update else None
    if problem:
        loc, msg = problem
        key = next(k for f, k in key_of.items() if axes.get(f) == loc[2])
        return ("cases", i, "ab", key) + loc[3:], msg
    return None


def _check_models(i: int, entry: CaseEntry, where: tuple = ("model",),
                  defaults: Defaults | None = None) -> Problem | None:
    for j, model in enumerate(entry.model or []):
        loc = ("cases", i, *where, j)
        path = model_file(model)
        if path is not None:
            if Path(path).is_dir():
                return loc, f"model file {path!r} is a directory; give the model file in it"
            if not Path(path).is_file():
                return loc, f"model file {path!r} not found; give an existing path or a zoo name"
            problem = _seq_problem(i, entry, defaults, model)
            if problem:
                return problem
            continue
        spec, problem = _zoo_spec(model)
        if problem:
            return loc, problem
        problem = _seq_problem(i, entry, defaults, model)
        if problem:
            return problem
        for k, config in enumerate(entry.config or []):
            if config is not None and config not in spec.configs:
                return (("cases", i, "config", k),
                        f"unknown config {config!r} of model {model!r}; "
                        f"{suggestion(config, list(spec.configs))}"
                        f"choose one of: {', '.join(spec.configs)}")
        problem = _check_exporters(i, entry, defaults, model, spec)
        if problem:
            return problem
    return None


def _seq_problem(i: int, entry: CaseEntry, defaults: Defaults | None,
                 model: str) -> Problem | None:
    """A ``seq`` axis only for models with a sequence axis (``model.checks.check_seq``)."""
    own = bool(entry.seq)
    seqs = entry.seq if own else (defaults.seq if defaults else None)
    try:
        check_model_seq(model, max(seqs) if seqs else None, entry.shapes)
    except UserError as exc:
        return ("cases", i, "seq") if own else ("defaults", "seq"), str(exc)
    return None


def _check_exporters(i: int, entry: CaseEntry, defaults: Defaults | None, model: str,
                     spec: Any) -> Problem | None:
    """Each exporter the model is crossed with must be one of its framework's."""
    fw = framework_of(spec)
    own = entry.exporter is not None
    given = entry.exporter if own else (defaults.exporter if defaults else None)
    for k, exporter in enumerate(given or []):
        if exporter is not None and exporter not in fw.exporters:
            where = ("cases", i, "exporter", k) if own else ("defaults", "exporter", k)
            return where, (f"exporter {exporter!r} does not apply to {model!r}, a "
                           f"{fw.label} model; choose one of: {', '.join(fw.exporters)}")
    return None


def model_file(model: str) -> str | None:
    """The file a model string names (an ONNX file, by suffix or content, or the .py of a
    ``file.py:factory``); None for a zoo name or a TensorFlow source."""
    if is_factory(model):
        return model.split(":", 1)[0]
    return model if is_onnx_file(model) else None


def absolute_model(model: str) -> str:
    """A model string with its file made absolute (against the current directory, where it
    was checked), so a plan runs and resumes from anywhere; zoo names unchanged."""
    path = model_file(model)
    if path is None:
        if model in spec_names() or not os.path.exists(model):
            return model
        path = model  # a TensorFlow source: SavedModel directory or .keras file
    return os.path.abspath(path) + model[len(path):]  # keeps ":factory"


def absolute_paths(suite: Suite) -> Suite:
    """The suite with its model files, ``inputs`` and path options absolute
    (``absolute_model``)."""
    def absolute(path: Any) -> Any:
        return os.path.abspath(os.path.expanduser(path)) if isinstance(path, str) and path \
            else path

    def options(opts: dict[str, Any] | None) -> dict[str, Any] | None:
        if not opts:
            return opts
        return {k: absolute(v) if k in PATH_OPTIONS else v for k, v in opts.items()}

    def ab(axes: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        return {k: [absolute_model(m) if ab_field(k) == "model" and isinstance(m, str) else m
                    for m in v] for k, v in axes.items()} if axes else axes

    cases = [c.model_copy(update={"model": [absolute_model(m) for m in c.model or []] or None,
                                  "options": options(c.options), "inputs": absolute(c.inputs),
                                  "ab": ab(c.ab)})
             for c in suite.cases]
    defaults = suite.defaults.model_copy(update={"options": options(suite.defaults.options)})
    return suite.model_copy(update={"cases": cases, "defaults": defaults})


def _zoo_spec(model: str):
    try:
        return resolve(model), None
    except UserError:
        names = spec_names()
        return None, (f"unknown model {model!r}; {suggestion(model, names)}"
                      f"choose one of: {', '.join(names)}, "
                      "a path/to/model.onnx or path/to/file.py:factory")


def _check_axes(base: tuple, axes: Axes, entry: CaseEntry | None) -> Problem | None:
    for j, name in enumerate(axes.runtimes or []):
        message = _runtime_problem(name)
        if message:
            return base + ("runtimes", j), message
    for j, exporter in enumerate(axes.exporter or []):
        message = _exporter_problem(exporter)
        if message:
            return base + ("exporter", j), message
    for key, value in (axes.options or {}).items():
        if isinstance(value, (list, dict)) and key not in DICT_OPTIONS:
            return (base + ("options", key),
                    f"got a {type(value).__name__} ({value!r}) where a single value belongs; "
                    f"to compare values put them under ab: {{{key}: {value!r}}}")
    for key, values in ((entry.ab if entry else None) or {}).items():
        if len({repr(v) for v in values}) < 2:
            return (base + ("ab", key),
                    f"an A/B axis compares values: give two or more, e.g. [1, 4], not "
                    f"{values!r}; for one value use options: {{{key}: ...}}")
    return None


def _check_executor(spec: ExecutorSpec) -> Problem | None:
    if spec.name in EXECUTORS:
        return None
    known = list(EXECUTORS)
    return (("executor", "name"), (f"unknown executor {spec.name!r}; "
                                   f"{suggestion(spec.name, known)}choose one of: "
                                   f"{', '.join(known)}"))


DICT_OPTIONS = frozenset({"provider_options", "session_config", "compile"})


def _exporter_problem(name: str | None) -> str | None:
    exporters = known_exporters()
    if name is None or name in exporters:
        return None
    return (f"unknown exporter {name!r}; {suggestion(name, list(exporters))}"
            f"choose one of: {', '.join(exporters)}")


def _runtime_problem(name: str) -> str | None:
    try:
        validate_runtime_name(name)
    except UserError as exc:
        return str(exc)
    return None


def check_suite_options(suite: Suite) -> Problem | None:
    """Every case's options against the option families of its runtime (before anything
    runs): each entry's merged options (and each A/B combination, applied to the case's
    fields as the plan applies it) for each runtime, and each precision's name."""
    defaults = suite.defaults.options or {}
    for i, entry in enumerate(suite.cases):
        options = {**defaults, **(entry.options or {})}
        runtimes = entry.runtimes or suite.defaults.runtimes or DEFAULT_RUNTIMES
        precisions = entry.precision or suite.defaults.precision or ["fp32"]
        ab = entry.ab or {}
        combos = [dict(zip(ab, values)) for values in itertools.product(*ab.values())]
        for runtime, precision in itertools.product(runtimes, precisions):
            for combo in combos or [{}]:
                case = ab_case_fields(runtime=runtime, precision=precision, options=options,
                                      ab=combo)
                try:
                    check_options(case["runtime"], case["options"])
                    check_precision(case["runtime"], case["precision"])
                except OptionError as exc:
                    return _option_loc(i, entry, defaults, exc.key), str(exc)
    return None


def check_precision(runtime: str, precision: str) -> None:
    """A precision some stage can apply: a graph conversion, or the runtime's own (PyTorch
    runtimes convert the module); one the runtime cannot apply is a skip when it runs."""
    known = list(PRECISIONS) + [p for p in runtime_class(runtime).precisions if p not in PRECISIONS]
    if precision not in known:
        raise OptionError("precision", f"precision={precision!r} must be one of: "
                                       f"{', '.join(known)}")


def _option_loc(i: int, entry: CaseEntry, defaults: dict[str, Any], key: str) -> tuple:
    """Where an option was given: the entry's ab or options, else the defaults'."""
    if key in (entry.ab or {}):
        return ("cases", i, "ab", key)
    if key == "precision" and entry.precision:
        return ("cases", i, "precision")
    if key in (entry.options or {}):
        return ("cases", i, "options", key)
    if key in defaults:
        return ("defaults", "options", key)
    return ("cases", i)


def ab_field(name: str) -> str:
    """The case field an ``ab:`` key varies (``runtimes`` → ``runtime``), or the key itself
    when it names an option."""
    return AB_FIELDS.get(name, name)


def ab_case_fields(*, ab: dict[str, Any], options: dict[str, Any], **fields: Any
                   ) -> dict[str, Any]:
    """A case's fields with the A/B values applied over them: a field key sets the field
    (``options`` merges its mapping), any other key sets that option."""
    f = {**fields, "options": dict(options)}
    for name, value in ab.items():
        field_name = ab_field(name)
        if field_name == "options":
            f["options"].update(value or {})
        elif field_name in AB_FIELDS.values():
            f[field_name] = value
        else:
            f["options"][name] = value
    return f
