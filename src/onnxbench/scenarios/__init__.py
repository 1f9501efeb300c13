"""Load scenarios: which runtime, layout and batching serves which traffic.

- ``spec``: ``LoadSpec`` (a Case's load point) and the suite's ``scenario:`` block;
- ``serving``: requests, the worker pools behind each layout, the dynamic batcher;
- ``loadgen``: MLPerf LoadGen as the generator (Server: Poisson arrivals; Offline);
- ``arrivals``: open-loop constant arrivals (LoadGen 6.0's Server is Poisson only);
- ``closed_loop``: N callers in a closed loop (the concurrency scenario);
- ``peak``: the highest rate under a percentile bound (widen, then bisect);
- ``analysis``: a trace of requests → percentiles, bound check, early stopping, in-flight;
- ``ceiling``: the generator's own ceiling against a no-op runtime, and the harness mark;
- ``check``: outputs under concurrency against sequential outputs;
- ``run``: one load case inside its worker (called from ``execute.py``).

Importing this package is cheap (pydantic only): ``case.py`` and ``result.py`` import
``spec`` and ``record``; LoadGen, numpy-heavy code and runtimes load on use.
"""

from __future__ import annotations

from onnxbench.core.load_spec import LAYOUTS, SCENARIOS, LoadSpec, ScenarioBlock

__all__ = ["LAYOUTS", "SCENARIOS", "LoadSpec", "ScenarioBlock"]
