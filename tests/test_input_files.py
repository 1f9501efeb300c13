"""The user's own data: input files, --value, inclusive --range, mismatches, labelled
accuracy, mixed shapes (onnxbench.model.input_files, inputs, labelled, shape_mix)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from clitools import run_cli
from onnxbench.core.errors import UserError
from onnxbench.model.input_files import batch_of, feeds_for, load_user_data, read_inputs, rows
from onnxbench.model.inputs import parse_range, parse_value, synthesize


def _model(path: Path) -> Path:
    """ids int64 [batch, seq], feats float32 [batch, 4], sr int64 scalar → y [batch, seq]."""
    inputs = [
        helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["batch", 4]),
        helper.make_tensor_value_info("sr", TensorProto.INT64, []),
    ]
    nodes = [
        helper.make_node("Cast", ["ids"], ["idf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["feats", "one"], ["fs"], keepdims=1),
        helper.make_node("Cast", ["sr"], ["srf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["idf", "fs"], ["a"]),
        helper.make_node("Add", ["a", "srf"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq"])],
        [numpy_helper.from_array(np.array([1], np.int64), "one")],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _arrays(batch=3, seq=5):
    rng = np.random.default_rng(0)
    return {
        "ids": rng.integers(0, 9, (batch, seq)).astype(np.int64),
        "feats": rng.standard_normal((batch, 4)).astype(np.float32),
        "sr": np.array(16000, np.int64),
    }


def _expected(a):
    return a["ids"].astype(np.float32) + a["feats"].sum(1, keepdims=True) + np.float32(a["sr"])


def _pb(path: Path, arr: np.ndarray, name: str = "") -> None:
    path.write_bytes(numpy_helper.from_array(arr, name).SerializeToString())


def _bench(capsys, tmp_path: Path, *argv) -> dict:
    """``onnxbench bench ARGV`` into tmp_path/run (exit 0 asserted): the one result.json
    (one process per point)."""
    code, out, err = run_cli(capsys, "bench", *argv, "--processes", "1", "--out",
                             tmp_path / "run", "--json")
    assert code == 0, err
    run_dir = Path(json.loads(out)["run_dir"])  # a new run directory under --out
    return json.loads(next((run_dir / "raw").glob("*/result.json")).read_text())


@pytest.fixture()
def model(tmp_path):
    return _model(tmp_path / "m.onnx")


def test_each_input_format_reads_the_same_feeds(model, tmp_path):
    a = _arrays()
    np.savez(tmp_path / "in.npz", **a)
    npy = tmp_path / "npy"
    npy.mkdir()
    for k, v in a.items():
        np.save(npy / f"{k}.npy", v)
    named = tmp_path / "named"
    named.mkdir()
    for i, k in enumerate(["sr", "ids", "feats"]):  # named tensors: the order does not matter
        _pb(named / f"input_{i}.pb", a[k], k)
    positional = tmp_path / "pos" / "test_data_set_0"  # ORT's layout: a test_data_set_* folder
    positional.mkdir(parents=True)
    for i, k in enumerate(["ids", "feats", "sr"]):  # no names: the graph's input order
        _pb(positional / f"input_{i}.pb", a[k])
    for source in (tmp_path / "in.npz", npy, named, tmp_path / "pos"):
        feeds = read_inputs(source, model)
        assert list(feeds) == ["ids", "feats", "sr"], source
        for k in a:
            np.testing.assert_array_equal(feeds[k], a[k])
    assert batch_of(feeds, model) == 3
    assert rows(feeds, model, 2)["ids"].shape == (2, 5) and rows(feeds, model, 2)["sr"].shape == ()
    with pytest.raises(UserError, match="holds 3 row"):
        rows(feeds, model, 8)


def test_a_single_npy_is_a_one_input_model(tmp_path):
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 3])],
    )
    path = tmp_path / "r.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
    assert read_inputs(tmp_path / "x.npy", path)["x"].shape == (2, 3)


MISMATCHES = {
    "name": ({"idz": np.zeros((3, 5), np.int64)}, "array 'idz' matches no input"),
    "missing": ({}, "no array for input 'ids'"),
    "dtype": (
        {"ids": np.zeros((3, 5), np.int32)},
        "input 'ids' is int32 in the file, the model takes int64",
    ),
    "rank": ({"feats": np.zeros((3, 4, 1), np.float32)}, "input 'feats' has rank 3"),
    "fixed dim": (
        {"feats": np.zeros((3, 5), np.float32)},
        "input 'feats': dim 1 is 5, the model fixes it to 4",
    ),
    "symbol": ({"feats": np.zeros((2, 4), np.float32)}, "dim 0 (batch) is 2 but 'ids' has batch=3"),
}


@pytest.mark.parametrize("kind", sorted(MISMATCHES))
def test_every_mismatch_is_exit_2_one_line_naming_the_input(model, tmp_path, capsys, kind):
    change, message = MISMATCHES[kind]
    a = {k: v for k, v in _arrays().items() if kind != "missing" or k != "ids"}
    if kind == "name":
        a.pop("ids")
    a.update(change)
    np.savez(tmp_path / "bad.npz", **a)
    code, _out, err = run_cli(
        capsys, "bench", model, "--inputs", tmp_path / "bad.npz", "--runs", "1"
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert message in lines[0] and "bad.npz" in lines[0], lines[0]


def test_unreadable_inputs_and_bad_flags_are_one_line(model, tmp_path, capsys):
    (tmp_path / "junk.npz").write_text("not a zip")
    cases = [
        ("--inputs", tmp_path / "junk.npz", "cannot read as .npz"),
        ("--inputs", tmp_path / "nope.npz", "no such file"),
        ("--inputs", tmp_path, "not a known layout"),
        ("--value", "sr=1.5", "give a whole number"),
        ("--value", "sr", "expected NAME=NUMBER"),
        ("--value", "rate=3", "--value rate: no input of that name"),
        ("--range", "ids=9:3", "LOW <= HIGH"),
        ("--range", "ids=0.5:3", "give whole numbers"),
        ("--seq-mix", "8:0", "positive weights"),
    ]
    np.savez(tmp_path / "ok.npz", **_arrays())
    code, _, err = run_cli(
        capsys, "bench", model, "--inputs", tmp_path / "ok.npz", "--range", "ids=0:3"
    )
    assert code == 2 and "come from --inputs" in err and len(err.strip().splitlines()) == 1
    for flag, value, message in cases:
        code, _, err = run_cli(capsys, "bench", model, flag, value, "--seq", "4", "--runs", "1")
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, (flag, err)


def test_value_fills_a_scalar_or_a_tensor_and_ranges_are_inclusive(model):
    feeds = synthesize(model, batch=2, seq=3, values={"sr": 16000, "feats": 0.25})
    assert feeds["sr"].shape == () and int(feeds["sr"]) == 16000 and feeds["sr"].dtype == np.int64
    assert feeds["feats"].shape == (2, 4) and np.all(feeds["feats"] == np.float32(0.25))
    assert parse_value("sr=16000") == ("sr", 16000) and parse_value("t=0.5") == ("t", 0.5)
    name, bounds = parse_range("sr=16000:16000")  # inclusive: exactly 16000
    feeds = synthesize(model, batch=64, seq=8, ranges={name: bounds, "ids": (0, 1)})
    assert int(feeds["sr"]) == 16000
    assert set(np.unique(feeds["ids"]).tolist()) == {0, 1}  # the high end is drawn too
    with pytest.raises(UserError, match="outside int64"):
        synthesize(model, batch=1, seq=1, values={"sr": 2.0**70})


def test_bench_on_real_inputs_and_value_runs_them(model, tmp_path, capsys):
    a = _arrays(batch=4)
    np.savez(tmp_path / "in.npz", ids=a["ids"], feats=a["feats"])  # sr comes from --value
    result = _bench(capsys, tmp_path, model, "--inputs", tmp_path / "in.npz",
                    "--value", "sr=16000", "--runs", "3")
    assert result["status"] == "ok" and result["case"]["batch"] == 4  # the file's rows
    assert result["case"]["inputs"].endswith("in.npz") and result["case"]["values"] == {"sr": 16000}


def test_verify_on_inputs_with_expected_outputs_and_against_another_graph(model, tmp_path, capsys):
    a = _arrays()
    folder = tmp_path / "td"
    folder.mkdir()
    for i, k in enumerate(["ids", "feats", "sr"]):
        _pb(folder / f"input_{i}.pb", a[k], k)
    _pb(folder / "output_0.pb", _expected(a), "y")
    code, out, err = run_cli(capsys, "verify", model, "--inputs", folder, "--json")
    assert code == 0 and json.loads(out)["passed"], err
    _pb(folder / "output_0.pb", _expected(a) + 100, "y")  # 0.6 % off: beyond rtol 1e-3
    assert run_cli(capsys, "verify", model, "--inputs", folder).code == 1
    np.savez(tmp_path / "in.npz", **a)
    code, out, err = run_cli(
        capsys, "verify", model, "--inputs", tmp_path / "in.npz", "--against", model, "--json"
    )
    assert code == 0 and json.loads(out)["cases"]["inputs"]["passed"]
    code, _, err = run_cli(capsys, "verify", model, "--inputs", tmp_path / "in.npz")
    assert code == 2 and "no expected outputs" in err and len(err.strip().splitlines()) == 1


def test_feeds_without_a_graph_check_names_and_rows(tmp_path):
    np.savez(tmp_path / "t.npz", a=np.ones((4, 2), np.float32), b=np.zeros((4,), np.int64))
    feeds = feeds_for(tmp_path / "t.npz", names=["a", "b"], batch=3, values={"b": 7})
    assert feeds["a"].shape == (3, 2) and np.all(feeds["b"] == 7)
    with pytest.raises(UserError, match="no array for input 'c'"):
        feeds_for(tmp_path / "t.npz", names=["a", "b", "c"])
    with pytest.raises(UserError, match="holds 4 row"):
        feeds_for(tmp_path / "t.npz", names=["a", "b"], batch=5)
    assert load_user_data(tmp_path / "t.npz").labels is None


# ----------------------------------------------------------------- labelled accuracy


def _classifier(path: Path, weights: np.ndarray) -> Path:
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["logits"])],
        "c",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 6])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_scores_by_hand():
    from onnxbench.quality.labelled import score

    logits = np.array([[0, 3, 1, 0, 0, 0], [5, 0, 0, 0, 0, 1], [0, 0, 0, 0, 2, 1]], float)
    assert score("accuracy", logits, np.array([1, 0, 5])) == pytest.approx(2 / 3)
    assert score("top5", logits, np.array([1, 0, 5])) == pytest.approx(1.0)
    assert score("top5", logits, np.array([3, 0, 5])) == pytest.approx(1.0)
    probs = np.array([[0.9], [0.2], [0.6], [0.4]])
    assert score("accuracy", probs, np.array([1, 0, 0, 0])) == pytest.approx(0.75)
    assert score("auc", probs, np.array([1, 0, 1, 0])) == pytest.approx(1.0)
    assert score("auc", probs, np.array([0, 1, 1, 0])) == pytest.approx(0.25)  # 1 of 4 pairs
    assert score("mse", np.array([[1.0], [3.0]]), np.array([2.0, 3.0])) == pytest.approx(0.5)
    assert score("cosine", np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])) == pytest.approx(0.0)
    with pytest.raises(UserError, match="top5 needs at least 5"):
        score("top5", probs, np.array([1, 0, 0, 0]))


def test_labelled_npz_accuracy_and_its_delta_against_an_fp32_reference(tmp_path, capsys):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 6))
    x = rng.standard_normal((40, 4)).astype(np.float32)
    labels = (x @ w.astype(np.float32)).argmax(1)
    labels[:8] = (labels[:8] + 1) % 6  # 8 of 40 wrong: accuracy 0.8 exactly
    np.savez(tmp_path / "val.npz", x=x, labels=labels)
    model = _classifier(tmp_path / "model.onnx", w)
    worse = w.copy()
    worse[:, [0, 1]] = worse[:, [1, 0]]  # a "reference" that predicts differently
    ref = _classifier(tmp_path / "ref.onnx", worse)
    ref_acc = float(np.mean((x @ worse.astype(np.float32)).argmax(1) == labels))
    result = _bench(capsys, tmp_path, model, "--batch", "8", "--accuracy-data",
                    tmp_path / "val.npz", "--metric", "accuracy", "--reference", ref,
                    "--runs", "2")
    acc = result["accuracy"]
    assert acc["metric"] == "accuracy" and acc["n"] == 40
    assert acc["value"] == pytest.approx(0.8) and acc["reference_value"] == pytest.approx(ref_acc)
    assert acc["delta"] == pytest.approx(0.8 - ref_acc) and acc["split"] == "user data"
    np.savez(tmp_path / "unlabelled.npz", x=x)
    code, _, err = run_cli(capsys, "bench", model, "--accuracy-data", tmp_path / "unlabelled.npz")
    assert code == 2 and "no 'labels' array" in err
    code, _, err = run_cli(
        capsys, "bench", model, "--metric", "f1", "--accuracy-data", tmp_path / "val.npz"
    )
    assert code == 2 and "choose one of accuracy, top5, auc, mse, cosine" in err


# --------------------------------------------------------------------- mixed shapes


def test_mix_parsing_and_seeded_order(tmp_path):
    from onnxbench.measure.shape_mix import draw_order, parse_mix

    assert parse_mix("16:1,64:3") == [(16, 0.25), (64, 0.75)]
    assert parse_mix([16, 64]) == [(16, 0.5), (64, 0.5)]
    assert parse_mix({128: 2, 16: 2}) == [(16, 0.5), (128, 0.5)]
    (tmp_path / "lengths.txt").write_text("12\n40\n12\n12\n")
    assert parse_mix(f"@{tmp_path / 'lengths.txt'}") == [(12, 0.75), (40, 0.25)]
    assert parse_mix({"file": str(tmp_path / "lengths.txt")}) == [(12, 0.75), (40, 0.25)]
    mix = [(8, 0.5), (64, 0.5)]
    assert draw_order(mix, 50, 1) == draw_order(mix, 50, 1) != draw_order(mix, 50, 2)
    with pytest.raises(UserError, match="one whole number"):
        (tmp_path / "bad.txt").write_text("12 x\n")
        parse_mix(f"@{tmp_path / 'bad.txt'}")


def test_a_mixed_shape_case_gives_per_length_latency_and_the_mix_percentiles(tmp_path, capsys):
    rng = np.random.default_rng(0)
    g = helper.make_graph(
        [
            helper.make_node("Gather", ["emb", "ids"], ["e"]),
            helper.make_node("MatMul", ["e", "w"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", 64])],
        [
            numpy_helper.from_array(rng.standard_normal((100, 64)).astype(np.float32), "emb"),
            numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "w"),
        ],
    )
    path = tmp_path / "seq.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    result = _bench(capsys, tmp_path, path, "--seq-mix", "8:0.5,2048:0.5", "--runs", "60",
                    "--warmup", "2", "--threads", "1")
    mix = result["mix"]
    short, long = mix["per_shape"]
    assert (short["seq"], long["seq"]) == (8, 2048) and short["n"] + long["n"] == 60
    assert short["n"] > 10 and long["n"] > 10  # a seeded random draw, about half each
    assert long["p50"] > short["p50"]  # 256× the work
    assert mix["overall"]["n"] == 60 == result["stats"]["n"]
    assert mix["overall"]["p99"] == pytest.approx(result["stats"]["p99"], abs=1e-6)
    assert result["case"]["seq"] is None and "_smix_" in result["case_id"]
    from onnxbench.report import write_reports

    (run_dir,) = (tmp_path / "run").iterdir()  # the one run directory bench made
    md = write_reports(run_dir, ["md"])[0].read_text()
    assert "Mixed shapes: latency per sequence length" in md and "**mix (all)**" in md


def test_a_suite_on_real_inputs_or_a_shape_mix_passes_the_plan_check(model, tmp_path, capsys):
    """``run`` sizes a plan's inputs before anything runs: a case on the user's own file is
    not sized from the graph (its seq comes from the file), a mix at its longest length."""
    a = _arrays(batch=4)
    np.savez(tmp_path / "in.npz", ids=a["ids"], feats=a["feats"])
    suite = tmp_path / "real.yaml"
    suite.write_text(f"suite: real\ncases:\n  - model: {model}\n    runtimes: [ort-cpu]\n"
                     f"    batch: [4]\n    inputs: {tmp_path / 'in.npz'}\n"
                     "    values: {sr: 16000}\n"
                     f"  - model: {model}\n    runtimes: [ort-cpu]\n    batch: [2]\n"
                     "    seq_mix: {8: 0.5, 16: 0.5}\n    values: {sr: 16000}\n")
    code, _out, err = run_cli(capsys, "run", "--suite", suite, "--dry-run")
    assert code == 0, err
