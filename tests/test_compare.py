"""`onnxbench compare`: exit 0 without a significant regression, 1 with one beyond the
threshold, 2 for a bad run directory or threshold; and A/B pairs inside one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from report_fixtures import make_result

from clitools import run_cli
from onnxbench.report import build_report
from onnxbench.report.compare import compare_runs
from onnxbench.result import write_result


def write_run(tmp: Path, name: str, factor: float, *, seed: int, repeats: int = 4) -> Path:
    run = tmp / name
    for b in (1, 8):
        for r in range(repeats):
            level = 1.0 + 0.1 * b
            write_result(make_result("ort-cpu", b, level * factor * (1 + 0.004 * ((r * 7 + seed) % 3 - 1)),
                                     repeat=r, seed=seed + r + 10 * b, n=60, spread=0.01), run / "raw")
    return run


def test_same_speed_exits_0(tmp_path, capsys):
    a, b = write_run(tmp_path, "a", 1.0, seed=1), write_run(tmp_path, "b", 1.0, seed=2)
    code, out, _ = run_cli(capsys, "compare", str(a), str(b), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["regressions"] == []
    assert len(doc["pairs"]) == 2 and all(p["verdict"] != "slower" for p in doc["pairs"])


def test_significant_regression_exits_1(tmp_path, capsys):
    a, b = write_run(tmp_path, "a", 1.0, seed=1), write_run(tmp_path, "b", 1.25, seed=2)
    code, out, err = run_cli(capsys, "compare", str(a), str(b), "--threshold", "5%")
    assert code == 1
    assert "regression" in err and err.count("\n") == 1
    # an improvement is not a failure
    code, out, _ = run_cli(capsys, "compare", str(b), str(a), "--json")
    assert code == 0 and len(json.loads(out)["improvements"]) == 2


def test_regression_below_threshold_exits_0(tmp_path, capsys):
    a, b = write_run(tmp_path, "a", 1.0, seed=1), write_run(tmp_path, "b", 1.25, seed=2)
    code, _, _ = run_cli(capsys, "compare", str(a), str(b), "--threshold", "40%")
    assert code == 0


@pytest.mark.parametrize("bad", ["missing", "empty", "threshold"])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, bad):
    a = write_run(tmp_path, "a", 1.0, seed=1)
    other = {"missing": tmp_path / "nope", "empty": tmp_path / "empty"}.get(bad, a)
    (tmp_path / "empty" / "raw").mkdir(parents=True)
    args = ["compare", str(a), str(other)] + (["--threshold", "lots"] if bad == "threshold" else [])
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and err.startswith("onnxbench: error:")


def test_repeats_are_grouped_by_case_id(tmp_path):
    a, b = write_run(tmp_path, "a", 1.0, seed=1), write_run(tmp_path, "b", 1.0, seed=2)
    comp = compare_runs(a, b)
    assert all(p.result.n_a == 4 and p.result.n_b == 4 for p in comp.pairs)
    assert all(not p.label.endswith("_r0") for p in comp.pairs)


def test_ab_axis_inside_one_run(tmp_path):
    run = tmp_path / "ab"
    for r in range(4):
        for threads, level in ((1, 2.0), (4, 1.0)):
            write_result(make_result("ort-cpu", 8, level * (1 + 0.003 * (r - 1.5)), repeat=r,
                                     seed=r + threads * 10, n=60, spread=0.01,
                                     options={"intra_op_threads": threads}), run / "raw")
    (run / "configs").mkdir()
    (run / "configs" / "plan.json").write_text(json.dumps({"ab_axes": {"intra_op_threads": [1, 4]}}))
    rep = build_report(run)
    assert rep.ab is not None and len(rep.ab.pairs) == 1
    res = rep.ab.pairs[0].result
    assert res.verdict == "faster" and res.ratio == pytest.approx(0.5, rel=0.02)
