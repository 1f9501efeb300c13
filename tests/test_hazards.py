"""Export hazards the reference reports met: control flow baked in by tracing (the sparse
MoE), and DCNMix's raising ``embedding_size`` property under torch.jit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onnxbench.build.export.fixes import ALL_FIXES, apply_fix, raising_properties
from onnxbench.build.export.matrix import export_matrix
from onnxbench.core.errors import UserError


def _row(matrix, label):
    return next(r for r in matrix.rows if r.label == label)


@pytest.fixture(scope="module")
def sparse_matrix(tmp_path_factory):
    out = tmp_path_factory.mktemp("sparse")
    return export_matrix("moe", "sparse", ("jit-trace", "jit-script", "dynamo"),
                         batches=(2, 64), out_dir=out, all_mode=False)


def test_traced_sparse_moe_is_right_on_the_example_and_wrong_elsewhere(sparse_matrix):
    row = _row(sparse_matrix, "jit-trace")
    assert row.export.ok
    b2, b64 = row.cells["b2"], row.cells["b64"]
    assert b2.sets == b64.sets == 3
    assert 0 not in b2.failed_sets  # set 0 at batch 2 is the example it was traced with
    assert b64.status == "fail" and b64.failed_sets  # 64 rows reach experts it never saw
    assert any(f.rule == "traced-control-flow" and f.node.startswith("zoo/moe.py:")
               for f in row.lint)
    assert row.notes and "control flow baked in by tracing" in row.notes[0]
    assert "moe.py" in row.notes[0] and "jit-script" in row.notes[0]


def test_scripted_sparse_moe_is_right_and_dynamo_fails_loudly(sparse_matrix):
    script = _row(sparse_matrix, "jit-script")
    assert script.export.ok and not script.notes
    assert all(c.status == "pass" and not c.failed_sets for c in script.cells.values())
    assert not any(f.rule == "traced-control-flow" for f in script.lint)
    dynamo = _row(sparse_matrix, "dynamo")
    assert not dynamo.export.ok
    assert any("data-dependent" in n for n in dynamo.notes)


def test_reference_json_holds_every_input_set(sparse_matrix):
    doc = json.loads(Path(sparse_matrix.reference).read_text())
    assert {"b2", "b2_set1", "b2_set2"} <= set(doc["cases"])
    assert doc["meta"]["input_sets"] == 3


def test_dense_moe_traces_exactly_with_no_finding(tmp_path):
    matrix = export_matrix("moe", "default", ("jit-trace",), batches=(2, 8), out_dir=tmp_path,
                           options={"epochs": 1})
    row = _row(matrix, "jit-trace")
    assert all(c.status == "pass" for c in row.cells.values())
    assert not row.notes and not any(f.rule == "traced-control-flow" for f in row.lint)


def test_dcnmix_jit_exports_fail_on_its_property_and_the_fix_works(tmp_path):
    matrix = export_matrix("dcnv2", "tiny", ("jit-trace", "jit-script"), batches=(1, 2),
                           out_dir=tmp_path, all_mode=True, input_sets=1)
    plain = _row(matrix, "jit-trace")
    assert not plain.export.ok and "embedding_dim" in plain.export.error
    assert any("embedding_size" in n and "jit-properties" in n for n in plain.notes)
    fixed = _row(matrix, "jit-trace+fix")
    assert fixed.fix == ALL_FIXES and fixed.export.ok
    assert all(c.status == "pass" for c in fixed.cells.values())  # batch 1 too (squeeze-dims)
    script = _row(matrix, "jit-script+fix")
    assert not script.export.ok
    assert any("not TorchScript" in n for n in script.notes)  # the spec says what to use


def test_jit_properties_fix_is_undone_and_names_are_checked():
    from onnxbench.model.zoo import resolve

    module = resolve("dcnv2").build("tiny", train=False)
    inner = module.model
    found = raising_properties(module)
    assert [(o.__name__, n) for o, n, _ in found] == [("BaseModel", "embedding_size")]
    owner = found[0][0]
    with apply_fix("squeeze-dims,jit-properties", module):
        assert not hasattr(inner, "embedding_size")  # an AttributeError now
        assert owner.__jit_unused_properties__ == ["embedding_size"]
    with pytest.raises(ValueError):
        inner.embedding_size  # noqa: B018  (the property is back as it was)
    assert "__jit_unused_properties__" not in vars(owner)
    with pytest.raises(UserError, match="squeeze-everything"):
        apply_fix("squeeze-dims,squeeze-everything")


def test_suite_artifact_checks_several_input_sets(tmp_path):
    from onnxbench.build.artifacts import prepare_artifact
    from onnxbench.core.artifact import read_artifact_meta
    from onnxbench.core.case import Case

    case = Case(model="moe", config="sparse", exporter="jit-trace", runtime="ort-cpu", batch=8)
    meta = read_artifact_meta(prepare_artifact(case, tmp_path))
    assert meta["parity"]["input_sets"] == 3 and meta["parity"]["passed"] is False
    failed = meta["parity"]["failed_sets"]
    assert failed and 0 not in failed  # the example passes by construction, others do not
    assert any(f["rule"] == "traced-control-flow" for f in meta["lint"])
