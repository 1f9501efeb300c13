"""The environment fingerprint and `onnxbench env`."""

from __future__ import annotations

import json

import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from onnxbench.cli import app
from onnxbench.isolation import env


def test_collect_has_the_fingerprint_keys():
    data = env.collect()
    assert {"cpu", "memory", "gpus", "os", "python", "packages", "torch", "onnxruntime",
            "threads_env"} <= set(data)
    assert data["cpu"]["logical_threads"] >= 1
    assert data["memory"]["total_gb"] > 0
    assert isinstance(data["gpus"], list)  # empty without an NVIDIA driver, never a crash
    assert data["onnxruntime"]["providers"] == ort.get_available_providers()
    assert data["packages"]["onnx"] and data["torch"]["version"]
    json.dumps(data)  # JSON-ready


def test_collect_is_cached_but_returns_a_copy():
    a = env.collect()
    a["cpu"]["model"] = "mutated"
    assert env.collect()["cpu"]["model"] != "mutated"


def test_thread_env_vars_are_recorded(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env._collect_cached.cache_clear()
    try:
        data = env.collect()
        assert data["threads_env"]["OMP_NUM_THREADS"] == "3"
        rows = dict(env.as_rows(data))
        assert "OMP_NUM_THREADS=3" in rows["Thread env"]
    finally:
        env._collect_cached.cache_clear()


def test_as_rows_without_gpu_and_with_one():
    data = env.collect()
    data["gpus"] = []
    rows = dict(env.as_rows(data))
    assert rows["GPU"] == "none" and rows["ORT providers"]
    data["gpus"] = [{"index": 0, "name": "Fake GPU", "memory_total_mb": 1024,
                     "compute_capability": "9.0", "driver": "555.1", "cuda_driver": "12.5"}]
    rows = dict(env.as_rows(data))
    assert "Fake GPU" in rows["GPU 0"] and "12.5" in rows["GPU 0"]


def test_env_command_json_is_valid_and_table_prints():
    runner = CliRunner()
    res = runner.invoke(app, ["env", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["onnxruntime"]["version"] == ort.__version__
    res = runner.invoke(app, ["env"])
    assert res.exit_code == 0 and "onnxruntime" in res.output and "CPU" in res.output


def test_env_usage_error_is_one_line_exit_2(capsys):
    from onnxbench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["env", "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "--bogus" in err and "\n" not in err
