"""One load case's serving side, built from its runtime: sessions, inputs and calls per layout.

Every runtime is driven through the runtime interface only (``onnxbench.runtimes.base``):
``get_runtime(name)``, ``prepare(bundle, options)``, ``cast_inputs``, ``bind(inputs) -> call``,
``run(inputs)``, ``synchronize()``, and its declared capabilities: ``device`` (synchronise on
``cuda``), ``framework`` and ``thread_safe`` (one instance is shared by threads only when
the runtime declares concurrent calls safe; otherwise the ``shared`` layout is skipped with
the reason and ``lock`` or ``per-thread`` serve it).

- ``shared``: one prepared runtime; each worker thread binds its own calls on it (on CUDA
  each thread so gets its own IO binding: concurrent ``Run`` on one session);
- ``lock``: the same, every call under one inference lock;
- ``per-thread``: one runtime (session / module) per worker thread;
- ``streams`` (CUDA): one CUDA stream per worker: ORT sessions each own their stream, so one
  session per worker; a PyTorch module is shared and each worker runs on its own stream;
- ``processes``: one runtime per worker process (forked before anything else starts).

A request of ``k`` batched requests runs the call bound to inputs of ``k × batch`` rows
(seeded, built once before timing, as LoadGen's query sample library keeps samples in RAM):
the copy a real server makes to gather request tensors into a batch is not timed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from onnxbench.core.case import Case
from onnxbench.core.errors import Skip
from onnxbench.model.bundle import Bundle
from onnxbench.scenarios.check import lock_around
from onnxbench.scenarios.serving import CallSet, Front, ProcessPool, ThreadPool, noop_callset

N_CHECK_SAMPLES = 4
BATCH_WARMUP = 2  # warm-up runs of each batched shape (k > 1) per worker


class Serving:
    """Runtimes, inputs and calls for one case and its layout; ``close()`` releases them."""

    def __init__(self, case: Case, bundle: Bundle, first_runtime) -> None:
        from onnxbench.runtimes.prep import runtime_options

        if case.scenario is None:
            raise ValueError(f"{case.case_id} has no load scenario")
        self.case, self.bundle, self.spec = case, bundle, case.scenario
        self.options = runtime_options(case, bundle, first_runtime)
        self.cuda = first_runtime.device == "cuda"
        self.runtimes = [first_runtime]
        self.ks = list(range(1, self.spec.max_batch + 1))
        self._inputs: dict[tuple[int, int], dict[str, np.ndarray]] = {}
        self.pools: dict[str, ProcessPool] = {}
        layout, name = self.spec.layout, case.runtime
        if layout == "streams" and not self.cuda:
            raise Skip(f"layout streams needs a CUDA runtime; {name} runs on the "
                       f"{first_runtime.device}")
        shares = layout == "shared" or (layout == "streams" and _is_torch(first_runtime))
        if shares and self.spec.n_workers > 1 and not first_runtime.thread_safe:
            raise Skip(f"{name} does not declare concurrent calls on one instance safe "
                       "(thread_safe = False): serve it with layout per-thread or lock")

    # ---- inputs -----------------------------------------------------------------------
    def inputs(self, k: int = 1, sample: int = 0) -> dict[str, np.ndarray]:
        """Seeded inputs of ``k`` requests (``k × batch`` rows, padded as the case says),
        cast to what the session declares."""
        key = (k, sample)
        if key not in self._inputs:
            from onnxbench.runtimes.prep import pad_inputs as _pad

            sub = self.case.model_copy(update={"batch": k * self.case.batch,
                                               "seed": self.case.seed + sample})
            inputs, _ = _pad(self.bundle.make_inputs(sub), sub)
            self._inputs[key] = self.runtimes[0].cast_inputs(inputs)
        return self._inputs[key]

    # ---- runtimes ---------------------------------------------------------------------
    def new_runtime(self):
        from onnxbench.runtimes import get_runtime

        rt = get_runtime(self.case.runtime)
        rt.prepare(self.bundle, self.options)
        return rt

    def runtime_for(self, worker: int):
        """The runtime a worker thread serves with, per the layout."""
        layout = self.spec.layout
        own = layout == "per-thread" or (layout == "streams" and not _is_torch(self.runtimes[0]))
        if not own or worker == 0:
            return self.runtimes[0]
        while len(self.runtimes) <= worker:
            self.runtimes.append(self.new_runtime())
        return self.runtimes[worker]

    def sync(self, runtime) -> Callable[[], None] | None:
        return runtime.synchronize if self.cuda else None

    # ---- calls ------------------------------------------------------------------------
    def callset(self, worker: int, lock: threading.Lock | None = None,
                warmup: int = 0) -> CallSet:
        """Worker ``worker``'s calls for every batch size, bound and warmed up."""
        rt = self.runtime_for(worker)
        calls = {k: self._wrap(rt, rt.bind(self.inputs(k)), lock, worker) for k in self.ks}
        for k, call in calls.items():
            for _ in range(warmup if k == 1 else min(warmup, BATCH_WARMUP)):
                call()
        return calls.__getitem__

    def _wrap(self, rt, call: Callable[[], Any], lock, worker: int) -> Callable[[], Any]:
        sync = self.sync(rt)
        if self.spec.layout == "streams" and _is_torch(rt):
            call, sync = _on_stream(call)
        if sync is not None:
            bare = call

            def call() -> None:
                bare()
                sync()
        return lock_around(call, lock) if lock is not None else call

    def run_fn(self, worker: int, lock: threading.Lock | None):
        """``inputs -> outputs`` on a worker's runtime (the output check)."""
        run = self.runtime_for(worker).run
        return lock_around(run, lock) if lock is not None else run

    # ---- pools ------------------------------------------------------------------------
    def fork_processes(self, warmup: int) -> None:
        """Processes layout: fork the serving processes (and the no-op ones for the ceiling)
        before this process starts any thread or session."""
        if self.spec.layout != "processes":
            return
        n = self.spec.n_workers
        self.pools["real"] = ProcessPool(n, lambda i: self._child_callset(warmup))
        self.pools["real"].fork()
        if self.spec.ceiling:
            self.pools["noop"] = ProcessPool(n, lambda i: noop_callset)
            self.pools["noop"].fork()

    def _child_callset(self, warmup: int) -> CallSet:
        self.runtimes = [self.new_runtime()]
        self._inputs.clear()
        return self.callset(0, warmup=warmup)

    def front(self, warmup: int) -> Front:
        """The front door of the case's layout and batching (not started)."""
        lock = threading.Lock() if self.spec.layout == "lock" else None
        return self._front("real", lambda: [self.callset(i, lock, warmup)
                                            for i in range(self.spec.n_workers)])

    def noop_front(self) -> Front:
        """The same layout and batching around a no-op runtime (the generator's ceiling)."""
        return self._front("noop", lambda: [noop_callset] * self.spec.n_workers)

    def _front(self, kind: str, callsets: Callable[[], list[CallSet]]) -> Front:
        """The forked pool ``kind`` (processes layout) or a thread pool of ``callsets()``."""
        pool = self.pools[kind] if self.spec.layout == "processes" else ThreadPool(callsets())
        return Front.around(pool, self.spec.max_batch, int(self.spec.max_delay_ms * 1e6))

    def close(self) -> None:
        for pool in self.pools.values():
            try:
                pool.stop()
            except Exception:  # noqa: BLE001 - closing must not hide the case's outcome
                pass
        for rt in self.runtimes[1:]:
            try:
                rt.close()
            except Exception:  # noqa: BLE001
                pass


def _is_torch(runtime) -> bool:
    return runtime.framework == "torch"


def _on_stream(call: Callable[[], Any]):
    """A PyTorch call on its own CUDA stream, synchronised on that stream only."""
    import torch

    stream = torch.cuda.Stream()

    def on_stream() -> Any:
        with torch.cuda.stream(stream):
            return call()

    return on_stream, stream.synchronize


__all__ = ["N_CHECK_SAMPLES", "Serving"]
