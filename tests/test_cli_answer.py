"""The answer on the screen: ``bench``, ``run``, ``load`` and ``profile`` end with the
sentence the run exists for (the report's own, ties said as ties), the accuracy asked for is
a column, ``--profile`` prints the heaviest ops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clitools import run_cli
from onnxbench.core.result import write_result
from report_fixtures import make_result
from test_worker import write_tiny_onnx

FAST = ["--runs", "30", "--warmup", "2", "--quiet"]


def _last(out: str) -> str:
    """The last paragraph (the answer, however the console wrapped it), as one line."""
    return " ".join(out.strip().split("\n\n")[-1].split())


@pytest.fixture()
def tiny(tmp_path) -> Path:
    return write_tiny_onnx(tmp_path / "tiny.onnx")


def test_bench_ends_with_the_answer_and_the_profile_before_it(tiny, tmp_path, capsys):
    code, out, err = run_cli(capsys, "bench", tiny, "-r", "ort-cpu,test-delay", "--batch",
                             "1,4", "--profile", *FAST, "--out", tmp_path / "runs")
    assert code == 0, err
    assert _last(out) == "tiny.onnx: ORT CPU is fastest at every batch measured (batch 1–4)."
    lines = out.splitlines()
    profiles = [i for i, line in enumerate(lines) if line.startswith("profile ORT CPU batch")]
    assert len(profiles) == 2 and "MatMul" in lines[profiles[0]]
    assert lines.index(_last(out)) > max(profiles)
    doc = json.loads(run_cli(capsys, "bench", tiny, "-r", "ort-cpu,test-delay", *FAST,
                             "--out", tmp_path / "runs", "--json").out)
    assert doc["answers"] == ["tiny.onnx: ORT CPU is fastest at every batch measured (batch 1)."]


def test_accuracy_data_top5_is_a_column(tmp_path, capsys):
    from test_input_files import _classifier

    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 6))
    x = rng.standard_normal((40, 4)).astype(np.float32)
    scores = x @ w.astype(np.float32)
    labels = np.where(np.arange(40) % 4 == 0, scores.argmin(1), scores.argmax(1))  # 3/4 in top 5
    np.savez(tmp_path / "val.npz", x=x, labels=labels)
    model = _classifier(tmp_path / "model.onnx", w)
    code, out, err = run_cli(capsys, "bench", model, "--batch", "8", "--accuracy-data",
                             tmp_path / "val.npz", "--metric", "top5", *FAST,
                             "--out", tmp_path / "runs")
    assert code == 0, err
    logits = x @ w.astype(np.float32)
    top5 = np.mean([lab in np.argsort(row)[-5:] for row, lab in zip(logits, labels)])
    assert 0 < top5 < 1
    header = next(line for line in out.splitlines() if "Batch" in line)
    assert "Top-5 accuracy" in header
    row = next(line for line in out.splitlines() if line.strip("│┃ ").startswith("8 "))
    from onnxbench.report.fmt import pct

    assert f"{pct(top5)} (Δ ±0)" in row  # against the model itself on ORT CPU: no reference


def test_run_and_load_end_with_their_answers(tiny, tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: s\ndefaults:\n  runtimes: [ort-cpu, test-delay]\n  batch: [1, 2]\n"
                     f"  measure: {{warmup: 2, min_runs: 10, max_runs: 30}}\n"
                     f"cases:\n  - model: {tiny}\n")
    code, out, err = run_cli(capsys, "run", "--suite", suite, "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    assert _last(out).startswith("tiny.onnx: ORT CPU is fastest at every batch measured")
    code, out, err = run_cli(capsys, "load", tiny, "-r", "ort-cpu", "--concurrency", "1,2",
                             "--duration", "0.5s", "--no-ceiling", "--quiet",
                             "--out", tmp_path / "l")
    assert code == 0, err
    doc = json.loads(run_cli(capsys, "load", tiny, "-r", "ort-cpu", "--concurrency", "1",
                             "--duration", "0.5s", "--no-ceiling", "--quiet", "--json",
                             "--out", tmp_path / "l").out)
    assert doc["answers"] and doc["answers"][0].startswith("tiny.onnx")
    assert _last(out).startswith("tiny.onnx")  # the load sentence, after the tables and paths


# ---- the sentence itself (report.answer): speed-up over the baseline, ties as ties ---------

def _run(tmp: Path, levels: dict[str, dict[int, float]], spread: dict[int, float]) -> Path:
    run = tmp / "run"
    for rt, by_batch in levels.items():
        for b, ms in by_batch.items():
            for r in range(3):
                jitter = 1 + spread.get(b, 0.002) * (r - 1)
                write_result(make_result(rt, b, ms * jitter, repeat=r, seed=r + b, n=200,
                                         spread=0.01), run / "raw")
    return run


def test_sentence_gives_the_speed_up_over_the_baseline_and_names_the_tie(tmp_path):
    from onnxbench.report import build_report

    run = _run(tmp_path, {"ort-cpu": {1: 0.1, 8: 0.2, 64: 1.0},
                          "torch-cpu": {1: 0.5, 8: 0.8, 64: 1.02}}, {64: 0.3})
    (sentence,) = [g.sentence for g in build_report(run).groups]
    assert sentence.endswith("ORT CPU is 4.0–5.0× faster than PyTorch CPU at batch 1–8; "
                             "tie at 64."), sentence
    assert "ORT CPU and PyTorch CPU (tied: CIs overlap) from 64" in sentence


def test_sentence_says_slower_and_a_lone_runtime_gets_its_own(tmp_path):
    from onnxbench.report import build_report

    run = _run(tmp_path, {"ort-cpu": {1: 0.3, 8: 0.2}, "torch-cpu": {1: 0.1, 8: 0.8}}, {})
    (sentence,) = [g.sentence for g in build_report(run).groups]
    assert "ORT CPU is 4.0× faster than PyTorch CPU at batch 8; 3.0× slower at batch 1" in sentence
    one = _run(tmp_path / "one", {"ort-cpu": {1: 0.1, 8: 0.2}}, {})
    (single,) = [g.sentence for g in build_report(one).groups]
    assert single.startswith("dcnv2 / light, ORT CPU: median 0.100 ms at batch 1 to 0.200 ms "
                             "at 8; most items/s at batch 8"), single
