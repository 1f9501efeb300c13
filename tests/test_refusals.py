"""Every number checked, the dry run as strict as the run, messages that name the right thing
(issue 25, items 8-10): each of these exited 0 (or said the wrong thing) before.

Each probe is one command as a user types it; the answer is one line, exit 2, naming the
flag, field or file and what would be right, and nothing is written.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from clitools import run_cli as cli
from test_worker import write_tiny_onnx


@pytest.fixture
def tiny(tmp_path) -> Path:
    return write_tiny_onnx(tmp_path / "tiny.onnx")


def one_line(code: int, err: str, *fragments: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err)
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def suite_file(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text("suite: s\ncases:\n" + body)
    return path


# ------------------------------------------------------------ 8. numbers and dims

@pytest.mark.parametrize("argv, fragments", [
    (["bench", "{tiny}", "--processes", "0"], ["--processes"]),
    (["bench", "{tiny}", "--min-time", "5", "--max-time", "1"],
     ["--min-time 5 is more than --max-time 1"]),
    (["bench", "{tiny}", "--seq", "128"], ["--seq 128", "no sequence axis", "x[batch, 4]"]),
    (["profile", "{tiny}", "--runs", "0"], ["--runs=0", "at least one profiled run"]),
    (["verify", "{tiny}", "--inputs", "{npz}", "--rtol", "-1"], ["--rtol -1.0", ">= 0"]),
    (["verify", "{tiny}", "--inputs", "{npz}", "--atol", "nan"], ["--atol nan", "finite"]),
    (["export", "dcnv2", "--rtol", "-1"], ["--rtol -1.0", ">= 0"]),
    (["export", "dcnv2", "--config", "tiny", "--opset", "99"],
     ["--opset 99", "ONNX opset from 7 to"]),
    (["ab", "{tiny}", "--precision", "fp32,int9"], ["precision='int9'", "fp32, fp16"]),
    (["bench", "{tiny}", "--inputs", "{nan}"], ["--inputs", "nan.npz", "NaN or Inf",
                                                "first at index [0, 1]"]),
    (["verify", "{tiny}", "--inputs", "{nan}", "--against", "{tiny}"], ["NaN or Inf"]),
    (["bench", "{zero}"], ["zero.onnx", "input 'x' declares dim 0 as 0", "positive size"]),
    (["bench", "{neg}"], ["neg.onnx", "declares dim 0 as -3"]),
])
def test_numbers_are_checked(argv, fragments, tmp_path, tiny, capsys):
    np.savez(tmp_path / "ok.npz", x=np.ones((2, 4), np.float32))
    np.savez(tmp_path / "nan.npz", x=np.array([[1, np.inf, 2, 3]] * 2, np.float32))
    paths = {"tiny": tiny, "npz": tmp_path / "ok.npz", "nan": tmp_path / "nan.npz",
             "zero": write_tiny_onnx(tmp_path / "zero.onnx", dims=(0, 4)),
             "neg": write_tiny_onnx(tmp_path / "neg.onnx", dims=(-3, 4))}
    out = tmp_path / "never"
    command = [a.format(**paths) for a in argv]
    if command[0] in ("bench", "profile", "ab", "export"):
        command += ["--out", str(out)]
    one_line(*cli(capsys, *command)[::2], *fragments)
    assert not out.exists()


@pytest.mark.parametrize("body, fragments", [
    ("  - model: {tiny}\n    measure: {{min_runs: 50, max_runs: 10}}\n",
     ["s.yaml:4: cases[0].measure", "min_runs 50 is more than max_runs 10"]),
    ("  - model: {tiny}\n    measure: {{min_time_s: 5, max_time_s: 1}}\n",
     ["cases[0].measure", "min_time_s 5 is more than max_time_s 1"]),
    ("  - model: {tiny}\n    measure: {{runs: 5, min_runs: 50}}\n",
     ["min_runs 50 is more than max_runs 5"]),
    ("  - model: {tiny}\n    seq: 128\n", ["cases[0].seq", "model tiny.onnx has no sequence"]),
    ("  - model: dcnv2\n    config: tiny\n    seq: 128\n",
     ["cases[0].seq", "model dcnv2 has no sequence axis"]),
])
def test_suite_numbers_are_checked_at_plan_time(body, fragments, tmp_path, tiny, capsys):
    path = suite_file(tmp_path, body.format(tiny=tiny))
    one_line(*cli(capsys, "run", "--suite", str(path), "--dry-run")[::2], *fragments)


def test_one_bound_alone_moves_the_other_default(tmp_path, tiny, capsys):
    """max_runs: 5 alone (below the default min_runs 10) is no conflict: min follows it."""
    from onnxbench.suite.plan import measure_policy
    from onnxbench.suite.schema import MeasureSpec

    policy = measure_policy(MeasureSpec(max_runs=5, min_time_s=20.0))
    assert (policy.min_runs, policy.max_runs) == (5, 5)
    assert (policy.min_time_s, policy.max_time_s) == (20.0, 20.0)


def test_library_refuses_what_the_command_line_refuses(tiny, tmp_path):
    """One validation layer: the same constraints from Python."""
    from onnxbench.api import bench_plan, profile_model
    from onnxbench.build.export.matrix import export_matrix
    from onnxbench.core.errors import UserError
    from onnxbench.core.policy import MeasurePolicy
    from onnxbench.quality.parity import compare

    with pytest.raises(UserError, match="min_time_s 5 is more than max_time_s 1"):
        bench_plan(tiny, measure={"min_time_s": 5.0, "max_time_s": 1.0})
    with pytest.raises(ValueError, match="min_runs 50 is more than max_runs 10"):
        MeasurePolicy(min_runs=50, max_runs=10)
    with pytest.raises(UserError, match="processes 0"):
        bench_plan(tiny, processes=0)
    with pytest.raises(UserError, match="rtol -1"):
        compare([np.ones(2)], [np.ones(2)], rtol=-1)
    with pytest.raises(UserError, match="opset 99"):
        export_matrix("dcnv2", "tiny", ("dynamo",), opset=99, out_dir=tmp_path / "x")
    with pytest.raises(UserError, match="at least one profiled run"):
        profile_model(tiny, runs=0, out=tmp_path / "never")
    assert not (tmp_path / "x").exists() and not (tmp_path / "never").exists()


def test_opset_option_of_a_suite_is_checked(tmp_path, capsys):
    path = suite_file(tmp_path, "  - model: dcnv2\n    options: {opset: 99}\n")
    one_line(*cli(capsys, "run", "--suite", str(path), "--dry-run")[::2], "opset=99",
             "ONNX opset from 7 to")


# ----------------------------------------------------------------------- 9. dry run

@pytest.mark.parametrize("extra, fragments", [
    (["--executor", "rey"], ["--executor 'rey'", "choose one of: local, ray"]),
    (["--only", "zzz"], ["--only 'zzz'", "matches none"]),
])
def test_dry_run_refuses_what_the_run_refuses(extra, fragments, tmp_path, tiny, capsys):
    path = suite_file(tmp_path, f"  - model: {tiny}\n")
    one_line(*cli(capsys, "run", "--suite", str(path), "--dry-run", *extra)[::2], *fragments)


def test_dry_run_refuses_inputs_with_fewer_rows_than_the_batch(tmp_path, tiny, capsys):
    np.savez(tmp_path / "four.npz", x=np.ones((4, 4), np.float32))
    path = suite_file(tmp_path, f"  - model: {tiny}\n    inputs: {tmp_path / 'four.npz'}\n"
                                "    batch: [1, 64]\n")
    one_line(*cli(capsys, "run", "--suite", str(path), "--dry-run")[::2],
             "cases[0].inputs", "holds 4 row(s); batch 64 needs at least 64")


@pytest.fixture
def handed_back(tmp_path, tiny) -> tuple[Path, dict]:
    """A run directory whose plan has one pending case (plan.json as onnxbench writes it)."""
    from onnxbench.core.case import Case
    from onnxbench.core.policy import MeasurePolicy
    from onnxbench.suite.plan import Plan

    run = tmp_path / "run"
    for sub in ("raw", "configs", "summary"):
        (run / sub).mkdir(parents=True)
    case = Case(model=str(tiny), runtime="ort-cpu", batch=1,
                measure=MeasurePolicy(warmup=1, min_runs=3, max_runs=3, min_time_s=0.0))
    doc = json.loads(Plan("p", [case], {case.case_id: 60.0}).to_json())
    return run, doc


@pytest.mark.parametrize("edit, fragments", [
    (lambda c: c["case"].update(runtime="ort-cpux"), ["unknown runtime 'ort-cpux'",
                                                       "did you mean 'ort-cpu'"]),
    (lambda c: c.update(timeout_s=-5), ["timeout_s -5", "positive number of seconds"]),
    (lambda c: c["case"]["options"].update(threads=0), ["threads=0"]),
    (lambda c: c["case"].update(precision="int9"), ["precision='int9'"]),
    (lambda c: c["case"]["measure"].update(min_runs=50, max_runs=10),
     ["min_runs 50 is more than max_runs 10"]),
])
def test_resume_checks_an_edited_plan(edit, fragments, handed_back, capsys):
    run, doc = handed_back
    edit(doc["cases"][0])
    (run / "configs" / "plan.json").write_text(json.dumps(doc))
    line = one_line(*cli(capsys, "run", "--resume", str(run), "--trust", "--quiet")[::2],
                    "plan.json", *fragments)
    assert "Traceback" not in line and not list((run / "raw").iterdir())


# ------------------------------------------------------------------ 10. messages

@pytest.mark.parametrize("argv, fragments, ghost", [
    (["bench", "{tiny}", "--accuracy-data", "{missing}"],
     ["--accuracy-data", "missing.npz", "no such file"], "--inputs"),
    (["bench", "{tiny}", "--inputs", "{dir_npz}"], ["--inputs", "is a directory"], "not found"),
    (["bench", "{tiny}", "--accuracy-data", "{dir_npz}"], ["--accuracy-data", "is a directory"],
     "--inputs"),
    (["bench", "{dir_py}:make"], ["is a directory", "give the .py file"], "does not exist"),
    (["verify", "{tiny}", "--reference", "{tmp}"], ["is a directory", "reference.json"],
     "not found"),
    (["run", "--suite", "{dir_yaml}", "--dry-run"], ["is a directory", ".yaml"], "no such"),
    (["load", "{tiny}", "--scenario", "ofline"], ["--scenario 'ofline'",
                                                  "did you mean 'offline'"], "name None"),
    (["run", "--suite", "{suite}", "--trust"], ["--trust", "only applies to --resume"], None),
])
def test_messages_name_the_right_thing(argv, fragments, ghost, tmp_path, tiny, capsys):
    for folder in ("d.npz", "d.py", "d.yaml"):
        (tmp_path / folder).mkdir()
    paths = {"tiny": tiny, "missing": tmp_path / "missing.npz", "dir_npz": tmp_path / "d.npz",
             "dir_py": tmp_path / "d.py", "dir_yaml": tmp_path / "d.yaml", "tmp": tmp_path,
             "suite": suite_file(tmp_path, f"  - model: {tiny}\n")}
    command = [a.format(**paths) for a in argv]
    if command[0] in ("bench", "load") or "--trust" in command:
        command += ["--out", str(tmp_path / "never")]
    line = one_line(*cli(capsys, *command)[::2], *fragments)
    assert ghost is None or ghost not in line, line
    assert not (tmp_path / "never").exists()


def test_export_of_an_unknown_opset_writes_nothing(tmp_path, capsys):
    code, out, err = cli(capsys, "export", "dcnv2", "--config", "tiny", "--opset", "99",
                         "--out", str(tmp_path / "exp"))
    one_line(code, err, "--opset 99")
    assert out == "" and not (tmp_path / "exp").exists()  # no reference.json, no IR dump


@pytest.fixture
def finished(tmp_path) -> Path:
    from report_fixtures import make_result, write_run

    return write_run(tmp_path / "done", [make_result("ort-cpu", b, 1.0 + b, seed=b)
                                         for b in (1, 2)])


def test_report_waits_for_no_one_while_a_run_holds_the_lock(finished, capsys):
    from onnxbench.suite.rundir import RunDir

    with RunDir(finished).lock():  # as a run or an aggregate in another process would
        line = one_line(*cli(capsys, "report", str(finished))[::2], "in use by another")
    assert str(os.getpid()) in line
    assert not (finished / "report.md").exists() and not (finished / "report.html").exists()


def test_truncated_plan_says_what_fixes_it(finished, capsys):
    (finished / "configs" / "plan.json").write_text('{"ab_axes": {')
    line = one_line(*cli(capsys, "report", str(finished))[::2], "plan.json: not valid JSON")
    assert "aggregate" not in line and "good copy" in line


def test_disk_full_at_report_html_fails_the_command(finished, capsys, monkeypatch):
    import onnxbench.report as report

    real = report.atomic_write_text

    def full_at_html(path, text):
        if Path(path).name == "report.html":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text)

    monkeypatch.setattr(report, "atomic_write_text", full_at_html)
    for argv in (["aggregate", str(finished)], ["aggregate", str(finished), "--json"],
                 ["report", str(finished)]):
        line = one_line(*cli(capsys, *argv)[::2], "report.html", "no space left")
        assert "Traceback" not in line
