"""The serving side: requests, the worker pools behind each layout, the dynamic batcher.

A generator ``submit``s requests to a ``Front``; the front hands them to a pool directly, or
through the ``Batcher`` (``max_batch`` > 1). A pool runs each batch of ``k`` requests with
its worker's ``CallSet(k)`` (a zero-argument callable bound to a batch of ``k`` requests'
inputs) and reports the batch back through the front to the generator's listener.

Every time is ``time.perf_counter_ns()`` (CLOCK_MONOTONIC on Linux, the same clock in every
process of the machine). Nothing here knows about runtimes: the pools run plain callables,
so every scenario is testable with functions of a known service time.
"""

from __future__ import annotations

import collections
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from onnxbench.measure.gcpause import gc_off_for_life

CallSet = Callable[[int], Callable[[], Any]]  # k batched requests -> the call serving them
Listener = Callable[[list["Request"]], None]
now = time.perf_counter_ns


class Request:
    """One request's life: scheduled, issued (reached the server), started, done (ns).

    ``finished`` is when the worker that served it was free again (its own clock stamp after
    the call): the same as ``done`` for threads; for worker processes ``done`` is when the
    reply is back in the parent, later by the IPC (the utilisation counts the worker's time).
    """

    __slots__ = (
        "batch",
        "done",
        "error",
        "finished",
        "issued",
        "rid",
        "sample",
        "scheduled",
        "started",
        "tag",
        "worker",
    )

    def __init__(self, rid: int, scheduled: int, issued: int, sample: int = 0,
                 tag: Any = None) -> None:
        self.rid, self.sample, self.tag = rid, sample, tag
        self.scheduled, self.issued = scheduled, issued
        self.started = self.done = self.finished = 0
        self.batch = self.worker = 0
        self.error: str | None = None


def _stamp(batch: list[Request], worker: int, t0: int, t1: int, error: str | None) -> None:
    for r in batch:
        r.started, r.done, r.finished = t0, t1, t1
        r.batch, r.worker, r.error = len(batch), worker, error


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class ThreadPool:
    """``len(callsets)`` worker threads pulling batches from one queue (shared, per-thread,
    lock and streams layouts differ only in the callables each thread holds)."""

    def __init__(self, callsets: Sequence[CallSet], on_done: Listener | None = None) -> None:
        self.callsets = list(callsets)
        self.on_done: Listener = on_done or _unset
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._work, args=(i,), daemon=True,
                                         name=f"onnxbench-worker-{i}")
                        for i in range(len(self.callsets))]

    @property
    def size(self) -> int:
        return len(self.callsets)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def put(self, batch: list[Request]) -> None:
        self.queue.put(batch)

    def _work(self, worker: int) -> None:
        calls, get, done = self.callsets[worker], self.queue.get, self.on_done
        while True:
            batch = get()
            if batch is None:
                return
            call = calls(len(batch))
            error = None
            t0 = now()
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - recorded on the requests, reported once
                error = _first_line(exc)
            t1 = now()
            _stamp(batch, worker, t0, t1, error)
            done(batch)

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join(timeout=30)


class ProcessPool:
    """``n`` worker processes, each serving with the CallSet ``build(i)`` made in the child.

    Forked (``os.fork``: a case's worker is a daemonic process, which multiprocessing does
    not let have children) before the case creates any thread or session; the children
    build their own runtimes, die with this process (PR_SET_PDEATHSIG) and share its process
    group, so a time-out kills them too. Requests travel as ``(ids, k)`` over one queue the
    idle children pull from, replies as ``(ids, worker, t0, t1, error)``. A request is
    completed when its reply arrives here, so the IPC both ways is in its latency, as in a
    real multi-process server.
    """

    def __init__(self, n: int, build: Callable[[int], CallSet], on_done: Listener | None = None,
                 start_timeout_s: float = 600.0) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self.n, self.build = n, build
        self.on_done: Listener = on_done or _unset
        self.requests = ctx.SimpleQueue()
        self.replies = ctx.SimpleQueue()
        self.pending: dict[int, Request] = {}
        self.lock = threading.Lock()
        self.start_timeout_s = start_timeout_s
        self.pids: list[int] = []
        self.collector = threading.Thread(target=self._collect, daemon=True,
                                          name="onnxbench-collector")

    @property
    def size(self) -> int:
        return self.n

    def fork(self) -> None:
        """Start the children (call before any thread exists in this process)."""
        for i in range(self.n):
            pid = os.fork()
            if pid == 0:  # the child: serve, then leave without running the parent's exits
                code = 0
                try:
                    _die_with_parent()
                    _serve(i, self.build, self.requests, self.replies)
                except BaseException:  # noqa: BLE001 - nothing to report to but the exit code
                    code = 1
                os._exit(code)
            self.pids.append(pid)

    def _alive(self) -> bool:
        return all(os.waitpid(pid, os.WNOHANG) == (0, 0) for pid in self.pids)

    def start(self) -> None:
        """Wait until every child has built its runtime; then collect replies."""
        if not self.pids:
            self.fork()
        deadline = time.monotonic() + self.start_timeout_s
        ready = 0
        while ready < self.n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"serving processes not ready after {self.start_timeout_s:g} s")
            if not self.replies.empty():
                msg = self.replies.get()
                if msg[0] == "error":
                    raise RuntimeError(f"serving process {msg[1]}: {msg[2]}")
                ready += 1
                continue
            if not self._alive():
                raise RuntimeError("a serving process died while starting")
            time.sleep(0.01)
        self.collector.start()

    def put(self, batch: list[Request]) -> None:
        with self.lock:
            for r in batch:
                self.pending[r.rid] = r
        self.requests.put(([r.rid for r in batch], len(batch)))

    def _collect(self) -> None:
        while True:
            msg = self.replies.get()
            if msg is None:
                return
            ids, worker, t0, t1, error = msg
            with self.lock:
                batch = [self.pending.pop(i) for i in ids]
            _stamp(batch, worker, t0, t1, error)
            batch_done = now()
            for r in batch:  # done when the reply is back here
                r.done = batch_done
            self.on_done(batch)

    def stop(self) -> None:
        if not self.pids:
            return
        for _ in self.pids:
            self.requests.put(None)
        deadline = time.monotonic() + 30
        for pid in self.pids:
            _reap(pid, deadline)
        self.pids = []
        if self.collector.is_alive():
            self.replies.put(None)
            self.collector.join(timeout=30)


def _reap(pid: int, deadline: float) -> None:
    """Wait for a child until ``deadline``, then kill it; never signal a pid already reaped."""
    try:
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (no orphaned serving processes)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _serve(worker: int, build: Callable[[int], CallSet], requests, replies) -> None:
    """A serving process: build this worker's calls, say ready, serve until told to stop."""
    try:
        calls = build(worker)
    except BaseException as exc:  # noqa: BLE001 - the parent reports it
        replies.put(("error", worker, _first_line(exc)))
        return
    gc_off_for_life()  # a serving process's own collector pauses would be the harness's
    replies.put(("ready", worker))
    while True:
        msg = requests.get()
        if msg is None:
            return
        ids, k = msg
        error = None
        t0 = now()
        try:
            calls(k)()
        except Exception as exc:  # noqa: BLE001
            error = _first_line(exc)
        replies.put((ids, worker, t0, now(), error))


class Front:
    """Where a generator submits requests: to the pool, or through the dynamic batcher.

    The batcher (``max_batch`` > 1) takes a batch only when a worker is idle, then waits
    until ``max_batch`` requests are queued or the oldest has waited ``max_delay_ns`` since it
    was issued (Triton's dynamic batcher: preferred size or maximum queue delay). While every
    worker is busy the queue keeps growing, so the next batch is larger.
    """

    def __init__(self, make_pool: Callable[[Listener], Any], max_batch: int = 1,
                 max_delay_ns: int = 0) -> None:
        self.listener: Listener = lambda batch: None
        self.pool = make_pool(self._done)
        self.max_batch, self.max_delay_ns = max_batch, max_delay_ns
        self.batching = max_batch > 1
        self.pending: collections.deque[Request] = collections.deque()
        self.cond = threading.Condition()
        self.idle = threading.Semaphore(self.pool.size)
        self.closed = False
        self.thread = threading.Thread(target=self._batch_loop, daemon=True,
                                       name="onnxbench-batcher") if self.batching else None

    @classmethod
    def around(cls, pool: Any, max_batch: int = 1, max_delay_ns: int = 0) -> Front:
        """A front for an existing pool (it reports its batches to this front)."""
        def make(done: Listener) -> Any:
            pool.on_done = done
            return pool
        return cls(make, max_batch, max_delay_ns)

    def set_listener(self, listener: Listener) -> None:
        self.listener = listener

    def start(self) -> None:
        self.pool.start()
        if self.thread is not None:
            self.thread.start()

    def submit(self, request: Request) -> None:
        if not self.batching:
            self.pool.put([request])
            return
        with self.cond:
            self.pending.append(request)
            self.cond.notify()

    def _done(self, batch: list[Request]) -> None:
        if self.batching:
            self.idle.release()
        self.listener(batch)

    def _batch_loop(self) -> None:
        cond, pending = self.cond, self.pending
        while True:
            self.idle.acquire()
            with cond:
                while not pending and not self.closed:
                    cond.wait()
                if not pending:  # closed and drained
                    return
                deadline = pending[0].issued + self.max_delay_ns
                while len(pending) < self.max_batch and not self.closed:
                    left = deadline - now()
                    if left <= 0:
                        break
                    cond.wait(left / 1e9)
                batch = [pending.popleft() for _ in range(min(self.max_batch, len(pending)))]
            self.pool.put(batch)

    def stop(self) -> None:
        if self.thread is not None:
            with self.cond:
                self.closed = True
                self.cond.notify_all()
            self.idle.release()
            self.thread.join(timeout=30)
        self.pool.stop()


def _unset(batch: list[Request]) -> None:
    raise RuntimeError("a pool's listener was not set (wrap it in a Front)")


def noop_callset(k: int) -> Callable[[], None]:
    """The no-op runtime of the generator's ceiling."""
    return _noop


def _noop() -> None:
    return None


__all__ = ["CallSet", "Front", "ProcessPool", "Request", "ThreadPool", "noop_callset", "now"]
