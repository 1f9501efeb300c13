"""The model zoo: every spec builds, its inputs fit, counts match, MoE learns, factories fail
well."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from onnxbench.core.errors import UserError
from onnxbench.isolation.worker import run_isolated
from onnxbench.model.zoo import resolve
from onnxbench.model.zoo.data import digits_split

TINY = [("resnet18", "tiny"), ("resnet50", "tiny"), ("bert", "tiny"), ("deberta-v2", "tiny"),
        ("dcnv2", "tiny"), ("moe", "default")]
FAST = {"moe": {"epochs": 1}}


def forward(module, spec, config, inputs):
    """Run a zoo module the way exporters do: positional inputs in input_names order."""
    with torch.no_grad():
        out = module(*[torch.from_numpy(inputs[n]) for n in spec.input_names(config)])
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("name,config", TINY)
def test_every_spec_builds_and_runs(name, config):
    spec = resolve(name)
    module = spec.build(config, seed=0, options=FAST.get(name), train=True)
    assert not module.training
    inputs = spec.make_inputs(config, 3, 8 if spec.has_seq else None, seed=1,
                              options=FAST.get(name))
    assert list(inputs) == spec.input_names(config)
    for arr in inputs.values():
        assert arr.shape[0] == 3 and arr.dtype in (np.float32, np.int64)
    outputs = forward(module, spec, config, inputs)
    assert len(outputs) == len(spec.output_names(config))
    assert all(o.shape[0] == 3 and torch.isfinite(o).all() for o in outputs)
    axes = spec.dynamic_axes(config)
    assert set(axes) == set(spec.input_names(config)) | set(spec.output_names(config))
    assert all(a.get(0) == "batch" for a in axes.values())
    assert spec.param_count(config) == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", ["bert", "dcnv2"])
def test_build_and_inputs_are_deterministic_in_seed(name):
    spec = resolve(name)
    a, b, c = (spec.build("tiny", seed=s, train=False) for s in (0, 0, 1))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    x1, x2, x3 = (spec.make_inputs("tiny", 4, 8, seed=s) for s in (5, 5, 6))
    assert all(np.array_equal(x1[k], x2[k]) for k in x1)
    assert any(not np.array_equal(x1[k], x3[k]) for k in x1)


def test_ids_stay_inside_each_vocabulary():
    dcn = resolve("dcnv2")
    inputs = dcn.make_inputs("light", 256, seed=0)
    for name, vocab, _ in dcn.config("light")["sparse"]:
        assert inputs[name].dtype == np.int64 and inputs[name].shape == (256, 1)
        assert inputs[name].min() >= 0 and inputs[name].max() < vocab
    for name in dcn.config("light")["dense"]:
        assert inputs[name].dtype == np.float32
    bert = resolve("bert").make_inputs("tiny", 2, 16)
    assert bert["input_ids"].max() < 128 and (bert["attention_mask"] == 1).all()


def test_dcnv2_parameter_counts_match_the_reference():
    spec = resolve("dcnv2")
    targets = {"light": 26_393, "heavy": 39_771_765, "100x100": 34_541_749}
    for config, target in targets.items():
        assert abs(spec.param_count(config) - target) / target < 0.05, config
    # the meta-device count is the real one: check it against a real build of light and heavy
    for config in ("light", "heavy"):
        real = spec.build(config, train=False)
        assert sum(p.numel() for p in real.parameters()) == spec.param_count(config)
        del real


def test_dcnv2_keeps_the_batch1_squeeze_hazard_and_exposes_the_inner_model():
    spec = resolve("dcnv2")
    module = spec.build("tiny", train=False)
    assert type(module.model).__name__ == "DCNMix"
    assert forward(module, spec, "tiny", spec.make_inputs("tiny", 2))[0].shape == (2, 1)
    with pytest.raises(RuntimeError):  # CrossNetMix's bare squeeze() drops the batch axis
        forward(module, spec, "tiny", spec.make_inputs("tiny", 1))


def test_dcnv2_evaluate_reports_dummy_held_out_metric():
    spec = resolve("dcnv2")
    module = spec.build("tiny", seed=0, train=True)
    result = spec.evaluate(lambda feeds: forward(module, spec, "tiny", feeds), "tiny")
    assert result["metric"] == "auc" and 0.0 <= result["value"] <= 1.0
    assert result["split"] == "held-out" and "dummy" in result["data"]


def test_deepctr_import_prints_no_version_notice():
    code = ("from onnxbench.model.zoo.dcnv2 import deepctr; import threading, time; deepctr(); "
            "print('threads', threading.active_count()); time.sleep(0.5)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "threads 1"  # no version-check thread was started
    assert "version" not in (proc.stdout + proc.stderr).lower()
    assert "pypi" not in (proc.stdout + proc.stderr).lower()


def test_moe_reaches_90_percent_on_held_out_digits_never_seen_in_training():
    split = digits_split()
    assert not set(split.train_index) & set(split.test_index)
    assert len(split.train_index) + len(split.test_index) == 1797
    spec = resolve("moe")
    x, y = spec.held_out()
    assert len(x) == len(split.test_index) and np.array_equal(y, split.y_test)
    train_rows = {r.tobytes() for r in split.x_train}
    picked = spec.make_inputs(None, 500, seed=3)["pixels"]  # wraps round the held-out split
    assert picked.shape == (500, 64)
    assert all(r.tobytes() in {t.tobytes() for t in x} for r in picked[:20])
    module = spec.build(None, seed=0)
    result = spec.evaluate(lambda feeds: forward(module, spec, None, feeds), None)
    assert result["split"] == "held-out" and result["n"] == len(x)
    assert result["value"] >= 0.90, result
    # and it does not just memorise: held-out rows that duplicate a training row are rare
    assert sum(r.tobytes() in train_rows for r in x) < 0.05 * len(x)


def _write_idx(path, array: np.ndarray) -> None:
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.tobytes())


def test_moe_reads_mnist_idx_files_and_rejects_an_incomplete_folder(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte",
                   rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte",
                   rng.integers(0, 10, n, dtype=np.uint8))
    spec = resolve("moe")
    opts = {"data_dir": str(tmp_path), "epochs": 1}
    module = spec.build(None, options=opts)
    assert module.embed.in_features == 784
    x, _y = spec.held_out(None, opts)
    assert x.shape == (20, 784) and x.min() >= 0 and x.max() <= 1
    assert spec.evaluate(lambda f: forward(module, spec, None, f), None, opts)["n"] == 20
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(UserError, match="t10k-labels") as err:
        spec.build(None, options={"data_dir": str(tmp_path / "x")})
    assert "\n" not in str(err.value)


def test_resnet_image_size_option():
    spec = resolve("resnet18")
    assert spec.make_inputs("tiny", 2, options={"image_size": 64})["pixel_values"].shape == \
        (2, 3, 64, 64)
    assert spec.make_inputs(None, 1)["pixel_values"].shape == (1, 3, 224, 224)
    with pytest.raises(UserError, match="image_size"):
        spec.make_inputs("tiny", 1, options={"image_size": "big"})


def test_text_weights_load_locally_and_a_missing_dir_is_a_user_error(tmp_path):
    spec = resolve("bert")
    module = spec.build("tiny", seed=3)
    module.model.save_pretrained(tmp_path / "w")
    loaded = spec.build("base", options={"weights": str(tmp_path / "w")})  # size from weights
    inputs = spec.make_inputs("base", 2, 8, options={"weights": str(tmp_path / "w")})
    for a, b in zip(forward(module, spec, None, inputs), forward(loaded, spec, None, inputs)):
        torch.testing.assert_close(a, b)
    with pytest.raises(UserError, match=r"config\.json") as err:
        spec.build("tiny", options={"weights": str(tmp_path / "nothing")})
    assert "\n" not in str(err.value)


FACTORY_OK = """
import torch
def make():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()), {"x": torch.randn(2, 4)}
def make_tuple():
    return torch.nn.Linear(4, 2), (torch.randn(3, 4),)
"""


def _output_shape(model: str, batch: int) -> tuple[int, ...]:
    """In a worker: the factory's module run on its example inputs tiled to ``batch``."""
    spec = resolve(model)
    out = forward(spec.build(None), spec, None, spec.make_inputs(None, batch))
    return tuple(out[0].shape)


def test_factory_spec_good(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(FACTORY_OK)
    spec = resolve(f"{path}:make")
    assert spec.input_names(None) == ["x"] and spec.output_names(None) == ["output_0"]
    inputs = spec.make_inputs(None, 5)
    assert inputs["x"].shape == (5, 4) and np.array_equal(inputs["x"][2], inputs["x"][0])
    with pytest.raises(RuntimeError, match="only in a worker"):
        spec.build(None)  # the user's module is never made in onnxbench's own process
    assert run_isolated(_output_shape, f"{path}:make", 5).value == (5, 3)
    tup = resolve(f"{path}:make_tuple")
    assert tup.input_names(None) == ["input_0"]
    assert tup.dynamic_axes(None) == {"input_0": {0: "batch"}, "output_0": {0: "batch"}}


@pytest.mark.parametrize("body,factory,match", [
    (None, "make", "does not exist"),
    ("def make(:\n", "make", "importing"),
    ("import no_such_module_xyz\n", "make", "importing"),
    ("x = 1\n", "make", "no callable 'make'"),
    ("def make():\n    return 42\n", "make", "returned int"),
    ("def make():\n    return 'a', {}\n", "make", "as the module"),
    ("import torch\ndef make():\n    return torch.nn.Linear(2, 2), 'x'\n", "make", "example"),
    ("import torch\ndef make():\n    return torch.nn.Linear(2, 2), {'x': torch.ones(3, 5)}\n",
     "make", "fails on its own example"),
    ("def make():\n    raise ValueError('boom')\n", "make", "boom"),
])
def test_factory_spec_bad_cases_are_one_line_user_errors(tmp_path, body, factory, match):
    path = tmp_path / "bad.py"
    if body is not None:
        path.write_text(textwrap.dedent(body))
    with pytest.raises(UserError, match=match) as err:
        resolve(f"{path}:{factory}")
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_unknown_model_or_config_is_a_user_error():
    with pytest.raises(UserError, match=r"unknown model 'nope'.*dcnv2"):
        resolve("nope")
    with pytest.raises(UserError, match=r"unknown config 'huge'.*light"):
        resolve("dcnv2").build("huge")
    with pytest.raises(UserError, match="unknown config"):
        resolve("bert").make_inputs("xl", 1, 8)


def test_cli_zoo_json_lists_every_model_with_param_counts():
    from typer.testing import CliRunner

    from onnxbench.cli import app

    result = CliRunner().invoke(app, ["zoo", "--json", "--params"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["models"]
    assert {r["model"] for r in rows} == {"dcnv2", "moe", "resnet18", "resnet50", "bert",
                                          "deberta-v2", "keras-resnet50", "keras-encoder"}
    counts = {(r["model"], r["config"]): r["params"] for r in rows}
    assert counts[("dcnv2", "light")] == resolve("dcnv2").param_count("light")
    assert counts[("bert", "large")] > counts[("bert", "base")] > counts[("bert", "tiny")]
