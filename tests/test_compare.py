"""`onnxbench compare`: exit 0 inside the runs' noise, 1 for a regression beyond the threshold
and the noise or a case that broke, 2 for bad input; A/B pairs on any field inside one run;
and two real runs of an unchanged suite (deterministic busy-wait runtime) against a slowed one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clitools import run_cli
from helpers import write_chain, write_tiny_onnx
from onnxbench.core.result import write_result
from onnxbench.report import build_report
from onnxbench.report.compare import compare_runs
from report_fixtures import make_result


def write_run(tmp: Path, name: str, factor: float, *, seed: int, processes: int = 4,
              jitter: float = 0.004) -> Path:
    """Two points, each in ``processes`` processes whose medians differ by ±jitter."""
    run = tmp / name
    for b in (1, 8):
        for r in range(processes):
            level = (1.0 + 0.1 * b) * factor * (1 + jitter * ((r * 7 + seed) % 3 - 1))
            write_result(make_result("ort-cpu", b, level, repeat=r, seed=seed + r + 10 * b, n=60,
                                     spread=0.01), run / "raw")
    return run


def test_same_speed_exits_0(tmp_path, capsys):
    a, b = write_run(tmp_path, "a", 1.0, seed=1), write_run(tmp_path, "b", 1.0, seed=2)
    code, out, _ = run_cli(capsys, "compare", str(a), str(b), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["regressions"] == [] and doc["broken"] == []
    assert len(doc["pairs"]) == 2 and all(p["verdict"] != "slower" for p in doc["pairs"])
    assert doc["noise"]["a"]["points"] == 2 and doc["noise"]["a"]["df"] == 6


def test_significant_regression_exits_1(tmp_path, capsys):
    a, b = write_run(tmp_path, "a", 1.0, seed=1), write_run(tmp_path, "b", 1.25, seed=2)
    code, out, err = run_cli(capsys, "compare", str(a), str(b), "--threshold", "5%")
    assert code == 1
    assert "regression" in err and err.count("\n") == 1
    assert "between-process noise: A ±" in out
    # an improvement is not a failure
    code, out, _ = run_cli(capsys, "compare", str(b), str(a), "--json")
    assert code == 0 and len(json.loads(out)["improvements"]) == 2


def test_regression_below_threshold_exits_0(tmp_path, capsys):
    a, b = write_run(tmp_path, "a", 1.0, seed=1), write_run(tmp_path, "b", 1.25, seed=2)
    code, _, _ = run_cli(capsys, "compare", str(a), str(b), "--threshold", "40%")
    assert code == 0


def test_a_shift_inside_the_runs_noise_is_not_a_regression(tmp_path, capsys):
    """Process medians spread ±12 % in both runs: a 6 % shift is inside that noise."""
    a = write_run(tmp_path, "a", 1.0, seed=1, jitter=0.12)
    b = write_run(tmp_path, "b", 1.06, seed=2, jitter=0.12)
    code, out, _ = run_cli(capsys, "compare", str(a), str(b), "--threshold", "5%", "--json",
                           "--allow-unresolved")
    assert code == 0
    doc = json.loads(out)
    assert all(p["verdict"] == "cannot tell" for p in doc["pairs"]) and not doc["regressions"]
    assert len(doc["unresolved"]) == 2


def test_a_gate_too_noisy_for_its_threshold_says_so_last_and_fails(tmp_path, capsys):
    """Runs whose noise cannot see 5 % must not pass a 5 % gate silently ("0 regressions",
    exit 0): the last line says what the gate cannot resolve and how to fix it; exit 1
    unless --allow-unresolved. A threshold the runs do resolve passes."""
    a = write_run(tmp_path, "a", 1.0, seed=1, jitter=0.12)
    b = write_run(tmp_path, "b", 1.0, seed=2, jitter=0.12)
    code, out, err = run_cli(capsys, "compare", str(a), str(b), "--threshold", "5%")
    assert code == 1 and err.count("\n") == 1, err
    assert "the gate cannot resolve 5%" in err and "--allow-unresolved" in err
    assert "onnxbench ab" in err and "--processes" in err
    assert "0 regression(s)" in out and "2 pair(s) too noisy to see 5%" in out
    code, _, err = run_cli(capsys, "compare", str(a), str(b), "--threshold", "90%")
    assert code == 0, err
    tight_a = write_run(tmp_path, "ta", 1.0, seed=1)
    tight_b = write_run(tmp_path, "tb", 1.0, seed=2)
    code, _, err = run_cli(capsys, "compare", str(tight_a), str(tight_b), "--threshold", "5%")
    assert code == 0, err


def test_ok_in_a_but_failed_in_b_fails_the_gate(tmp_path, capsys):
    a = write_run(tmp_path, "a", 1.0, seed=1)
    b = write_run(tmp_path, "b", 1.0, seed=2)
    for path in (b / "raw").glob("*_b8_*/result.json"):
        path.unlink()
    write_result(make_result("ort-cpu", 8, None, status="crashed",
                             reason="worker died with SIGSEGV"), b / "raw")
    code, _, err = run_cli(capsys, "compare", str(a), str(b))
    assert code == 1 and err.count("\n") == 1
    assert "1 case(s) ok in A but not in B" in err and "ORT CPU batch 8" in err and "crashed" in err


def test_single_process_runs_say_what_they_cannot_resolve(tmp_path, capsys):
    a = write_run(tmp_path, "a", 1.0, seed=1, processes=1)
    b = write_run(tmp_path, "b", 1.3, seed=2, processes=1)
    code, out, _ = run_cli(capsys, "compare", str(a), str(b), "--json", "--allow-unresolved")
    doc = json.loads(out)
    assert code == 0 and doc["noise"] == {"a": None, "b": None}
    assert all(p["verdict"] == "cannot tell" and "processes ≥ 3" in p["note"] for p in doc["pairs"])
    code, _, err = run_cli(capsys, "compare", str(a), str(b))
    assert code == 1 and "an unbounded CI" in err and "cannot resolve 5%" in err


@pytest.mark.parametrize("bad", ["missing", "empty", "threshold"])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, bad):
    a = write_run(tmp_path, "a", 1.0, seed=1)
    other = {"missing": tmp_path / "nope", "empty": tmp_path / "empty"}.get(bad, a)
    (tmp_path / "empty" / "raw").mkdir(parents=True)
    args = ["compare", str(a), str(other)] + (["--threshold", "lots"] if bad == "threshold" else [])
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and err.startswith("onnxbench: error:")


def test_processes_are_grouped_by_point_id(tmp_path):
    a, b = write_run(tmp_path, "a", 1.0, seed=1), write_run(tmp_path, "b", 1.0, seed=2)
    comp = compare_runs(a, b)
    assert all(p.result.n_a == 4 and p.result.n_b == 4 for p in comp.pairs)
    assert all(not p.label.endswith("_r0") for p in comp.pairs)


def _ab_run(tmp: Path, axis_values, make) -> Path:
    run = tmp / "ab"
    for r in range(5):
        for i, value in enumerate(axis_values):
            write_result(make(value, r, i), run / "raw")
    (run / "configs").mkdir()
    return run


def test_ab_axis_inside_one_run_is_paired_by_process(tmp_path):
    levels = {1: 2.0, 4: 1.0}
    drift = [1.0, 1.3, 0.8, 1.1, 0.9]  # big drift between rounds: pairing cancels it
    run = _ab_run(tmp_path, [1, 4], lambda t, r, i: make_result(
        "ort-cpu", 8, levels[t] * drift[r] * (1 + 0.003 * i), repeat=r, seed=r + t * 10, n=60,
        spread=0.01, options={"intra_op_threads": t}))
    plan = {"ab_axes": {"intra_op_threads": [1, 4]}}
    (run / "configs" / "plan.json").write_text(json.dumps(plan))
    rep = build_report(run)
    assert rep.ab is not None and len(rep.ab.pairs) == 1
    res = rep.ab.pairs[0].result
    assert res.verdict == "faster" and res.ratio == pytest.approx(0.5, rel=0.02)
    assert res.n_a == 5 and res.ci_high < 0.52  # drift cancelled: a tight CI


def test_ab_axis_on_the_runtime_field(tmp_path):
    run = _ab_run(tmp_path, ["ort-cpu", "torch-cpu"], lambda rt, r, i: make_result(
        rt, 8, (1.0 if rt == "ort-cpu" else 1.5) * (1 + 0.01 * r), repeat=r, seed=r + 10 * i,
        n=60, spread=0.01))
    (run / "configs" / "plan.json").write_text(json.dumps(
        {"ab_axes": {"runtime": ["ort-cpu", "torch-cpu"]}}))
    rep = build_report(run)
    (pair,) = rep.ab.pairs
    assert pair.result.verdict == "slower" and "runtime: \"ort-cpu\" → \"torch-cpu\"" in pair.label
    assert pair.result.ratio == pytest.approx(1.5, rel=0.02)


# ---- two real runs of a suite ------------------------------------------------------------

SUITE = """
suite: gate
defaults:
  processes: 3
  measure: {{warmup: 5, runs: 150, max_time_s: 1}}
cases:
  - model: {tiny}
    runtimes: test-delay
    batch: [1, 2]
    options: {{delay_us: 300}}
  - model: {chain}
    runtimes: ort-cpu
    batch: 8
    options: {{threads: 1}}
"""


def _suite_run(tmp: Path, name: str, layers: int, capsys) -> Path:
    """A run of SUITE; the chain model's file is rewritten with ``layers`` MatMuls (same path,
    same case ids: a regression in the model, as a CI gate would see it)."""
    tiny = tmp / "tiny.onnx"
    if not tiny.exists():
        write_tiny_onnx(tiny)
    chain = write_chain(tmp / "chain.onnx", layers, dim=256)  # ~1 ms: compute, not call overhead
    suite = tmp / "gate.yaml"
    suite.write_text(SUITE.format(tiny=tiny, chain=chain))
    code, _, err = run_cli(capsys, "run", "--suite", str(suite), "--out", str(tmp / name),
                           "--quiet")
    assert code == 0, err
    (run_dir,) = (tmp / name).iterdir()
    return run_dir


@pytest.mark.slow
def test_two_runs_of_an_unchanged_suite_pass_and_a_real_regression_fails(tmp_path, capsys):
    """The busy-wait points are deterministic (unchanged: no false alarm); the ORT point's
    model doubles its work in the third run: a regression far beyond any noise."""
    a = _suite_run(tmp_path, "a", 20, capsys)
    b = _suite_run(tmp_path, "b", 20, capsys)
    code, out, err = run_cli(capsys, "compare", str(a), str(b), "--threshold", "5%", "--json",
                             "--allow-unresolved")
    doc = json.loads(out)
    assert code == 0, err
    assert doc["noise"]["a"]["points"] == 3
    delay = [p for p in doc["pairs"] if "test-delay" in p["a"]]
    assert len(delay) == 2 and all(p["verdict"] in ("equivalent", "cannot tell") for p in delay)
    slow = _suite_run(tmp_path, "slow", 40, capsys)
    code, out, err = run_cli(capsys, "compare", str(a), str(slow), "--threshold", "5%",
                             "--allow-unresolved")
    assert code == 1 and "1 significant regression(s)" in err and "chain" in err, out + err


def test_unbounded_ci_prints_capped_not_as_1e29():
    """Two pairs at a Bonferroni level give a t quantile of 1 df: a CI like 6e-28–2e27.
    The table and verdict say "> ±1000 %" / "<0.001–>1000"; the data keep the value."""
    from onnxbench.measure.ratio import Estimate, judge
    from onnxbench.report.abtable import ci_text, resolvable_text

    wide = judge(Estimate(log_ratio=0.17, se=2.0, df=1, n_a=2, n_b=2, method="paired-t"),
                 threshold=0.02, family=20)
    assert wide.resolvable_pct is not None and wide.resolvable_pct > 1e6
    assert resolvable_text(wide) == "> ±1000 %"
    assert ci_text(wide) == "<0.001–>1000"
    assert wide.verdict_text() == "cannot tell (resolvable > ±1000 %)"
    assert wide.to_dict()["resolvable_pct"] == wide.resolvable_pct  # the number is kept
    narrow = judge(Estimate(log_ratio=0.0, se=0.01, df=10, n_a=11, n_b=11, method="paired-t"),
                   threshold=0.02)
    assert resolvable_text(narrow).startswith("±") and "1000" not in resolvable_text(narrow)
    assert ci_text(narrow).startswith("0.9")
