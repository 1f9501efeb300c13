"""Exporters on tiny modules, the batch-1 squeeze hazard and both ways out, the matrix,
reference.json + verify, inspect, and the export command's bad-input exits."""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from clitools import run_cli
from onnxbench.build.export.exporters import EXPORTERS, export
from onnxbench.build.export.fixes import apply_fix
from onnxbench.build.export.inspect import inspect_model
from onnxbench.build.export.lint import lint
from onnxbench.build.export.matrix import export_matrix
from onnxbench.build.export.reference import ort_session, read_reference, write_reference
from onnxbench.core.errors import UserError
from onnxbench.model.pad import pad_batch, trim
from onnxbench.quality.parity import compare
from onnxbench.runtimes.torch_eager import run_module as torch_outputs

AXES = {"x": {0: "batch"}, "y": {0: "batch"}}


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(4, 8), torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class BareSqueeze(torch.nn.Module):
    """Mimics CrossNetMix: a bare squeeze() on [B, F, 1], then a concat with a rank-2 tensor."""

    def __init__(self):
        super().__init__()
        self.lin, self.out = torch.nn.Linear(4, 4), torch.nn.Linear(8, 1)

    def forward(self, x):
        h = self.lin(x).unsqueeze(2).squeeze()
        return self.out(torch.cat([h, x], dim=1))


def _x(batch, seed=0):
    return {"x": np.random.default_rng(seed).standard_normal((batch, 4)).astype(np.float32)}


def _export(module, exporter, path, fix=None):
    torch.manual_seed(0)
    with apply_fix(fix):
        return export(module.eval(), _x(2), input_names=["x"], output_names=["y"],
                      dynamic_axes=AXES, exporter=exporter, opset=None, out_path=path)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_each_exporter_on_a_tiny_mlp(tmp_path, exporter):
    torch.manual_seed(0)
    module = MLP().eval()
    result = _export(module, exporter, tmp_path / "mlp.onnx")
    assert result.ok, result.error
    assert result.nodes > 0 and result.opset >= 13 and result.size_bytes > 0
    assert dict(result.top_ops).get("Gemm", 0) + dict(result.top_ops).get("MatMul", 0) >= 1
    session = ort_session(result.path)
    for batch in (1, 3):  # batch differs from the example's 2: the axis is really dynamic
        feed = _x(batch, seed=batch)
        report = compare(torch_outputs(module, feed, ["x"]), session.run(None, feed), ["y"])
        assert report.passed, report.first_problem()


def test_export_failure_is_a_result_not_an_exception(tmp_path):
    class Unscriptable(torch.nn.Module):
        def forward(self, x):
            return x * float(np.pi) + torch.from_numpy(np.ones(4, dtype=np.float32))

    result = _export(Unscriptable(), "jit-script", tmp_path / "u.onnx")
    assert result.status == "failed" and result.error and not (tmp_path / "u.onnx").exists()


def test_squeeze_hazard_found_and_both_ways_out(tmp_path):
    module = BareSqueeze().eval()
    plain = _export(module, "torchscript", tmp_path / "plain.onnx")
    assert plain.ok
    session = ort_session(plain.path)
    one = _x(1)
    with pytest.raises(Exception, match="Concat"):
        session.run(None, one)
    # the lint names the Squeeze node before anything runs
    findings = lint(onnx.load(plain.path))
    assert [(f.rule, f.op) for f in findings] == [("squeeze-no-axes", "Squeeze")]
    squeeze = next(n.name for n in onnx.load(plain.path).graph.node if n.op_type == "Squeeze")
    assert findings[0].node == squeeze
    # way out 1: pad batch 1 to 2 and trim
    padded, n_real = pad_batch(one, 2)
    expected = trim(torch_outputs(module, padded, ["x"]), n_real)
    assert compare(expected, trim(session.run(None, padded), n_real)).passed
    # way out 2: the export-side fix; batch 1 runs natively and the lint is clean
    fixed = _export(module, "torchscript", tmp_path / "fixed.onnx", fix="squeeze-dims")
    assert lint(onnx.load(fixed.path)) == []
    out = ort_session(fixed.path).run(None, one)
    assert out[0].shape == (1, 1) and compare(expected, out).passed
    # the patch is gone after the export
    assert "squeeze" not in vars(torch.Tensor)
    assert torch.squeeze is torch._C._VariableFunctions.squeeze
    with pytest.raises((RuntimeError, IndexError)):
        module(torch.from_numpy(one["x"]))


@pytest.mark.slow
def test_fix_with_the_dynamo_exporter(tmp_path):
    result = _export(BareSqueeze(), "dynamo", tmp_path / "d.onnx", fix="squeeze-dims")
    assert result.ok, result.error
    assert ort_session(result.path).run(None, _x(1))[0].shape == (1, 1)


def test_crossnetmix_fix_keeps_semantics_and_restores_the_library():
    from onnxbench.model.zoo.dcnv2 import deepctr

    cls = deepctr().layers.interaction.CrossNetMix
    original = cls.forward
    torch.manual_seed(0)
    layer = cls(in_features=3, low_rank=2, num_experts=2, layer_num=2).eval()
    x = torch.randn(4, 3)
    with torch.no_grad():
        before = layer(x)
        with apply_fix("squeeze-dims"):
            assert cls.forward is not original
            patched = layer(x)
            one = layer(x[:1])
    assert cls.forward is original
    assert torch.equal(before, patched)
    assert one.shape == (1, 3)  # the library's own forward gives (3,) here
    assert layer(x[:1]).shape == (3,)


def test_unknown_fix_is_a_user_error():
    from onnxbench.core.errors import UserError

    with pytest.raises(UserError, match="squeeze-dims"):
        apply_fix("squeeze-everything")


# a user's factory file: the BareSqueeze above, standalone, and a make() for --model file.py:make
FACTORY = "import torch\n\n\n" + inspect.getsource(BareSqueeze) + textwrap.dedent("""

    def make():
        torch.manual_seed(0)
        return BareSqueeze().eval(), {"x": torch.randn(2, 4)}
""")


@pytest.fixture(scope="module")
def squeeze_matrix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("matrix")
    (folder / "user_model.py").write_text(FACTORY)
    model = f"{folder / 'user_model.py'}:make"
    matrix = export_matrix(model, None, ("torchscript",), out_dir=folder / "out",
                           batches=(1, 2, 8), all_mode=True)
    return matrix


def test_matrix_shows_batch1_failure_and_fixes(squeeze_matrix):
    rows = {r.label: r for r in squeeze_matrix.rows}
    assert list(rows) == ["torchscript", "torchscript+pad2", "torchscript+fix"]
    plain, pad, fixed = rows.values()
    assert plain.cells["b1"].status == "ort-error" and "Concat" in plain.cells["b1"].error
    assert plain.cells["b2"].status == "pass" and plain.cells["b8"].status == "pass"
    assert [f.rule for f in plain.lint] == ["squeeze-no-axes"]
    assert pad.cells["b1"].status == "pass"
    assert all(c.status == "pass" for c in fixed.cells.values()) and fixed.lint == []
    assert any("PyTorch itself fails at b1" in n for n in squeeze_matrix.notes)
    doc = json.loads(json.dumps(squeeze_matrix.to_dict()))
    assert doc["rows"][0]["cells"]["b1"]["status"] == "ort-error"


def test_verify_exit_codes(squeeze_matrix, capsys, tmp_path):
    out_dir = squeeze_matrix.out_dir
    ref = squeeze_matrix.reference
    fixed = next(r.export.path for r in squeeze_matrix.rows if r.fix)
    plain = next(r.export.path for r in squeeze_matrix.rows if not r.fix)
    code, out, err = run_cli(capsys, "verify", fixed, "--reference", ref, "--json")
    assert code == 0 and json.loads(out)["passed"] is True
    code, out, err = run_cli(capsys, "verify", plain, "--reference", ref)
    assert code == 1 and "b1" in err
    # a reference whose outputs are off fails; a looser tolerance passes it
    inputs, outputs, meta = read_reference(ref)
    shifted = {k: [o + 1e-3 for o in v] for k, v in outputs.items()}
    bad_ref = write_reference(tmp_path / "bad.json", inputs, shifted, meta)
    assert run_cli(capsys, "verify", fixed, "--reference", str(bad_ref))[0] == 1
    assert run_cli(capsys, "verify", fixed, "--reference", str(bad_ref), "--atol", "1e-2")[0] == 0
    code, out, err = run_cli(capsys, "verify", fixed, "--reference", f"{out_dir}/missing.json")
    assert code == 2 and "missing.json" in err


def test_reference_caps_its_size(tmp_path):
    inputs = {f"b{b}": {"x": np.zeros((b, 4), np.float32)} for b in (1, 2, 8, 64)}
    outputs = {k: [v["x"][:, :1]] for k, v in inputs.items()}
    path = write_reference(tmp_path / "r.json", inputs, outputs, {"model": "m"},
                           max_elements=20)
    got_in, got_out, meta = read_reference(path)
    assert sorted(got_in) == ["b1", "b2"] and meta["omitted"] == ["b8", "b64"]
    assert got_out["b2"][0].shape == (2, 1) and got_in["b1"]["x"].dtype == np.float32


def test_inspect_reports_symbolic_dims_and_parameters(tmp_path, capsys):
    torch.manual_seed(0)
    module = MLP()
    result = _export(module, "torchscript", tmp_path / "mlp.onnx")
    info = inspect_model(result.path)
    assert info["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}]
    assert info["outputs"][0]["shape"][0] == "batch"
    assert info["parameters"] == sum(p.numel() for p in module.parameters())
    assert info["parameter_bytes"] == 4 * info["parameters"]
    assert sum(info["ops"].values()) == info["nodes"] == result.nodes
    code, out, err = run_cli(capsys, "inspect", result.path, "--json")
    assert code == 0 and json.loads(out)["parameters"] == info["parameters"]
    try:
        import netron  # noqa: F401
    except ImportError:
        code, out, err = run_cli(capsys, "inspect", result.path, "--netron")
        assert code == 2 and "onnxbench[viz]" in err


@pytest.mark.parametrize("argv,needle", [
    (["export", "no-such-model"], "no-such-model"),
    (["export", "dcnv2", "--config", "huge"], "huge"),
    (["export", "/nowhere/model.py:make"], "model.py"),
    (["export", "dcnv2", "--weights", "/nowhere/weights"], "/nowhere/weights"),
    (["export", "dcnv2", "--exporter", "magic"], "magic"),
    (["export", "dcnv2", "--fix", "everything"], "everything"),
])
def test_export_bad_input_exits_2_with_one_line(argv, needle, capsys):
    code, _out, err = run_cli(capsys, *argv)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_dcnv2_tiny_matrix_shows_the_batch1_hazard(tmp_path, capsys):
    code, out, _err = run_cli(capsys, "export", "dcnv2", "--config", "tiny", "--exporter", "all",
                      "--batch", "1,2,8", "--out", str(tmp_path), "--json")
    assert code == 0
    rows = {r["label"]: r for r in json.loads(out)["rows"]}
    for exporter in ("dynamo", "torchscript"):
        plain = rows[exporter]
        assert plain["export"]["status"] == "ok"
        assert plain["cells"]["b1"]["status"] == "ort-error"
        assert "Concat" in plain["cells"]["b1"]["error"]
        assert plain["cells"]["b2"]["status"] == "pass"
        assert any(f["rule"] == "squeeze-no-axes" for f in plain["lint"])
        assert rows[f"{exporter}+pad2"]["cells"]["b1"]["status"] == "pass"
        fixed = rows[f"{exporter}+fix"]
        assert all(c["status"] == "pass" for c in fixed["cells"].values())
        assert not any(f["severity"] == "error" for f in fixed["lint"])
    assert run_cli(capsys, "lint", str(tmp_path / "dcnv2_dynamo.onnx"))[0] == 1
    assert run_cli(capsys, "lint", str(tmp_path / "dcnv2_dynamo_fixed.onnx"))[0] == 0
    # the matrix is a committed-able result: matrix.json (with the machine) and matrix.md
    record = json.loads((tmp_path / "matrix.json").read_text())
    assert record["rows"] == json.loads(out)["rows"] and record["env"]["cpu"]
    document = (tmp_path / "matrix.md").read_text()
    assert "| dynamo | ok |" in document and "| ORT error |" in document
    assert "jit-trace failed**: ValueError" in document and "## Environment" in document


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_moe_export_predicts_like_pytorch_on_the_whole_held_out_split(tmp_path, exporter):
    """The routed MoE's ONNX graph must give PyTorch's class for every held-out digit."""
    from onnxbench.model.zoo import resolve

    spec = resolve("moe")
    module = spec.build(None, seed=0)
    x, y = spec.held_out()
    result = export(module, spec.make_inputs(None, 4), input_names=spec.input_names(None),
                    output_names=spec.output_names(None), dynamic_axes=spec.dynamic_axes(None),
                    exporter=exporter, opset=None, out_path=tmp_path / "moe.onnx")
    assert result.ok, result.error
    onnx_logits = ort_session(tmp_path / "moe.onnx").run(None, {"pixels": x})[0]
    with torch.inference_mode():
        torch_logits = module(torch.from_numpy(x)).numpy()
    assert len(x) == len(y) >= 400
    np.testing.assert_array_equal(onnx_logits.argmax(1), torch_logits.argmax(1))
    assert (onnx_logits.argmax(1) == y).mean() >= 0.9


def test_matrix_document_is_rebuilt_from_the_record_alone(squeeze_matrix, tmp_path):
    from onnxbench.report.matrix_md import write_matrix_markdown

    out = Path(squeeze_matrix.out_dir)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "matrix.json").write_text((out / "matrix.json").read_text())
    text = write_matrix_markdown(copy).read_text()
    assert "| torchscript | ok |" in text and "| torchscript+pad2 | ok |" in text
    assert "torchscript at b1: " in text and "Concat" in text
    with pytest.raises(UserError, match=r"matrix\.json: no such file"):
        write_matrix_markdown(tmp_path / "empty")
