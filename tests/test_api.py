"""The library API: the README's Python example runs as written; ``import onnxbench`` is
cheap and exports what it says; ``bench`` is a suite run that never reuses a directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import onnxbench
from onnxbench.core.errors import UserError
from test_worker import write_tiny_onnx

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### From Python"):]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's 'From Python' section has no python block"
    return match.group(1)


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # its runs/ goes here
    namespace: dict = {}
    exec(compile(_python_example(), "README.md", "exec"), namespace)
    run = namespace["run"]
    assert run.statuses == {"ok": 12} and len(run.rows) == 4  # 4 points × 3 processes
    assert run.path.resolve().parent == tmp_path / "runs"
    assert run.path.name.startswith("bench-dcnv2_")
    assert {p.name for p in run.reports} == {"report.md", "report.html"}
    assert namespace["ort8"]["p50_ms"] > 0 and len(namespace["results"]) == 12
    assert "4 points; 12 ok" in capsys.readouterr().out


def test_public_names():
    from onnxbench import bench, compare, load_run, run_suite  # noqa: F401

    for name in ("bench", "run_suite", "compare", "load_run", "resume", "Run", "UserError",
                 "profile_model"):
        assert name in onnxbench.__all__ and getattr(onnxbench, name) is not None
    with pytest.raises(AttributeError):
        onnxbench.no_such_thing  # noqa: B018


def test_import_onnxbench_is_cheap():
    code = ("import sys, onnxbench; onnxbench.bench; "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bench_never_reuses_a_directory_and_checks_before_running(tmp_path):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    fast = {"runs": 3, "warmup": 1}
    first = onnxbench.bench(tiny, batch=[2], measure=fast, out=tmp_path / "runs")
    second = onnxbench.bench(tiny, batch=[2], measure=fast, out=tmp_path / "runs")
    assert first.path != second.path and first.path.parent == second.path.parent
    assert first.point(runtime="ort-cpu", batch=2)["status"] == "ok"
    loaded = onnxbench.load_run(first.path)
    assert loaded.rows == first.rows
    with pytest.raises(UserError, match="did you mean 'intra_op_threads'"):
        onnxbench.bench(tiny, options={"intra_op_thread": 2}, out=tmp_path / "never")
    with pytest.raises(UserError, match=r"measure\.runs"):
        onnxbench.bench(tiny, measure={"runs": 0}, out=tmp_path / "never")
    with pytest.raises(UserError, match="batch"):
        onnxbench.bench(tiny, batch=[0], out=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_run_suite_checks_every_case_input_before_anything_runs(tmp_path, monkeypatch):
    """The library validates a plan's inputs as ``onnxbench run`` does: a suite (or Plan)
    whose inputs cannot fit is a UserError before any directory or worker exists."""
    from onnxbench.core.case import Case
    from onnxbench.suite import runner
    from onnxbench.suite.plan import Plan

    def never(*_a, **_k):
        raise AssertionError("runner.run_suite must not be reached")

    monkeypatch.setattr(runner, "run_suite", never)
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    suite = tmp_path / "big.yaml"
    suite.write_text(f"suite: big\ncases:\n  - model: {tiny}\n    runtimes: [ort-cpu]\n"
                     "    batch: [1, 100000000000]\n")
    with pytest.raises(UserError, match=r"tiny\.onnx at batch 100000000000: the inputs alone"):
        onnxbench.run_suite(suite, out=tmp_path / "never")
    plan = Plan("big", [Case(model=str(tiny), runtime="ort-cpu", batch=10**11)])
    with pytest.raises(UserError, match="inputs alone need"):
        onnxbench.run_suite(plan, out=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_onnx_files_are_known_by_content_not_suffix(tmp_path):
    """``.ONNX`` or no suffix at all is an ONNX model; a ``.keras`` file never is."""
    from onnxbench.model.onnxfile import is_onnx_file

    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    upper, bare = tmp_path / "model.ONNX", tmp_path / "model"
    upper.write_bytes(tiny.read_bytes())
    bare.write_bytes(tiny.read_bytes())
    keras = tmp_path / "m.keras"
    keras.write_bytes(b"PK\x03\x04 a zip archive")
    assert is_onnx_file(upper) and is_onnx_file(bare) and is_onnx_file(tiny)
    assert not is_onnx_file(keras) and not is_onnx_file("dcnv2")
    plan = onnxbench.bench_plan(bare, batch=[2])
    assert plan.cases[0].exporter is None and plan.cases[0].config is None
    run = onnxbench.bench(upper, batch=[2], measure={"runs": 3, "warmup": 1},
                          out=tmp_path / "runs", processes=1)
    assert run.statuses == {"ok": 1}


def test_bench_of_a_keras_file_is_not_treated_as_onnx(tmp_path, capsys):
    """The bug: any existing file was ONNX, so `bench m.keras` said "not a valid ONNX
    model". Now a .keras file goes to the TensorFlow plugin's source."""
    from clitools import run_cli

    code, _, err = run_cli(capsys, "bench", str(tmp_path / "missing.keras"))
    assert code == 2 and "no such .keras file" in err and "ONNX" not in err


def test_profile_model_is_profile_in_python(tmp_path):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    run = onnxbench.profile_model(tiny, batch=[2], runs=3, out=tmp_path / "runs")
    (result,) = run.results()
    assert result.status == "ok" and result.profile and result.placement
    assert result.case.options["profile"] == 3


def test_load_is_the_load_command_in_python(tmp_path):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    run = onnxbench.load(tiny, concurrency=[1, 2], duration_s=0.5, out=tmp_path / "runs")
    assert run.statuses == {"ok": 2}, run.rows
    assert all(r["scenario"].startswith("concurrency-c") for r in run.rows)
