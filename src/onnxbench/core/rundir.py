"""The run directory: one per execution, created exclusively, locked while written.

Layout (the reference harness's, kept so old habits work)::

    runs/<suite>_<YYYYmmdd-HHMMSS>/
      configs/suite.yaml   the suite as given      configs/plan.json  the resolved plan
      configs/env.json     the environment         env.json           (same, at the top)
      raw/<case_id>/result.json                     artifacts/<key>/   exports shared by cases
      summary/summary.csv, summary/summary.json     .lock              held while running

Two runs never share a directory: creation uses ``mkdir`` (fails if it exists; a suffix is
added), and an ``flock`` on ``.lock`` keeps a second process (e.g. two ``--resume``) out.

``configs/plan.json`` is written first (atomically, after checking there is room for it):
it is the one file a resume needs, so a directory either has it and can be resumed, or
never ran anything and is removed again.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from onnxbench.core.case import Case
from onnxbench.core.errors import UserError, os_error_message
from onnxbench.core.files import atomic_write_text, in_dir, open_nofollow, scan
from onnxbench.core.result import Result, read_result

PLAN = "plan.json"
PLAN_ROOM = 1 << 20  # free bytes wanted beyond the plan's own size before writing it


@dataclass(frozen=True)
class RunDir:
    """A run directory; every path in it is made by ``file`` (checked: no link out of it,
    ``onnxbench.core.files.in_dir``)."""

    path: Path

    def file(self, *parts: str | os.PathLike[str]) -> Path:
        """``path/parts``, refused in one line when a component leads out of the directory."""
        return in_dir(self.path, *parts)

    @property
    def raw(self) -> Path:
        return self.file("raw")

    @property
    def configs(self) -> Path:
        return self.file("configs")

    @property
    def summary(self) -> Path:
        return self.file("summary")

    @property
    def artifacts(self) -> Path:
        return self.file("artifacts")

    def result_path(self, case: Case | str) -> Path:
        return self.file("raw", _case_id(case), "result.json")

    def log_path(self, case: Case | str) -> Path:
        return self.file("raw", _case_id(case), "worker.log")

    def result_files(self) -> list[Path]:
        """Every ``raw/*/result.json``, by case id, each checked."""
        raw = self.raw
        return [self.file("raw", p.parent.name, p.name) for p in sorted(raw.glob("*/result.json"))]

    def read_results(self) -> list[Result]:
        """Every result of the run (UserError naming an unreadable or outside one)."""
        return [read_result(p) for p in self.result_files()]

    def write_result(self, result: Result) -> Path:
        """``raw/<case_id>/result.json``, written atomically at its checked path."""
        path = self.result_path(result.case_id)
        atomic_write_text(path, result.model_dump_json(indent=1))
        return path

    def check(self) -> RunDir:
        """The whole tree holds no link out of it and no FIFO or device (``core.files.scan``)."""
        scan(self.path)
        return self

    def done(self, case: Case) -> bool:
        """The case has a final result (one lost with its Ray worker or node is not final)."""
        path = self.result_path(case)
        return path.is_file() and not _marked_rerun(path)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock for the duration; UserError if another process has it.

        The ``.lock`` file exists only while a process holds it: it is removed (still
        locked) on release, and a process that locked a file removed meanwhile tries again
        on the new one, so two processes never both hold the directory. A link at ``.lock``
        is refused (opened without following it)."""
        path = self.file(".lock")
        fd = _acquire(path, self.path)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass  # a read-only directory keeps it: the flock still goes with the close
            os.close(fd)  # closing releases the flock


def _acquire(path: Path, run_dir: Path) -> int:
    """An fd holding the flock of ``path``, the file that is at ``path`` now."""
    while True:
        fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UserError(f"{run_dir}: in use by another onnxbench process (pid "
                            f"{holder}); wait for it to finish or use another directory") \
                from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # its holder removed it as we opened it: lock the one there now


def _case_id(case: Case | str) -> str:
    return case if isinstance(case, str) else case.case_id


def existing_run_dir(path: Path | str) -> RunDir:
    """A run directory to read (aggregate, report, compare): one with ``raw/``, checked as
    a whole (``RunDir.check``), or the folder given to ``--out`` while it holds one run
    (``locate_run``); UserError (one line) otherwise."""
    run = RunDir(locate_run(path))
    if not run.path.is_dir():
        raise UserError(f"{path}: no such run directory; pass a directory made by "
                        "`onnxbench run`")
    if not run.raw.is_dir():
        raise UserError(f"{path}: not a run directory (no raw/ folder with result.json "
                        "files); pass a directory made by `onnxbench run`")
    return run.check()


def _marked_rerun(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("rerun"))
    except (OSError, ValueError, AttributeError):
        return False


def create_run_dir(out_root: Path | str, name: str, now: datetime | None = None) -> RunDir:
    """Make ``out_root/<name>_<YYYYmmdd-HHMMSS>[-N]/`` exclusively (never reuse one)."""
    root = Path(out_root)
    if root.exists() and not root.is_dir():
        raise UserError(f"--out {root}: is a file; give the directory run directories go in")
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{name}_{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 1000):
        path = root / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        run = RunDir(path)
        for sub in (run.raw, run.configs, run.summary):
            sub.mkdir()
        return run
    raise UserError(f"{root}: could not create a new run directory for {name!r}")


def is_run_dir(path: Path) -> bool:
    """Does ``path`` look like a run directory (its ``raw/`` or its plan)?"""
    return (path / "raw").is_dir() or (path / "configs" / PLAN).is_file()


def locate_run(path: Path | str) -> Path:
    """``path`` itself when it is a run directory; else the one run directory it holds
    (the folder given to ``--out``: ``runs/a`` holding ``bench-model_20260101-120000/``).
    UserError naming the runs when it holds several; ``path`` unchanged when it holds none
    (the caller says what is missing)."""
    p = Path(path)
    if not p.is_dir() or is_run_dir(p):
        return p
    try:
        runs = sorted(c for c in p.iterdir()
                      if c.is_dir() and not c.is_symlink() and is_run_dir(c))
    except OSError:
        return p
    if len(runs) == 1:
        return runs[0]
    if runs:
        names = ", ".join(r.name for r in runs[:4]) + (" ..." if len(runs) > 4 else "")
        raise UserError(f"{p}: holds {len(runs)} runs ({names}), not one; pass the run "
                        f"directory itself, e.g. {runs[-1]}")
    return p


def open_run_dir(path: Path | str) -> RunDir:
    """An existing run directory (for --resume), or the folder holding exactly one
    (``locate_run``); UserError when it is not one."""
    run = RunDir(locate_run(path))
    if not run.path.is_dir():
        raise UserError(f"{path}: no such run directory; pass a directory made by "
                        "`onnxbench run`")
    if not run.file("configs", PLAN).is_file():
        raise UserError(f"{path}: not a run directory (no configs/{PLAN}); "
                        "pass a directory made by `onnxbench run`")
    return run.check()


def write_configs(run: RunDir, plan_json: str, env: dict[str, Any],
                  suite_text: str | None = None) -> None:
    """The resolved plan (first: a resume needs only it), the suite as given and the
    environment, before any case runs. If the plan cannot be written, nothing has run: the
    empty directory is removed and the error is one line."""
    try:
        _check_room(run.configs, len(plan_json.encode()) + PLAN_ROOM)
        atomic_write_text(run.file("configs", PLAN), plan_json)
    except OSError as exc:
        removed = _discard_skeleton(run)
        raise UserError(os_error_message(exc, "writing the plan; nothing ran" +
                                         (f", {run.path} removed" if removed else ""))) \
            from None
    if suite_text is not None:
        atomic_write_text(run.file("configs", "suite.yaml"), suite_text)
    env_text = json.dumps(env, indent=1, sort_keys=True, default=str)
    atomic_write_text(run.file("configs", "env.json"), env_text)
    atomic_write_text(run.file("env.json"), env_text)


def _check_room(folder: Path, needed: int) -> None:
    """OSError(ENOSPC) unless ``folder``'s file system has ``needed`` bytes free."""
    stat = os.statvfs(folder)
    if stat.f_bavail * stat.f_frsize < needed:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / PLAN))


def _discard_skeleton(run: RunDir) -> bool:
    """Remove a run directory that holds nothing but its empty skeleton; True if removed."""
    keep = {".lock", "raw", "configs", "summary", "artifacts"}
    try:
        names = set(os.listdir(run.path))
        if not names <= keep or any(any((run.path / d).iterdir()) for d in names - {".lock"}
                                    if (run.path / d).is_dir()):
            return False
        shutil.rmtree(run.path)
        return True
    except OSError:
        return False


def read_plan_text(run: RunDir) -> str:
    return run.file("configs", PLAN).read_text(encoding="utf-8")


def read_env(run: RunDir) -> dict[str, Any]:
    try:
        return json.loads(run.file("configs", "env.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
