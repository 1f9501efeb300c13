"""The load scenarios as registered ``Scenario`` classes: each serves its point through
``onnxbench.scenarios.run.run_load_case`` (the layouts, the generator, the analysis)."""

from __future__ import annotations

from typing import Any, ClassVar

from onnxbench.core.case import Case
from onnxbench.core.result import Result
from onnxbench.model.bundle import Bundle
from onnxbench.runtimes.base import Runtime
from onnxbench.scenarios.base import Scenario


class LoadScenario(Scenario):
    """A load point (``case.scenario``, a ``LoadSpec``) served by its layout."""

    def run(self, case: Case, bundle: Bundle, runtime: Runtime,
            base: dict[str, Any]) -> Result:
        from onnxbench.scenarios.run import run_load_case  # LoadGen, pools: on use

        return run_load_case(case, bundle, runtime, base)


class Server(LoadScenario):
    """Open-loop arrivals at a target rate (Poisson or constant)."""

    name: ClassVar[str] = "server"


class Offline(LoadScenario):
    """Everything at once: the throughput of the layout (LoadGen's Offline)."""

    name: ClassVar[str] = "offline"


class Concurrency(LoadScenario):
    """N callers in a closed loop (perf_analyzer's concurrency sweep)."""

    name: ClassVar[str] = "concurrency"


class Peak(LoadScenario):
    """The highest rate whose percentile bound holds and whose queue is stable."""

    name: ClassVar[str] = "peak"
