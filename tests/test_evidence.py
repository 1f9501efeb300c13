"""Published figures at the strength of their evidence (``report.evidence``, ``summary_rows``)."""

from __future__ import annotations

import math

import pytest

from onnxbench.measure.fold import Noise
from onnxbench.measure.ratio import judge
from onnxbench.report.abtest import runs_estimate
from onnxbench.report.evidence import Figure, Margin, leaders, versus
from onnxbench.report.summary_rows import point_of, read_summary

NEW = {"point_id": "m_p", "model": "m", "config": "c", "exporter": "e", "runtime": "ort-cpu",
       "batch": "8", "seq": "", "precision": "fp32", "options": '{"threads": 2}',
       "status": "ok", "reason": "", "n_processes": "3", "p50_ms": "10.0",
       "ci_low_ms": "9.5", "ci_high_ms": "10.5", "process_rsd": "0.02", "unstable": "False",
       "mean_ms": "10.2"}


def figure(median: float, lo: float, hi: float, k: int = 3, rsd: float | None = 0.02,
           unstable: bool = False, margin: Margin | None = None, runtime: str = "ort-cpu"):
    row = {**NEW, "p50_ms": str(median), "ci_low_ms": str(lo), "ci_high_ms": str(hi),
           "n_processes": str(k), "process_rsd": "" if rsd is None else str(rsd),
           "unstable": str(unstable), "runtime": runtime}
    return Figure(point_of(row, "test"), margin)


def test_overlapping_cis_are_a_tie_and_separate_ones_a_ratio_with_the_compare_ci():
    a, b = figure(10.0, 9.5, 10.5), figure(10.4, 9.9, 10.9)
    tie = versus(a, b)
    assert not tie.resolved and tie.basis == "CIs overlap" and tie.text().startswith("tie")
    c = figure(20.0, 19.0, 21.0)
    v = versus(a, c)
    assert v.resolved and v.ratio == pytest.approx(2.0)
    expected = judge(runs_estimate(a, c, None, None), threshold=0.0)
    assert v.ci == pytest.approx((expected.ci_low, expected.ci_high))
    assert v.ci[0] < 2.0 < v.ci[1] and v.text() == f"2.00× (CI {v.ci[0]:.3g}–{v.ci[1]:.3g})"


def test_a_ratio_whose_ci_covers_one_is_a_tie_even_when_the_cis_do_not_overlap():
    # tight point CIs, but the processes spread widely: Welch's CI of the ratio covers 1
    a, b = figure(10.0, 9.99, 10.01, rsd=0.3), figure(10.5, 10.49, 10.51, rsd=0.3)
    v = versus(a, b)
    assert not v.resolved and v.basis == "ratio CI covers 1"


def test_one_process_figures_resolve_only_beyond_their_hosts_margin():
    m = Margin(22.0, "A/A")
    a = figure(1.31, 1.30, 1.32, k=1, rsd=None, margin=m)
    b = figure(1.50, 1.49, 1.51, k=1, rsd=None, margin=m)  # 1.15×: CIs separate, margin not
    v = versus(a, b)
    assert not v.resolved and "within ±22 %" in v.basis
    assert v.ci == pytest.approx((1.50 / 1.31 / 1.22, 1.50 / 1.31 * 1.22))
    c = figure(2.0, 1.99, 2.01, k=1, rsd=None, margin=m)  # 1.53×
    assert versus(a, c).resolved
    bare = figure(2.0, 1.99, 2.01, k=1, rsd=None)  # no margin measured for its host
    w = versus(a, bare)
    assert not w.resolved and "no resolvable margin" in w.basis


def test_unstable_marks_carry_into_every_ratio_built_on_them():
    a, b = figure(10.0, 9.5, 10.5, unstable=True), figure(20.0, 19.0, 21.0)
    assert a.text() == "10.0 ms ± 5 % (3 processes) †"
    assert versus(a, b).text().endswith("†")


def test_leaders_name_every_point_tied_with_the_fastest():
    figs = {"A": figure(10.0, 9.5, 10.5), "B": figure(10.4, 9.9, 10.9),
            "C": figure(20.0, 19.0, 21.0)}
    assert leaders(figs) == ["A", "B"]


def test_a_margin_from_noise_is_the_half_width_of_two_one_process_points():
    noise = Noise(rsd=0.05, df=30, points=10)
    t = 2.0422724563012373  # t(0.975, 30)
    assert Margin.from_noise(noise, "x").pct == pytest.approx(
        (math.exp(t * math.sqrt(2) * 0.05) - 1) * 100)
    doc = {"outcome": {"result": {"resolvable_pct": 22.0}}}
    assert Margin.from_ab(doc, "aa").pct == 22.0
    with pytest.raises(ValueError, match="resolvable_pct"):
        Margin.from_ab({}, "aa")


def test_first_release_rows_read_with_the_current_fold_rules(tmp_path):
    path = tmp_path / "summary.csv"
    head = ("point_id,model,config,exporter,runtime,batch,seq,precision,options,status,reason,"
            "n_repeats,n,mean_ms,p50_ms,p95_ms,p99_ms,ci_low_ms,ci_high_ms,repeat_std_ms,"
            "repeat_min_ms,repeat_max_ms,unstable,throughput")
    rows = ["p1,m,c,e,ort-cpu,2,,fp32,,ok,,3,30,6.0,6.0,7,8,4.0,8.0,1.2,4.5,7.5,False,1",
            "p2,m,c,e,ort-cpu,4,,fp32,,ok,,1,10,2.0,2.0,3,3,1.9,2.1,0,2.0,2.0,False,1",
            'p3,m,c,e,ort-cpu,8,,fp32,"{""a"": 1}",skipped,no GPU,1,,,,,,,,,,,False,']
    path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    p1, p2, p3 = read_summary(path)
    assert p1.n_processes == 3 and p1.process_rsd == pytest.approx(0.2)
    assert p1.unstable and "spread 0.500" in (p1.reason or "")  # (7.5 - 4.5) / 6 > 0.25
    assert "first-release fold" in (p1.ci_method or "")
    assert p2.n_processes == 1 and not p2.unstable and p2.process_rsd is None
    assert p3.status == "skipped" and p3.n_processes == 0 and p3.options == {"a": 1}
    assert not Figure(p3).ok and Figure(p3).text() == "skipped (no GPU)"


def test_a_bad_summary_field_names_the_file_and_field(tmp_path):
    from onnxbench.core.errors import UserError

    path = tmp_path / "summary.csv"
    path.write_text("point_id,p50_ms,n_processes,status\np,abc,3,ok\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"summary.csv row 2: field p50_ms='abc'"):
        read_summary(path)


def test_a_two_process_half_width_past_the_cap_reads_as_unbounded():
    f = figure(10.0, 0.01, 9000.0, k=2)
    assert f.text() == "10.0 ms ± > 1000 % (2 processes)"
