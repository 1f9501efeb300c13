"""The ``ray`` executor: the cases of a run spread over a Ray cluster's GPUs and nodes.

Each case asks for an exclusive share of the cluster (``placement.request_for``): a whole
GPU and its cores, or a CPU case's cores (a whole node by default). It runs on a long-lived
Ray actor that holds that share (``ray_pool``, ``ray_node.CaseRunner``: one per device slot,
made when a case of its kind first needs it, killed when its kind has no case left), in a
fresh isolated worker process forked from the actor's warm fork server
(``worker.run_isolated``), so a crash, an OOM or a time-out becomes its status; after any
failure the fork server is replaced before the actor runs another case. The actor returns
the ``Result`` and the worker's log; the driver writes ``raw/<case_id>/result.json`` (and
``worker.log``) as each case ends, exactly as ``local`` does, so resume, aggregate, report
and compare work unchanged, with either executor. ``warm=False`` runs each case as one Ray
task instead (the executor before issue #29; a case may then pay a Ray worker's start and
its fork server's imports). Nothing is retried (``max_restarts=0``, ``max_retries=0``): a
lost case is recorded, never silently re-timed.

Artifacts are built on the driver, once per key, and reach other nodes through Ray's object
store (``shipping``), fetched once per node; a node where the files already are (the
driver's host, or shared storage) reads them in place. A case lost with its actor, Ray
worker or node (``ActorDiedError``, ``NodeDiedError``, ...) is ``crashed`` with the reason;
``--resume`` reruns it.

Ray is an optional extra (``pip install 'onnxbench[ray]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import UserError, first_line
from onnxbench.core.result import Result, atomic_write_text
from onnxbench.executors import shipping
from onnxbench.executors.base import (
    Batch,
    Progress,
    ProgressFn,
    failed_result,
    settled,
    skipped_result,
)
from onnxbench.executors.placement import Node, Request, request_for, slots
from onnxbench.executors.ray_pool import ActorPool, Runner
from onnxbench.isolation.worker import WorkerOutcome, WorkerStatus

INSTALL = "pip install 'onnxbench[ray]'"
CANCEL_GRACE_S = 10.0


def import_ray():
    """The ``ray`` module, or UserError with the install line (exit 2)."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, an optional extra: {INSTALL}") from None
    return ray


# ----------------------------------------------------------------------- the driver

def lost(case: Case, exc: BaseException, started: str, duration_s: float) -> Result:
    """The Result of a case whose Ray task did not come back: its worker or node died, Ray's
    memory monitor killed it, or the task itself raised."""
    ray = import_ray()
    status: WorkerStatus
    if isinstance(exc, ray.exceptions.RayTaskError):
        status, reason = "failed", f"the Ray task failed: {first_line(exc.cause or exc)}"
    elif isinstance(exc, ray.exceptions.OutOfMemoryError):
        status, reason = "oom", f"Ray's memory monitor killed the worker: {first_line(exc)}"
    else:
        status = "crashed"
        reason = f"the Ray worker or its node was lost mid-case ({first_line(exc)})"
    result = failed_result(case, WorkerOutcome(status, reason=reason, duration_s=duration_s),
                           started)
    result.rerun = status == "crashed"  # the infrastructure's doing, not the case's
    return result


def _check_reachable(address: str | None) -> None:
    """UserError when no Ray cluster answers where ``ray.init`` would dial (it retries for
    ever): ``--ray-address``, else ``RAY_ADDRESS``, else the cluster the last ``ray start``
    on this machine recorded (Ray joins it rather than starting a local one)."""
    if address and address.startswith("ray://"):
        return
    env = os.environ.get("RAY_ADDRESS")
    where = f"--ray-address {address}" if address else f"RAY_ADDRESS {env}" if env else \
        "the cluster the last `ray start` here recorded (/tmp/ray/ray_current_cluster)"
    try:  # Ray's own resolution of the address (private; without it, explicit ones only)
        from ray._private.services import canonicalize_bootstrap_address

        target = canonicalize_bootstrap_address(address)  # type: ignore[arg-type]
    except ConnectionError as exc:
        raise UserError(f"{where}: {first_line(exc)}; start one with `ray start --head`, or "
                        "leave the address out to start a local one") from None
    except Exception:  # noqa: BLE001
        target = address or env
        if target in (None, "auto", "local"):
            return
    if target is None:  # ray.init starts a local cluster
        return
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError):
        raise UserError(f"{where}: no Ray cluster answers at {target}; start one with "
                        "`ray start --head` (or stop the dead one: `ray stop`), or leave the "
                        "address out to start a local one") from None


def _send_token_if_any(address: str | None) -> None:
    """Join with token authentication when a token is at hand and no mode is set: `ray start`
    requires one since Ray 2.59, but a joining driver sends it only with RAY_AUTH_MODE=token
    (the default from Ray 2.61). A cluster without authentication ignores it."""
    joining = address or os.environ.get("RAY_ADDRESS")
    if os.environ.get("RAY_AUTH_MODE") is not None or not joining:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") \
            or (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
        try:  # Ray reads its config once per process: refresh it, as Ray's own setup does
            from ray._raylet import Config  # type: ignore[attr-defined]

            Config.initialize("")
        except Exception:  # noqa: BLE001 - private; set before `import ray` it works anyway
            pass


@dataclass
class _Flight:
    case: Case
    request: Request
    started: str
    t0: float
    node: str | None = None  # a whole-node case's node
    dispatched: float = field(default_factory=time.time)
    runner: Runner | None = None  # the actor that runs it (warm)


@dataclass
class RayExecutor:
    """Run cases on Ray actors (or tasks) with exclusive placement (the module docstring).

    ``address``: ``auto``, ``HOST:PORT`` or ``ray://…``; None starts a local cluster (or
    joins ``RAY_ADDRESS``). ``init_options`` go to ``ray.init`` (e.g. ``num_cpus=2``). A
    process that already called ``ray.init`` keeps its connection. ``warm``: one long-lived
    actor per device slot (default); False: one Ray task per case.
    """

    address: str | None = None
    share_cpu_nodes: bool = False
    init_options: dict[str, Any] = field(default_factory=dict)
    warm: bool = True
    name: ClassVar[str] = "ray"

    def __post_init__(self) -> None:
        _send_token_if_any(self.address)
        self._ray = import_ray()
        self._nodes: list[Node] | None = None
        self._owned = False
        self._requests: dict[str, Request] = {}
        self._packs: dict[str, tuple[Any, shipping.Stamps]] = {}
        self._pool: ActorPool | None = None

    # ---- connection and placement
    def check(self, cases: list[Case]) -> None:
        """Nothing more without a cluster: placing a case needs its nodes (``open``)."""

    def open(self, cases: list[Case]) -> None:
        if self._nodes is None:
            self._connect()
        for case in cases:
            if case.case_id not in self._requests:
                self._requests[case.case_id] = request_for(case, self._nodes or [],
                                                           self.share_cpu_nodes)

    def _connect(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            _check_reachable(self.address)
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR, **self.init_options)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = self.address or "a new local cluster"
                raise UserError(f"--ray-address {where}: could not start or join a Ray cluster "
                                f"({str(exc).strip().splitlines()[0]}); a cluster with token "
                                "authentication needs its token in ~/.ray/auth_token (`ray "
                                "get-auth-token` on the head node)") from None
            self._owned = True
        self._nodes = [Node(n["NodeID"], n.get("NodeManagerHostname", ""), dict(n["Resources"]))
                       for n in ray.nodes() if n.get("Alive")]

    def close(self) -> None:
        self._packs.clear()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._owned:
            self._ray.shutdown()
        self._owned, self._nodes = False, None
        self._requests.clear()

    # ---- running
    def run(self, cases: list[Case], batch: Batch, progress: ProgressFn) -> list[Result]:
        from onnxbench.scenarios.execute import now_iso

        self.open(cases)
        ray = self._ray
        driver_node = ray.get_runtime_context().get_node_id()
        task = self._dispatcher(batch.preload, driver_node)
        todo, results = list(cases), []
        flights: dict[Any, _Flight] = {}

        def finish(case: Case, result: Result, log: str | None = None) -> None:
            batch.run.write_result(result)
            if isinstance(log, str):  # the worker's log, written here as local writes it there
                atomic_write_text(batch.run.log_path(case), log)
            results.append(result)
            progress(Progress("case", "end", case.case_id, len(results), len(cases),
                              result.status, result.reason, result.duration_s))

        try:
            while todo or flights:
                if self._pool is not None:  # idle actors no case needs give their share back
                    self._pool.retire({self._requests[c.case_id].kind for c in todo})
                for case, node in self._ready(todo, flights):
                    todo.remove(case)
                    progress(Progress("case", "start", case.case_id, len(results), len(cases)))
                    started = now_iso()
                    early = self._settled(case, batch, started)
                    if early is not None:
                        finish(case, early)
                        continue
                    flight = _Flight(case, self._requests[case.case_id], started,
                                     time.monotonic(), node)
                    flights[self._submit(task, flight, batch, driver_node)] = flight
                if not flights:
                    continue
                ready, _ = ray.wait(list(flights), num_returns=1, timeout=1.0)
                for ref in ready:
                    flight = flights.pop(ref)
                    finish(flight.case, *self._collect(ref, flight))
        except BaseException:
            self._cancel(list(flights), [f.runner for f in flights.values() if f.runner])
            raise
        finally:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
        return results

    def _dispatcher(self, preload: list[str], driver_node: str):
        """The Ray task that runs a case (``warm=False``), or None: the actor pool is made."""
        from onnxbench.executors.ray_node import run_case_task

        if self.warm:
            self._pool = ActorPool(self._ray, preload, driver_node)
            return None
        return self._ray.remote(max_retries=0, retry_exceptions=False)(run_case_task)

    def _settled(self, case: Case, batch: Batch, started: str) -> Result | None:
        """A case that needs no Ray: no artifact, or no node that can take it."""
        built, skip = batch.artifacts[case.artifact_key], self._requests[case.case_id].skip
        if not isinstance(built, Artifact):
            return settled(case, built, started)
        return skipped_result(case, skip, started) if skip else None

    def _ready(self, todo: list[Case],
               flights: dict[Any, _Flight]) -> list[tuple[Case, str | None]]:
        """The cases to submit now, in plan order, with the node of a whole-node case: while
        their kind has free slots (so the progress bar's "start" is close to a real start)
        and, for a whole-node case, a node with no whole-node case of ours queued or running
        (one whose actor waits idle first)."""
        busy = {f.node for f in flights.values() if f.node}
        counts: dict[tuple, int] = {}
        for f in flights.values():
            counts[f.request.kind] = counts.get(f.request.kind, 0) + 1
        chosen: list[tuple[Case, str | None]] = []
        for case in todo:
            request = self._requests[case.case_id]
            node = None
            if not request.skip:
                if counts.get(request.kind, 0) >= slots(request, self._nodes or []):
                    continue
                if request.whole_node:
                    idle = self._pool.idle_nodes(request.kind) if self._pool else set()
                    free = [n for n in request.nodes if n not in busy]
                    node = next((n for n in free if n in idle), free[0] if free else None)
                    if node is None:
                        continue
                    busy.add(node)
                counts[request.kind] = counts.get(request.kind, 0) + 1
            chosen.append((case, node))
        return chosen

    def _options(self, flight: _Flight) -> dict[str, Any]:
        """The Ray resources (and node) of the flight's request."""
        request = flight.request
        options: dict[str, Any] = {"num_cpus": request.num_cpus, "num_gpus": request.num_gpus,
                                   "resources": dict(request.resources)}
        if flight.node is not None:
            node = next(n for n in self._nodes or [] if n.node_id == flight.node)
            options["num_cpus"] = node.cpus
            options["scheduling_strategy"] = self._ray.util.scheduling_strategies.\
                NodeAffinitySchedulingStrategy(flight.node, soft=False)
        return options

    def _submit(self, task, flight: _Flight, batch: Batch, driver_node: str):
        case, options = flight.case, self._options(flight)
        built = batch.artifacts[case.artifact_key]
        assert isinstance(built, Artifact)
        artifact = shipping.absolute(built)
        ref, expected = self._pack(case.artifact_key, artifact, batch)
        args = (case, artifact, [ref], expected, batch.env, driver_node,
                batch.plan.timeout_for(case), options["num_cpus"])
        flight.dispatched = time.time()
        if self._pool is None:
            return task.options(**options).remote(*args, batch.preload)
        flight.runner = self._pool.acquire(flight.request.kind, flight.node, options)
        return flight.runner.handle.run_case.remote(*args)

    def _pack(self, key: str, artifact: Artifact, batch: Batch) -> tuple[Any, shipping.Stamps]:
        """The artifact's files in the object store, once per key, and their stamps."""
        if key not in self._packs:
            where = batch.run.artifacts
            self._packs[key] = (self._ray.put(shipping.pack(artifact, where)),
                                shipping.stamps(artifact, where))
        return self._packs[key]

    def _collect(self, ref, flight: _Flight) -> tuple[Result, str | None]:
        try:
            result, log = self._ray.get(ref)
            if flight.runner is not None and self._pool is not None:
                self._pool.release(flight.runner)
        except self._ray.exceptions.RayError as exc:
            result, log = lost(flight.case, exc, flight.started, time.monotonic() - flight.t0), None
            if flight.runner is not None and self._pool is not None:
                self._pool.drop(flight.runner)  # dead, or in a state no case should meet
        result.timeline = {"dispatched": flight.dispatched, **result.timeline,
                           "returned": time.time()}
        return result, log

    def _cancel(self, refs: list, runners: list[Runner]) -> None:
        """Ctrl-C: kill the actors of the cases in flight (their fork servers and isolated
        workers die with them); tasks are interrupted, then forced."""
        ray = self._ray
        if self._pool is not None:
            for runner in runners:
                self._pool.drop(runner)
            return
        for ref in refs:
            ray.cancel(ref)
        if refs:
            _done, left = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
            for ref in left:
                ray.cancel(ref, force=True)
