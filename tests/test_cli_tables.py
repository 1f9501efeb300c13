"""Tables a person can read at 100 columns: only what differs between rows, nothing
essential wrapped or cut, no scientific notation for rates and percentages, short progress
lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

from clitools import run_cli
from onnxbench.core.result import write_result
from report_fixtures import make_result

LONG = {"threads": 1, "verify": True, "accuracy": True, "pad_batch_to": 2}


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def write_two_runtime_run(tmp: Path, name: str) -> Path:
    run = tmp / name
    for rt in ("ort-cpu", "torch-cpu"):
        for b in (1, 8, 64):
            for r in range(3):
                write_result(make_result(rt, b, 0.1 * b * (3 if rt == "torch-cpu" else 1),
                                         repeat=r, seed=r + b, options=LONG, n=60), run / "raw")
    return run


def test_compare_names_rows_by_what_differs_and_fits_100_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    a, b = write_two_runtime_run(tmp_path, "a"), write_two_runtime_run(tmp_path, "b")
    code, out, _ = run_cli(capsys, "compare", a, b)
    assert code == 0, out
    rows = [line for line in _lines(out) if line.startswith("│")]
    cases = [row.split("│")[1].strip() for row in rows]
    assert cases == [f"{rt} batch {n}" for rt in ("ORT CPU", "PyTorch CPU") for n in (1, 8, 64)]
    assert all(len(line) <= 100 for line in _lines(out) if "│" in line or "━" in line)
    assert "…" not in "".join(rows)
    doc = json.loads(run_cli(capsys, "compare", a, b, "--json").out)
    assert doc["pairs"][0]["case"] == "ORT CPU batch 1"
    assert doc["pairs"][0]["a"].startswith("dcnv2_light_dynamo_ort-cpu_b1")  # the id stays


def _matrix():
    from onnxbench.build.export.exporters import ExportResult
    from onnxbench.build.export.lint import Finding
    from onnxbench.build.export.matrix import Cell, Matrix, Row

    err = Finding("squeeze-no-axes", "error", "n1", "Squeeze", "drops the batch axis")
    shapes = [(1, None), (2, None), (8, None), (64, None)]
    rows = []
    for exporter in ("torchscript", "jit-trace"):
        for suffix, pad, fix in (("", None, None), ("+pad2", 2, None), ("+fix", None, "s")):
            res = ExportResult(exporter, "ok", path=f"/x/{exporter}{suffix}.onnx", export_s=1.25,
                               opset=18, nodes=105, size_bytes=17800, fix=fix)
            cells = {f"b{b}": Cell(f"b{b}", b, None, "pass", max_abs=5.96e-8, sets=3,
                                   failed_sets=[1]) for b, _ in shapes}
            if not (pad or fix):
                cells["b1"] = Cell("b1", 1, None, "ort-error",
                                   error="[ONNXRuntimeError] : 1 : FAIL : Non-zero status code "
                                         "returned while running Concat node. Name:'/Concat_2'")
            rows.append(Row(exporter + suffix, exporter, fix, pad, res,
                            [] if fix else [err], cells))
    return Matrix("dcnv2", "light", 1e-3, 1e-5, shapes, "/x", "/x/reference.json", rows,
                  input_sets=3)


def test_export_matrix_keeps_every_variant_whole_at_100_columns():
    from rich.console import Console

    from onnxbench.cli.export_cmd import _matrix_table

    out = Console(width=100, record=True)
    out.print(_matrix_table(_matrix(), out))
    text = out.export_text()
    for label in ("torchscript+pad2", "torchscript+fix", "jit-trace+pad2", "jit-trace+fix"):
        assert re.search(rf"^ ?{re.escape(label)}  ", text, re.M), text
    assert "✗ ORT: Concat" in text and "…" not in text and "✓ 6e-08 (1/3)" in text
    assert all(len(line) <= 100 for line in _lines(text))
    wide = Console(width=160, record=True)
    wide.print(_matrix_table(_matrix(), wide))
    assert "export s" in wide.export_text() and "left out" not in wide.export_text()


def test_progress_lines_name_cases_by_what_differs_not_by_id(tmp_path, capsys):
    from test_worker import write_tiny_onnx

    model = write_tiny_onnx(tmp_path / "tiny.onnx")
    code, _, err = run_cli(capsys, "bench", model, "--batch", "1,2", "--runs", "3", "--warmup",
                           "1", "-o", "threads=1", "-o", "intra_op_threads=1", "--quiet",
                           "--out", tmp_path / "runs")
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("[")]
    assert len(lines) == 6
    assert lines[0].startswith("[1/6] ORT CPU batch 1 · process 1/3 ok")
    assert all(len(line) < 80 and "_r0" not in line and "threads" not in line for line in lines)


def test_no_scientific_notation_for_rates_and_percentages():
    from onnxbench.core.load_spec import LoadSpec, duration_problem
    from onnxbench.measure.ratio import resolvable_str
    from onnxbench.report.fmt import pct, sig
    from onnxbench.report.load_tables import scenario_text

    assert resolvable_str(123.4) == "±120 %"          # was ±1.2e+02 %
    assert pct(1.5e-7) == "<0.001 %" and pct(0.9422) == "94.2 %"
    assert sig(12345.0, 4) == "12340"                  # a peak's rate, was 1.234e+04
    assert scenario_text(LoadSpec(name="server", qps=2_000_000)) == "server 2000000 QPS"
    problem = duration_problem(0.25, 2.0, 99)
    assert problem is not None and "at 0.25 QPS" in problem and "e+" not in problem
    assert "e+" not in (duration_problem(1_000_000.5, 1e-6, 99) or "")


def test_latency_tables_fit_100_columns_with_ci_accuracy_and_note():
    from rich.console import Console

    from onnxbench.cli.common import render_tables

    acc = json.dumps({"metric": "accuracy", "value": 0.9422, "delta": 0.0, "n": 450})
    rows = [{"model": "moe", "config": "default", "exporter": "torchscript", "runtime": rt,
             "batch": b, "seq": None, "precision": "fp32", "options": json.dumps(LONG),
             "status": "ok", "reason": "process medians spread 0.634 of the median > 0.25",
             "unstable": True, "p50_ms": 0.0308, "ci_low_ms": 0.0131, "ci_high_ms": 0.0725,
             "mean_ms": 0.141, "p95_ms": 0.052, "p99_ms": 0.326, "throughput": 181919.6,
             "accuracy": acc} for rt in ("ort-cpu", "torch-cpu") for b in (1, 8, 64)]
    out = Console(width=100, record=True)
    render_tables(rows, out)
    text = out.export_text()
    assert all(len(line) <= 100 for line in _lines(text))
    body = [line for line in _lines(text) if line.startswith("│")]
    assert len(body) == 6 and "…" not in "".join(body)
    assert all("0.0131–0.0725" in line and "94.2 %" in line
               and "UNSTABLE (processes 63 % apart)" in line for line in body)
    assert "left out at this width: P95, Mean, P99" in text and "e+" not in text
