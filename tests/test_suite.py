"""Suites: matrix expansion, validation errors (one line naming file, line and field), run
directories, atomic writes, per-case time-outs, all-skipped suites, aggregate-only."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from onnxbench.core.errors import UserError
from onnxbench.core.result import atomic_write_text, read_results
from onnxbench.suite import expand, parse_suite
from onnxbench.suite.rundir import RunDir, create_run_dir
from test_bench_cli import cli
from test_worker import write_tiny_onnx

MATRIX = """
suite: m
defaults:
  runtimes: [ort-cpu, test-skip]
  batch: [1, 8]
  measure: {{warmup: 3, runs: 7}}
  repeats: 2
cases:
  - model: {tiny}
    config: [a, b]          # ignored for a bare ONNX file: de-duplicated
    ab: {{intra_op_threads: [1, 2]}}
  - model: {tiny}
    runtimes: test-delay
    batch: 4
    repeats: 1
    options: {{delay_us: 50}}
"""


def test_matrix_expansion_order_and_axes(tmp_path):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    plan = expand(parse_suite(MATRIX.format(tiny=tiny), "m.yaml"))
    first = [c for c in plan.cases if c.repeat == 0]
    # entry 1: 2 threads x 2 runtimes x 2 batches (configs collapse), entry 2: one case
    assert len(first) == 9 and len(plan.cases) == 17
    assert [c.repeat for c in plan.cases] == [0] * 9 + [1] * 8  # repeats interleaved
    assert plan.ab_axes == {"intra_op_threads": [1, 2]}
    assert {c.options["intra_op_threads"] for c in first[:8]} == {1, 2}
    assert first[0].measure.warmup == 3 and first[0].measure.max_runs == 7 \
        and first[0].measure.min_runs == 7
    assert all(c.config is None and c.exporter is None for c in plan.cases)
    delay = [c for c in plan.cases if c.runtime == "test-delay"]
    assert len(delay) == 1 and delay[0].batch == 4 and delay[0].options == {"delay_us": 50}
    assert len({c.case_id for c in plan.cases}) == len(plan.cases)
    # deterministic: expanding again gives the same ids in the same order
    again = expand(parse_suite(MATRIX.format(tiny=tiny), "m.yaml"))
    assert [c.case_id for c in again.cases] == [c.case_id for c in plan.cases]


def test_two_models_with_one_file_name_get_distinct_ids_and_artifacts(tmp_path):
    """a/model.onnx and b/model.onnx in one suite: both kept, each its own case ids and
    artifact key; a suite whose file names do not collide keeps the ids it always had."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_tiny_onnx(tmp_path / "a" / "model.onnx")
    b = write_tiny_onnx(tmp_path / "b" / "model.onnx")
    text = ("suite: two\ndefaults: {processes: 1, runtimes: [ort-cpu], batch: [1]}\n"
            f"cases:\n  - model: [{a}, {b}]\n")
    plan = expand(parse_suite(text, "two.yaml"))
    assert [c.model for c in plan.cases] == [str(a), str(b)]
    assert len({c.case_id for c in plan.cases}) == 2
    assert len({c.artifact_key for c in plan.cases}) == 2
    assert all(c.case_id.startswith("model-") for c in plan.cases)
    # no collision: the id is the one it always was (no tag)
    alone = expand(parse_suite(text.replace(f", {b}]", "]"), "one.yaml")).cases
    assert [c.case_id for c in alone] == ["model_none_ort-cpu_b1_fp32_r0"]
    assert alone[0].artifact_key == "model_none_fp32"


BASE = "suite: bad\ncases:\n  - model: {model}\n"
ERRORS = {
    "typo field": (BASE + "    runtime: [ort-cpu]\n", 4, "cases[0].runtime",
                   "did you mean 'runtimes'"),
    "negative batch": (BASE + "    batch: [1, -2]\n", 4, "cases[0].batch[1]",
                       "greater than or equal to 1"),
    "unknown runtime": (BASE + "    runtimes: [ort-cpu,\n      ort-gpu]\n", 5,
                        "cases[0].runtimes[1]", "unknown runtime 'ort-gpu'"),
    "unknown model": ("suite: bad\ncases:\n  - model: dcnv3\n", 3, "cases[0].model[0]",
                      "did you mean 'dcnv2'"),
    "unknown config": ("suite: bad\ncases:\n  - model: dcnv2\n    config: lite\n", 4,
                       "cases[0].config[0]", "did you mean 'light'"),
    "list for scalar": ("suite: bad\ndefaults:\n  repeats: [1, 2]\ncases:\n  - model: {model}\n",
                        3, "defaults.repeats", "where a single value belongs"),
    "list option": (BASE + "    options:\n      threads: [1, 2]\n", 5, "cases[0].options.threads",
                    "ab: {threads: [1, 2]}"),
    "measure typo": (BASE + "    measure: {warmups: 5}\n", 4, "cases[0].measure.warmups",
                     "did you mean 'warmup'"),
    "missing cases": ("suite: bad\ndescription: x\n", None, "cases", "required field"),
    # options are checked against the families of the case's runtime before anything runs
    "option typo": (BASE + "    options:\n      intra_op_thread: 2\n", 5,
                    "cases[0].options.intra_op_thread",
                    "unknown option 'intra_op_thread'; did you mean 'intra_op_threads'? "
                    "valid options for ort-cpu: accuracy,"),
    "option of no family": (BASE + "    options: {frobnicate: 1}\n", 4,
                            "cases[0].options.frobnicate", "belongs to no option family"),
    "option typo in defaults": ("suite: bad\ndefaults:\n  options: {verfy: true}\n"
                                "cases:\n  - model: {model}\n", 3, "defaults.options.verfy",
                                "did you mean 'verify'"),
    "option typo in ab": (BASE + "    ab: {intra_op_thread: [1, 2]}\n", 4,
                          "cases[0].ab.intra_op_thread", "did you mean 'intra_op_threads'"),
    "bad runtime option value": (BASE + "    options: {graph_optimization_level: maximum}\n",
                                 4, "cases[0].options.graph_optimization_level",
                                 "runtime ort-cpu: option graph_optimization_level='maximum' "
                                 "must be one of: disable, basic, extended, layout, all"),
    "bad harness option value": (BASE + "    options: {mem_limit_mb: lots}\n", 4,
                                 "cases[0].options.mem_limit_mb",
                                 "harness: option mem_limit_mb='lots' must be an integer >= 1"),
    "bad ab value": (BASE + "    runtimes: torch-cpu\n    ab: {precision: [fp32, fp8]}\n", 5,
                     "cases[0].ab.precision", "precision='fp8' must be one of: fp32, fp16"),
    "exporter of another framework": ("suite: bad\ncases:\n  - model: dcnv2\n"
                                      "    exporter: [torchscript, tf2onnx]\n", 4,
                                      "cases[0].exporter[1]",
                                      "exporter 'tf2onnx' does not apply to 'dcnv2', a "
                                      "PyTorch model; choose one of: dynamo"),
    "bool time-out": (BASE + "    timeout_s: true\n", 4, "cases[0].timeout_s",
                      "must be a number > 0; got True"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_validation_error_is_one_line_with_file_line_field(name, tmp_path, capsys):
    text, line, field, fragment = ERRORS[name]
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("{model}", str(tiny)))
    code, _out, err = cli(capsys, "run", "--suite", str(path), "--dry-run")
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    where = f"{path}:{line}: " if line else f"{path}"
    assert where in lines[0] and f" {field}: " in lines[0] and fragment in lines[0], lines[0]


def test_option_typo_stops_before_anything_runs(tmp_path, capsys):
    """A typo exits 2 at plan time: no run directory, no worker, no result."""
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    path = tmp_path / "typo.yaml"
    path.write_text(BASE.replace("{model}", str(tiny)) + "    options: {intra_op_thread: 2}\n")
    code, _out, err = cli(capsys, "run", "--suite", str(path), "--out", str(tmp_path / "runs"))
    assert code == 2 and "did you mean 'intra_op_threads'" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_options_of_another_runtime_are_shared_not_errors(tmp_path):
    """A suite shares options between runtimes: ORT's io_binding next to torch-cpu is fine
    (torch-cpu records it as ignored), and each runtime checks the values it owns."""
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    text = (BASE.replace("{model}", str(tiny)) + "    runtimes: [ort-cpu, torch-cpu]\n"
            "    options: {io_binding: false, tf32: true, threads: 1, verify: true}\n")
    plan = expand(parse_suite(text, "ok.yaml"))
    assert len(plan.cases) == 2 * 3  # two points, each in 3 processes


def test_point_id_is_the_case_id_without_its_repeat(tmp_path):
    """Every case id ends in ``_rK`` (the repeat); the point is the id without it, one
    function for every reader (the summary's point_id, the report's grouping)."""
    from onnxbench.core.case import Case, point_id

    case = Case(model="dcnv2", config="tiny", runtime="ort-cpu", batch=2, repeat=3)
    assert case.case_id.endswith("_r3") and case.point_id == case.case_id[:-3]
    assert point_id(case.case_id) == case.point_id == point_id(case.point_id)
    assert point_id("model_b1_fp32_refs") == "model_b1_fp32_refs"  # not a repeat suffix


def test_yaml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(UserError, match=r"s\.yaml:5: not valid YAML"):
        parse_suite("suite: x\ncases:\n  - model: a\n    batch: 1\n   runtimes: b\n", "s.yaml")


EXPECTED_CASES = {"dcnv2-cpu": 54, "dcnv2-cpu-adaptive": 54, "dcnv2-cpu-vs-gpu": 432,
                  "dcnv2-gpu-fold": 108, "dcnv2-100x100-gpu": 24, "pipeline-ab": 330,
                  "bert-optimize-gpu": 126, "resnet50-torch-vs-ort": 135,
                  "bert-torch-vs-ort": 348, "pipeline-runtimes": 162, "moe-backends": 51,
                  "serving-cpu": 45, "tf-vs-ort": 165, "bert-torch-vs-ort-cpu": 72,
                  "seq-mix-deberta": 6, "deberta-threads": 9, "pipeline-trt-int8": 90,
                  }  # 3 processes per point unless a suite says otherwise


def _builtin_names():
    from onnxbench.suite.parse import builtin_names

    return builtin_names()


@pytest.mark.parametrize("name", _builtin_names())
def test_builtin_suites_validate_and_expand(name, capsys):
    count = EXPECTED_CASES.get(name)
    code, out, err = cli(capsys, "run", "--suite", name, "--dry-run", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["suite"] == name and doc["n_cases"] == len(doc["cases"]) > 0
    if count is not None:
        assert doc["n_cases"] == count


def test_run_dirs_are_exclusive_and_locked(tmp_path):
    from datetime import datetime

    when = datetime(2026, 1, 2, 3, 4, 5)
    a, b = create_run_dir(tmp_path, "s", when), create_run_dir(tmp_path, "s", when)
    assert a.path.name == "s_20260102-030405" and b.path.name == "s_20260102-030405-2"
    with a.lock():
        with pytest.raises(UserError, match="in use by another onnxbench process"):
            with RunDir(a.path).lock():
                pass
    with RunDir(a.path).lock():  # released once the holder is done
        pass


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "raw" / "c" / "result.json"
    atomic_write_text(target, "old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]  # no temp left


RUN = """
suite: small
defaults:
  measure: {{warmup: 1, runs: 5}}
cases:
  - model: {tiny}
    runtimes: [ort-cpu, test-skip]
    batch: [1, 2]
    repeats: 2
  - model: {tiny}
    runtimes: test-sleep
    processes: 1
    timeout_s: 1
"""


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One real run of a small suite (ok, skipped, timeout; repeats) shared by the tests."""
    from onnxbench.cli import main

    tmp = tmp_path_factory.mktemp("run")
    tiny = write_tiny_onnx(tmp / "tiny.onnx")
    suite = tmp / "small.yaml"
    suite.write_text(RUN.format(tiny=tiny))
    try:
        main(["run", "--suite", str(suite), "--out", str(tmp / "runs"), "--quiet"])
    except SystemExit as exc:
        assert not exc.code
    (run_dir,) = (tmp / "runs").iterdir()
    return run_dir


def test_run_writes_the_layout_and_statuses(small_run):
    for rel in ("configs/suite.yaml", "configs/plan.json", "configs/env.json", "env.json",
                "summary/summary.csv", "summary/summary.json"):
        assert (small_run / rel).is_file(), rel
    results = read_results(small_run / "raw")
    statuses = sorted(r.status for r in results)
    assert statuses == ["ok"] * 4 + ["skipped"] * 4 + ["timeout"]
    slept = next(r for r in results if r.status == "timeout")
    assert slept.reason == "timed out after 1 s" and slept.duration_s < 30


def test_summary_folds_processes(small_run):
    results = [r for r in read_results(small_run / "raw") if r.status == "ok"]
    doc = json.loads((small_run / "summary" / "summary.json").read_text())
    rows = {(r["runtime"], r["batch"]): r for r in doc["rows"]}
    assert len(doc["rows"]) == 5 and doc["statuses"] == {"ok": 4, "skipped": 4, "timeout": 1}
    row = rows[("ort-cpu", 2)]
    logs = np.log([r.stats.p50 for r in results if r.case.batch == 2])
    assert row["n_processes"] == 2 and row["n"] == 10
    assert row["p50_ms"] == pytest.approx(np.exp(logs.mean()), abs=1e-6)
    assert row["process_rsd"] == pytest.approx(np.std(logs, ddof=1), abs=1e-6)
    assert doc["noise"]["points"] == 2 and doc["noise"]["df"] == 2
    assert rows[("test-sleep", 1)]["status"] == "timeout"


def test_aggregate_only_reproduces_the_summary_byte_for_byte(small_run, capsys):
    summary = small_run / "summary"
    before = {p.name: p.read_bytes() for p in summary.iterdir()}
    for p in summary.iterdir():
        p.unlink()
    code, _out, err = cli(capsys, "aggregate", str(small_run), "--json")
    assert code == 0, err
    assert {p.name: p.read_bytes() for p in summary.iterdir()} == before
    code, _out, err = cli(capsys, "run", "--aggregate-only", "--input-dir", str(small_run))
    assert code == 0, err
    assert {p.name: p.read_bytes() for p in summary.iterdir()} == before


def test_all_skipped_suite_succeeds(tmp_path, capsys):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    suite = tmp_path / "skip.yaml"
    suite.write_text(f"suite: skips\ncases:\n  - model: {tiny}\n    runtimes: [test-skip, "
                     "torch-cpu]\n    batch: [1, 2]\n    processes: 1\n")
    code, out, err = cli(capsys, "run", "--suite", str(suite), "--out", str(tmp_path / "r"),
                         "--quiet", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["statuses"] == {"skipped": 4}
    assert all(r["status"] == "skipped" and r["reason"] for r in doc["summary"]["rows"])
