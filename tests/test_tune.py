"""``tune``: goals and refusals, the space and its drops, and one small real run (the
search's decisions on fake measurements are ``test_tune_search``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clitools import run_cli
from onnxbench.core.errors import UserError
from onnxbench.tuning.axes import build_space
from onnxbench.tuning.goals import parse_budget, parse_drop, parse_goal
from onnxbench.tuning.space import parse_space
from test_int8_settings import matmul_graph

# ---------------------------------------------------------------- goals and refusals

def test_goal_kinds():
    g = parse_goal("latency", batch=4)
    assert (g.kind, g.batch) == ("latency", 4)
    g = parse_goal("p99<=10ms@200qps")
    assert (g.kind, g.percentile, g.bound_ms, g.qps) == ("rate", 99.0, 10.0, 200.0)
    g = parse_goal("p95 <= 0.5s @ 20 qps")
    assert (g.percentile, g.bound_ms, g.qps) == (95.0, 500.0, 20.0)
    g = parse_goal("throughput", p99="50ms")
    assert (g.kind, g.bound_ms) == ("throughput", 50.0)
    assert parse_drop("0.5%") == pytest.approx(0.005) and parse_drop(None) is None


@pytest.mark.parametrize("args, words", [
    (["--goal", "p99<=10ms@-5qps"], "positive number of requests"),
    (["--goal", "p99<=10ms@0qps"], "positive number of requests"),
    (["--goal", "p99<=ten@200qps"], "time such as"),
    (["--goal", "fastest"], "expected latency, throughput"),
    (["--goal", "throughput"], "--p99"),
    (["--goal", "latency", "--budget", "5s"], "too small to measure one candidate"),
    (["--goal", "latency", "--max-accuracy-drop", "0.5%"], "--accuracy-data"),
    (["--goal", "latency", "--max-accuracy-drop", "150%"], "percentage"),
    (["--goal", "latency", "--space", "precison=fp32"], "did you mean 'precision'"),
])
def test_bad_goals_exit_2_with_one_line_before_anything_runs(tmp_path, capsys, args, words):
    graph = matmul_graph(tmp_path / "m.onnx")
    rc, _, err = run_cli(capsys, "tune", graph, *args, "--out", tmp_path / "runs")
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and words in lines[0], err
    assert not (tmp_path / "runs").exists()  # nothing ran, no run directory


def test_budget_below_one_rate_candidate():
    g = parse_goal("p99<=10ms@10qps")  # 459 requests at 10 QPS: 46 s of window alone
    with pytest.raises(UserError, match="too small"):
        parse_budget("60s", g)
    assert parse_budget("2m", g) == 120.0


# ---------------------------------------------------------------------------- space

def test_space_from_the_registries_with_reasons(tmp_path):
    graph = str(matmul_graph(tmp_path / "m.onnx"))
    space = build_space(graph, parse_goal("latency"), cores=2)
    runtimes = {c.runtime for c in space.candidates}
    assert runtimes == {"ort-cpu"}
    reasons = dict(space.dropped)
    assert "bare ONNX file" in reasons["torch-cpu"]  # runs the source model
    assert "not available here" in reasons["ort-cuda"]  # a GPU runtime, skipped with why
    assert {c.threads for c in space.candidates} == {1, 2}
    # a bare file is not optimised in a run (the suites' rule): its int8 is dropped, why said
    assert {c.precision for c in space.candidates} == {"fp32"}
    assert "run `onnxbench optimize FILE` for int8-dynamic" in reasons["ort-cpu int8-dynamic"]
    # int8 settings are dimensions: per-tensor and per-channel both searched
    space = build_space("bert", parse_goal("latency"), runtimes=["ort-cpu"], cores=2)
    int8 = [c for c in space.candidates if c.precision == "int8-dynamic"]
    assert {c.opts.get("per_channel", False) for c in int8} == {False, True}


def test_rate_space_drops_oversubscription_and_unsafe_sharing(tmp_path):
    graph = str(matmul_graph(tmp_path / "m.onnx"))
    space = build_space(graph, parse_goal("p99<=10ms@200qps"), cores=2,
                        overrides=parse_space(["precision=fp32", "layout=shared,processes"]))
    assert all(c.cores <= 2 for c in space.candidates)
    assert any("oversubscribed" in r for _, r in space.dropped)
    serving = {(c.serving.layout, c.serving.workers) for c in space.candidates if c.serving}
    assert ("processes", 1) not in serving and ("processes", 2) in serving
    # one worker is one session whatever the layout: asked as "processes", it is kept
    space = build_space(graph, parse_goal("p99<=10ms@200qps"), cores=2,
                        overrides=parse_space(["layout=processes", "threads=1",
                                               "max_batch=1"]))
    assert sorted((c.serving.layout, c.serving.workers) for c in space.candidates) == \
        [("processes", 2), ("shared", 1)]
    space = build_space("bert", parse_goal("p99<=10ms@200qps"), runtimes=["torch-compile-cpu"],
                        cores=2, overrides=parse_space(["workers=2", "threads=1"]))
    assert any("not thread-safe" in r for _, r in space.dropped)
    assert all(c.serving and c.serving.layout != "shared" for c in space.candidates)


def test_dry_run_lists_gpu_runtimes_skipped(tmp_path, capsys):
    graph = matmul_graph(tmp_path / "m.onnx")
    rc, out, _ = run_cli(capsys, "tune", graph, "--dry-run", "--out", tmp_path / "r")
    assert rc == 0 and "ort-cuda: not available here" in out and "ort-trt" in out
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------ end to end

@pytest.mark.slow
def test_tune_end_to_end_on_a_tinymatmul_graph(tmp_path):
    import onnxbench
    from onnxbench.suite.parse import load_suite
    from onnxbench.suite.plan import expand

    graph = matmul_graph(tmp_path / "m.onnx")
    res = onnxbench.tune(str(graph), "latency", budget="40s", out=tmp_path / "runs",
                         space={"precision": ["fp32"], "level": ["basic", "all"],
                                "threads": [1]})
    assert res.winner is not None and res.paragraph.startswith("Ship ORT CPU")
    run = Path(res.run_dir)
    doc = json.loads((run / "tune.json").read_text())
    assert doc["winner"] == res.winner and doc["rows"]
    # the evidence is a normal run: summary, report with the tune section, a plan to resume
    assert (run / "summary" / "summary.csv").is_file()
    assert "What to deploy (tune)" in (run / "report.md").read_text()
    assert onnxbench.load_run(run).rows
    # the suite to paste reproduces the winner
    suite = tmp_path / "winner.yaml"
    suite.write_text(res.paste["suite_yaml"].replace(f"model: {graph}", f"model: '{graph}'"))
    plan = expand(load_suite(str(suite))[0])
    assert {c.precision for c in plan.cases} == {res.rows[0]["label"].split(", ")[1]
                                                 .split(" ")[0]}
    # resume: finished cases are read, not measured again
    before = sorted(p.stat().st_mtime_ns for p in (run / "raw").glob("*/result.json"))
    from onnxbench.core.errors import UserError

    with pytest.raises(UserError, match="files outside the run directory"):
        onnxbench.tune_resume(run)  # its model lies outside: the user's to trust
    again = onnxbench.tune_resume(run, trust=True)
    after = sorted(p.stat().st_mtime_ns for p in (run / "raw").glob("*/result.json"))
    assert again.winner is not None and before == after[:len(before)]


@pytest.mark.slow
def test_a_real_step_past_its_limit_is_stopped_and_runs_again_on_resume(tmp_path):
    from onnxbench.suite.rundir import create_run_dir, write_configs
    from onnxbench.suite.runner import collect_env
    from onnxbench.tuning.evidence import RunMeasure, Target
    from onnxbench.tuning.records import Fidelity
    from onnxbench.tuning.space import Candidate

    graph = str(matmul_graph(tmp_path / "m.onnx"))
    run = create_run_dir(tmp_path / "runs", "tune-m")
    with run.lock():
        env = collect_env()
        measure = RunMeasure(run, Target(graph), parse_goal("latency"), env=env)
        write_configs(run, measure.plan.to_json(), env)
        cand = Candidate("ort-cpu", None, "fp32", (("threads", 1),))
        ev = measure("screen", Fidelity("timing", 60.0), [cand], limit_s=4.0)[cand.key]
    assert ev.status == "budget" and "ran past the" in ev.reason
    case = measure.plan.cases[0]
    assert not run.done(case)  # marked to run again: the budget's doing, not the case's
    assert json.loads(run.result_path(case).read_text())["status"] == "timeout"
