"""The reference experiments' suites: they plan here, say which cases this machine skips and
why (dry run), carry their table shapes, and (GPU) the PyTorch out-of-memory cell."""

from __future__ import annotations

import json
import re

import pytest

from clitools import run_cli as cli
from onnxbench.core.case import Case
from onnxbench.suite.preflight import skip_reason

GPU_SUITES = ("dcnv2-cpu-vs-gpu", "bert-optimize-gpu", "moe-backends", "pipeline-ab",
              "pipeline-runtimes", "resnet50-torch-vs-ort", "bert-torch-vs-ort")


def _dry(capsys, name):
    code, out, err = cli(capsys, "run", "--suite", name, "--dry-run", "--json")
    assert code == 0, err
    return json.loads(out)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize("name", GPU_SUITES)
def test_gpu_suites_compare_against_torch_compile(capsys, name):
    ids = " ".join(c["case_id"] for c in _dry(capsys, name)["cases"])
    assert "_torch-compile-cuda_" in ids and "mode-reduce-overhead" in ids


@pytest.mark.skipif(_cuda(), reason="this machine has CUDA")
def test_dry_run_names_every_gpu_skip_and_its_reason(capsys):
    doc = _dry(capsys, "resnet50-torch-vs-ort")
    skipped = {c["case_id"]: c["skip_here"] for c in doc["cases"] if c["skip_here"]}
    assert doc["n_skipped_here"] == len(skipped) > 0
    assert all("cuda" in cid for cid in skipped)  # every CUDA case, and only those
    assert not any(c["skip_here"] for c in doc["cases"] if "-cpu_" in c["case_id"])
    assert any("torch.cuda.is_available() is False" in r for r in skipped.values())
    code, out, _ = cli(capsys, "run", "--suite", "resnet50-torch-vs-ort", "--dry-run")
    assert code == 0 and "would be skipped on this machine" in out


def test_preflight_reasons_match_the_runtime_rules():
    def case(runtime, **kw):
        return Case(model="resnet18", config="tiny", runtime=runtime, batch=kw.pop("batch", 1),
                    **kw)

    assert skip_reason(case("ort-cpu")).startswith("no ONNX graph")
    assert skip_reason(case("ort-cpu", exporter="torchscript")) is None
    assert "batch 1" in skip_reason(case("torch-cpu", batch=2, options={"pipeline": "gpu"}))
    if not _cuda():
        assert skip_reason(case("torch-cuda")).startswith("no CUDA device")


def test_suites_carry_the_reference_table_shapes(capsys):
    from onnxbench.suite import expand
    from onnxbench.suite.parse import load_suite

    def layouts(name):
        return [t["layout"] for t in expand(load_suite(name)[0]).tables]

    assert layouts("dcnv2-cpu-vs-gpu") == ["winner", "winner"]
    assert layouts("resnet50-torch-vs-ort") == ["totals", "winner"]
    assert layouts("bert-torch-vs-ort") == ["totals", "grid"]
    assert "grid" in layouts("bert-optimize") and "totals" in layouts("tf-vs-ort")
    plan = expand(load_suite("dcnv2-cpu-vs-gpu")[0])
    first = plan.tables[0]["columns"]
    assert [h for h, _ in first] == ["ORT CPU", "ORT GPU", "PyTorch GPU"]  # the reference's


def test_tf_vs_ort_runs_every_way_the_reference_ran_tensorflow(capsys):
    ids = " ".join(c["case_id"] for c in _dry(capsys, "tf-vs-ort")["cases"])
    for runtime in ("tf-predict_", "tf-eager-call_", "tf-call_", "tf-predict-on-batch_",
                    "tf-saved-model_", "ort-cpu_"):
        assert runtime in ids


def test_bert_grid_is_full_and_the_oom_cell_is_capped(capsys):
    cases = _dry(capsys, "bert-torch-vs-ort")["cases"]
    cells = {re.search(r"_b(\d+)_s(\d+)_", cid).groups()
             for cid in (c["case_id"] for c in cases) if "_ort-cpu_" in cid}
    assert len(cells) == 4 * 7  # batch 1, 4, 8, 16 x seq 10 ... 500
    capped = [c["case_id"] for c in cases if "gpu-mem-limit-mb" in c["case_id"]
              and c["case_id"].endswith("_r0")]  # each point in 3 processes: count process 0
    assert any("_b16_s500_" in cid for cid in capped) and len(capped) == 4


BERT_CAP_MB = 860  # bert-torch-vs-ort's gpu_mem_limit_mb


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="no CUDA device: torch.cuda.is_available() is False")
def test_bert_oom_cap_falls_between_the_reference_cells():
    """16 x 400 must fit under the suite's cap and 16 x 500 must not, as on the reference's
    card; the message gives both measured peaks, to move the cap if a release shifts them."""
    import torch

    from onnxbench.model.zoo import resolve

    spec = resolve("bert")
    module = spec.build("base").cuda().eval()
    peaks = {}
    for seq in (400, 500):
        feeds = spec.make_inputs("base", 16, seq)
        args = [torch.from_numpy(feeds[n]).cuda() for n in spec.input_names("base")]
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            module(*args)
        torch.cuda.synchronize()
        peaks[seq] = torch.cuda.max_memory_allocated() / 2**20
    assert peaks[400] < BERT_CAP_MB < peaks[500], f"peak MB by seq: {peaks}"


@pytest.mark.parametrize("name, needles", [
    ("bert-torch-vs-ort-cpu", ("_torch-cpu_b8_s200_", "_ort-cpu_b1_s10_")),
    ("seq-mix-deberta", ("_ort-cpu_b1_smix_", "_ort-cpu_b1_s40_")),
    ("deberta-threads", ("concurrency-c4-shared-w4", "concurrency-c4-lock-w4",
                         "concurrency-c4-per-thread-w4")),
])
def test_reference_cpu_rows_plan_on_this_machine(capsys, name, needles):
    doc = _dry(capsys, name)
    ids = " ".join(c["case_id"] for c in doc["cases"])
    assert all(n in ids for n in needles)
    assert doc["n_skipped_here"] == 0  # CPU rows: nothing skipped on a CPU box


@pytest.mark.skipif(_cuda(), reason="this machine has CUDA")
def test_trt_int8_row_is_one_command_and_says_why_it_is_skipped_here(capsys):
    cases = _dry(capsys, "pipeline-trt-int8")["cases"]
    int8 = [c for c in cases if "trt-int8-true" in c["case_id"]]
    assert int8 and all(c["case_id"].split("_")[3] == "ort-trt" for c in int8)
    import onnxruntime as ort

    if "TensorrtExecutionProvider" not in ort.get_available_providers():
        assert all(c["skip_here"].startswith("TensorRT not installed") for c in int8)
