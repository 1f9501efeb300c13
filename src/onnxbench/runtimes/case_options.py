"""The planner's check of a case's options: the union of the families for its runtime.

:func:`check_options` validates one case's options against the option families
(``onnxbench.core.options``) plus its runtime's ``Options``, before anything runs: a name no
family declares is an error (with the near miss and the valid names), a bad value is an
error naming the option, the value and what would be right. An option that only another
runtime declares is allowed (a suite shares its options between runtimes) and the runtime
records it as ignored. The suite schema, ``bench`` and ``execute_case`` all call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from onnxbench.core.options import FAMILIES, OptionError, OptionModel, did_you_mean
from onnxbench.runtimes.registry import all_runtime_option_names, runtime_class


@dataclass
class OptionsCheck:
    """What a case's options are, family by family (the planner's record)."""

    runtime: str
    families: dict[str, list[str]] = field(default_factory=dict)
    other_runtimes: list[str] = field(default_factory=list)  # declared by another runtime


def check_options(runtime: str, options: Mapping[str, Any] | None) -> OptionsCheck:
    """Validate a case's options for ``runtime``; ``OptionError`` on the first problem.

    Every name must belong to a family that applies (harness, pipeline, model, export,
    optimize, the runtime's own) or to another runtime's options; every value must fit each
    family that declares the name.
    """
    own = runtime_class(runtime).Options
    families: dict[str, type[OptionModel]] = {**FAMILIES, f"runtime {runtime}": own}
    result = OptionsCheck(runtime)
    options = dict(options or {})
    others = all_runtime_option_names() - own.names()
    valid = frozenset().union(*(m.names() for m in families.values()))
    for key in options:
        if key in valid:
            continue
        if key in others:
            result.other_runtimes.append(key)
            continue
        near = did_you_mean(key, valid | others)
        hint = f"did you mean {near!r}? " if near else (
            "it belongs to no option family (harness, pipeline, model, export, optimize, "
            f"runtime {runtime}); ")
        raise OptionError(key, f"unknown option {key!r}; {hint}"
                               f"valid options for {runtime}: {', '.join(sorted(valid))}")
    for name, model in families.items():
        parsed = model.parse(options, name)
        result.families[name] = sorted(set(parsed.model_fields_set))
    return result


def option_help(runtime: str | None = None) -> dict[str, dict[str, str]]:
    """Every option with its help text, family by family (and the runtime's, if named)."""
    out = {name: model.help() for name, model in FAMILIES.items()}
    if runtime:
        out[f"runtime {runtime}"] = runtime_class(runtime).Options.help()
    return out


__all__ = ["OptionsCheck", "check_options", "option_help"]
