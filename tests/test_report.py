"""`onnxbench report`: tables in the usual shapes, words for points without numbers, unstable
points kept (marked) in every table, ties decided by CIs, speed-ups, the crossover sentence,
and the files written."""

from __future__ import annotations

import json

import pytest

from onnxbench.cli import main
from onnxbench.core.errors import UserError
from onnxbench.report import build_report, write_reports
from onnxbench.report.markdown import render_markdown
from onnxbench.report.rundata import group_points, load_run
from report_fixtures import BATCHES, cpu_ms, make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run"), repeats=2)


def _table(report, suffix):
    return next(t for g in report.groups for t in g.tables if t.title.endswith(suffix))


def test_processes_fold_into_points(run):
    points = group_points(load_run(run).results)
    ok = [p for p in points if p.case.runtime == "ort-cpu" and p.case.config == "light"]
    assert len(ok) == len(BATCHES) and all(len(p.results) == 2 for p in ok)
    p = next(p for p in ok if p.case.batch == 64)
    assert p.median == pytest.approx(cpu_ms(64), rel=0.02)
    assert p.ci[0] <= p.median <= p.ci[1]


def test_comparison_table_winner_bold_and_words(run):
    rep = build_report(run)
    t = _table(rep, "runtime comparison (median latency)")
    assert t.headers[0] == "Batch" and t.headers[-1] == "Fastest"
    assert "ORT CPU (ms)" in t.headers and "ORT CUDA (ms)" in t.headers
    rows = {int(r[0].text): r for r in t.rows}
    assert rows[1][-1].text == "ORT CPU" and rows[256][-1].text == "ORT CUDA"
    cpu_col = t.headers.index("ORT CPU (ms)")
    assert rows[1][cpu_col].bold and not rows[256][cpu_col].bold
    torch_col = t.headers.index("PyTorch CPU (ms)")
    unstable = rows[16][torch_col]  # an unstable point keeps its number, marked
    assert unstable.unstable and unstable.value == pytest.approx(1.5 * cpu_ms(16), rel=0.1)
    assert any("unstable" in n and "IQR/median" in n for n in t.notes)
    cuda_col = t.headers.index("PyTorch CUDA (ms)")
    assert rows[1][cuda_col].text.startswith("skipped: no CUDA device")


def test_latency_table_shape_accuracy_and_failed(run):
    rep = build_report(run)
    t = _table(rep, "light: ORT CPU")
    assert t.headers[:8] == ["Batch", "Mean (ms)", "Median (ms)", "95 % CI (ms)", "P95 (ms)",
                             "P99 (ms)", "n", "Processes"]
    assert t.rows[0][7].text == "2" and t.rows[0][6].value == 400
    acc = t.rows[0][t.headers.index("Accuracy")].text
    assert acc == "AUC 0.710 (n=512, held-out)" and "{" not in acc and "logloss" not in acc
    assert not any("too few samples" in n for n in t.notes)  # 400 samples bound a p99
    failed = _table(rep, "heavy: ORT CPU")
    assert [c.text for c in failed.rows[0][1:8]] == ["failed"] * 7
    assert failed.rows[0][-1].text == "failed: boom"  # the head of the reason in the cell …
    assert any("RuntimeError: boom" in n for n in failed.notes)  # … the whole reason below


def test_speedups_against_pytorch_on_same_device(run):
    t = _table(build_report(run), "speed-up over baseline (× faster, >1 is better)")
    assert t.headers[1] == "ORT CPU vs PyTorch CPU"
    values = [r[1].value for r in t.rows if r[1].value is not None]
    assert len(values) == len(BATCHES) and all(v == pytest.approx(1.5, rel=0.1) for v in values)
    assert t.rows[BATCHES.index(16)][1].unstable  # the baseline is unstable there: marked


def test_crossover_sentence(run):
    rep = build_report(run)
    light = next(g for g in rep.groups if "light" in g.group.title)
    assert "ORT CPU is fastest up to batch 16; ORT CUDA from 64 (crossover ≈ " in light.sentence
    cpu_cuda = [c for a, b, c in light.crossovers if {a, b} == {"ORT CPU", "ORT CUDA"}]
    assert len(cpu_cuda) == 1 and 16 < cpu_cuda[0].x_cross < 64


def test_markdown_words_for_odd_statuses_and_marked_unstable_numbers(run):
    md = render_markdown(build_report(run))
    assert "| Batch | Mean (ms) | Median (ms) | 95 % CI (ms) | P95 (ms) | P99 (ms) |" in md
    assert "| 1 | failed | failed | failed | failed | failed | failed | failed |" in md
    rows16 = [ln for ln in md.splitlines() if ln.startswith("| 16 |") and "†" in ln]
    assert any(ln.count("†") == 5 and "unstable" not in ln for ln in rows16)  # latency table
    assert any("PyTorch CPU unstable (†) at batch 16: IQR/median" in ln for ln in md.splitlines())
    assert "## Environment" in md and "Test CPU" in md


def test_write_reports_and_cli(run, capsys):
    paths = write_reports(run)
    assert [p.name for p in paths] == ["report.md", "report.html"]
    html = paths[1].read_text()
    assert html.count('class="plotly-graph-div"') >= 3 and 'class="sortable"' in html
    main(["report", str(run), "--format", "md", "--json"])  # success returns (exit 0)
    doc = json.loads(capsys.readouterr().out)
    assert doc["written"] == [str(run / "report.md")] and doc["counts"]["skipped"] == 1


def test_bad_inputs(tmp_path, run, capsys):
    with pytest.raises(UserError):
        load_run(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["report", str(run), "--format", "pdf"])
    assert exc.value.code == 2 and capsys.readouterr().err.count("\n") == 1
