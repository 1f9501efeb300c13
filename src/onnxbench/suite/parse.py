"""Reading a suite: find it (built-in name or path), parse its YAML, validate it with the
schema (``suite/schema.py``) and its semantic checks, and turn every mistake into ONE line
naming the file, the line (from the YAML node marks), the field path, the bad value and
what would be right, e.g.::

    suites/x.yaml:7: cases[0].runtime: unknown field; did you mean 'runtimes'? ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from onnxbench.core.errors import UserError
from onnxbench.core.load_spec import ScenarioBlock
from onnxbench.suite.schema import (
    AXES,
    CaseEntry,
    Defaults,
    ExecutorSpec,
    MeasureSpec,
    Suite,
    _did_you_mean,
    _executor_name,
    absolute_paths,
    check_names,
    check_suite_options,
)
from onnxbench.suite.yamlsafe import compose_suite_yaml, read_suite_text


def builtin_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "suites"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def find_suite(name_or_path: str) -> Path:
    """A built-in suite by name, or a user's YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if path.is_dir():
            raise UserError(f"{name_or_path}: is a directory; give the suite's .yaml file")
        if not path.is_file():
            raise UserError(f"{name_or_path}: no such suite file; give a YAML path or one of "
                            f"the built-in suites: {', '.join(builtin_names())}")
        return path
    builtin = builtin_dir() / f"{name_or_path}.yaml"
    if builtin.is_file():
        return builtin
    raise UserError(f"unknown suite {name_or_path!r}; choose one of: "
                    f"{', '.join(builtin_names())}, or give a path to a .yaml file")


def load_suite(name_or_path: str) -> tuple[Suite, Path, str]:
    """Read, parse and validate a suite; returns (suite, its path, the text as given)."""
    path = find_suite(name_or_path)
    text = read_suite_text(path)
    return parse_suite(text, str(path)), path, text


def executor_spec(text: str, source: str = "<suite>") -> ExecutorSpec:
    """Only the ``executor:`` of a suite's text (resume reads it from ``configs/``)."""
    data = compose_suite_yaml(text, source)[1]
    value = data.get("executor") if isinstance(data, dict) else None
    try:
        return ExecutorSpec.model_validate(_executor_name(value) if value is not None else {})
    except ValidationError as exc:
        raise UserError(f"{source}: executor: {exc.errors()[0]['msg']}") from None


def parse_suite(text: str, source: str = "<suite>") -> Suite:
    """Validate suite YAML text; UserError with file:line: field: problem on any mistake.

    File paths in the suite (models, ``weights``, ``data_dir``) are made absolute against
    the current directory, so the plan runs (and resumes) from anywhere.
    """
    node, data = compose_suite_yaml(text, source)
    if not isinstance(data, dict):
        raise UserError(f"{source}: a suite is a YAML mapping with 'suite:' and 'cases:'")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _scalar_loc(data, err["loc"])
        raise UserError(_where(source, node, loc) + _describe({**err, "loc": loc}, data)) \
            from None
    problem = check_names(suite) or check_suite_options(suite)
    if problem:
        loc, msg = problem
        raise UserError(_where(source, node, loc) + msg)
    return absolute_paths(suite)


def _where(source: str, node: yaml.Node | None, loc: tuple) -> str:
    """``file:line: field.path: `` for a pydantic/our loc, via the YAML node marks."""
    line = _line_of(node, loc)
    path = _path_text(loc)
    return f"{source}:{line}: {path}: " if line else f"{source}: {path}: "


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            key, node = match
            line = (key.start_mark.line + 1) if part == loc[-1] else node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _path_text(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _value_at(data: Any, loc: tuple) -> Any:
    for part in loc:
        if isinstance(part, int) and not isinstance(data, list):
            return data  # a scalar axis value, wrapped in a list by _as_list: the whole value
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _scalar_loc(data: Any, loc: tuple) -> tuple:
    """``loc`` without the list index pydantic adds to a scalar axis value (batch: "eight"
    is ``batch``, not ``batch[0]``)."""
    for i, part in enumerate(loc):
        if isinstance(part, int) and not isinstance(_value_at(data, loc[:i]), list):
            return tuple(loc[:i])
    return tuple(loc)


def _allowed_fields(loc: tuple) -> list[str]:
    parent = loc[:-1]
    if not parent:
        return list(Suite.model_fields)
    if parent[-1] == "measure":
        return list(MeasureSpec.model_fields)
    if parent[-1] == "scenario":
        return list(ScenarioBlock.model_fields)
    if parent == ("executor",):
        return list(ExecutorSpec.model_fields)
    if parent == ("defaults",):
        return list(Defaults.model_fields)
    return list(CaseEntry.model_fields)



def _describe(err: dict[str, Any], data: Any) -> str:
    """The problem and what would be right, for one pydantic error."""
    loc, kind = err["loc"], err["type"]
    value = _value_at(data, loc)
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc)
        return (f"unknown field {loc[-1]!r}; {_did_you_mean(str(loc[-1]), allowed)}"
                f"allowed: {', '.join(allowed)}")
    if kind == "missing":
        return "required field is missing"
    if isinstance(value, (list, dict)) and kind.endswith(("_type", "_parsing")) \
            and not isinstance(_value_at(data, loc[:-1]), list):
        return (f"got a {type(value).__name__} ({value!r}) where a single value belongs; "
                f"only these fields expand as lists: {', '.join(AXES)} (and ab:)")
    return f"{err['msg'].removeprefix('Value error, ').rstrip('.')}; got {value!r}"
