"""One fold for summary, report and compare; tail latencies with order-statistic CIs; the
run's between-process noise; thread pools sized in a worker."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import binom

from onnxbench.measure.fold import fold_results, run_noise
from onnxbench.measure.tails import min_samples, order_ranks, tail
from onnxbench.report import build_report
from onnxbench.report.compare import compare_runs
from onnxbench.report.rundata import group_points, load_run
from onnxbench.suite.aggregate import aggregate
from report_fixtures import make_result, write_run


def _three_processes(tmp_path):
    """One point in three processes with clearly different medians (1.0, 1.2, 1.5 ms)."""
    res = [make_result("ort-cpu", 8, m, repeat=r, seed=r, n=300, spread=0.001)
           for r, m in enumerate((1.0, 1.2, 1.5))]
    return write_run(tmp_path, res)


def test_summary_report_and_compare_fold_alike(tmp_path):
    run = _three_processes(tmp_path / "a")
    results = load_run(run).results
    meds = [r.stats.p50 for r in results]
    expected = math.exp(np.mean(np.log(meds)))  # geometric mean of the process medians
    assert expected != pytest.approx(np.mean(meds), rel=1e-3)  # …which is not their mean
    assert expected != pytest.approx(np.median(meds), rel=1e-3)  # …nor their median
    row = aggregate(run).rows[0]
    (point,) = group_points(results)
    assert row["p50_ms"] == pytest.approx(expected, abs=1e-6)
    assert point.median == pytest.approx(expected, rel=1e-12)
    assert (row["ci_low_ms"], row["ci_high_ms"]) == pytest.approx(point.ci, abs=1e-6)
    assert point.ci[0] < expected < point.ci[1] and row["n_processes"] == 3
    md = (tmp_path / "a" / "report.md")
    from onnxbench.report import write_reports

    write_reports(run, ["md"])
    assert point.unstable  # medians 25 % apart: marked, and still shown
    assert f"| 8 | {_sig(point.mean)} † | {_sig(expected)} † |" in md.read_text()
    comp = compare_runs(run, run)
    assert comp.pairs[0].result.center_a == pytest.approx(expected, rel=1e-12)
    assert comp.pairs[0].result.ratio == pytest.approx(1.0)


def _sig(v: float) -> str:
    from onnxbench.report.fmt import sig

    return sig(v)


def test_the_median_ci_is_a_t_interval_on_log_process_medians(tmp_path):
    run = _three_processes(tmp_path)
    (point,) = group_points(load_run(run).results)
    logs = np.log(point.fold.process_medians)
    half = 4.302652729911275 * logs.std(ddof=1) / math.sqrt(3)  # t(0.975, 2 df)
    assert point.ci == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))
    assert "3 processes" in point.fold.ci_method
    assert point.fold.process_rsd == pytest.approx(logs.std(ddof=1))


def test_one_process_keeps_its_own_ci_and_says_so():
    res = make_result("ort-cpu", 1, 2.0, n=200)
    f = fold_results([res])
    assert f.median == res.stats.p50 and f.ci == (res.stats.median_ci_low, res.stats.median_ci_high)
    assert "between-process variance not sampled" in f.ci_method and f.process_rsd is None


def test_failed_processes_are_named_and_unstable_spread_is_flagged():
    ok = [make_result("ort-cpu", 1, m, repeat=r, seed=r, spread=0.001)
          for r, m in enumerate((1.0, 1.4))]
    bad = make_result("ort-cpu", 1, None, status="crashed", reason="worker died", repeat=2)
    f = fold_results(ok + [bad])
    assert f.status == "ok" and f.n_processes == 2 and "1 of 3 processes crashed" in f.reason
    assert f.unstable and "process medians spread 0.3" in f.unstable_reason


def test_run_noise_pools_the_log_spread_over_points():
    groups = ((1, (1.0, 1.1)), (2, (2.0, 2.0, 2.2)))
    pts = [fold_results([make_result("ort-cpu", b, m, repeat=r, seed=r + b, spread=0.001)
                         for r, m in enumerate(ms)]) for b, ms in groups]
    noise = run_noise(pts)
    logs = [np.log([p for p in f.process_medians]) for f in pts]
    ss = sum(((x - x.mean()) ** 2).sum() for x in logs)
    assert noise.df == 3 and noise.points == 2
    assert noise.rsd == pytest.approx(math.sqrt(ss / 3))
    assert run_noise([fold_results([make_result("ort-cpu", 1, 1.0)])]) is None


def test_p99_ci_by_order_statistics():
    # ranks by hand for n = 1000, q = 0.99: the 2.5 % and 97.5 % points of Binomial(1000, .99)
    lo, hi = order_ranks(1000, 0.99)
    assert binom.cdf(lo - 1, 1000, 0.99) <= 0.025 < binom.cdf(lo, 1000, 0.99)
    assert binom.cdf(hi - 1, 1000, 0.99) >= 0.975 > binom.cdf(hi - 2, 1000, 0.99)
    assert (lo, hi) == (983, 997)
    x = np.arange(1, 1001, dtype=float)  # sorted values 1..1000: x_(k) = k
    t = tail(x, 0.99)
    assert (t.ci_low, t.ci_high, t.n, t.enough) == (983.0, 997.0, 1000, True)
    assert t.value == pytest.approx(np.percentile(x, 99))
    # coverage on many exponential samples: the CI holds the true p99 about 95 % of the time
    rng = np.random.default_rng(0)
    true = -math.log(0.01)
    hits = [(s := tail(rng.exponential(size=500), 0.99)).ci_low <= true <= s.ci_high
            for _ in range(400)]
    assert 0.92 <= np.mean(hits) <= 0.99


def test_a_p99_from_too_few_samples_says_so():
    assert (min_samples(0.99), min_samples(0.95), min_samples(0.90)) == (368, 72, 36)
    t = tail(np.arange(120.0), 0.99)
    assert t.ci_high is None and not t.enough
    assert t.note("p99") == "p99 from n=120: too few samples for a CI (needs ≥ 368)"
    assert tail(np.arange(368.0), 0.99).ci_high is not None


def test_summary_and_report_carry_the_tail_cis(tmp_path):
    res = [make_result("ort-cpu", 1, 1.0, repeat=r, seed=r, n=100) for r in range(3)]
    run = write_run(tmp_path, res)
    row = aggregate(run).rows[0]
    assert row["n"] == 300 and row["p95_ci_high_ms"] is not None and row["p99_ci_high_ms"] is None
    assert row["tail_note"] == "p99 from n=300: too few samples for a CI (needs ≥ 368)"
    rep = build_report(run)
    notes = [n for g in rep.groups for t in g.tables for n in t.notes]
    assert any("p99 from n=300: too few samples" in n for n in notes)
    doc = json.loads(json.dumps(rep.to_dict(), default=str))
    point = doc["groups"][0]["series"][0]["points"][0]
    assert point["tails"]["p99"]["enough"] is False and point["processes"] == 3


def test_unstable_points_stay_in_every_chart(tmp_path):
    from onnxbench.report.html import render_html

    res = [make_result(rt, b, (1 if rt == "ort-cpu" else 3) * (1 + 0.1 * b), repeat=r,
                       seed=r + b, unstable=(rt == "ort-cpu" and b == 4))
           for rt in ("ort-cpu", "torch-cpu") for b in (1, 4, 16) for r in range(3)]
    page = render_html(build_report(write_run(tmp_path, res)))
    assert page.count('"x-open"') >= 2  # latency and throughput charts mark the point …
    assert '"x":[1,4,16]' in page.replace(" ", "")  # … and keep it on the line
    assert "UNSTABLE: IQR\\u002fmedian 0.40" in page  # the hover text names the reason


def _pools(threads):
    from threadpoolctl import threadpool_info

    from onnxbench.scenarios.execute import pin_threads

    pinned = pin_threads({"threads": threads} if threads else {})
    return pinned, [p["num_threads"] for p in threadpool_info()]


def test_threads_size_the_pools_inside_a_worker():
    """The fork server preloaded numpy and torch: their pools exist before the case runs, so
    only resizing them (not the environment variables) makes `threads` take effect."""
    from onnxbench.isolation.worker import run_isolated

    outcome = run_isolated(_pools, None)
    assert outcome.ok, outcome.reason
    _, default = outcome.value
    assert default and max(default) >= 2  # the machine's size (this box has 2 cores)
    outcome = run_isolated(_pools, 1)
    assert outcome.ok, outcome.reason
    pinned, sizes = outcome.value
    assert sizes == [1] * len(default)
    assert pinned["requested_threads"] == 1 and pinned["torch_threads"] == 1
    assert [p["num_threads"] for p in pinned["thread_pools"]] == sizes
    assert {p["user_api"] for p in pinned["thread_pools"]} >= {"openmp", "blas"}
