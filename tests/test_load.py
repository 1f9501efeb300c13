"""``onnxbench load``, the suite field ``scenario:``, resume/aggregate of load cases, the load
section of the report, and every bad input (exit 2, one line)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clitools import run_cli as cli
from helpers import write_tiny_onnx
from onnxbench.core.errors import UserError
from onnxbench.core.load_spec import LoadSpec, ScenarioBlock, parse_time
from onnxbench.core.result import read_results
from onnxbench.suite.parse import parse_suite
from onnxbench.suite.plan import expand

QUICK = ["--duration", "0.5s", "--no-ceiling", "--quiet"]
SLOW_RT = ["-r", "test-delay"]


@pytest.fixture()
def tiny(tmp_path) -> Path:
    return write_tiny_onnx(tmp_path / "tiny.onnx")


# ---- bad input: exit 2, one line, nothing run ------------------------------------------

BAD = {
    "zero rate": (["--qps", "0"], "--qps"),
    "negative rate": (["--qps=-5"], "--qps"),
    "zero concurrency": (["--concurrency", "0,2"], "--concurrency"),
    "negative concurrency": (["--concurrency=-1"], "--concurrency"),
    "fractional concurrency": (["--concurrency", "1.5"], "--concurrency"),
    "too short for p99": (["--qps", "50", "--duration", "2s"], "needs at least 459"),
    "peak without a bound": (["--find-peak"], "--p99"),
    "two scenarios": (["--qps", "10", "--concurrency", "2"], "choose one of"),
    "no scenario": ([], "choose a load"),
    "unknown layout": (["--concurrency", "2", "--layout", "shard"], "'shared'"),
    "bad duration": (["--concurrency", "2", "--duration", "soon"], "--duration"),
    "zero bound": (["--find-peak", "--p99", "0ms"], "--p99"),
    "unknown runtime": (["--concurrency", "2", "-r", "ort-gpu"], "ort-gpu"),
    "confirm shorter than a probe": (["--find-peak", "--p99", "10ms", "--duration", "10s",
                                      "--confirm", "5s"], "--confirm: confirm_s 5 is shorter"),
    "default confirm shorter than a probe": (["--find-peak", "--p99", "10ms", "--duration",
                                              "90s"], "confirm_s 60 (the default) is shorter"),
    "constant arrivals from LoadGen": (["--qps", "100", "--duration", "5s", "--arrival",
                                        "constant", "--generator", "loadgen"],
                                       "generator loadgen has no constant arrivals"),
    "unknown generator": (["--qps", "100", "--duration", "5s", "--generator", "wrk"],
                          "--generator"),
    "generator on a closed loop": (["--concurrency", "2", "--generator", "onnxbench"],
                                   "generator is for the server and peak scenarios"),
    "confirm on a server point": (["--qps", "100", "--confirm", "20s"],
                                  "--confirm is for --find-peak"),
    "bad confirm": (["--find-peak", "--p99", "10ms", "--confirm", "later"], "--confirm"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_load_input_is_one_line_and_exit_2(name, tmp_path, tiny, capsys):
    args, expected = BAD[name]
    out_dir = tmp_path / "runs"
    code, out, err = cli(capsys, "load", str(tiny), *args, "--out", str(out_dir))
    assert code == 2, (name, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in err, err
    assert not out_dir.exists()  # checked before anything ran


def test_duration_too_short_says_how_many_requests_it_needs():
    with pytest.raises(ValueError, match="459"):
        LoadSpec(name="server", qps=10, duration_s=10)
    assert LoadSpec(name="server", qps=10, duration_s=46).qps == 10
    assert LoadSpec(name="server", qps=10, duration_s=10, percentile=90).percentile == 90


def test_a_bound_no_single_request_meets_fails_the_case_with_the_single_stream_p99(
        tmp_path, tiny, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: infeasible\ndefaults:\n  runtimes: [test-delay]\n"
                     f"  options: {{delay_us: 5000, wait: sleep}}\ncases:\n  - model: {tiny}\n"
                     "    scenario: {name: peak, bound_ms: 1, duration_s: 0.5, ceiling: false}\n")
    code, out, err = cli(capsys, "run", "--suite", str(suite), "--out", str(tmp_path / "r"),
                         "--json", "--quiet")
    # a failed case is a status with its reason; a run where none succeeded exits 1
    assert code == 1 and "no case succeeded" in err.splitlines()[-1], err
    (row,) = json.loads(out)["summary"]["rows"]
    assert row["status"] == "failed" and "cannot be met" in row["reason"]
    assert "one request at a time already takes p99" in row["reason"]


def test_load_cli_exit_2_on_an_infeasible_bound(tmp_path, tiny, capsys, monkeypatch):
    from onnxbench.suite import load_plan as api

    real = api.load_cases

    def slow(*args, **kw):  # the same cases, on a runtime that takes 5 ms a request
        return [c.model_copy(update={"options": {"delay_us": 5000, "wait": "sleep"}})
                for c in real(*args, **kw)]

    monkeypatch.setattr(api, "load_cases", slow)
    code, _, err = cli(capsys, "load", str(tiny), *SLOW_RT, "--find-peak", "--p99", "1ms",
                       *QUICK, "--out", str(tmp_path / "runs"))
    # it is known only once the pre-check has run: the progress log line, then the error
    errors = [ln for ln in err.strip().splitlines() if ln.startswith("onnxbench: error:")]
    assert code == 2 and len(errors) == 1 and err.strip().endswith(errors[0]), err
    assert "cannot be met" in errors[0] and "one request at a time already takes p99" in errors[0]


def test_time_values():
    assert parse_time("--p99", "10ms", "ms") == pytest.approx(0.010)
    assert parse_time("--p99", "10", "ms") == pytest.approx(0.010)
    assert parse_time("--duration", "2m", "s") == 120
    assert parse_time("--confirm", "1h", "s") == 3600  # an hour's claim
    with pytest.raises(UserError, match="--duration"):
        parse_time("--duration", "-3s", "s")


# ---- the command ------------------------------------------------------------------------

def test_load_concurrency_sweep_prints_perf_analyzers_table(tmp_path, tiny, capsys):
    out_dir = tmp_path / "runs"
    code, out, err = cli(capsys, "load", str(tiny), "-r", "ort-cpu", "--concurrency", "1,2",
                         "--threads", "1", *QUICK, "--out", str(out_dir))
    assert code == 0, err
    for head in ("Concurrency", "Inferences/s", "p50", "p90", "p95", "p99", "ρ"):
        assert head in out
    assert "generator's ceiling here" not in out  # --no-ceiling: none measured, none claimed
    (run,) = out_dir.iterdir()
    results = read_results(run / "raw")
    assert len(results) == 2 and all(r.status == "ok" for r in results)
    for r in results:  # per-request times in the case's own result.json (every stride-th)
        req = r.load.requests
        assert req.total == r.load.n_completed and len(req.completed) == -(-req.total // req.stride)
        assert len(req.scheduled) == len(req.issued) == len(req.started) == len(req.completed)
        assert len(r.timing.latencies_ms) == len(req.completed)
        assert r.load.concurrency == r.case.scenario.concurrency
        s = r.load.stationarity  # a closed loop: ρ only, no queue verdict
        assert s.verdict == "n/a" and 0 < s.rho <= 1.05 and s.queue_slope is None
        assert r.load.affinity is not None and r.load.affinity.cpus
    two = next(r for r in results if r.case.scenario.concurrency == 2)
    assert two.load.check.passed and two.load.workers == 2


def test_load_server_on_a_zoo_model_json(tmp_path, capsys):
    code, out, err = cli(capsys, "load", "dcnv2", "--config", "tiny", "--exporter", "torchscript",
                         "-r", "ort-cpu,torch-cpu", "--batch", "2", "--qps", "100",
                         "--duration", "5s", "--no-ceiling", "--quiet", "--json",
                         "--out", str(tmp_path / "runs"))
    assert code == 0, err
    doc = json.loads(out)
    rows = doc["rows"]
    assert sorted(r["runtime"] for r in rows) == ["ort-cpu", "torch-cpu"]
    assert all(r["status"] == "ok" and r["scenario"].startswith("server-qps100") for r in rows)
    assert all(80 <= r["throughput"] / 2 <= 120 for r in rows)  # achieved ≈ offered, batch 2
    tables = doc["load"]["models"][0]["tables"]
    assert tables and all({"ρ", "Queue"} <= set(t["headers"]) for t in tables), tables


# ---- suites: scenario:, resume, aggregate, report ----------------------------------------

def _suite_text(tiny: Path) -> str:
    return f"""suite: load-suite
defaults:
  runtimes: [test-delay]
  options: {{delay_us: 2000, wait: sleep}}
cases:
  - model: {tiny}
    scenario:
      name: concurrency
      concurrency: [1, 2]
      layout: [shared, lock]
      duration_s: 0.5
      ceiling: false
  - model: {tiny}
    scenario: {{name: server, qps: 200, duration_s: 3, ceiling: false}}
"""


def test_suite_scenario_block_expands_into_load_points(tmp_path, tiny):
    plan = expand(parse_suite(_suite_text(tiny)))
    specs = [c.scenario for c in plan.cases]
    assert len(specs) == 5 and len({c.case_id for c in plan.cases}) == 5
    assert {(s.concurrency, s.layout) for s in specs[:4]} == {(1, "shared"), (2, "shared"),
                                                              (1, "lock"), (2, "lock")}
    assert specs[4].name == "server" and specs[4].qps == 200
    assert any("concurrency-c2-lock-w2" in c.case_id for c in plan.cases)
    assert ScenarioBlock(name="single-stream").specs() == [None]


@pytest.mark.parametrize("block,expected", [
    ("{name: server, qps: 0}", "scenario.qps"),
    ("{name: server}", "needs qps"),
    ("{name: concurrency, concurency: 2}", "did you mean 'concurrency'"),
    ("{name: peak}", "needs bound_ms"),
    ("{name: server, qps: 10, duration_s: 1}", "needs at least 459"),
    ("{name: offline, qps: 10}", "qps is for the server and peak"),
    ("{name: peak, bound_ms: 5, duration_s: 10, confirm_s: 5}", "is shorter than duration_s"),
    ("{name: server, qps: 100, confirm_s: 20}", "confirm_s is for the peak scenario"),
    ("{name: rush}", "single-stream"),
])
def test_suite_scenario_mistakes_are_one_line_with_the_line(block, expected, tiny):
    text = f"suite: s\ncases:\n  - model: {tiny}\n    scenario: {block}\n"
    with pytest.raises(UserError) as err:
        parse_suite(text, "s.yaml")
    msg = str(err.value)
    assert msg.startswith("s.yaml:4: cases[0].scenario") and expected in msg and "\n" not in msg


@pytest.mark.slow
def test_load_suite_resumes_aggregates_and_reports(tmp_path, tiny, capsys):
    suite = tmp_path / "load.yaml"
    suite.write_text(_suite_text(tiny))
    code, out, err = cli(capsys, "run", "--suite", str(suite), "--out", str(tmp_path / "r"),
                         "--quiet")
    assert code == 0, err
    (run,) = (tmp_path / "r").iterdir()
    assert "Concurrency" in out and "Target QPS" in out
    victim = next(p for p in (run / "raw").iterdir() if "lock-w2" in p.name)
    kept = {p.name: (p / "result.json").read_bytes() for p in (run / "raw").iterdir()
            if p != victim}
    shutil.rmtree(victim)
    # the model file lives outside the run directory: resuming it trusts the plan
    code, out, err = cli(capsys, "run", "--resume", str(run), "--trust", "--quiet")
    assert code == 0, err
    assert (victim / "result.json").is_file()
    assert {p: (run / "raw" / p / "result.json").read_bytes() for p in kept} == kept
    summary = json.loads((run / "summary" / "summary.json").read_text())
    server = next(r for r in summary["rows"] if r["scenario"].startswith("server"))
    assert 150 <= server["throughput"] <= 250  # achieved requests/s, not 1 / latency
    before = (run / "summary" / "summary.csv").read_bytes()
    assert cli(capsys, "aggregate", str(run)).code == 0
    assert (run / "summary" / "summary.csv").read_bytes() == before
    md = (run / "report.md").read_text()
    assert "Which runtime, for which traffic" in md and "Concurrency | Inferences/s" in md
    assert "does one session need a lock?" in md and "equal (bitwise)" in md
    html = (run / "report.html").read_text()
    assert "latency against throughput" in html


def test_load_offline_with_worker_processes(tmp_path, tiny, capsys):
    """Offline (LoadGen) through 2 serving processes forked by the case's (daemonic) worker."""
    out_dir = tmp_path / "runs"
    code, _, err = cli(capsys, "load", str(tiny), "-r", "ort-cpu", "--scenario", "offline",
                         "--layout", "processes", "--workers", "2", "--threads", "1", *QUICK,
                         "--out", str(out_dir))
    assert code == 0, err
    (result,) = read_results(next(out_dir.iterdir()) / "raw")
    assert result.status == "ok", result.reason
    load = result.load
    assert load.scenario == "offline" and "Offline" in load.generator
    assert set(load.requests.worker) == {0, 1}  # both processes served
    assert load.loadgen["result_validity"] in ("VALID", "INVALID")  # LoadGen's own verdict kept
    req = load.requests  # the worker's own end precedes the reply's arrival in the parent
    assert len(req.finished) == len(req.completed)
    assert all(s <= f <= c for s, f, c in zip(req.started, req.finished, req.completed,
                                              strict=True))
    assert sum(c - f for f, c in zip(req.finished, req.completed, strict=True)) > 0


@pytest.mark.slow
def test_load_peak_on_a_zoo_model(tmp_path, capsys):
    code, out, err = cli(capsys, "load", "dcnv2", "--config", "tiny", "--exporter", "torchscript",
                         "-r", "ort-cpu", "--batch", "2", "--find-peak", "--bound", "50ms",
                         "--percentile", "90", "--resolution", "20", "--workers", "2",
                         "--layout", "per-thread", "--threads", "1", "--confirm", "1s",
                         *QUICK, "--out", str(tmp_path / "runs"))
    assert code == 0, err
    assert "peak QPS under the bound" in out and "At p90 ≤ 50 ms: ORT CPU, 2 sessions" in out
    assert "Search QPS" in out
    (result,) = read_results(next((tmp_path / "runs").iterdir()) / "raw")
    peak = result.load.peak
    assert result.status == "ok" and peak.converged and peak.qps > 0
    assert peak.bracket[0] < peak.bracket[1] <= peak.bracket[0] * 1.2 + 1e-9
    confirms = [p for p in result.load.probes if p.phase == "confirm"]
    assert peak.confirmed and confirms[-1].met and confirms[-1].target_qps == peak.qps
    assert peak.qps <= peak.search_qps == peak.bracket[0] and confirms[0].duration_s == 1
    assert result.load.check.passed  # 2 sessions under concurrency give the sequential outputs


def test_peak_table_shows_the_confirmed_peak_beside_the_search_rate():
    from types import SimpleNamespace

    from onnxbench.core.load_record import LoadRecord, Peak
    from onnxbench.report.load_peaks import peak_table
    from onnxbench.report.load_tables import LoadPoint

    spec = LoadSpec(name="peak", bound_ms=10, duration_s=5, confirm_s=20)
    peak = Peak(qps=729.0, achieved_qps=728.0, value_ms=8.0, confidence=0.999, bound_ms=10,
                percentile=99, precision_pct=5, bracket=[1000.0, 1050.0], converged=True,
                search_qps=1000.0, confirm_s=20, confirmed=True)
    rec = LoadRecord(scenario="peak", generator="LoadGen", layout="shared", workers=1,
                     peak=peak)
    point = SimpleNamespace(case=SimpleNamespace(scenario=spec), status="ok", reason=None)
    lp = LoadPoint(point=point, records=[rec], label="ORT CPU", peak=729.0, search=1000.0,
                   p={"p50": 2.0})
    table = peak_table("m", [lp])
    (row,) = table.rows
    cells = dict(zip(table.headers, [c.text for c in row], strict=True))
    assert cells["Peak QPS"] == "729" and cells["Search QPS"] == "1000"
    assert "confirmation (20 s) lowered it from 1000 QPS" in cells["Note"]


# ---- the peak's claim: its window, ρ, its queue; a lower bound when none held ---------

def _peak_point(peak, *, status="ok", rho=None, runtime="ort-cpu", harness=None):
    from types import SimpleNamespace

    from onnxbench.core.load_record import LoadRecord, Stationarity
    from onnxbench.report.load_tables import LoadPoint, fold

    spec = LoadSpec(name="peak", percentile=95, bound_ms=500, duration_s=10, confirm_s=60)
    queue = Stationarity(verdict="near" if (rho or 0) >= 0.9 else "stable", window_s=60,
                         rho=rho) if rho is not None else None
    rec = LoadRecord(scenario="peak", generator="LoadGen", layout="shared", workers=2,
                     peak=peak, stationarity=queue, harness=harness)
    case = SimpleNamespace(scenario=spec, runtime=runtime, options={}, precision="fp32",
                           batch=1, model="bert", config="base", seq=128)
    result = SimpleNamespace(status=status, load=rec)  # what fold reads of a Result
    point = SimpleNamespace(case=case, status=status, results=[result],
                            reason=peak.reason if status != "ok" else None)
    lp = fold(point)
    assert isinstance(lp, LoadPoint)
    return lp


def _evidence(qps, window, queue="stable", rho=0.8, met=True):
    from onnxbench.core.load_record import Probe

    return Probe(target_qps=qps, achieved_qps=qps, value_ms=300.0, met=met, confidence=0.99,
                 n=1000, phase="confirm" if window == 60 else "bisect", duration_s=window,
                 window_s=window + 0.4, rho=rho, queue=queue)


def _peak(qps, **kw):
    from onnxbench.core.load_record import Peak

    return Peak(qps=qps, achieved_qps=qps, value_ms=300.0, confidence=0.999, bound_ms=500,
                percentile=95, precision_pct=5, bracket=[qps, qps * 1.05 if qps else None],
                converged=True,
                search_qps=qps, confirm_s=60, confirmed=qps is not None, **kw)


def test_the_peak_sentence_states_the_window_the_queue_and_a_fragile_utilisation():
    from onnxbench.report.load_peaks import peak_table
    from onnxbench.report.load_report import sentence

    near = _peak_point(_peak(17.0, evidence=_evidence(17.0, 60, "near", 0.93)), rho=0.93)
    calm = _peak_point(_peak(4.5, evidence=_evidence(4.5, 60, "stable", 0.7)), rho=0.7,
                       runtime="torch-cpu")
    text = sentence([near, calm])
    assert text.startswith("At p95 ≤ 500 ms: ")
    assert "17.0 QPS held for 60 s, queue stable (ρ 0.93: near saturation, a small rise in " \
           "load breaks it)" in text
    assert "4.50 QPS held for 60 s, queue stable." in text and "ρ 0.70" not in text
    table = peak_table("bert", [near, calm])
    cells = dict(zip(table.headers, [c.text for c in table.rows[0]], strict=True))
    assert cells["Held for"] == "60 s" and cells["ρ"] == "0.93" and cells["Queue"] == "stable"
    assert "near saturation" in cells["Note"]


def test_a_peak_search_that_held_no_rate_reports_its_lower_bound():
    from onnxbench.report.load_peaks import peak_table
    from onnxbench.report.load_report import sentence

    failed = _peak(None, lower_bound=_evidence(12.0, 10, "stable", 0.85),
                   reason="no rate held for 60 s: ...")
    lp = _peak_point(failed.model_copy(update={"achieved_qps": None, "value_ms": None,
                                               "confidence": None}), status="failed")
    assert not lp.ok and lp.lower is not None
    text = sentence([lp])
    assert "no rate held for 60 s; at least 12.0 QPS held for 10 s" in text
    table = peak_table("bert", [lp])
    (row,) = table.rows
    cells = dict(zip(table.headers, [c.text for c in row], strict=True))
    assert cells["Peak QPS"] == "≥ 12.0" and cells["Held for"] == "10 s"
    assert "lower bound" in cells["Note"]


def test_tables_say_what_the_generators_ceiling_was():
    from onnxbench.core.load_record import Harness
    from onnxbench.report.load_peaks import peak_table

    lp = _peak_point(_peak(17.0, evidence=_evidence(17.0, 60)), rho=0.8,
                     harness=Harness(ceiling_qps=9800.0))
    notes = " ".join(peak_table("bert", [lp]).notes)
    assert "generator's ceiling here: 9800 QPS" in notes


def test_a_load_case_id_hashes_only_the_fields_of_its_scenario():
    """confirm_s is a peak search's; an unset generator is not hashed (older ids stay)."""
    from onnxbench.core.case import Case

    def cid(**kw):
        return Case(model="m.onnx", runtime="ort-cpu", batch=1,
                    scenario=LoadSpec(**kw)).case_id

    server = {"name": "server", "qps": 100, "duration_s": 10}
    assert cid(**server, confirm_s=20) == cid(**server) != cid(**server, generator="onnxbench")
    peak = {"name": "peak", "bound_ms": 10}
    assert cid(**peak, confirm_s=20) != cid(**peak)


def test_batch_takes_a_list_as_in_bench_each_size_its_own_cases(tiny, tmp_path, capsys):
    code, out, err = cli(capsys, "load", str(tiny), "-r", "ort-cpu", "--concurrency", "1",
                         "--batch", "1,2", *QUICK, "--json", "--out", str(tmp_path / "runs"))
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert sorted(r["batch"] for r in rows) == [1, 2]
    assert all(r["status"] == "ok" for r in rows)
