"""Resume: a suite killed mid-run loses nothing finished and re-runs only the missing cases.

The suite runs in a subprocess (the real CLI) that is killed with SIGKILL once a few
results exist; ``--resume`` then finishes it. Finished cases are recognised by their
``started_at`` stamps and file mtimes, which must not change.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from clitools import run_cli as cli
from helpers import default_sigint, write_tiny_onnx
from onnxbench.core.result import read_results

SUITE = """
suite: slow
defaults:
  processes: 1
  measure: {{warmup: 0, min_runs: 1, max_runs: 100000, min_time_s: 0.4, max_time_s: 0.4}}
cases:
  - model: {tiny}
    runtimes: test-delay
    options: {{delay_us: 200}}
    batch: [1, 2, 3, 4, 5, 6, 7, 8]
"""
N_CASES = 8


def _wait_for_results(raw: Path, at_least: int, proc: subprocess.Popen, limit_s: float = 120):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if len(list(raw.glob("*/result.json"))) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"the suite did not produce {at_least} results in time "
                         f"(exit {proc.poll()}): {proc.stderr.read() if proc.stderr else ''}")


def _start_slow_suite(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """Start the slow suite in a subprocess; return it and its run directory once made."""
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    suite = tmp_path / "slow.yaml"
    suite.write_text(SUITE.format(tiny=tiny))
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "onnxbench", "run", "--suite", str(suite),
                             "--out", str(runs), "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while not list(runs.glob("*/raw")) and time.monotonic() < deadline:
        time.sleep(0.05)
    found = [p.parent for p in runs.glob("*/raw")]
    if len(found) != 1:
        proc.kill()
        proc.wait()
        raise AssertionError(f"expected one run directory, found {found}")
    return proc, found[0]


def test_resume_after_kill_reruns_only_missing_cases(tmp_path, capsys, monkeypatch):
    proc, run_dir = _start_slow_suite(tmp_path)
    try:
        _wait_for_results(run_dir / "raw", 2, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    before = {r.case_id: r for r in read_results(run_dir / "raw")}
    assert 2 <= len(before) < N_CASES, "kill came too late to test resume"
    mtimes = {cid: (run_dir / "raw" / cid / "result.json").stat().st_mtime_ns for cid in before}

    # the plan names a model outside the run directory: refused, nothing runs, one line
    code, out, err = cli(capsys, "run", "--resume", str(run_dir), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--trust" in err, err
    assert len(list((run_dir / "raw").glob("*/result.json"))) == len(before)
    # location-independent: resumed from another working directory (the plan is absolute)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = cli(capsys, "run", "--resume", str(run_dir), "--trust", "--quiet", "--json")
    assert code == 0, err
    after = {r.case_id: r for r in read_results(run_dir / "raw")}
    assert len(after) == N_CASES and all(r.status == "ok" for r in after.values())
    for cid, old in before.items():  # finished cases were not run again
        assert after[cid].started_at == old.started_at
        assert (run_dir / "raw" / cid / "result.json").stat().st_mtime_ns == mtimes[cid]
    rerun = set(after) - set(before)
    assert all(after[c].started_at > max(r.started_at for r in before.values()) for c in rerun)
    summary = json.loads((run_dir / "summary" / "summary.json").read_text())
    assert summary["n_points"] == N_CASES and summary["statuses"] == {"ok": N_CASES}
    assert json.loads(out)["summary"]["n_results"] == N_CASES


def test_resume_of_a_finished_run_runs_nothing(tmp_path, capsys):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    suite = tmp_path / "quick.yaml"
    suite.write_text(f"suite: quick\ncases:\n  - model: {tiny}\n    runtimes: test-skip\n"
                     "    processes: 1\n")
    code, _, err = cli(capsys, "run", "--suite", str(suite), "--out", str(tmp_path / "r"),
                       "--quiet")
    assert code == 0, err
    (run_dir,) = (tmp_path / "r").iterdir()
    (result,) = (run_dir / "raw").glob("*/result.json")
    stamp = result.stat().st_mtime_ns
    code, _, err = cli(capsys, "run", "--resume", str(run_dir), "--quiet")
    assert code == 0, err
    assert result.stat().st_mtime_ns == stamp


def test_resume_of_a_non_run_dir_is_one_line(tmp_path, capsys):
    code, _, err = cli(capsys, "run", "--resume", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a run directory" in err


def test_ctrl_c_keeps_finished_results_and_says_how_to_resume(tmp_path):
    proc, run_dir = _start_slow_suite(tmp_path)
    try:
        _wait_for_results(run_dir / "raw", 1, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert f"--resume {run_dir} --trust" in err and "Traceback" not in err, err
    done = read_results(run_dir / "raw")
    assert 1 <= len(done) < N_CASES, len(done)
    assert all(r.status == "ok" for r in done), [(r.status, r.reason) for r in done]
