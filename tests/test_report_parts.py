"""The report reads like a README: short labels (shared options said once), compact accuracy,
speed-up and accuracy delta in one table, pipeline stage tables, seq sweeps, tables that
long ids and odd reasons cannot break, and 3 significant figures everywhere."""

from __future__ import annotations

import re

import pytest

from onnxbench.report import build_report
from onnxbench.report.fmt import accuracy_text, short_reason, sig
from onnxbench.report.markdown import md_table, render_markdown
from onnxbench.report.tables import Cell, Table
from report_fixtures import make_optim_run, make_pipeline_run, make_result, make_run, write_run


def _table(report, suffix):
    return next(t for t in [*(t for g in report.groups for t in g.tables),
                            *(p.table for p in report.pipelines)] if t.title.endswith(suffix))


# --- 1. labels -------------------------------------------------------------------------

def test_shared_options_are_said_once_and_labels_show_only_what_differs(tmp_path):
    common = {"threads": 1, "verify": True, "accuracy": True}
    res = [make_result(rt, b, 1.0 + b * f, options={**common, **extra}, seed=b)
           for rt, f, extra in [("ort-cpu", 0.01, {}), ("ort-cpu", 0.005, {"level": "all"}),
                                ("torch-cpu", 0.02, {})] for b in (1, 8)]
    rep = build_report(write_run(tmp_path, res))
    g = rep.groups[0]
    assert g.group.notes == ["options (all cases): accuracy=True, threads=1, verify=True"]
    labels = sorted(s.label for s in g.group.series)
    assert labels == ["ORT CPU", "ORT CPU (level=all)", "PyTorch CPU"]
    headers = _table(rep, "runtime comparison (median latency)").headers
    assert not any("threads" in h or "verify" in h for h in headers)
    md = render_markdown(rep)
    assert md.count("threads=1") == 1  # once, in the group's note


def test_ab_labels_name_the_differing_fields_not_the_case_id(tmp_path):
    rep = build_report(make_pipeline_run(tmp_path))
    labels = [p.label for p in rep.ab.pairs]
    assert ("resnet18/512 PyTorch CUDA (pipeline=current; non_blocking=False) "
            "[pin_memory: false → true]") in labels
    assert not any("_r0" in lab or "image_size" in lab or "b1" in lab for lab in labels)


# --- 2. accuracy --------------------------------------------------------------------

@pytest.mark.parametrize("acc, text", [
    ({"metric": "accuracy", "value": 0.9511, "n": 450, "split": "held-out", "data": "digits"},
     "accuracy 95.1 % (n=450, held-out)"),
    ({"metric": "top1_agreement_vs_current", "value": 1.0, "n": 3,
      "first_divergent_stage": "preprocess", "max_abs_diff": {"decode": 0.0}},
     "top-1 agreement vs current 100 % (n=3) · diverges at preprocess"),
    ({"metric": "cosine_similarity", "value": 0.99951, "delta": -0.00049, "reference_value": 1.0},
     "cosine vs fp32 0.99951"),
    ({"metric": "accuracy", "value": 0.93, "n": 450, "reference_value": 0.95, "delta": -0.02},
     "accuracy 93.0 % (n=450) · Δ −2.00 pp vs fp32"),
    ({"metric": "max_abs_diff", "value": 3.1e-07}, "max |Δ| vs fp32 3.1e-07"),
    (None, "–"),
])
def test_accuracy_is_one_phrase_never_a_dict(acc, text):
    assert accuracy_text(acc) == text


def test_numbers_have_three_significant_figures():
    assert [sig(v) for v in (0.072345, 1.23456, 98.76, 12345.6, 2.0, 100.0, None)] == \
        ["0.0723", "1.23", "98.8", "12300", "2.00", "100", "–"]
    assert short_reason("no CUDA device: torch.cuda.is_available() is False") == "no CUDA device"
    assert short_reason("RuntimeError: boom") == "boom"


# --- 3. optimisation table ------------------------------------------------------------

def test_speedup_and_accuracy_delta_in_one_table(tmp_path):
    rep = build_report(make_optim_run(tmp_path))
    t = _table(rep, "optimisations, speed-up and accuracy delta")
    assert t.headers == ["Variant", "Batch", "Median (ms)", "Speed-up vs fp32", "Accuracy",
                         "Δ accuracy vs fp32"]
    rows = {r[0].text: r for r in t.rows}
    int8 = next(r for k, r in rows.items() if "int8-dynamic" in k)
    assert int8[3].value == pytest.approx(2.0, rel=0.05)            # 2.0 ms / 1.0 ms
    assert int8[4].text == "accuracy 93.0 % (n=450, held-out)"
    assert int8[5].text == "−2.00 pp" and int8[5].value == pytest.approx(-0.02)
    level = next(r for k, r in rows.items() if "level=all" in k)
    assert level[3].value == pytest.approx(1.25, rel=0.05) and level[5].text == "±0"
    plain = next(r for k, r in rows.items() if k.startswith("ORT CPU") and "int8" not in k
                 and "level=all" not in k)
    assert plain[3].text == "baseline" and plain[5].text == "fp32 reference"
    fp16 = next(r for k, r in rows.items() if "fp16" in k)
    assert fp16[2].text.startswith("skipped") and fp16[3].text == "–"
    assert any("CUDAExecutionProvider not available" in n for n in t.notes)


def test_no_optimisation_table_without_variants(tmp_path):
    rep = build_report(make_run(tmp_path))
    assert not any("optimisations" in t.title for g in rep.groups for t in g.tables)


# --- 4. pipelines ---------------------------------------------------------------------

def test_pipeline_table_and_sentence(tmp_path):
    rep = build_report(make_pipeline_run(tmp_path))
    assert not rep.groups  # pipeline points are reported as pipelines, not as runtime sweeps
    (pr,) = rep.pipelines
    t = pr.table
    assert t.headers[:3] == ["Pipeline", "pin_memory", "non_blocking"]
    assert t.headers[3:8] == [f"{s} (ms)" for s in ("decode", "preprocess", "h2d", "inference",
                                                     "postprocess")]
    assert t.headers[8:] == ["E2E median (ms)", "inference share", "agreement vs current",
                             "first divergent stage"]
    current = next(r for r in t.rows
                   if r[0].text == "current" and r[1].text == r[2].text == "False")
    assert current[8].value == pytest.approx(8.0, rel=0.03)
    assert current[9].value == pytest.approx(0.25, rel=0.03) and current[11].text == "none"
    gpu = next(r for r in t.rows if r[0].text == "gpu")
    assert gpu[10].text == "87.5 % (n=8)" and gpu[11].text == "preprocess"
    assert pr.sentence.startswith("resnet18/512: E2E is 4.00× the pure inference time for the "
                                  "current pipeline (8.00 vs 2.00 ms)")
    assert "the fastest pipeline is gpu" in pr.sentence
    md = render_markdown(rep)
    assert "## Where the end-to-end time goes" in md and "## A/B comparison" in md


# --- 5. sequence sweeps ---------------------------------------------------------------

def test_seq_sweep_when_batch_is_fixed_with_crossover(tmp_path):
    seqs = [5, 20, 40, 80]
    res = [make_result(rt, 1, f(s), seq=s, seed=s + i, model="deberta-v2", config="base",
                       options={"threads": 2})
           for i, (rt, f) in enumerate([("ort-cpu", lambda s: 1 + 0.1 * s),
                                         ("torch-cpu", lambda s: 3 + 0.02 * s)])
           for s in seqs]
    rep = build_report(write_run(tmp_path, res))
    (g,) = rep.groups
    assert g.group.axis == "seq" and g.group.xs == seqs and g.group.title.endswith("(batch 1)")
    assert _table(rep, "runtime comparison (median latency)").headers[0] == "Seq"
    assert "ORT CPU is fastest up to seq 20; PyTorch CPU from 40 (crossover ≈ " in g.sentence
    assert len(g.crossovers) == 1 and 20 < g.crossovers[0][2].x_cross < 40


# --- 6. tables that cannot break --------------------------------------------------------

def _columns(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def test_markdown_rows_keep_their_columns_whatever_the_text():
    t = Table("a | b", ["x", "y"], [[Cell("p|q\nr"), Cell("ok")], [Cell("x" * 300), Cell("|")]])
    lines = [ln for ln in md_table(t).splitlines() if ln.startswith("|")]
    assert {_columns(ln) for ln in lines} == {2}


def test_report_cells_are_short_and_reasons_go_to_notes(tmp_path):
    long = "RuntimeError: " + "x" * 400 + " | with a pipe\nand a second line"
    res = [make_result("ort-cpu", b, 1.0 + b, seed=b, options={"threads": 1, "note": "y" * 120})
           for b in (1, 8)]
    res.append(make_result("torch-cpu", 1, None, status="failed", exporter=None, reason=long,
                           options={"threads": 1, "note": "y" * 120}))
    rep = build_report(write_run(tmp_path, res))
    md = render_markdown(rep)
    blocks = re.findall(r"(?:^\|.*\n)+", md, flags=re.M)  # each markdown table
    assert len(blocks) >= 3
    assert all(len({_columns(ln) for ln in b.splitlines()}) == 1 for b in blocks)
    cells = [c.text for g in rep.groups for t in g.tables for r in t.rows for c in r]
    assert max(len(c) for c in cells) <= 60
    notes = [n for g in rep.groups for t in g.tables for n in t.notes]
    assert any("RuntimeError: xxx" in n for n in notes) and all("\n" not in n for n in notes)


@pytest.fixture
def plugin_torch_runtime(monkeypatch):
    """A plugin's PyTorch CUDA runtime whose name says neither "torch" nor a GPU."""
    from onnxbench.report.labels import runtime_traits
    from onnxbench.runtimes import registry

    monkeypatch.setitem(registry.RUNTIMES, "acme-eager",
                        "onnxbench.runtimes.torch_eager:TorchCudaRuntime")
    runtime_traits.cache_clear()
    yield "acme-eager"
    runtime_traits.cache_clear()


def test_the_report_asks_the_registry_what_a_runtime_is(plugin_torch_runtime):
    from onnxbench.core.case import Case
    from onnxbench.report.labels import fields_of, runtime_framework
    from onnxbench.report.tables import device_of

    def case(runtime: str) -> Case:
        return Case(model="m.onnx", exporter="dynamo", runtime=runtime, batch=1)

    assert runtime_framework(plugin_torch_runtime) == "torch"
    assert device_of(plugin_torch_runtime) == "gpu"
    # a PyTorch runtime runs the module itself: the exporter is no part of its label
    assert "exporter" not in fields_of(case(plugin_torch_runtime))
    assert fields_of(case("ort-cpu"))["exporter"] == "dynamo"
    assert runtime_framework("no-such-runtime") is None  # a run from a plugin not installed


def test_a_parity_failed_row_is_never_named_fastest(tmp_path):
    """ORT CPU is 10× faster than PyTorch CPU but its export disagreed with the source
    model: its number stays (marked), the Fastest column and the sentence name PyTorch."""
    bad = {"passed": False, "max_abs_diff": 0.5}
    res = [make_result(rt, b, ms * b, seed=b, parity=par, exporter=exp)
           for rt, ms, par, exp in [("ort-cpu", 0.1, bad, "dynamo"),
                                    ("torch-cpu", 1.0, None, None)] for b in (1, 8)]
    rep = build_report(write_run(tmp_path, res))
    table = _table(rep, "runtime comparison (median latency)")
    col = table.headers.index("ORT CPU (ms)")
    for row in table.rows:
        assert row[-1].text == "PyTorch CPU"
        assert row[col].value is not None and row[col].text.endswith("(parity ✗)")
        assert not row[col].bold
    assert any("never named fastest" in n for n in table.notes)
    assert rep.groups[0].sentence.endswith("PyTorch CPU is fastest at every batch measured "
                                           "(batch 1–8).")


def test_a_parity_failed_series_is_in_no_crossover(tmp_path):
    """ORT CPU (parity failed) beats PyTorch at batch 1 and loses at 8: no crossover is
    reported, since it would name the parity-failed export faster up to some batch."""
    bad = {"passed": False, "max_abs_diff": 0.5}
    res = [make_result("ort-cpu", b, ms, seed=b, parity=bad) for b, ms in ((1, 0.1), (8, 10.0))]
    res += [make_result("torch-cpu", b, 1.0, seed=b + 1, exporter=None) for b in (1, 8)]
    rep = build_report(write_run(tmp_path, res))
    assert rep.groups[0].crossovers == []


def test_tensorflow_retracing_is_a_table_in_the_report(tmp_path):
    results = [make_result("tf-predict", b, 5.0 * b, model="keras-resnet50", config=None,
                           exporter="tf2onnx", repeat=r, seed=b + r,
                           runtime_info={"retracing_warnings": 3 if b == 2 else 0})
               for b in (1, 2) for r in range(2)]
    results += [make_result("tf-call", 1, 4.0, model="keras-resnet50", config=None,
                            exporter="tf2onnx", runtime_info={"retracing_warnings": 0,
                                                              "tracing_count": 1}),
                make_result("ort-cpu", 1, 3.0, model="keras-resnet50", config=None,
                            exporter="tf2onnx")]
    text = render_markdown(build_report(write_run(tmp_path, results)))
    section = text[text.index("## TensorFlow retracing"):]
    rows = [line for line in section.splitlines()[4:8] if line.startswith("|")]
    assert len(rows) == 3  # the ORT point has no TensorFlow tracing to show
    assert "| **3** | – |" in section and "| 0 | 1 |" in section
