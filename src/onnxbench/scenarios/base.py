"""Scenarios: HOW a case is measured, a registry of classes, dispatched on once.

``execute_case`` asks ``scenario_for(case)`` and calls its ``run``; nothing else chooses
by a scenario's name. A case's scenario is ``Case.scenario_name``: a load point's
``LoadSpec.name`` (``server``, ``offline``, ``concurrency``, ``peak``), else ``pipeline``
(option ``pipeline``), ``seq-mix`` (``seq_mix``) or ``single-stream``.

Adding one: a ``Scenario`` subclass in its own module and one line in ``SCENARIOS``
(``"name": "module:Class"``, imported when first used), or ``register_scenario`` from a
plugin.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from onnxbench.core.case import Case
from onnxbench.core.errors import UserError
from onnxbench.core.result import Result
from onnxbench.model.bundle import Bundle
from onnxbench.runtimes.base import Runtime

SCENARIOS: dict[str, str] = {
    "single-stream": "onnxbench.scenarios.single_stream:SingleStream",
    "seq-mix": "onnxbench.scenarios.single_stream:SeqMix",
    "pipeline": "onnxbench.scenarios.pipeline.run:Pipeline",
    "server": "onnxbench.scenarios.load:Server",
    "offline": "onnxbench.scenarios.load:Offline",
    "concurrency": "onnxbench.scenarios.load:Concurrency",
    "peak": "onnxbench.scenarios.load:Peak",
}


class Scenario(ABC):
    """One way of measuring a case in its worker."""

    name: ClassVar[str]

    @abstractmethod
    def run(self, case: Case, bundle: Bundle, runtime: Runtime,
            base: dict[str, Any]) -> Result:
        """Measure ``case`` on ``runtime`` (not yet prepared) and return its Result
        (``base``: the fields every Result of the case carries); raise ``Skip`` when this
        machine cannot."""


def register_scenario(name: str, target: str) -> None:
    """Register ``name`` -> ``"module:Class"`` (a plugin's scenario; imported when used)."""
    SCENARIOS[name] = target


def scenario_class(name: str) -> type[Scenario]:
    if name not in SCENARIOS:
        raise UserError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    module, _, attr = SCENARIOS[name].partition(":")
    cls: type[Scenario] = getattr(importlib.import_module(module), attr)
    return cls


def scenario_for(case: Case) -> Scenario:
    """The scenario that measures ``case``."""
    return scenario_class(case.scenario_name)()
