"""Workers die with their parent, and end at their deadline even without one.

A worker that outlives onnxbench keeps a core busy (corrupting the next run's numbers) or
sleeps forever. The fork server and each worker therefore watch the process that started
them, by two independent means each:

- the **fork server** (``forkserver_guard``, imported first by the fork server) asks the
  kernel for SIGKILL when onnxbench dies (``PR_SET_PDEATHSIG``); multiprocessing's own
  "alive" pipe ends it too once no worker holds a copy of that pipe, so each worker closes
  its inherited copy (``release_forkserver_pipe``);
- each **worker** asks for SIGKILL when its parent (the fork server, or onnxbench under
  ``spawn``) dies, and runs a watchdog thread (``start_watchdog``) that waits on the pipe
  multiprocessing keeps open from onnxbench to the worker (EOF = onnxbench is gone), checks
  ``os.getppid()`` as a backup, and kills the worker's process group at
  ``timeout + GRACE_S``, so a time-out holds even when nobody is left to enforce it.

``PR_SET_PDEATHSIG`` fires when the parent *thread* exits; the runner therefore only puts
``forkserver_guard`` in the fork server's preload list when the main thread starts it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
GRACE_S = 2.0  # the parent's own time-out kill comes first; this is the backstop
PARENT_PID_ENV = "ONNXBENCH_PARENT_PID"
MAIN_ENV = "ONNXBENCH_PARENT_MAIN"  # the parent's main script, argv (forkserver_main)
POLL_S = 0.25


def set_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` when the parent dies (Linux); False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def release_forkserver_pipe() -> None:
    """Close the fork server's "alive" pipe that each forked worker inherits, so the fork
    server sees EOF (and exits) as soon as onnxbench itself is gone."""
    try:
        from multiprocessing import forkserver
    except ImportError:
        return
    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if server is None or fd is None or server._forkserver_pid is not None:
        return  # not a forked worker (this process runs the fork server's client side)
    try:
        os.close(fd)
    except OSError:
        pass
    server._forkserver_alive_fd = None


def die() -> None:
    """Kill this worker and everything it started (its own process group), now."""
    try:
        if os.getpgid(0) == os.getpid():  # never the parent's group
            os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(137)


def start_watchdog(timeout_s: float | None) -> threading.Thread:
    """A daemon thread that kills the worker when its parent dies or its deadline passes."""
    import multiprocessing as mp
    from multiprocessing.connection import wait

    parent = mp.parent_process()
    sentinel = parent.sentinel if parent is not None else None
    ppid = os.getppid()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s + GRACE_S

    def watch() -> None:
        while True:
            left = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            if left <= 0:
                die()
            if sentinel is not None and wait([sentinel], timeout=left):
                die()  # EOF: the process that started us is gone
            elif sentinel is None:
                time.sleep(left)
            if os.getppid() != ppid:
                die()  # reparented: our parent died

    thread = threading.Thread(target=watch, name="onnxbench-lifeline", daemon=True)
    thread.start()
    return thread


def guard_worker(timeout_s: float | None) -> None:
    """Everything a worker does first: die with its parent, never outlive its deadline."""
    set_death_signal()
    release_forkserver_pipe()
    start_watchdog(timeout_s)


def guard_forkserver() -> None:
    """What the fork server does on start: die with onnxbench (the process named by
    ``ONNXBENCH_PARENT_PID``), also when onnxbench died before this ran."""
    set_death_signal()
    expected = os.environ.get(PARENT_PID_ENV)
    if expected and expected.isdigit() and os.getppid() != int(expected):
        os._exit(0)
