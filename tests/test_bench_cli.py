"""``onnxbench bench``: the happy path on a tiny graph, and every bad input (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from clitools import run_cli as cli
from helpers import write_tiny_onnx
from onnxbench.core.result import read_results

FAST = ["--runs", "3", "--warmup", "1"]


@pytest.fixture
def tiny(tmp_path) -> Path:
    return write_tiny_onnx(tmp_path / "tiny.onnx")


def test_bench_json_writes_one_result_per_measurement(tmp_path, tiny, capsys):
    code, out, err = cli(capsys, "bench", str(tiny), "--runtime", "ort-cpu,torch-cpu",
                         "--batch", "1,3", *FAST, "--out", str(tmp_path / "out"), "--json",
                         "--quiet")
    assert code == 0, err
    doc = json.loads(out)
    out_dir = Path(doc["run_dir"])
    assert out_dir.parent == tmp_path / "out" and out_dir.name.startswith("bench-tiny_")
    rows = {(r["runtime"], r["batch"]): r for r in doc["rows"]}
    assert set(rows) == {("ort-cpu", 1), ("ort-cpu", 3), ("torch-cpu", 1), ("torch-cpu", 3)}
    assert rows[("ort-cpu", 3)]["status"] == "ok" and rows[("ort-cpu", 3)]["n"] == 3
    assert rows[("ort-cpu", 3)]["p50_ms"] > 0
    assert rows[("torch-cpu", 1)]["status"] == "skipped"
    assert ("torch-cpu runs a PyTorch model; this case has only an ONNX file"
            in rows[("torch-cpu", 1)]["reason"])
    results = read_results(out_dir / "raw")  # each point in 3 processes, the runs split
    assert len(results) == 12 and (out_dir / "env.json").is_file()
    # a suite run: the plan, the summary and the report are written like `run`'s
    for rel in ("configs/plan.json", "summary/summary.json", "report.md", "report.html"):
        assert (out_dir / rel).is_file(), rel
    assert sorted(Path(p).name for p in doc["reports"]) == ["report.html", "report.md"]
    ok = [r for r in results if r.status == "ok"]
    assert all(len(r.timing.latencies_ms) == 1 for r in ok) and len(ok) == 6
    assert {r.case.batch for r in ok} == {1, 3} and {r.case.repeat for r in ok} == {0, 1, 2}
    assert rows[("ort-cpu", 3)]["n_processes"] == 3


def test_bench_table_has_a_table_per_runtime(tmp_path, tiny, capsys):
    code, out, err = cli(capsys, "bench", str(tiny), "--runtime", "ort-cpu,test-skip",
                         "--batch", "2", *FAST, "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0, err
    assert "tiny.onnx · ort-cpu" in out and "tiny.onnx · test-skip" in out
    for header in ("Batch", "Mean", "Median", "P95", "P99"):
        assert header in out
    assert "skipped" in out


def _truncated(tmp_path: Path, tiny: Path) -> Path:
    data = tiny.read_bytes()
    bad = tmp_path / "trunc.onnx"
    bad.write_bytes(data[: len(data) // 2])
    return bad


def _symbolic(tmp_path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "width"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "width"])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "sym.onnx"
    onnx.save(model, str(path))
    return path


BAD_INPUTS = {
    "missing file": (lambda tmp, tiny: [str(tmp / "nope.onnx")], "nope.onnx"),
    "not onnx": (lambda tmp, tiny: [str(_write(tmp / "text.onnx", "hello"))], "text.onnx"),
    "truncated": (lambda tmp, tiny: [str(_truncated(tmp, tiny))], "trunc.onnx"),
    "unknown runtime": (lambda tmp, tiny: [str(tiny), "--runtime", "ort-gpu"], "ort-gpu"),
    "malformed shape": (lambda tmp, tiny: [str(tiny), "--shape", "x=1,a"], "--shape"),
    "negative batch": (lambda tmp, tiny: [str(tiny), "--batch", "-4"], "--batch"),
    "zero batch": (lambda tmp, tiny: [str(tiny), "--batch", "0,2"], "--batch"),
    "unresolved dim": (lambda tmp, tiny: [str(_symbolic(tmp))], "width"),
    "unknown model": (lambda tmp, tiny: ["no-such-model"], "no-such-model"),
    "bad runs": (lambda tmp, tiny: [str(tiny), "--runs", "0"], "--runs"),
    "bad timeout": (lambda tmp, tiny: [str(tiny), "--timeout", "0"], "--timeout"),
    "option typo": (lambda tmp, tiny: [str(tiny), "--option", "intra_op_thread=2"],
                    "did you mean 'intra_op_threads'"),
    "bad option value": (lambda tmp, tiny: [str(tiny), "--option", "io_binding=maybe"],
                         "io_binding='maybe' must be true or false"),
    "malformed option": (lambda tmp, tiny: [str(tiny), "--option", "threads"], "KEY=VALUE"),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(name, tmp_path, tiny, capsys):
    make_args, expected = BAD_INPUTS[name]
    out_dir = tmp_path / "never"
    code, _out, err = cli(capsys, "bench", *make_args(tmp_path, tiny), "--out", str(out_dir))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0] and "Traceback" not in err
    assert not out_dir.exists()  # checked before anything ran: no run directory


def test_bench_zoo_model_builds_one_artifact_and_runs_torch_too(tmp_path, capsys):
    code, out, err = cli(capsys, "bench", "dcnv2", "--config", "tiny", "--exporter",
                         "torchscript", "--runtime", "ort-cpu,torch-cpu", "--batch", "2,4",
                         *FAST, "--out", str(tmp_path / "zoo"), "--json", "--quiet")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    out_dir = Path(json.loads(out)["run_dir"])
    assert sorted((r["runtime"], r["batch"], r["status"]) for r in rows) == [
        ("ort-cpu", 2, "ok"), ("ort-cpu", 4, "ok"), ("torch-cpu", 2, "ok"), ("torch-cpu", 4, "ok")]
    (artifact,) = (out_dir / "artifacts").iterdir()  # one export shared by all four cases
    meta = json.loads((artifact / "artifact.json").read_text())
    assert meta["status"] == "ok" and meta["exporter"] == "torchscript"
    assert meta["parity"]["passed"] is True and isinstance(meta["lint"], list)
    ort = [r for r in read_results(out_dir / "raw") if r.case.runtime == "ort-cpu"]
    assert all(r.parity and r.parity["passed"] for r in ort)


def test_failed_export_fails_all_its_cases_with_the_first_line(tmp_path, capsys):
    """An opset the exporter cannot write dcnv2 in (7: valid ONNX, too old for its ops);
    an opset that is no ONNX opset at all is refused at plan time (test_refusals.py)."""
    suite = tmp_path / "bad-export.yaml"
    suite.write_text("suite: bad-export\ndefaults:\n  measure: {runs: 3, warmup: 1}\n"
                     "cases:\n  - model: dcnv2\n    config: tiny\n    exporter: torchscript\n"
                     "    runtimes: [ort-cpu, torch-cpu]\n    batch: 2\n"
                     "    options: {opset: 7}\n")
    code, out, err = cli(capsys, "run", "--suite", str(suite), "--out", str(tmp_path / "r"),
                         "--json", "--quiet")
    assert code == 1 and "check failed: no case succeeded" in err.splitlines()[-1], err
    rows = json.loads(out)["summary"]["rows"]
    assert [r["status"] for r in rows] == ["failed", "failed"]
    for r in rows:  # the exporter's own first line, once, without our wrapper's type
        assert r["reason"].startswith("export failed: ")  # opset 7 lacks an op dcnv2 needs
        assert "opset" in r["reason"].lower() or "domain_version of 7" in r["reason"]
        assert r["reason"].count("RuntimeError") <= 1 and "\n" not in r["reason"]


def test_unknown_exporter_is_bad_input(capsys):
    code, _, err = cli(capsys, "bench", "dcnv2", "--exporter", "onnx-magic")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "onnx-magic" in err


def test_suite_fix_squeeze_dims_lets_batch_1_run_natively(tmp_path, capsys):
    """The export-side fix in a suite: the plain export fails at batch 1, the fixed one runs."""
    suite = tmp_path / "fix.yaml"
    suite.write_text("suite: fix\ndefaults:\n  measure: {runs: 3, warmup: 1}\n"
                     "cases:\n  - model: dcnv2\n    config: tiny\n    exporter: torchscript\n"
                     "    runtimes: [ort-cpu]\n    batch: 1\n"
                     "  - model: dcnv2\n    config: tiny\n    exporter: torchscript\n"
                     "    runtimes: [ort-cpu]\n    batch: 1\n    options: {fix: squeeze-dims}\n")
    code, out, err = cli(capsys, "run", "--suite", str(suite), "--out", str(tmp_path / "r"),
                         "--json", "--quiet")
    assert code == 0, err
    # summary rows carry options as a JSON string ("" when there are none)
    rows = {"fix" in json.loads(r["options"] or "{}"): r
            for r in json.loads(out)["summary"]["rows"]}
    assert rows[False]["status"] == "failed" and "Concat" in rows[False]["reason"]
    assert rows[True]["status"] == "ok"


def test_cli_works_without_click_installed():
    """The bug: cli/__init__.py imported ``click``, which onnxbench does not declare (typer
    >= 0.20 vendors it): a fresh install without transformers failed to start."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['click'] = None  # import click -> ImportError\n"
            "from onnxbench.cli import main\n"
            "main(['--no-such-flag'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("onnxbench: error:") and "Traceback" not in proc.stderr
