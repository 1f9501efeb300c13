"""The driver's long-lived Ray actors (``ray_node.CaseRunner``), one per device slot.

An actor is made for a case's request kind (``placement.Request.kind``: its cores, GPU and
hardware) with the case's resources, the first time no idle actor of that kind (and, for a
whole-node kind, on that node) can take it; it then serves every later case of its kind,
one at a time, so the run never holds more actors of a kind than the kind has slots. An
actor holds its resources while it lives, so an idle actor whose kind has no case left is
killed at once (``retire``): the next kind's actors can then start. An actor that fails a
call is killed and forgotten (its case is recorded by the executor); the next case of its
kind gets a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class Runner:
    """One actor: its handle, the request kind it serves, its node (whole-node kinds)."""

    handle: Any
    kind: tuple
    node: str | None
    busy: bool = True


class ActorPool:
    def __init__(self, ray: Any, preload: list[str], driver_node: str) -> None:
        from onnxbench.executors.ray_node import CaseRunner

        self._ray = ray
        self._actor = ray.remote(max_restarts=0, max_task_retries=0)(CaseRunner)
        self._args = (list(preload), driver_node)
        self._runners: list[Runner] = []

    def acquire(self, kind: tuple, node: str | None, options: dict[str, Any]) -> Runner:
        """An idle actor of ``kind`` (on ``node``), or a new one made with ``options``."""
        for runner in self._runners:
            if not runner.busy and runner.kind == kind and runner.node == node:
                runner.busy = True
                return runner
        runner = Runner(self._actor.options(**options).remote(*self._args), kind, node)
        self._runners.append(runner)
        return runner

    def idle_nodes(self, kind: tuple) -> set[str]:
        """The nodes where an idle actor of this (whole-node) kind waits."""
        return {r.node for r in self._runners if not r.busy and r.kind == kind and r.node}

    def release(self, runner: Runner) -> None:
        runner.busy = False

    def drop(self, runner: Runner) -> None:
        """Kill the actor (it failed a call, or is no longer wanted) and forget it."""
        try:
            self._ray.kill(runner.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already dead, or its node gone
            pass
        if runner in self._runners:
            self._runners.remove(runner)

    def retire(self, wanted: set[tuple]) -> None:
        """Kill the idle actors of every kind not in ``wanted`` (no case of it left)."""
        for runner in [r for r in self._runners if not r.busy and r.kind not in wanted]:
            self.drop(runner)

    def close(self) -> None:
        for runner in list(self._runners):
            self.drop(runner)
