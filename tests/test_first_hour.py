"""Issue #24, items 1-7 and 12, as a new user meets them: every number right or refused.

End-to-end through the CLI (or the library, or a user's own script) on tiny ONNX graphs:
a graph that pins its batch or sequence length is refused, not relabelled; a sequence mix on
a model without a sequence axis is refused; a plain script runs the library (workers do not
re-run it) and a run where nothing succeeded says so; an inclusive ``--range`` past an
embedding table is refused up front; two versions of one model compare however named; a
folder given to ``--out`` compares; a gate too noisy for its threshold says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from clitools import run_cli
from test_worker import write_tiny_onnx

FAST = ["--runs", "3", "--warmup", "1", "--quiet"]
SRC = Path(__file__).resolve().parents[1] / "src"


def _save(nodes, inputs, outputs, inits, path: Path) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def write_table(path: Path, rows: int = 20, ids=("batch", 1)) -> Path:
    """ids [batch, 1] int64 looked up in a ``rows``-row embedding table (ids 0..rows-1)."""
    table = helper.make_tensor("table", TensorProto.FLOAT, [rows, 4],
                               np.arange(rows * 4, dtype=np.float32).tolist())
    return _save([helper.make_node("Gather", ["table", "ids"], ["emb"])],
                 [helper.make_tensor_value_info("ids", TensorProto.INT64, list(ids))],
                 [helper.make_tensor_value_info("emb", TensorProto.FLOAT, [ids[0], ids[1], 4])],
                 [table], path)


def write_tokens(path: Path, dims=(1, 16)) -> Path:
    """token ids of a fixed [1, 16] shape: the graph pins batch and sequence length."""
    x = helper.make_tensor_value_info("input_ids", TensorProto.INT64, list(dims))
    y = helper.make_tensor_value_info("out", TensorProto.INT64, list(dims))
    return _save([helper.make_node("Identity", ["input_ids"], ["out"])], [x], [y], [], path)


def one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2 and err.count("\n") == 1 and err.startswith("onnxbench: error:"), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


# ------------------------------------------------- 1. a shape the graph pins is refused

def test_a_fixed_batch_graph_at_another_batch_is_refused_before_anything_runs(tmp_path, capsys):
    fixed = write_tiny_onnx(tmp_path / "fixed.onnx", dims=(1, 4))
    out = tmp_path / "runs"
    code, _, err = run_cli(capsys, "bench", fixed, "--batch", "1,8", *FAST, "--out", out)
    one_line_error(code, err, "fixed.onnx", "batch 8", "input 'x'", "fixed to 1", "[1, 4]")
    assert not out.exists()  # nothing ran: no run directory
    tokens = write_tokens(tmp_path / "tokens.onnx")
    code, _, err = run_cli(capsys, "bench", tokens, "--seq", "32", *FAST, "--out", out)
    one_line_error(code, err, "--seq 32", "no sequence axis", "input_ids[1, 16]")
    assert not out.exists()


def test_in_a_suite_a_pinned_batch_is_a_skipped_case_with_the_reason(tmp_path, capsys):
    fixed = write_tiny_onnx(tmp_path / "fixed.onnx", dims=(1, 4))
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: pinned\ndefaults:\n  measure: {{warmup: 1, runs: 3}}\n"
                     f"  processes: 1\ncases:\n  - model: {fixed}\n    batch: [1, 8]\n")
    code, out, err = run_cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                             "--quiet", "--json")
    assert code == 0, err
    rows = {r["batch"]: r for r in json.loads(out)["summary"]["rows"]}
    assert rows[1]["status"] == "ok" and rows[1]["p50_ms"] > 0
    assert rows[8]["status"] == "skipped" and rows[8]["p50_ms"] is None
    assert "fixed to 1" in rows[8]["reason"] and "batch 8" in rows[8]["reason"]


# ------------------------------------------- 2. a sequence mix needs a sequence axis

def test_seq_mix_on_a_model_without_a_sequence_axis_is_refused(tmp_path, capsys):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    out = tmp_path / "runs"
    code, _, err = run_cli(capsys, "bench", tiny, "--seq-mix", "16:0.5,128:0.3,512:0.2",
                           *FAST, "--out", out)
    one_line_error(code, err, "tiny.onnx", "no sequence axis", "x[batch, 4]", "--seq-mix")
    code, _, err = run_cli(capsys, "bench", "dcnv2", "--config", "tiny", "--seq", "16",
                           *FAST, "--out", out)
    one_line_error(code, err, "--seq 16", "no sequence axis")
    code, _, err = run_cli(capsys, "bench", "dcnv2", "--config", "tiny", "--range",
                           "user_id=0:5", *FAST, "--out", out)  # not silently ignored
    one_line_error(code, err, "--range", "dcnv2 makes its own inputs")
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: s\ncases:\n  - model: {tiny}\n    seq: [16, 32]\n")
    code, _, err = run_cli(capsys, "run", "--suite", suite, "--out", out)
    one_line_error(code, err, "s.yaml:4", "cases[0].seq", "no sequence axis")
    assert not out.exists()


# --------------------------------- 3. the library from a plain script, and a failed run

SCRIPT = """
import onnxbench
print("script body ran")
run = onnxbench.bench({model!r}, batch=[1, 2], measure={{"runs": 5, "warmup": 1}},
                      out={out!r})
assert run.status == "ok", run
assert all(r["status"] == "ok" and r["n"] == 5 for r in run.rows), run.rows
print("done", run.path)
"""


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_the_library_runs_from_a_plain_script(tmp_path, how):
    """Saved as a script (or piped on stdin), not under ``if __name__ == "__main__"``: the
    workers must not run the script again, and one run directory is made, lock released."""
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    out = tmp_path / "runs"
    script = tmp_path / "example.py"
    script.write_text(SCRIPT.format(model=str(tiny), out=str(out)))
    cmd = [sys.executable, str(script)] if how == "file" else [sys.executable, "-"]
    proc = subprocess.run(cmd, input=None if how == "file" else script.read_text(),
                          capture_output=True, text=True, cwd=tmp_path, timeout=600,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("script body ran") == 1 and "done" in proc.stdout
    (run_dir,) = out.iterdir()  # no second, half-made run directory
    assert not (run_dir / ".lock").exists()  # released and removed
    assert (run_dir / "summary" / "summary.json").is_file()


def test_a_run_where_no_case_succeeded_fails_loudly(tmp_path, capsys):
    import onnxbench

    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    code, _, err = run_cli(capsys, "bench", tiny, "--runtime", "test-abort", *FAST,
                           "--processes", "1", "--out", tmp_path / "cli")
    last = err.strip().splitlines()[-1]  # (--quiet's progress lines go to stderr too)
    assert code == 1 and last.startswith("onnxbench: check failed: no case succeeded"), err
    assert "1 crashed" in last and "first: crashed: worker died with SIGABRT" in last
    with pytest.raises(onnxbench.RunFailed, match="no case succeeded") as caught:
        onnxbench.bench(tiny, runtimes=["test-abort"], measure={"runs": 2}, processes=1,
                        out=tmp_path / "api")
    run = caught.value.run
    assert run.status == "failed" and "FAILED" in str(run)
    (run_dir,) = (tmp_path / "api").iterdir()
    assert not (run_dir / ".lock").exists()
    again = onnxbench.load_run(run_dir)
    with pytest.raises(onnxbench.UserError, match="no point was measured in run A"):
        onnxbench.compare(again, again)
    good = onnxbench.bench(tiny, measure={"runs": 2}, processes=1, out=tmp_path / "good")
    (tmp_path / "broken").mkdir()
    future = onnx.load(str(tiny))
    future.opset_import[0].version = 99  # ONNX Runtime refuses to load it: every case fails
    onnx.save(future, str(tmp_path / "broken" / "tiny.onnx"))
    broken = onnxbench.bench(tmp_path / "broken" / "tiny.onnx", measure={"runs": 2},
                             processes=1, out=tmp_path / "broken", check=False)
    assert broken.status == "failed"
    with pytest.raises(onnxbench.CheckFailed, match="no point was measured in run B"):
        onnxbench.compare(good, broken)  # `assert not comparison.regressions` cannot pass


# --------------------------------------- 4. an inclusive range past a table is refused

def test_a_range_past_an_embedding_table_is_refused_up_front(tmp_path, capsys):
    table = write_table(tmp_path / "table.onnx", rows=20)
    out = tmp_path / "runs"
    code, _, err = run_cli(capsys, "bench", table, "--batch", "2", "--range", "ids=0:20",
                           *FAST, "--out", out)
    one_line_error(code, err, "--range ids=0:20", "inclusive", "idx=20", "ids=0:19")
    assert not out.exists()
    code, out_text, err = run_cli(capsys, "bench", table, "--batch", "2", "--range",
                                  "ids=0:19", *FAST, "--out", out, "--json")
    assert code == 0, err
    assert json.loads(out_text)["rows"][0]["status"] == "ok"


# ---------------------------- 5. two versions of one model: ab and compare, any names

def test_ab_of_two_files_with_the_same_name_in_two_folders(tmp_path, capsys):
    for v in ("v1", "v2"):
        (tmp_path / v).mkdir()
        write_tiny_onnx(tmp_path / v / "model.onnx")
    code, out, err = run_cli(capsys, "ab", tmp_path / "v1" / "model.onnx",
                             tmp_path / "v2" / "model.onnx", "--block-time", "0.05",
                             "--warmup", "1", "--max-time", "3", "--quiet", "--json",
                             "--out", tmp_path / "runs")
    assert code == 0, err
    doc = json.loads(out)
    ids = {Path(p).name for p in (Path(doc["run_dir"]) / "raw").iterdir()}
    assert any(i.startswith("model-v1_") for i in ids), ids
    assert any(i.startswith("model-v2_") for i in ids), ids


def test_compare_two_versions_of_a_model_named_differently(tmp_path, capsys):
    runs = []
    for name in ("model_v1.onnx", "model_v2.onnx"):
        model = write_tiny_onnx(tmp_path / name)
        out = tmp_path / name.removesuffix(".onnx")
        code, _, err = run_cli(capsys, "bench", model, "--batch", "1,2", *FAST, "--out", out)
        assert code == 0, err
        runs.append(out)
    code, out_text, err = run_cli(capsys, "compare", *runs, "--json", "--allow-unresolved")
    assert code == 0, err
    doc = json.loads(out_text)
    assert len(doc["pairs"]) == 2 and doc["only_in_a"] == [] and doc["only_in_b"] == []


# -------------------- 6. compare the folders given to --out; 7. what B is missing

def test_compare_folders_given_to_out_and_cases_missing_from_b(tmp_path, capsys):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    for name, batches in (("a", "1,2"), ("b", "1")):
        code, _, err = run_cli(capsys, "bench", tiny, "--batch", batches, *FAST,
                               "--out", tmp_path / name)
        assert code == 0, err
    a, b = tmp_path / "a", tmp_path / "b"
    code, out, err = run_cli(capsys, "compare", a, b, "--json", "--allow-unresolved")
    assert code == 1 and "1 case(s) ok in A are missing from B" in err, err
    assert "--allow-missing" in err and "_b2_" in err
    assert len(json.loads(out)["missing_in_b"]) == 1
    code, _, err = run_cli(capsys, "compare", a, b, "--allow-unresolved", "--allow-missing")
    assert code == 0, err
    code, _, err = run_cli(capsys, "bench", tiny, *FAST, "--out", b)  # b now holds two runs
    assert code == 0, err
    code, _, err = run_cli(capsys, "compare", a, b)
    one_line_error(code, err, f"{b}: holds 2 runs", "bench-tiny_", "pass the run directory")


# ------------------------------------------------------------------------ 12. smaller

def test_runs_20_gives_n_20(tmp_path, capsys):
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    code, out, err = run_cli(capsys, "bench", tiny, "--runs", "20", "--warmup", "1",
                             "--quiet", "--json", "--out", tmp_path / "runs")
    assert code == 0, err
    (row,) = json.loads(out)["rows"]
    assert row["n"] == 20 and row["n_processes"] == 3
    code, out, err = run_cli(capsys, "bench", tiny, "--runs", "2", "--warmup", "1",
                             "--quiet", "--json", "--out", tmp_path / "runs")
    assert code == 0, err
    (row,) = json.loads(out)["rows"]
    assert row["n"] == 2 and row["n_processes"] == 2  # never more processes than runs


def test_a_suite_without_exporter_gets_bench_default_where_a_graph_is_needed(tmp_path):
    from onnxbench.suite import expand, parse_suite

    suite = parse_suite("suite: s\ncases:\n  - model: dcnv2\n    runtimes: [ort-cpu, torch-cpu]\n"
                        "  - model: moe\n    runtimes: [torch-cpu]\n", "s.yaml")
    exporters = {(c.model, c.runtime): c.exporter for c in expand(suite).cases}
    assert exporters[("dcnv2", "ort-cpu")] == exporters[("dcnv2", "torch-cpu")] == "dynamo"
    assert exporters[("moe", "torch-cpu")] is None  # nothing to export for PyTorch alone


def test_verify_says_ort_errored_with_its_first_line(tmp_path, capsys):
    table = write_table(tmp_path / "table.onnx", rows=20)
    np.savez(tmp_path / "in.npz", ids=np.array([[25]], dtype=np.int64),
             emb=np.zeros((1, 1, 4), dtype=np.float32))
    code, _, err = run_cli(capsys, "verify", table, "--inputs", tmp_path / "in.npz")
    assert code == 1 and err.count("\n") == 1, err
    assert "ONNX Runtime failed" in err and "idx=25" in err and "mismatch" not in err


def write_bare_squeeze(path: Path) -> Path:
    """x [batch, 1] -> Squeeze (no axes) -> Unsqueeze axis 1 -> Concat with x: the DCNMix
    hazard in four nodes (batch 1 squeezes the batch axis away too)."""
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [helper.make_node("Squeeze", ["x"], ["s"]),
             helper.make_node("Unsqueeze", ["s", "axes"], ["u"]),
             helper.make_node("Concat", ["u", "x"], ["y"], axis=1)]
    return _save(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
                 [axes], path)


def test_a_failure_the_lint_foresaw_names_the_remedy(tmp_path, capsys):
    """bench at batch 1 of a graph with a bare Squeeze fails in ORT; the failure line says
    what the lint found and what to do, instead of ORT's message alone."""
    model = write_bare_squeeze(tmp_path / "squeezy.onnx")
    code, _out, err = run_cli(capsys, "bench", str(model), "--batch", "1",
                              "--out", tmp_path / "runs", *FAST)
    assert code == 1, err
    assert "squeeze-no-axes" in err and "pad_batch_to=2" in err, err
    code, _out, err = run_cli(capsys, "bench", str(model), "--batch", "2",
                              "--out", tmp_path / "runs", *FAST)
    assert code == 0, err  # the same graph runs at batch 2
