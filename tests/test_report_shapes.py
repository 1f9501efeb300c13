"""The reference reports' table shapes (winner, totals of N runs, batch × seq grid), the
graph-pass table (fused ops, truncation proofs) and the crossover conditions table."""

from __future__ import annotations

import json

import pytest

from onnxbench.core.errors import UserError
from onnxbench.report import build_report
from onnxbench.report.markdown import render_markdown
from onnxbench.report.rundata import group_points
from onnxbench.report.shapes import shape_table, total_seconds
from onnxbench.report.tables import build_groups
from onnxbench.suite.tables import TableSpec, parse_layouts, specs_from_plan
from report_fixtures import BATCHES, cpu_ms, gpu_ms, make_result, make_run, write_run

THREE = {"ORT CPU": {"runtime": "ort-cpu"}, "ORT GPU": {"runtime": "ort-cuda"},
         "PyTorch GPU": {"runtime": "torch-cuda"}}


def _cells(table, header):
    i = table.headers.index(header)
    return [row[i].text for row in table.rows]


def test_winner_table_has_the_three_columns_and_a_ci_decided_winner(tmp_path):
    pts = group_points([r for b in BATCHES for r in (
        make_result("ort-cpu", b, cpu_ms(b), seed=b),
        make_result("ort-cuda", b, gpu_ms(b), seed=b + 1),
        make_result("torch-cuda", b, gpu_ms(b) * 2, seed=b + 2))])
    spec = TableSpec.model_validate({"layout": "winner", "columns": THREE})
    table = shape_table("dcnv2/light", pts, spec)
    assert table.headers == ["Batch", "ORT CPU (ms)", "ORT GPU (ms)", "PyTorch GPU (ms)", "Winner"]
    winners = _cells(table, "Winner")
    assert winners[0] == "ORT CPU" and winners[-1] == "ORT GPU"  # crossover near batch 40
    assert table.rows[0][1].bold and not table.rows[0][2].bold


def test_winner_is_a_tie_when_the_cis_overlap():
    pts = group_points([make_result("ort-cpu", 8, 1.0, seed=1, spread=0.2),
                        make_result("ort-cuda", 8, 1.01, seed=2, spread=0.2)])
    table = shape_table("m", pts, TableSpec(layout="winner"))
    assert table.rows[0][-1].text.startswith("tie: ") and not table.rows[0][-1].bold
    assert not any(c.bold for c in table.rows[0][1:-1])


def test_totals_sum_exactly_n_runs_or_say_they_extrapolate():
    exact = group_points([make_result("ort-cpu", 1, 2.0, n=1000)])[0]
    seconds, is_exact = total_seconds(exact, 1000)
    assert is_exact and seconds == pytest.approx(sum(exact.latencies()[0]) / 1000)
    few = group_points([make_result("ort-cpu", 1, 2.0, n=200)])[0]
    seconds, is_exact = total_seconds(few, 1000)
    assert not is_exact and seconds == pytest.approx(few.mean)  # 1000 x mean ms = mean s
    table = shape_table("m", [few], TableSpec(layout="totals", runs=1000))
    assert table.headers[-1] == "ORT CPU (total s, 1000 runs)"
    assert any("extrapolated" in n for n in table.notes)


def test_grid_is_one_table_over_batch_and_seq_with_oom_as_a_word():
    results = [make_result(rt, b, 1.0 + b * s / 100, seq=s, model="bert", config="base",
                           seed=b * s + i)
               for i, rt in enumerate(("ort-cpu", "torch-cuda")) for b in (1, 16)
               for s in (10, 500) if not (rt == "torch-cuda" and b == 16 and s == 500)]
    results.append(make_result("torch-cuda", 16, None, seq=500, model="bert", config="base",
                               status="oom", reason="CUDA out of memory. Tried to allocate"))
    pts = group_points(results)
    assert len(build_groups(pts)) == 2  # the default report: one section per batch
    table = shape_table("bert/base", pts, TableSpec(layout="grid"))
    assert table.headers[:2] == ["Batch", "Seq"] and len(table.rows) == 4
    assert table.rows[-1][-1].text == "oom" and table.rows[-1][-1].is_word
    assert any("out of memory" in n for n in table.notes)


def test_suite_tables_reach_the_report_and_layout_overrides_them(tmp_path):
    run = make_run(tmp_path)
    plan = json.loads((run / "configs" / "plan.json").read_text())
    plan["tables"] = [{"layout": "winner", "columns": THREE}]
    (run / "configs" / "plan.json").write_text(json.dumps(plan))
    titles = [t.title for t in build_report(run).tables]
    assert "dcnv2/light: winner per batch" in titles
    md = render_markdown(build_report(run))
    assert "| Batch | ORT CPU (ms) | ORT GPU (ms) | PyTorch GPU (ms) | Winner |" in md
    other = [t.title for t in build_report(run, layouts=parse_layouts("totals", 500)).tables]
    assert "dcnv2/light: total time of 500 runs" in other and not any("winner" in t for t in other)
    with pytest.raises(UserError, match="--tables bogus"):
        parse_layouts("winner,bogus")


def test_suite_yaml_tables_are_validated_and_kept_in_the_plan():
    from onnxbench.suite import expand, parse_suite

    text = """
suite: s
tables:
  - layout: winner
    columns: {CPU: {runtime: ort-cpu}}
cases:
  - model: dcnv2
"""
    two = "{Z CPU: {runtime: ort-cpu}, A GPU: {runtime: ort-cuda}}"
    plan = expand(parse_suite(text.replace("{CPU: {runtime: ort-cpu}}", two), "s.yaml"))
    assert plan.tables == [{"layout": "winner", "runs": 1000, "columns": [
        ["Z CPU", {"runtime": ["ort-cpu"], "options": {}}],
        ["A GPU", {"runtime": ["ort-cuda"], "options": {}}]]}]
    again = json.loads(plan.to_json())["tables"]  # the plan's keys are sorted: not the columns
    assert list(specs_from_plan({"tables": again})[0].columns) == ["Z CPU", "A GPU"]
    with pytest.raises(UserError, match=r"s.yaml:4: tables\[0\].layout"):
        parse_suite(text.replace("layout: winner", "layout: podium"), "s.yaml")


def test_passes_table_shows_fused_ops_and_the_truncation_proof(tmp_path):
    record = {"artifact": "bert_base_torchscript_fp32_abc", "nodes_before": 900,
              "nodes_after": 400, "steps": [
                  {"step": "truncate", "fused": {}, "not_fused": {}, "details": {"proof": {
                      "equal": True, "compared": "truncated.last_hidden_state vs "
                      "full.hidden_states[-3]", "max_abs_diff": 2.4e-7, "atol": 1e-5}}},
                  {"step": "fuse", "fused": {"Attention": 10, "SkipLayerNormalization": 20},
                   "not_fused": {"EmbedLayerNormalization": "no pattern"}, "details": {}}]}
    results = [make_result("ort-cpu", 1, 5.0, model="bert", config="base",
                           options={"fuse": "bert", "truncate_layers": 2},
                           runtime_info={"optimization": record}),
               make_result("ort-cpu", 1, 7.0, model="bert", config="base")]
    report = build_report(write_run(tmp_path, results))
    table = next(t for t in report.tables if t.title.startswith("What the graph passes did"))
    row = [c.text for c in table.rows[0]]
    assert "Attention ×10" in row[4] and "SkipLayerNormalization ×20" in row[4]
    assert row[3] == "900 → 400" and "EmbedLayerNormalization: no pattern" in row[5]
    assert row[6].startswith("proved: truncated.last_hidden_state vs full.hidden_states[-3]")
    assert "max |Δ| 2.4e-07 (atol 1e-05)" in row[6]


def test_conditions_table_puts_the_plain_and_cuda_graph_crossovers_side_by_side(tmp_path):
    results = []
    for b in BATCHES:
        results.append(make_result("ort-cpu", b, cpu_ms(b), seed=b))
        results.append(make_result("ort-cuda", b, gpu_ms(b), seed=b + 1,
                                   runtime_info={"io_binding": True, "timing": "inference",
                                                 "cuda_graph": False, "tf32": True}))
        results.append(make_result("ort-cuda", b, 0.1 + 0.004 * b, seed=b + 2,
                                   options={"cuda_graph": True},
                                   runtime_info={"io_binding": True, "timing": "inference",
                                                 "cuda_graph": True, "tf32": True}))
    report = build_report(write_run(tmp_path, results))
    table = next(t for g in report.groups for t in g.tables if "under which conditions" in t.title)
    by_graph = {row[1].text: row for row in table.rows}
    assert by_graph["no"][-1].text.startswith("from batch 64")     # plain: crossover ≈ 40
    assert by_graph["yes"][-1].text.startswith("from batch 1")     # CUDA graphs: everywhere
    assert by_graph["no"][3].text == "on" and "IO binding" in by_graph["no"][2].text
