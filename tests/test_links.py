"""A run directory is data, links included: nothing onnxbench reads or writes in one may lead
out of it (issue 25, items 1-4). Each test plants a link, runs the command a user would,
and checks the exit (2, one line naming the link) and that the link's target is untouched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clitools import run_cli as cli
from onnxbench.core.case import Case
from onnxbench.core.errors import UserError
from onnxbench.core.files import in_dir, scan
from onnxbench.core.policy import MeasurePolicy
from onnxbench.suite.plan import Plan
from report_fixtures import make_result, write_run
from test_worker import write_tiny_onnx

FAST = MeasurePolicy(warmup=1, min_runs=3, max_runs=3, min_time_s=0.0)
SECRET = "do not touch\n"


def _refused(code: int, err: str, *names: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def finished(tmp_path) -> Path:
    """A run directory with two finished results (no measuring: fabricated)."""
    return write_run(tmp_path / "done", [make_result("ort-cpu", b, 1.0 + b, seed=b)
                                        for b in (1, 2)])


@pytest.fixture
def pending(tmp_path) -> tuple[Path, Case]:
    """A run directory whose plan has one case without a result; the model lies inside it,
    so resuming it needs no --trust."""
    run = tmp_path / "pending"
    for sub in ("raw", "configs", "summary"):
        (run / sub).mkdir(parents=True)
    (run / "models").mkdir()
    model = write_tiny_onnx(run / "models" / "tiny.onnx")
    case = Case(model=str(model), runtime="ort-cpu", batch=1, measure=FAST)
    (run / "configs" / "plan.json").write_text(Plan("p", [case], {case.case_id: 60.0}).to_json())
    return run, case


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text(SECRET)
    return victim


# ------------------------------------------------------------------ 1. the lock file

@pytest.mark.parametrize("argv", [["aggregate"], ["run", "--resume"], ["report"]])
def test_lock_link_is_refused_and_its_target_untouched(argv, finished, pending, tmp_path,
                                                       capsys):
    run = pending[0] if argv[0] == "run" else finished
    victim = _victim(tmp_path)
    (run / ".lock").symlink_to(victim)
    _refused(*cli(capsys, *argv, str(run))[::2], str(run / ".lock"), "symbolic link", "outside")
    assert victim.read_text() == SECRET


def test_lock_link_inside_the_run_dir_is_refused_too(finished, capsys):
    """A lock opened through a link would truncate the file it points to, even inside."""
    plan = finished / "configs" / "plan.json"
    before = plan.read_text()
    (finished / ".lock").symlink_to(plan)
    _refused(*cli(capsys, "aggregate", str(finished))[::2], ".lock", "symbolic link")
    assert plan.read_text() == before


# ------------------------------------------------------- 2. a pending case's raw/ folder

def test_resume_refuses_a_linked_raw_case_folder(pending, tmp_path, capsys):
    run, case = pending
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "raw" / case.case_id).symlink_to(elsewhere)
    _refused(*cli(capsys, "run", "--resume", str(run), "--quiet")[::2],
             f"raw/{case.case_id}", "symbolic link", "outside")
    assert list(elsewhere.iterdir()) == []  # no result.json, no worker.log written there


def test_resume_refuses_a_linked_raw_folder(pending, tmp_path, capsys):
    run, _case = pending
    (run / "raw").rmdir()
    (tmp_path / "raw-elsewhere").mkdir()
    (run / "raw").symlink_to(tmp_path / "raw-elsewhere")
    _refused(*cli(capsys, "run", "--resume", str(run), "--quiet")[::2], "raw", "outside")
    assert list((tmp_path / "raw-elsewhere").iterdir()) == []


# --------------------------------------------------------------------- 3. summary/

def test_aggregate_refuses_a_linked_summary_folder(finished, tmp_path, capsys):
    elsewhere = tmp_path / "summary-elsewhere"
    elsewhere.mkdir()
    if (finished / "summary").exists():
        os.rmdir(finished / "summary")
    (finished / "summary").symlink_to(elsewhere)
    _refused(*cli(capsys, "aggregate", str(finished))[::2], "summary", "outside")
    assert list(elsewhere.iterdir()) == []


def test_aggregate_refuses_a_linked_summary_file(finished, tmp_path, capsys):
    victim = _victim(tmp_path)
    (finished / "summary").mkdir(exist_ok=True)
    (finished / "summary" / "summary.csv").symlink_to(victim)
    _refused(*cli(capsys, "aggregate", str(finished))[::2], "summary.csv", "outside")
    assert victim.read_text() == SECRET


# ------------------------------------------------------------------- 4. artifacts/

def test_resume_refuses_a_linked_artifacts_folder(tmp_path, capsys):
    """The records pass their own check (they name files inside artifacts/), but the
    folder itself leads out: refused before any weights are read, --trust or not."""
    from test_hostile import MOE_TORCH, crafted_run_dir

    outside = tmp_path / "outside-artifacts"
    run = crafted_run_dir(tmp_path, MOE_TORCH, {"state_file": "model.safetensors"})
    (run / "artifacts").rename(outside)
    (run / "artifacts").symlink_to(outside)
    for extra in ([], ["--trust"]):
        _refused(*cli(capsys, "run", "--resume", str(run), "--quiet", *extra)[::2],
                 "artifacts", "outside")
    assert not list((run / "raw").iterdir())


# ---------------------------------------------------------- the other readers, writers

def test_report_refuses_a_linked_report_file(finished, tmp_path, capsys):
    victim = _victim(tmp_path)
    (finished / "report.html").symlink_to(victim)
    _refused(*cli(capsys, "report", str(finished))[::2], "report.html", "outside")
    assert victim.read_text() == SECRET


@pytest.mark.parametrize("command", ["aggregate", "report", "compare"])
def test_readers_refuse_a_result_linked_from_outside(command, finished, tmp_path, capsys):
    """A finished case's result.json pointing at a file elsewhere is not read."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "result.json").write_text(make_result("ort-cpu", 8, 1.0).model_dump_json())
    (finished / "raw" / "planted").symlink_to(foreign)
    argv = [command, str(finished)] + ([str(finished)] if command == "compare" else [])
    _refused(*cli(capsys, *argv)[::2], "raw/planted", "outside")


def test_fifo_in_a_run_dir_is_refused_not_read(finished, capsys):
    """Reading a FIFO blocks forever: it is refused when the run directory is opened."""
    fifo = finished / "raw" / "stuck"
    fifo.mkdir()
    os.mkfifo(fifo / "result.json")
    _refused(*cli(capsys, "aggregate", str(finished))[::2], "not a regular file")


def test_resume_refuses_a_fifo_for_its_suite_file(pending, capsys):
    """``configs/suite.yaml`` (read for its ``executor:``) a FIFO: refused, not read."""
    run, _case = pending
    os.mkfifo(run / "configs" / "suite.yaml")
    _refused(*cli(capsys, "run", "--resume", str(run), "--quiet")[::2], "not a regular file")


def test_resume_refuses_a_linked_plan(pending, tmp_path, capsys):
    run, _case = pending
    foreign = tmp_path / "plan.json"
    (run / "configs" / "plan.json").rename(foreign)
    (run / "configs" / "plan.json").symlink_to(foreign)
    _refused(*cli(capsys, "run", "--resume", str(run), "--quiet")[::2], "plan.json", "outside")


def test_links_that_stay_inside_are_followed(finished, capsys):
    """The rule is where a path leads: a link to a file inside the run directory is read."""
    (finished / "configs" / "env.json").write_text(json.dumps({"os": "Linux"}))
    (finished / "env.json").symlink_to(finished / "configs" / "env.json")
    code, _out, err = cli(capsys, "aggregate", str(finished), "--json")
    assert code == 0, err


def test_in_dir_checks_every_component(tmp_path):
    root = tmp_path / "run"
    (root / "raw").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (root / "raw" / "c").symlink_to(tmp_path / "out")
    assert in_dir(root, "raw", "d", "result.json") == root / "raw" / "d" / "result.json"
    with pytest.raises(UserError, match=r"raw/c: a symbolic link to .*out, outside"):
        in_dir(root, "raw", "c", "result.json")
    with pytest.raises(UserError, match="outside the run directory"):
        in_dir(root, "raw", "..", "..", "out")
    with pytest.raises(UserError, match=r"raw/c: a symbolic link"):
        scan(root)
