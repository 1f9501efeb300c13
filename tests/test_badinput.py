"""Bad input that used to crash, pass silently or mislead: now one line and exit 2 before
anything runs (or, for a model file without an ``.onnx`` name, simply accepted).

Every case here is one probe of docs/reliability.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clitools import run_cli as cli
from helpers import write_tiny_onnx
from onnxbench.model.onnxfile import is_onnx_file


@pytest.fixture
def tiny(tmp_path) -> Path:
    return write_tiny_onnx(tmp_path / "tiny.onnx")


def _one_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _dry_run(tmp_path: Path, capsys, text: str | bytes):
    path = tmp_path / "s.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path, cli(capsys, "run", "--suite", str(path), "--dry-run")


# --------------------------------------------------------------------------- suites

SUITE = "suite: s\ncases:\n  - model: {model}\n"


@pytest.mark.parametrize("name, body, fragments", [
    ("timeout_s true", "    timeout_s: true\n", ["cases[0].timeout_s:", "got True"]),
    ("batch eight", '    batch: "eight"\n', ["cases[0].batch: ", "got 'eight'"]),
    ("batch as string", '    batch: "8"\n', ["cases[0].batch: ", "got '8'"]),
    ("repeats float", "    repeats: 2.5\n", ["cases[0].repeats:", "got 2.5"]),
    ("seed bool", "    seed: false\n", ["cases[0].seed:", "got False"]),
    ("warmup string", "    measure: {warmup: '5'}\n", ["cases[0].measure.warmup:", "got '5'"]),
    ("one-value ab", "    ab: {threads: [2]}\n", ["cases[0].ab.threads:", "two or more"]),
    ("same-value ab", "    ab: {threads: [2, 2]}\n", ["cases[0].ab.threads:", "two or more"]),
    ("duplicate key", "    batch: 1\n    runtimes: ort-cpu\n    batch: 8\n",
     ["s.yaml:6: duplicate key 'batch' (first at line 4)"]),
])
def test_suite_field_mistakes_are_one_line(name, body, fragments, tmp_path, tiny, capsys):
    _path, (code, _out, err) = _dry_run(tmp_path, capsys, SUITE.format(model=tiny) + body)
    line = _one_line(code, err)
    for fragment in fragments:
        assert fragment in line, line
    assert "got 'e'" not in line


def test_non_utf8_suite_file_is_one_line(tmp_path, capsys):
    path, (code, _out, err) = _dry_run(tmp_path, capsys, b"suite: s\n# caf\xe9\ncases: []\n")
    line = _one_line(code, err)
    assert f"{path}: not UTF-8 text (byte 0xe9 at offset 14)" in line


def test_suite_batch_whose_inputs_cannot_fit_is_refused_at_plan_time(tmp_path, tiny, capsys):
    _path, (code, _out, err) = _dry_run(tmp_path, capsys, SUITE.format(model=tiny) +
                                      "    batch: [1, 100000000000]\n")
    line = _one_line(code, err)
    assert "tiny.onnx at batch 100000000000" in line and "inputs alone need" in line


def test_suite_zoo_config_typo_is_refused(tmp_path, capsys):
    _path, (code, _out, err) = _dry_run(tmp_path, capsys, "suite: s\ncases:\n  - model: dcnv2\n"
                                                        "    config: lite\n")
    assert "did you mean 'light'" in _one_line(code, err)


# ------------------------------------------------------------------- bench, optimize

@pytest.mark.parametrize("argv, fragments", [
    (["--batch", "100000000000"], ["--batch 100000000000: the inputs alone need",
                                   "x: float32[100000000000, 4]"]),
    (["--threads", "0"], ["--threads 0: must be a positive number"]),
    (["--runs", "0"], ["--runs:"]),
    (["--runs", "0", "--target-ci", "5"], ["--runs:"]),
    (["--target-ci", "-1"], ["--target-ci '-1': expected a percentage"]),
    (["--min-time", "-1"], ["--min-time:"]),
    (["--warmup", "-1"], ["--warmup:"]),
])
def test_bench_flag_mistakes_name_the_real_flag(argv, fragments, tmp_path, tiny, capsys):
    code, _out, err = cli(capsys, "bench", str(tiny), *argv, "--out", str(tmp_path / "never"))
    line = _one_line(code, err)
    for fragment in fragments:
        assert fragment in line, line
    for ghost in ("--min-runs", "--max-runs", "--target-ci-pct", "--min-time-s"):
        assert ghost not in line, line
    assert not (tmp_path / "never").exists()


def test_bench_unknown_zoo_config_is_refused_before_anything_runs(tmp_path, capsys):
    code, _out, err = cli(capsys, "bench", "dcnv2", "--config", "lite", "--out",
                         str(tmp_path / "never"))
    line = _one_line(code, err)
    assert "--config 'lite'" in line and "did you mean 'light'" in line
    assert not (tmp_path / "never").exists()


FACTORIES = {
    "exit at import": "import sys\nsys.exit(3)\n",
    "exit in factory": "import sys\ndef make():\n    sys.exit(3)\n",
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factory_calling_sys_exit_is_one_line_exit_2(name, tmp_path, capsys):
    path = tmp_path / "quits.py"
    path.write_text(FACTORIES[name])
    code, _out, err = cli(capsys, "bench", f"{path}:make", "--out", str(tmp_path / "never"))
    line = _one_line(code, err)
    assert "quits.py" in line and "sys.exit(3)" in line


@pytest.mark.parametrize("argv, fragment", [
    (["--keep-io-types"], "--keep-io-types: only applies to --fp16"),
    (["--fp16-block-op", "Add"], "--fp16-block-op: only applies to --fp16"),
    (["--int8", "dynamic", "--calibration", "entropy"],
     "--calibration entropy: only static int8"),
    (["--calibration", "entropy"], "--calibration entropy: only static int8"),
])
def test_optimize_flags_that_mean_nothing_alone_are_refused(argv, fragment, tmp_path, tiny,
                                                            capsys):
    code, _out, err = cli(capsys, "optimize", str(tiny), *argv, "--out", str(tmp_path / "o"))
    assert fragment in _one_line(code, err)
    assert not (tmp_path / "o").exists()


def test_report_baseline_naming_no_runtime_of_the_run_is_refused(tmp_path, tiny, capsys):
    code, _, err = cli(capsys, "bench", str(tiny), "--runs", "3", "--warmup", "1",
                         "--out", str(tmp_path / "r"), "--quiet")
    assert code == 0, err
    (run_dir,) = (tmp_path / "r").iterdir()  # bench makes a new run directory under --out
    code, _out, err = cli(capsys, "report", str(run_dir), "--baseline", "torch-gpu")
    line = _one_line(code, err)
    assert "--baseline 'torch-gpu'" in line and "choose one of: ort-cpu" in line


def test_unreadable_result_json_is_named(tmp_path, tiny, capsys):
    code, _out, err = cli(capsys, "bench", str(tiny), "--runs", "3", "--warmup", "1",
                         "--out", str(tmp_path / "r"), "--quiet")
    assert code == 0, err
    (run_dir,) = (tmp_path / "r").iterdir()  # bench makes a new run directory under --out
    result = sorted((run_dir / "raw").glob("*/result.json"))[0]  # one of 3 processes
    result.write_text('{"case_id": "x", "trunc')
    for argv in (["aggregate", str(run_dir)], ["report", str(run_dir)]):
        line = _one_line(*cli(capsys, *argv)[::2])
        assert f"{result}: unreadable result" in line, line


def test_ort_error_keeps_its_useful_end(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 99)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "future.onnx"))
    code, out, err = cli(capsys, "bench", str(tmp_path / "future.onnx"), "--json", "--quiet",
                         "--out", str(tmp_path / "r"))
    assert code == 1 and "no case succeeded" in err.splitlines()[-1], err  # nothing ran
    (row,) = json.loads(out)["rows"]
    assert row["status"] == "failed"
    assert "onnxruntime_src" not in row["reason"] and "ValidateOpsetForDomain" not in row["reason"]
    assert row["reason"].rstrip(".").endswith(("opset 28", "opset 29", "opset 30")) or \
        "official support" in row["reason"], row["reason"]


def test_first_line_drops_ort_source_locations_and_keeps_the_end():
    from onnxbench.core.errors import MAX_LINE, first_line

    message = ("[ONNXRuntimeError] : 1 : FAIL : Load model from /m/x.onnx failed:/onnxruntime_src"
               "/onnxruntime/core/graph/model_load_utils.h:46 void onnxruntime::model_load_"
               "utils::ValidateOpsetForDomain(const std::unordered_map<std::__cxx11::basic_"
               "string<char>, int>&, const onnxruntime::logging::Logger&, bool, const std::"
               "string&, int) ONNX Runtime only *guarantees* support for models stamped with "
               "official released onnx opset versions. Opset 99 is under development and "
               "support for this is limited. The operator schemas and or other functionality "
               "may change before next ONNX release and in this case ONNX Runtime will not "
               "guarantee backward compatibility. Current official support for domain ai.onnx"
               " is till opset 28.")
    line = first_line(RuntimeError(message))
    assert line.startswith("RuntimeError: [ONNXRuntimeError] : 1 : FAIL : Load model from "
                           "/m/x.onnx failed: ONNX")
    assert line.endswith("Current official support for domain ai.onnx is till opset 28.")
    assert "ValidateOpsetForDomain" not in line and len(line) <= MAX_LINE


# ------------------------------------------------------------- ONNX files by content

@pytest.mark.parametrize("name", ["model.ONNX", "model", "model.bin"])
def test_onnx_file_is_recognised_by_content_not_suffix(name, tmp_path, tiny, capsys):
    path = tmp_path / name
    shutil.copy(tiny, path)
    assert is_onnx_file(str(path))
    code, out, err = cli(capsys, "bench", str(path), "--runtime", "ort-cpu,torch-cpu",
                         "--runs", "3", "--warmup", "1", "--json", "--quiet",
                         "--out", str(tmp_path / "r"))
    assert code == 0, err
    rows = {r["runtime"]: r for r in json.loads(out)["rows"]}
    assert rows["ort-cpu"]["status"] == "ok"
    assert rows["torch-cpu"]["status"] == "skipped"  # an ONNX file has no PyTorch module
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.format(model=path) + "    runtimes: ort-cpu\n")
    code, out, err = cli(capsys, "run", "--suite", str(suite), "--dry-run", "--json")
    assert code == 0, err
    case = json.loads(out)["cases"][0]  # process 0 of the point
    stem = {"model.ONNX": "model", "model": "model", "model.bin": "model.bin"}[name]
    assert case["case_id"].startswith(f"{stem}_none_ort-cpu_b1_fp32"), case["case_id"]


def test_content_sniff_tells_onnx_from_pickles_zips_and_text(tmp_path, tiny):
    import torch

    torch.save({"w": torch.ones(2)}, tmp_path / "weights.pt")            # a zip
    (tmp_path / "legacy.pkl").write_bytes(b"\x80\x02}q\x00.")            # a raw pickle
    (tmp_path / "script.py").write_text("import torch\n")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "st.safetensors").write_bytes(b"\x48\x00\x00\x00\x00\x00\x00\x00{}")
    assert is_onnx_file(tiny)
    for name in ("weights.pt", "legacy.pkl", "script.py", "empty", "st.safetensors"):
        assert not is_onnx_file(tmp_path / name), name
    assert not is_onnx_file("dcnv2") and not is_onnx_file(f"{tmp_path / 'script.py'}:make")
