"""The Ray executor inside a node: where a case's isolated worker is forked and measured.

Two ways in, one body (``run_here``):

- ``CaseRunner``, the default: a long-lived actor per device slot (a GPU and its cores, or
  a core set), started once per run. It starts its fork server when it starts (with the
  plan's preloads, and Ray's worker script: ``onnxbench.isolation.forkserver_main``), so a case
  costs a fork, not a Ray worker's start and a fork server's imports;
- ``run_case_task``: one Ray task per case (``RayExecutor(warm=False)``, the executor before
  issue #29), whose Ray worker may have to start, and start its fork server, for the case.

Either way the artifact's files are fetched once per node (``shipping.on_node``), and the
case runs in a fresh isolated process (``worker.run_isolated``) pinned to the cores it
claimed; after any failure the fork server is replaced before the next case.
"""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.result import Result
from onnxbench.executors import shipping
from onnxbench.executors.base import measure
from onnxbench.executors.placement import claimed_cores

LOG_TAIL_BYTES = 1 << 20  # a worker's log comes back to the driver up to this size (its end)

_NODE_ENV: dict[str, Any] | None = None


def _node_env() -> dict[str, Any]:
    """This node's environment fingerprint (once per Ray worker process)."""
    global _NODE_ENV
    if _NODE_ENV is None:
        from onnxbench.isolation.env import collect

        _NODE_ENV = collect()
    return _NODE_ENV


def _born() -> float:
    """When this (Ray worker) process started, in epoch seconds."""
    import psutil

    return psutil.Process().create_time()


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        return fh.read().decode(errors="replace")


def run_here(case: Case, artifact: Artifact, pack: list, expected: dict[str, list[int]],
             env: dict[str, Any], driver_node: str, timeout_s: float, cores: int,
             marks: dict[str, float]) -> tuple[Result, str]:
    """One case on this Ray worker: find the artifact's files, take the cores, measure in a
    fresh isolated process; returns the Result and the worker's log."""
    import ray

    from onnxbench.isolation import worker

    context = ray.get_runtime_context()
    node = context.get_node_id()
    artifact = shipping.on_node(artifact, expected, lambda: ray.get(pack[0]))
    marks["artifact_ready"] = time.time()
    with claimed_cores(cores) as held, tempfile.TemporaryDirectory(prefix="onnxbench-") as tmp:
        placement = {"executor": "ray", "host": socket.gethostname(), "node_id": node,
                     "gpus": context.get_accelerator_ids().get("GPU", []), "cores": held,
                     "pinned": True}
        if held is None:
            placement["note"] = f"{cores} cores asked, none could be claimed: not pinned"
        log = Path(tmp) / "worker.log"
        result = measure(case, artifact, env if node == driver_node else _node_env(),
                         timeout_s=timeout_s, log_path=log, placement=placement, marks=marks)
        text = _tail(log)
    if result.status not in ("ok", "skipped"):
        worker.restart_fork_server()  # nothing the failed case touched serves the next one
    return result, text


def run_case_task(case: Case, artifact: Artifact, pack: list, expected: dict[str, list[int]],
                  env: dict[str, Any], driver_node: str, timeout_s: float, cores: int,
                  preload: list[str]) -> tuple[Result, str]:
    """One case as one Ray task (``warm=False``)."""
    from onnxbench.isolation import worker

    marks = {"started": time.time(), "worker_born": _born()}
    worker.preload(preload)
    return run_here(case, artifact, pack, expected, env, driver_node, timeout_s, cores, marks)


class CaseRunner:
    """One device slot's actor: a warm fork server; its cases one at a time (Ray runs an
    actor's calls in order, on its main thread: the fork server's lifeline needs that)."""

    def __init__(self, preload: list[str], driver_node: str) -> None:
        import ray

        from onnxbench.isolation import worker

        worker.preload(preload)
        worker.warm_fork_server(wait=False)  # it imports its preloads while we import ours
        import onnxbench.scenarios.execute  # noqa: F401  (what measure() imports here, once)

        if ray.get_runtime_context().get_node_id() != driver_node:
            _node_env()
        worker.wait_fork_server()

    def run_case(self, case: Case, artifact: Artifact, pack: list,
                 expected: dict[str, list[int]], env: dict[str, Any], driver_node: str,
                 timeout_s: float, cores: int) -> tuple[Result, str]:
        marks = {"started": time.time(), "worker_born": _born()}
        return run_here(case, artifact, pack, expected, env, driver_node, timeout_s, cores,
                        marks)
