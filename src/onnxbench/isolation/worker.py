"""Run one function in an isolated process: a crash, an OOM or a time-out becomes a status.

Every measurement runs in its own process so thread pools, CUDA contexts, memory peaks and
crashes stay inside it. The parent never dies with a case: a signal becomes ``crashed``
(with the signal's name), a ``MemoryError`` becomes ``oom``, and so does a SIGKILL we did not
send when the kernel counted an OOM kill meanwhile (``onnxbench.isolation.oomkill``; any other
SIGKILL is ``crashed``), an overrun becomes ``timeout`` (the whole process group is killed), an
exception becomes ``failed`` with its first line (the traceback is kept for debugging,
never printed here). Workers die with their parent and end at their deadline even without
one (``onnxbench.isolation.lifeline``).

The default start method is ``forkserver`` with numpy, onnxruntime and torch preloaded, so
each worker is a cheap fork that skips the multi-second torch import; ``spawn`` is the
fallback (set ``ONNXBENCH_START_METHOD=spawn`` to force it). The zoo is not preloaded:
model code may print at import, and the fork server's output is the user's terminal.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Literal, cast

from onnxbench.core import timeline
from onnxbench.core.errors import first_line
from onnxbench.core.files import open_nofollow
from onnxbench.isolation import lifeline, oomkill

WorkerStatus = Literal["ok", "failed", "crashed", "oom", "timeout"]

# imported once by the fork server, so no worker pays for them (scipy.stats alone takes
# seconds); a module that fails to import here is silently imported later by the worker
PRELOAD = ["numpy", "scipy.stats", "onnx", "onnxruntime", "torch", "psutil",
           "onnxbench.scenarios.execute", "onnxbench.scenarios.single_stream",
           "onnxbench.build.artifacts", "onnxbench.model.inputs",
           "onnxbench.measure.timer", "onnxbench.measure.stats", "onnxbench.runtimes.ort",
           "onnxbench.runtimes.torch_eager",
           # what every case imports after that (the runtime registry's every family, the
           # zoo, verify, accuracy, placement): ~0.1 s a worker
           "onnxbench.runtimes.registry", "onnxbench.runtimes.testing",
           "onnxbench.runtimes.torch_compile", "onnxbench.model.zoo", "onnxbench.model.weights",
           "onnxbench.model.pad", "onnxbench.quality.accuracy", "onnxbench.quality.parity",
           "onnxbench.profile", "onnxbench.profile.placement", "onnxbench.measure.shape_mix",
           "onnxbench.model.frameworks", "onnxbench.build.export.exporters", "safetensors.torch",
           "onnxbench.build.export.pytorch", "onnxbench.tf.runtimes", "onnxbench.tf.plugin"]
# a concrete start method's context (BaseContext has no Process in typeshed)
_Context = mp.context.ForkServerContext | mp.context.SpawnContext | mp.context.ForkContext
_CONTEXT: _Context | None = None
_IN_WORKER = False  # set in a worker: the one kind of process where a user's model may run


def in_worker() -> bool:
    """Is this process a worker (``run_isolated``'s child)? A user's model code (a
    ``file.py:factory``: import, construction, forward) runs only where this is true."""
    return _IN_WORKER


@dataclass
class WorkerOutcome:
    """What came back from a worker: its status, the function's value, and why not ok."""

    status: WorkerStatus
    value: Any = None
    reason: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _context() -> _Context:
    """The multiprocessing context, created once (forkserver with preloads, else spawn)."""
    global _CONTEXT
    if _CONTEXT is None:
        method = os.environ.get("ONNXBENCH_START_METHOD", "forkserver")
        if method not in mp.get_all_start_methods():
            method = "spawn"
        ctx = cast(_Context, mp.get_context(method))  # method is one of the three
        if method == "forkserver":
            ctx.set_forkserver_preload(_forkserver_preload())
        _CONTEXT = ctx
    return _CONTEXT


def _forkserver_preload() -> list[str]:
    """PRELOAD, led by the fork server's lifeline when the main thread may start it (the
    kernel's parent-death signal follows the thread that started the fork server), and by
    the parent's main script (``onnxbench.isolation.forkserver_main``)."""
    main = threading.current_thread() is threading.main_thread()
    guard = ["onnxbench.isolation.forkserver_guard"] if main else []
    return guard + ["onnxbench.isolation.forkserver_main"] + PRELOAD


def preload(modules: Iterable[str]) -> None:
    """Ask the fork server to import ``modules`` too, so no worker pays for them.

    Only a fork server not started yet takes them (best effort): the runner calls this
    with what the plan's models need (e.g. transformers' ResNet, ~4 s a worker otherwise).
    """
    PRELOAD.extend(m for m in modules if m not in PRELOAD)
    if _CONTEXT is not None and _CONTEXT.get_start_method() == "forkserver":
        _CONTEXT.set_forkserver_preload(_forkserver_preload())


def _prime(ctx: _Context, fn: Callable | None = None) -> None:
    """What the fork server reads when it starts: its preloads, whom to die with, and the
    parent's main script only when the function it starts for is defined there (a user's
    plain script must never run again in the fork server: it would start its benchmark
    there; onnxbench's own functions never need it, ``_main_module_hidden``)."""
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(_forkserver_preload())
        os.environ[lifeline.PARENT_PID_ENV] = str(os.getpid())
        path = _main_path() if fn is not None and _from_main(fn) else None
        os.environ[lifeline.MAIN_ENV] = json.dumps({"path": path, "argv": sys.argv}) \
            if path else ""


def _main_path() -> str | None:
    """The parent's main script, when it ran as one (``python x.py``, not ``-m``): what
    multiprocessing's children import again (``spawn.get_preparation_data``)."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return None
    return getattr(main, "__file__", None)


def warm_fork_server(wait: bool = True) -> bool:
    """Start the fork server, with its preloads, if it is not running; True when it had to.
    ``wait``: then wait until it has imported them (``wait_fork_server``), so the next
    worker is a bare fork (the Ray executor's actors warm theirs when they start)."""
    ctx = _context()
    if ctx.get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    _prime(ctx)
    server = getattr(forkserver, "_forkserver", None)
    before = getattr(server, "_forkserver_pid", None)
    forkserver.ensure_running()
    if getattr(server, "_forkserver_pid", None) == before:
        return False
    if wait:
        wait_fork_server()
    return True


def wait_fork_server() -> None:
    """Return once the fork server has imported its preloads (it answers a fork only then):
    one no-op process, forked and joined."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        noop = ctx.Process(target=_noop, daemon=True)
        with _main_module_hidden():  # a bare fork: nothing of the user's script runs again
            noop.start()
        noop.join()


def _noop() -> None:
    return None


def restart_fork_server() -> None:
    """Stop the fork server (if one runs): the next worker forks from a fresh one.

    The Ray executor calls this after a failed case, so nothing a failure may have left in
    the server serves the next case. (CPython has no public call for it; without one, the
    old server stays.)
    """
    if _CONTEXT is None or _CONTEXT.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


def _limit_memory(mem_limit_mb: int | None) -> None:
    if mem_limit_mb:
        import resource

        limit = int(mem_limit_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _redirect_output(log_path: str | None) -> None:
    """Send the worker's stdout/stderr (C++ libraries log there too) to ``log_path``."""
    if not log_path:
        return
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    fd = open_nofollow(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)  # never via a link
    for stream in (1, 2):
        os.dup2(fd, stream)
    os.close(fd)
    # onnxbench's own progress notes (a long build's stages) go to the log too; only the
    # CLI prints to the user
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("onnxbench")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


# how the runtimes say they ran out of memory without raising MemoryError: ONNX Runtime's
# arena ("Failed to allocate memory", "BFCArena"), CUDA ("out of memory",
# "cudaErrorMemoryAllocation"), C++ (std::bad_alloc); torch raises OutOfMemoryError
OUT_OF_MEMORY = re.compile(r"failed to allocate memory|bfcarena|cuda(?: failure 2:|error)?.{0,20}"
                           r"out of memory|cudaerrormemoryallocation|bad_alloc", re.IGNORECASE)


def is_out_of_memory(exc: BaseException) -> bool:
    """Is ``exc`` a runtime running out of (host or device) memory?"""
    return (isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"
            or bool(OUT_OF_MEMORY.search(str(exc))))


def _child(conn, fn: Callable, args: tuple, mem_limit_mb: int | None,
           log_path: str | None, timeout_s: float | None = None) -> None:
    """Worker body: own process group (so a time-out kills helpers too), a lifeline to the
    parent, run, send back."""
    global _IN_WORKER
    _IN_WORKER = True
    timeline.reset()  # a fresh fork: nothing of the fork server's
    timeline.mark("worker_up")
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    lifeline.guard_worker(timeout_s)
    try:
        _redirect_output(log_path)
        _limit_memory(mem_limit_mb)
        message: tuple[str, Any, str | None, str | None] = ("ok", fn(*args), None, None)
    except BaseException as exc:  # noqa: BLE001 - everything becomes a status
        status = "oom" if is_out_of_memory(exc) else "failed"
        reason = f"out of memory: {first_line(exc)}" if status == "oom" else first_line(exc)
        message = (status, None, reason, traceback.format_exc())
    try:
        conn.send(message)
    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable return value
        conn.send(("failed", None, f"could not send the result back: {first_line(exc)}",
                   traceback.format_exc()))
    conn.close()


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while a worker starts, and raise it right after.

    A KeyboardInterrupt inside ``Process.start()`` leaves the fork server with a request cut
    in half (it prints an EOFError traceback). Masking SIGINT in the main thread is not
    enough: another thread may take the signal and Python still runs its handler in the
    main thread. So the handler itself is swapped for one that only notes the signal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: pending.append(signum))
    try:
        yield
    finally:
        if previous is not None:  # None: a handler set outside Python; leave it
            signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


_MAIN_LOCK = threading.Lock()


def _from_main(fn: Callable) -> bool:
    """Is ``fn`` defined in the user's main module (so its worker needs that module)?"""
    return getattr(fn, "__module__", None) in ("__main__", "__mp_main__")


@contextmanager
def _main_module_hidden(keep: bool = False) -> Iterator[None]:
    """Start a worker without the user's main module.

    multiprocessing tells each new process (fork server and spawn alike) how to rebuild
    ``__main__``: from its file (``init_main_from_path``) or its module name, and the child
    runs it again, as ``__mp_main__``. For a user's plain ``python example.py`` (or a
    script on stdin) that re-runs the whole script in every worker: its benchmark starts
    again inside the worker and dies there. A worker needs nothing from ``__main__`` (it
    runs onnxbench functions on plain data), so while it starts ``__main__`` is a bare
    module with no file and no spec: the child is told to rebuild nothing, as for an
    interactive session. (``keep``: a function of the main module itself is to run, which
    needs multiprocessing's own rule: the script, guarded by ``if __name__ == "__main__"``.)
    """
    import types

    with _MAIN_LOCK:
        real = sys.modules.get("__main__")
        if keep or real is None or (getattr(real, "__spec__", None) is None
                                    and getattr(real, "__file__", None) is None):
            yield
            return
        stand_in = types.ModuleType("__main__")
        sys.modules["__main__"] = stand_in
        try:
            yield
        finally:
            if sys.modules.get("__main__") is stand_in:
                sys.modules["__main__"] = real


def _kill_group(proc) -> None:
    """Kill the worker and everything it started (its process group)."""
    if proc.pid is None:
        return
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass
    proc.join(5)


def _death_reason(exitcode: int | None, oom_evidence: str | None = None
                  ) -> tuple[WorkerStatus, str]:
    """Status and reason for a worker that ended without sending a message.

    A SIGKILL is ``oom`` only with the kernel's evidence (an ``oom_kill`` counter that rose
    while the worker ran, ``onnxbench.isolation.oomkill``); otherwise someone killed it:
    ``crashed``.
    """
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL and oom_evidence:
            return "oom", (f"worker was killed by the out-of-memory killer (SIGKILL; oom_kill "
                           f"rose in {oom_evidence})")
        if -exitcode == signal.SIGKILL:
            return "crashed", ("worker was killed by SIGKILL, not by the out-of-memory killer "
                               "(no OOM kill counted meanwhile)")
        return "crashed", f"worker died with {name}"
    return "crashed", f"worker exited with code {exitcode} before sending a result"


def run_isolated(fn: Callable, *args: Any, timeout_s: float | None = None,
                 mem_limit_mb: int | None = None,
                 log_path: str | os.PathLike | None = None) -> WorkerOutcome:
    """Run ``fn(*args)`` (picklable, module-level) in its own process and report how it went.

    ``timeout_s`` bounds the wall-clock time (None: no bound); ``mem_limit_mb`` caps the
    worker's address space (RLIMIT_AS; unsuitable for CUDA workers, off by default);
    ``log_path`` receives the worker's stdout/stderr (kept off the user's terminal).
    A KeyboardInterrupt in the parent kills the worker and propagates.
    """
    ctx = _context()
    _prime(ctx, fn)
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    log = os.fspath(log_path) if log_path is not None else None
    proc = ctx.Process(target=_child,
                       args=(child_conn, fn, args, mem_limit_mb, log, timeout_s), daemon=True)
    oom_before = oomkill.snapshot()
    start = time.monotonic()
    try:
        with _sigint_deferred(), _main_module_hidden(_from_main(fn)):
            proc.start()  # (a Ctrl-C mid-start would orphan a half-started worker)
        child_conn.close()
        outcome = _wait(proc, parent_conn, start, timeout_s, oom_before)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        parent_conn.close()
    outcome.duration_s = time.monotonic() - start
    return outcome


def _wait(proc, conn, start: float, timeout_s: float | None,
          oom_before: dict[str, int]) -> WorkerOutcome:
    """Wait for a message or the worker's death, whichever first, within the time limit."""
    while True:
        remaining = None if timeout_s is None else timeout_s - (time.monotonic() - start)
        if remaining is not None and remaining <= 0:
            _kill_group(proc)
            return WorkerOutcome("timeout", reason=f"timed out after {timeout_s:g} s")
        ready = wait([conn, proc.sentinel], timeout=remaining)
        if conn in ready:
            try:
                status, value, reason, tb = conn.recv()
            except (EOFError, OSError):
                proc.join()
                return _died(proc.exitcode, start, timeout_s, oom_before)
            proc.join(30)
            if proc.is_alive():
                _kill_group(proc)
            return WorkerOutcome(status, value, reason, tb)
        if proc.sentinel in ready:
            # the pipe may still hold a message sent just before exit
            if conn.poll(0):
                continue
            proc.join()
            return _died(proc.exitcode, start, timeout_s, oom_before)


def _died(exitcode: int | None, start: float, timeout_s: float | None,
          oom_before: dict[str, int]) -> WorkerOutcome:
    if exitcode == -signal.SIGKILL and timeout_s is not None \
            and time.monotonic() - start >= timeout_s:  # its own deadline (lifeline) fired
        return WorkerOutcome("timeout", reason=f"timed out after {timeout_s:g} s")
    evidence = oomkill.killed_since(oom_before) if exitcode == -signal.SIGKILL else None
    status, reason = _death_reason(exitcode, evidence)
    return WorkerOutcome(status, reason=reason)
