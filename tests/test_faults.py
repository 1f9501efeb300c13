"""Faults: a parent killed mid-run, a worker killed by someone, a full disk, a read-only
directory, a file where a directory belongs, a plan moved between directories.

Each ends in one line (exit 2) or a recorded status, never a traceback, and leaves a run
directory that resumes. Read-only directories: as root, ``chmod`` does not stop writes, so
there the tests make the OS calls fail with EROFS (``read_only`` below says which it did).
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clitools import run_cli as cli
from onnxbench.core.result import atomic_write_text, read_results
from onnxbench.isolation import oomkill, worker
from onnxbench.isolation.worker import _death_reason, run_isolated
from test_worker import kill_self, write_tiny_onnx

# ---------------------------------------------------------------- workers and parents

PARENT = textwrap.dedent("""
    import os, sys, time
    from onnxbench.isolation.worker import run_isolated

    def busy(pid_file):
        open(pid_file, "w").write(str(os.getpid()))
        while True:
            pass

    def sleepy(pid_file):
        open(pid_file, "w").write(str(os.getpid()))
        time.sleep(600)

    if __name__ == "__main__":
        run_isolated(busy if sys.argv[1] == "busy" else sleepy, sys.argv[2], timeout_s=600)
""")


def _dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie is dead
    except FileNotFoundError:
        return True


def _wait_for(path: Path, proc: subprocess.Popen, limit_s: float = 120) -> int:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and proc.poll() is None:
        if path.is_file() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"the worker did not start (exit {proc.poll()}): "
                         f"{proc.stderr.read() if proc.stderr else ''}")


@pytest.mark.parametrize("kind", ["busy", "sleepy"])
def test_sigkilled_parent_takes_fork_server_and_worker_with_it(kind, tmp_path):
    script, pid_file = tmp_path / "parent.py", tmp_path / "worker.pid"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script), kind, str(pid_file)],
                            stderr=subprocess.PIPE, text=True)
    try:
        child = _wait_for(pid_file, proc)
        with open(f"/proc/{child}/stat") as fh:
            server = int(fh.read().rsplit(")", 1)[1].split()[1])  # the worker's parent
        survivors = {child, server} - {proc.pid}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 1.0  # the issue: none survives within a second
        while survivors and time.monotonic() < deadline:
            survivors = {p for p in survivors if not _dead(p)}
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    for pid in survivors:  # leave nothing behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"still alive a second after the parent's death: {survivors}"


def write_pid_and_sleep(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


def test_worker_ends_at_its_deadline_even_when_nobody_kills_it(tmp_path, monkeypatch):
    """The parent's time-out kill is disabled: the worker's own lifeline still ends it."""
    assert run_isolated(int, "1", timeout_s=600).value == 1  # the fork server is up
    monkeypatch.setattr(worker, "_kill_group", lambda proc: None)
    pid_file = tmp_path / "pid"
    out = run_isolated(write_pid_and_sleep, str(pid_file), timeout_s=3.0)
    assert out.status == "timeout"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 60  # a liveness bound, not a speed target
    while not _dead(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not _dead(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the worker outlived its time-out with no parent to kill it")


def test_sigkill_by_someone_else_is_crashed_not_oom(monkeypatch):
    monkeypatch.setattr(oomkill, "killed_since", lambda before: None)
    out = run_isolated(kill_self, timeout_s=60)
    assert out.status == "crashed" and "SIGKILL" in out.reason
    assert "not by the out-of-memory killer" in out.reason


def test_sigkill_with_the_kernels_oom_count_is_oom(monkeypatch):
    monkeypatch.setattr(oomkill, "killed_since", lambda before: "/sys/fs/cgroup/memory.events")
    out = run_isolated(kill_self, timeout_s=60)
    assert out.status == "oom" and "memory.events" in out.reason


def test_death_reasons_name_the_signal():
    assert _death_reason(-signal.SIGSEGV) == ("crashed", "worker died with SIGSEGV")
    assert _death_reason(-signal.SIGKILL)[0] == "crashed"
    assert _death_reason(-signal.SIGKILL, "/proc/vmstat")[0] == "oom"


def test_oom_evidence_is_a_kernel_counter_that_rose(tmp_path, monkeypatch):
    events = tmp_path / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    monkeypatch.setattr(oomkill, "_counter_files", lambda: [events])
    before = oomkill.snapshot()
    assert before == {str(events): 1} and oomkill.killed_since(before) is None
    events.write_text("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n")
    assert oomkill.killed_since(before) == str(events)


# ------------------------------------------------------------------------- OS errors

@pytest.fixture
def tiny(tmp_path) -> Path:
    return write_tiny_onnx(tmp_path / "tiny.onnx")


def _suite(tmp_path: Path, tiny: Path, batches=(1, 2)) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"suite: s\ndefaults:\n  measure: {{warmup: 1, runs: 3}}\n  processes: 1\n"
                    "cases:\n"
                    f"  - model: {tiny}\n    runtimes: ort-cpu\n    batch: {list(batches)}\n")
    return path


def _one_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_full_disk_before_the_plan_leaves_no_half_made_run_dir(tmp_path, tiny, capsys,
                                                               monkeypatch):
    real = os.statvfs

    def full(path):
        st = real(path)
        return os.statvfs_result((st.f_bsize, st.f_frsize, st.f_blocks, 0, 0, st.f_files,
                                  st.f_ffree, st.f_favail, st.f_flag, st.f_namemax))

    monkeypatch.setattr(os, "statvfs", full)
    code, _out, err = cli(capsys, "run", "--suite", str(_suite(tmp_path, tiny)), "--out",
                         str(tmp_path / "runs"), "--quiet")
    line = _one_line(code, err)
    assert "plan.json: no space left on the device" in line and "nothing ran" in line
    assert not list((tmp_path / "runs").iterdir())  # no directory that cannot be resumed


def test_full_disk_at_the_first_result_is_one_line_and_resumable(tmp_path, tiny, capsys,
                                                                 monkeypatch):
    import tempfile

    real = tempfile.mkstemp

    def no_space(*args, prefix="", **kwargs):  # as a write on a full disk: no file name
        if prefix.startswith(".result.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, prefix=prefix, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", no_space)
        code, _, err = cli(capsys, "run", "--suite", str(_suite(tmp_path, tiny)), "--out",
                             str(tmp_path / "runs"), "--quiet")
    line = _one_line(code, err)
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert "result.json: no space left on the device" in line
    assert f"onnxbench run --resume {run_dir} --trust" in line
    code, _out, err = cli(capsys, "run", "--resume", str(run_dir), "--trust", "--quiet")
    assert code == 0, err
    assert sorted(r.status for r in read_results(run_dir / "raw")) == ["ok", "ok"]


@pytest.fixture
def read_only(monkeypatch):
    """Make a directory read-only: chmod where that stops writes, else (root) every write
    under it fails with ``code`` (EROFS, or EACCES as a chmod would give). Returns a function
    of the directory."""
    def make(folder: Path, code: int = errno.EROFS) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                if path.is_dir():
                    path.chmod(stat.S_IRUSR | stat.S_IXUSR)
            return "chmod"
        root = str(folder.resolve())

        def inside(path) -> bool:
            return os.path.abspath(os.fspath(path)).startswith(root)

        def refuse(path):
            raise OSError(code, os.strerror(code), os.fspath(path))

        real_open, real_mkdir, real_builtin_open = os.open, os.mkdir, builtins.open

        def fake_open(path, flags, *args, **kwargs):
            writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            if writing and inside(path):
                refuse(path)
            return real_open(path, flags, *args, **kwargs)

        def fake_mkdir(path, *args, **kwargs):
            if inside(path):
                refuse(path)
            return real_mkdir(path, *args, **kwargs)

        def fake_builtin_open(path, mode="r", *args, **kwargs):
            if isinstance(path, (str, os.PathLike)) and set(mode) & set("wax+") \
                    and inside(path):
                refuse(path)
            return real_builtin_open(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)
        monkeypatch.setattr(builtins, "open", fake_builtin_open)
        return errno.errorcode[code]
    return make


@pytest.fixture
def finished_run(tmp_path, tiny, capsys) -> Path:
    code, _out, err = cli(capsys, "run", "--suite", str(_suite(tmp_path, tiny, (1,))), "--out",
                         str(tmp_path / "done"), "--quiet")
    assert code == 0, err
    (run_dir,) = (tmp_path / "done").iterdir()
    return run_dir


def _restore(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


@pytest.mark.parametrize("command", ["run", "bench", "optimize"])
def test_read_only_output_is_one_line_naming_the_path(command, tmp_path, tiny, capsys,
                                                      read_only):
    ro = tmp_path / "ro"
    how = read_only(ro)
    argv = {"run": ["run", "--suite", str(_suite(tmp_path, tiny)), "--out", str(ro / "runs"),
                    "--quiet"],
            "bench": ["bench", str(tiny), "--out", str(ro / "b"), "--quiet"],
            "optimize": ["optimize", str(tiny), "--level", "basic", "--out", str(ro / "o")],
            }[command]
    _assert_refused_read_only(capsys, ro, how, argv)


@pytest.mark.parametrize("command", ["resume", "aggregate", "report"])
def test_read_only_run_dir_is_one_line_naming_the_path(command, finished_run, capsys,
                                                       read_only):
    if command == "resume":
        for result in (finished_run / "raw").glob("*/result.json"):
            result.unlink()  # resume then has work to do
    how = read_only(finished_run)
    argv = {"resume": ["run", "--resume", str(finished_run), "--trust", "--quiet"],
            "aggregate": ["aggregate", str(finished_run)],
            "report": ["report", str(finished_run)]}[command]
    _assert_refused_read_only(capsys, finished_run, how, argv)


def _assert_refused_read_only(capsys, folder: Path, how: str, argv: list[str]) -> None:
    try:
        code, _out, err = cli(capsys, *argv)
    finally:
        _restore(folder)
    line = _one_line(code, err)
    assert str(folder) in line
    assert ("read-only file system" if how == "EROFS" else "permission denied") in line


def test_permission_denied_output_is_one_line_naming_the_path(tmp_path, tiny, capsys,
                                                              read_only):
    locked = tmp_path / "locked"
    how = read_only(locked, errno.EACCES)
    _assert_refused_read_only(capsys, locked, "EACCES" if how != "chmod" else how,
                              ["bench", str(tiny), "--out", str(locked / "b"), "--quiet"])


@pytest.mark.parametrize("command", ["run", "bench", "optimize"])
def test_out_naming_an_existing_file_is_one_line(command, tmp_path, tiny, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    argv = {"run": ["run", "--suite", str(_suite(tmp_path, tiny))],
            "bench": ["bench", str(tiny)],
            "optimize": ["optimize", str(tiny), "--level", "basic"]}[command]
    code, _out, err = cli(capsys, *argv, "--out", str(afile))
    line = _one_line(code, err)
    assert f"--out {afile}: is a file" in line
    assert afile.read_text() == "not a directory"


def test_permission_error_reading_a_model_is_not_called_a_bad_format(tiny, capsys,
                                                                     monkeypatch):
    real = builtins.open

    def denied(path, *args, **kwargs):
        if os.fspath(path) == str(tiny):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    code, _out, err = cli(capsys, "bench", str(tiny))
    line = _one_line(code, err)
    assert "permission denied" in line and "truncated" not in line and str(tiny) in line


# --------------------------------------------------------------- modes and locations

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_files_honour_the_umask(umask, mode, tmp_path):
    before = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == mode


def test_results_of_a_run_are_shareable(finished_run):
    if os.umask(0o022) != 0o022:
        pytest.skip("the test process does not run under umask 022")
    for path in [*finished_run.glob("raw/*/result.json"), finished_run / "configs/plan.json",
                 finished_run / "summary/summary.csv"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_resume_from_anywhere_and_a_missing_model_is_one_line_before_anything_runs(
        tmp_path, tiny, capsys, monkeypatch):
    code, _, err = cli(capsys, "run", "--suite", str(_suite(tmp_path, tiny)), "--out",
                         str(tmp_path / "runs"), "--only", "_b1_", "--quiet")
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    plan = json.loads((run_dir / "configs" / "plan.json").read_text())
    assert all(Path(c["case"]["model"]).is_absolute() for c in plan["cases"])
    hidden = tiny.rename(tmp_path / "moved.onnx")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = cli(capsys, "run", "--resume", str(run_dir), "--trust", "--quiet")
    line = _one_line(code, err)
    assert f"model {tiny}" in line and "not found" in line and "nothing ran" in line
    assert len(read_results(run_dir / "raw")) == 1  # nothing was marked failed
    hidden.rename(tiny)
    code, _out, err = cli(capsys, "run", "--resume", str(run_dir), "--trust", "--quiet")
    assert code == 0, err
    assert sorted(r.case.batch for r in read_results(run_dir / "raw")) == [1, 2]
