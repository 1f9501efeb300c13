"""The run directory: one per execution, created exclusively, locked while written.

Layout (the reference harness's, kept so old habits work)::

    runs/<suite>_<YYYYmmdd-HHMMSS>/
      configs/suite.yaml   the suite as given      configs/plan.json  the resolved plan
      configs/env.json     the environment         env.json           (same, at the top)
      raw/<case_id>/result.json                     artifacts/<key>/   exports shared by cases
      summary/summary.csv, summary/summary.json     .lock              held while running

Two runs never share a directory: creation uses ``mkdir`` (fails if it exists; a suffix is
added), and an ``flock`` on ``.lock`` keeps a second process (e.g. two ``--resume``) out.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from onnxbench.case import Case
from onnxbench.errors import UserError
from onnxbench.result import atomic_write_text

PLAN = "plan.json"


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def raw(self) -> Path:
        return self.path / "raw"

    @property
    def configs(self) -> Path:
        return self.path / "configs"

    @property
    def summary(self) -> Path:
        return self.path / "summary"

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    def result_path(self, case: Case) -> Path:
        return self.raw / case.case_id / "result.json"

    def done(self, case: Case) -> bool:
        return self.result_path(case).is_file()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock for the duration; UserError if another process has it."""
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise UserError(f"{self.path}: in use by another onnxbench process (pid "
                                f"{holder}); wait for it to finish or use another directory")\
                    from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def create_run_dir(out_root: Path | str, name: str, now: datetime | None = None) -> RunDir:
    """Make ``out_root/<name>_<YYYYmmdd-HHMMSS>[-N]/`` exclusively (never reuse one)."""
    root = Path(out_root)
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


def open_run_dir(path: Path | str) -> RunDir:
    """An existing run directory (for --resume); UserError when it is not one."""
    run = RunDir(Path(path))
    if not (run.configs / PLAN).is_file():
        raise UserError(f"{path}: not a run directory (no configs/{PLAN}); "
                        "pass a directory made by `onnxbench run`")
    return run


def write_configs(run: RunDir, plan_json: str, env: dict[str, Any],
                  suite_text: str | None = None) -> None:
    """The suite as given, the resolved plan and the environment, before any case runs."""
    if suite_text is not None:
        atomic_write_text(run.configs / "suite.yaml", suite_text)
    atomic_write_text(run.configs / PLAN, plan_json)
    env_text = json.dumps(env, indent=1, sort_keys=True, default=str)
    atomic_write_text(run.configs / "env.json", env_text)
    atomic_write_text(run.path / "env.json", env_text)


def read_plan_text(run: RunDir) -> str:
    return (run.configs / PLAN).read_text(encoding="utf-8")


def read_env(run: RunDir) -> dict[str, Any]:
    try:
        return json.loads((run.configs / "env.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
