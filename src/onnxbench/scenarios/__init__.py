"""Load scenarios: which runtime, layout and batching serves which traffic.

- ``spec``: ``LoadSpec`` (a Case's load point) and the suite's ``scenario:`` block;
- ``serving``: requests, the worker pools behind each layout, the dynamic batcher;
- ``loadgen``: MLPerf LoadGen as the generator (Server: Poisson arrivals; Offline);
- ``arrivals``: onnxbench's open loop: constant arrivals (LoadGen 6.0's Server is Poisson
  only), and Poisson ones without LoadGen;
- ``closed_loop``: N callers in a closed loop (the concurrency scenario);
- ``peak``: the highest rate under a percentile bound whose queue holds (widen, then
  bisect, under the capacity bound; confirmed for the window it claims; a lower bound);
- ``analysis``: a trace of requests → percentiles, bound check, early stopping, in-flight;
- ``stationarity``: was a window's queue stable (trend, backlog, utilisation ρ, capacity);
- ``ceiling``: the generators, their own ceiling against a no-op runtime, the harness mark;
- ``affinity``: the generator and the serving workers on different CPUs where there are enough;
- ``check``: outputs under concurrency against sequential outputs;
- ``run``: one load case inside its worker (called from ``execute.py``).

Importing this package is cheap (pydantic only): ``case.py`` and ``result.py`` import
``spec`` and ``record``; LoadGen, numpy-heavy code and runtimes load on use.
"""

from __future__ import annotations

from onnxbench.core.load_spec import LAYOUTS, SCENARIOS, LoadSpec, ScenarioBlock

__all__ = ["LAYOUTS", "SCENARIOS", "LoadSpec", "ScenarioBlock"]
