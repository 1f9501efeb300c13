"""Did the kernel's out-of-memory killer kill a worker? Read its counters, do not guess.

A worker that dies of SIGKILL without our sending it was killed by someone: the OOM killer,
a user, a job scheduler. Only the kernel's own count says which: ``oom_kill`` in the
worker's cgroup (v2 ``memory.events``, v1 ``memory.oom_control``) and system-wide
(``/proc/vmstat``, Linux >= 4.13). Take ``snapshot()`` before the worker starts and ask
``killed_since(before)`` after it died.
"""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _counter_files() -> list[Path]:
    """The files whose ``oom_kill`` line counts OOM kills that could include our workers."""
    files = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _id, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        rel = path.lstrip("/")
        if controllers == "":  # cgroup v2
            files += [CGROUP_ROOT / rel / "memory.events", CGROUP_ROOT / "memory.events"]
        elif "memory" in controllers.split(","):
            files += [CGROUP_ROOT / "memory" / rel / "memory.oom_control",
                      CGROUP_ROOT / "memory" / "memory.oom_control"]
    files.append(Path("/proc/vmstat"))
    return list(dict.fromkeys(files))


def _oom_kill(path: Path) -> int | None:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return None


def snapshot() -> dict[str, int]:
    """Every readable ``oom_kill`` counter, by file."""
    counts = {}
    for path in _counter_files():
        value = _oom_kill(path)
        if value is not None:
            counts[str(path)] = value
    return counts


def killed_since(before: dict[str, int]) -> str | None:
    """The counter file that rose since ``before`` (OOM evidence), else None."""
    now = snapshot()
    return next((path for path, value in now.items() if value > before.get(path, value)),
                None)
