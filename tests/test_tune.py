"""``tune``: goals and refusals, the space and its drops, the search's decisions on fake
measurements (ties, accuracy violations, budget exhaustion), and one small real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onnxbench.errors import UserError
from onnxbench.tuning.goals import parse_budget, parse_drop, parse_goal
from onnxbench.tuning.search import ABOutcome, Evidence, Fidelity, Search, cut
from onnxbench.tuning.space import Candidate, Serving, build_space, parse_space


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    from onnxbench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


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
    graph = _graph(tmp_path / "m.onnx")
    rc, _, err = _cli(["tune", str(graph), *args, "--out", str(tmp_path / "runs")], capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and words in lines[0], err
    assert not (tmp_path / "runs").exists()  # nothing ran, no run directory


def test_budget_below_one_rate_candidate():
    g = parse_goal("p99<=10ms@10qps")  # 459 requests at 10 QPS: 46 s of window alone
    with pytest.raises(UserError, match="too small"):
        parse_budget("60s", g)
    assert parse_budget("2m", g) == 120.0


# ---------------------------------------------------------------------------- space

def _graph(path: Path) -> Path:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=10), path)
    return path


def test_space_from_the_registries_with_reasons(tmp_path):
    graph = str(_graph(tmp_path / "m.onnx"))
    space = build_space(graph, parse_goal("latency"), cores=2)
    runtimes = {c.runtime for c in space.candidates}
    assert runtimes == {"ort-cpu"}
    reasons = dict(space.dropped)
    assert "bare ONNX file" in reasons["torch-cpu"]  # runs the source model
    assert "not available here" in reasons["ort-cuda"]  # a GPU runtime, skipped with why
    # int8 settings are dimensions: per-tensor and per-channel both searched
    int8 = [c for c in space.candidates if c.precision == "int8-dynamic"]
    assert {c.opts.get("per_channel", False) for c in int8} == {False, True}
    assert {c.threads for c in space.candidates} == {1, 2}


def test_rate_space_drops_oversubscription_and_unsafe_sharing(tmp_path):
    graph = str(_graph(tmp_path / "m.onnx"))
    space = build_space(graph, parse_goal("p99<=10ms@200qps"), cores=2,
                        overrides=parse_space(["precision=fp32", "layout=shared,processes"]))
    assert all(c.cores <= 2 for c in space.candidates)
    assert any("oversubscribed" in r for _, r in space.dropped)
    serving = {(c.serving.layout, c.serving.workers) for c in space.candidates if c.serving}
    assert ("processes", 1) not in serving and ("processes", 2) in serving
    space = build_space("bert", parse_goal("p99<=10ms@200qps"), runtimes=["torch-compile-cpu"],
                        cores=2, overrides=parse_space(["workers=2", "threads=1"]))
    assert any("not thread-safe" in r for _, r in space.dropped)
    assert all(c.serving and c.serving.layout != "shared" for c in space.candidates)


def test_dry_run_lists_gpu_runtimes_skipped(tmp_path, capsys):
    graph = _graph(tmp_path / "m.onnx")
    rc, out, _ = _cli(["tune", str(graph), "--dry-run", "--out", str(tmp_path / "r")], capsys)
    assert rc == 0 and "ort-cuda: not available here" in out and "ort-trt" in out
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------- decisions on fake evidence

def _cands(n: int, threads: int = 1) -> list[Candidate]:
    return [Candidate("ort-cpu", None, "fp32", (("threads", threads), ("variant", i)))
            for i in range(n)]


class Fake:
    """Scripted measurements: each candidate's median (and accuracy drop); a fake clock."""

    def __init__(self, medians: dict[int, float], drops: dict[int, float] | None = None,
                 width: float = 0.01, cost: float = 1.0, verdicts: dict | None = None):
        self.medians, self.drops, self.width, self.cost = medians, drops or {}, width, cost
        self.now = 0.0
        self.calls: list[tuple[str, list[int]]] = []
        self.verdicts = verdicts or {}
        self.compared: list[tuple[int, int]] = []

    def clock(self) -> float:
        return self.now

    def __call__(self, stage: str, fid: Fidelity, cands: list[Candidate]):
        self.calls.append((stage, [c.opts["variant"] for c in cands]))
        self.now += self.cost * len(cands) * fid.processes
        out = {}
        for c in cands:
            i = c.opts["variant"]
            m = self.medians[i]
            out[c.key] = Evidence(c.key, value=m, ci=(m * (1 - self.width), m * (1 + self.width)),
                                  accuracy_drop=self.drops.get(i, 0.0))
        return out

    def compare(self, a: Candidate, b: Candidate, seconds: float) -> ABOutcome:
        pair = (a.opts["variant"], b.opts["variant"])
        self.compared.append(pair)
        self.now += min(seconds, 10.0)
        return ABOutcome(self.verdicts.get(pair, "slower"))


def _search(fake: Fake, cands, budget=1000.0, **kw) -> Search:
    return Search(parse_goal("latency"), cands, fake, fake.compare, budget_s=budget,
                  clock=fake.clock, **kw)


def test_successive_halving_keeps_the_best_and_ties_with_the_cut_line():
    evs = [Evidence(str(i), value=v, ci=(v - 0.5, v + 0.5)) for i, v in
           enumerate([1, 2, 3, 3.2, 6, 7, 8, 9, 10])]
    kept = cut(evs)
    assert [e.key for e in kept] == ["0", "1", "2", "3"]  # 3 kept, "3" ties the cut line


def test_latency_search_picks_the_fastest_and_spends_rungs_on_survivors():
    fake = Fake({i: 10.0 + i for i in range(9)})
    d = _search(fake, _cands(9)).run()
    assert d.winner == _cands(9)[0].key and not d.ties and not d.exhausted
    rung_sets = [ids for stage, ids in fake.calls if stage.startswith("rung")]
    assert rung_sets and len(rung_sets[0]) < 9 and 0 in rung_sets[0] and 8 not in rung_sets[0]


def test_a_tie_is_said_and_broken_by_cores():
    # two finalists whose CIs overlap; ab says "equivalent"; the 1-thread one has fewer cores
    two = [_cands(1, threads=2)[0], Candidate("ort-cpu", None, "fp32",
                                              (("threads", 1), ("variant", 1)))]
    fake = Fake({0: 10.0, 1: 10.05}, width=0.02, verdicts={(0, 1): "equivalent"})
    d = _search(fake, two).run()
    assert fake.compared == [(0, 1)]
    assert d.winner == two[1].key and d.ties == [two[0].key]


def test_ab_faster_verdict_changes_the_pick():
    fake = Fake({0: 10.0, 1: 10.05}, width=0.02, verdicts={(0, 1): "faster"})
    cands = _cands(2)
    d = _search(fake, cands).run()
    assert d.winner == cands[1].key and not d.ties


def test_accuracy_violation_is_out_with_its_reason():
    fake = Fake({0: 5.0, 1: 9.0, 2: 12.0}, drops={0: 0.02, 1: 0.001})
    cands = _cands(3)
    d = _search(fake, cands, max_drop=0.005).run()
    assert d.winner == cands[1].key
    assert "accuracy drop 0.02 > the allowed 0.005" in d.dropped[cands[0].key]


def test_budget_exhaustion_gives_the_best_so_far_said_as_such():
    from onnxbench.tuning.answer import paragraph
    from onnxbench.tuning.space import Space

    fake = Fake({i: 10.0 + i for i in range(30)}, cost=10.0)
    cands = _cands(30)
    d = _search(fake, cands, budget=100.0).run()
    assert d.exhausted and d.winner is not None
    screened = {i for stage, ids in fake.calls if stage.startswith("screen") for i in ids}
    assert len(screened) < 30  # the sampler chose which to screen
    assert d.winner == cands[min(screened)].key
    text = paragraph(parse_goal("latency"), Space(cands), d)
    assert "best answer so far" in text


def test_rate_goal_picks_fewest_cores_and_never_measures_more():
    one = Candidate("ort-cpu", None, "fp32", (("threads", 1), ("variant", 0)), Serving())
    two = Candidate("ort-cpu", None, "fp32", (("threads", 1), ("variant", 1)),
                    Serving("processes", 2))
    measured: list[str] = []

    def measure(stage, fid, cands):
        measured.extend(f"{stage}:{c.opts['variant']}" for c in cands)
        return {c.key: Evidence(c.key, value=4.0, ci=(3.5, 4.5), met=True,
                                accuracy_drop=0.0) for c in cands}

    s = Search(parse_goal("p99<=10ms@200qps"), [one, two], measure, None, budget_s=1000,
               clock=lambda: 0.0)
    d = s.run()
    assert d.winner == one.key and d.evidence[one.key].confirmed
    assert not any(m.startswith("rate-2c") for m in measured)
    assert "fewer" not in d.dropped.get(two.key, "") or "1 cores" in d.dropped[two.key]


# ------------------------------------------------------------------------ end to end

@pytest.mark.slow
def test_tune_end_to_end_on_a_tiny_graph(tmp_path):
    import onnxbench
    from onnxbench.suite.parse import load_suite
    from onnxbench.suite.plan import expand

    graph = _graph(tmp_path / "m.onnx")
    res = onnxbench.tune(str(graph), "latency", budget="40s", out=tmp_path / "runs",
                         space={"precision": ["fp32", "int8-dynamic"], "per_channel": [False],
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
    again = onnxbench.tune_resume(run)
    after = sorted(p.stat().st_mtime_ns for p in (run / "raw").glob("*/result.json"))
    assert again.winner is not None and before == after[:len(before)]
