"""The ``ray`` executor: the cases of a run spread over a Ray cluster's GPUs and nodes.

Each case is one Ray task (``max_retries=0``: a lost case is recorded, never silently
re-timed) that asks for an exclusive share of the cluster (``placement.request_for``): a
whole GPU and its cores, or a CPU case's cores (a whole node by default). Inside the task
the case runs as with ``local``, in a fresh isolated worker process forked from that Ray
worker's fork server (``worker.run_isolated``), so a crash, an OOM or a time-out becomes its
status; after any failure the fork server is replaced before the Ray worker runs another
case. The task returns the ``Result`` and the worker's log; the driver writes
``raw/<case_id>/result.json`` (and ``worker.log``) as each case ends, exactly as ``local``
does, so resume, aggregate, report and compare work unchanged, with either executor.

Artifacts are built on the driver, once per key, and reach other nodes through Ray's object
store (``shipping``); a node where the files already are (the driver's host, or shared
storage) reads them in place. A task lost with its worker or node (``WorkerCrashedError``,
``NodeDiedError``, ...) makes its case ``crashed`` with the reason; ``--resume`` reruns it.

Ray is an optional extra (``pip install 'onnxbench[ray]'``), imported only here.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
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
    measure,
    settled,
    skipped_result,
)
from onnxbench.executors.placement import (
    Node,
    Request,
    claimed_cores,
    request_for,
    slots,
)
from onnxbench.isolation.worker import WorkerOutcome, WorkerStatus

INSTALL = "pip install 'onnxbench[ray]'"
LOG_TAIL_BYTES = 1 << 20  # a worker's log comes back to the driver up to this size (its end)
CANCEL_GRACE_S = 10.0


def import_ray():
    """The ``ray`` module, or UserError with the install line (exit 2)."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, an optional extra: {INSTALL}") from None
    return ray


# ------------------------------------------------------------------ inside the task

_NODE_ENV: dict[str, Any] | None = None


def _node_env() -> dict[str, Any]:
    """This node's environment fingerprint (once per Ray worker process)."""
    global _NODE_ENV
    if _NODE_ENV is None:
        from onnxbench.isolation.env import collect

        _NODE_ENV = collect()
    return _NODE_ENV


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        return fh.read().decode(errors="replace")


def run_case_task(case: Case, artifact: Artifact, pack: list, expected: dict[str, int],
                  env: dict[str, Any], driver_node: str, timeout_s: float, cores: int,
                  preload: list[str]) -> tuple[Result, str]:
    """One case on a Ray worker: take the cores, find the artifact's files, measure in a
    fresh isolated process; returns the Result and the worker's log."""
    import ray

    from onnxbench.isolation import worker

    context = ray.get_runtime_context()
    node = context.get_node_id()
    if not shipping.present(expected):
        artifact = shipping.unpack(artifact, ray.get(pack[0]))
    worker.preload(preload)
    with claimed_cores(cores) as held, tempfile.TemporaryDirectory(prefix="onnxbench-") as tmp:
        placement = {"executor": "ray", "host": socket.gethostname(), "node_id": node,
                     "gpus": context.get_accelerator_ids().get("GPU", []), "cores": held,
                     "pinned": True}
        if held is None:
            placement["note"] = f"{cores} cores asked, none could be claimed: not pinned"
        log = Path(tmp) / "worker.log"
        result = measure(case, artifact, env if node == driver_node else _node_env(),
                         timeout_s=timeout_s, log_path=log, placement=placement)
        text = _tail(log)
    if result.status not in ("ok", "skipped"):
        worker.restart_fork_server()  # nothing the failed case touched serves the next one
    return result, text


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


@dataclass
class RayExecutor:
    """Run cases as Ray tasks with exclusive placement (see the module docstring).

    ``address``: ``auto``, ``HOST:PORT`` or ``ray://…``; None starts a local cluster (or
    joins ``RAY_ADDRESS``). ``init_options`` go to ``ray.init`` (e.g. ``num_cpus=2``). A
    process that already called ``ray.init`` keeps its connection.
    """

    address: str | None = None
    share_cpu_nodes: bool = False
    init_options: dict[str, Any] = field(default_factory=dict)
    name: ClassVar[str] = "ray"

    def __post_init__(self) -> None:
        _send_token_if_any(self.address)
        self._ray = import_ray()
        self._nodes: list[Node] | None = None
        self._owned = False
        self._requests: dict[str, Request] = {}
        self._packs: dict[str, tuple[Any, dict[str, int]]] = {}

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
        if self._owned:
            self._ray.shutdown()
        self._owned, self._nodes = False, None
        self._requests.clear()

    # ---- running
    def run(self, cases: list[Case], batch: Batch, progress: ProgressFn) -> list[Result]:
        from onnxbench.scenarios.execute import now_iso

        self.open(cases)
        ray = self._ray
        task = ray.remote(max_retries=0, retry_exceptions=False)(run_case_task)
        driver_node = ray.get_runtime_context().get_node_id()
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
                    ref = self._submit(task, flight, batch, driver_node)
                    flights[ref] = flight
                if not flights:
                    continue
                ready, _ = ray.wait(list(flights), num_returns=1, timeout=1.0)
                for ref in ready:
                    flight = flights.pop(ref)
                    finish(flight.case, *self._collect(ref, flight))
        except BaseException:
            self._cancel(list(flights))
            raise
        return results

    def _settled(self, case: Case, batch: Batch, started: str) -> Result | None:
        """A case that needs no task: no artifact, or no node that can take it."""
        built, skip = batch.artifacts[case.artifact_key], self._requests[case.case_id].skip
        if not isinstance(built, Artifact):
            return settled(case, built, started)
        return skipped_result(case, skip, started) if skip else None

    def _ready(self, todo: list[Case],
               flights: dict[Any, _Flight]) -> list[tuple[Case, str | None]]:
        """The cases to submit now, in plan order, with the node of a whole-node case: while
        their kind has free slots (so the progress bar's "start" is close to a real start)
        and, for a whole-node case, a node with no whole-node case of ours queued or running."""
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
                    node = next((n for n in request.nodes if n not in busy), None)
                    if node is None:
                        continue
                    busy.add(node)
                counts[request.kind] = counts.get(request.kind, 0) + 1
            chosen.append((case, node))
        return chosen

    def _submit(self, task, flight: _Flight, batch: Batch, driver_node: str):
        case, request = flight.case, flight.request
        options: dict[str, Any] = {"num_cpus": request.num_cpus, "num_gpus": request.num_gpus,
                                   "resources": dict(request.resources)}
        if flight.node is not None:
            node = next(n for n in self._nodes or [] if n.node_id == flight.node)
            options["num_cpus"] = node.cpus
            options["scheduling_strategy"] = self._ray.util.scheduling_strategies.\
                NodeAffinitySchedulingStrategy(flight.node, soft=False)
        built = batch.artifacts[case.artifact_key]
        assert isinstance(built, Artifact)
        artifact = shipping.absolute(built)
        ref, expected = self._pack(case.artifact_key, artifact, batch)
        return task.options(**options).remote(
            case, artifact, [ref], expected, batch.env, driver_node, batch.plan.timeout_for(case),
            options["num_cpus"], batch.preload)

    def _pack(self, key: str, artifact: Artifact, batch: Batch) -> tuple[Any, dict[str, int]]:
        """The artifact's files in the object store, once per key, and their sizes."""
        if key not in self._packs:
            where = batch.run.artifacts
            self._packs[key] = (self._ray.put(shipping.pack(artifact, where)),
                                shipping.sizes(artifact, where))
        return self._packs[key]

    def _collect(self, ref, flight: _Flight) -> tuple[Result, str | None]:
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            return lost(flight.case, exc, flight.started, time.monotonic() - flight.t0), None

    def _cancel(self, refs: list) -> None:
        """Ctrl-C: interrupt running tasks (their isolated workers are killed), then force."""
        ray = self._ray
        for ref in refs:
            ray.cancel(ref)
        if refs:
            _done, left = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
            for ref in left:
                ray.cancel(ref, force=True)
