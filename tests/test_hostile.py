"""Hostile files: a run directory, a weights folder or a suite that tries to run code or
eat the machine is refused in one line, and the code never runs.

Each crafted pickle, when unpickled without ``weights_only``, creates a marker file; every
test asserts that the marker does not appear (and, where ``--trust`` is given on purpose,
that it then does: the gate is the flag, not luck).
"""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest
import torch

from clitools import run_cli as cli
from onnxbench.core.case import Case
from onnxbench.core.errors import UserError
from onnxbench.core.policy import MeasurePolicy
from onnxbench.model.weights import load_state, save_state
from onnxbench.suite import parse_suite
from onnxbench.suite.plan import Plan

FAST = MeasurePolicy(warmup=1, min_runs=3, max_runs=3, min_time_s=0.0)


class Payload:
    """Unpickling this (without weights_only) creates ``marker``: stands for any code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def crafted_pickle(path: Path, marker: Path) -> Path:
    torch.save({"weight": Payload(marker)}, path)
    return path


def crafted_run_dir(root: Path, case: Case, artifact_meta: dict | None) -> Path:
    """A run directory as someone else might hand it over: a plan with one pending case,
    and (optionally) an artifact record for its key."""
    run = root / "handed-over"
    for sub in ("raw", "configs", "summary"):
        (run / sub).mkdir(parents=True)
    plan = Plan("handed-over", [case], {case.case_id: 60.0})
    (run / "configs" / "plan.json").write_text(plan.to_json())
    if artifact_meta is not None:
        folder = run / "artifacts" / case.artifact_key
        folder.mkdir(parents=True)
        meta = {"status": "ok", "key": case.artifact_key, "model": case.model,
                "config": case.config, "exporter": None, "options": {}, "onnx": None,
                **artifact_meta}
        (folder / "artifact.json").write_text(json.dumps(meta))
    return run


MOE_TORCH = Case(model="moe", config="default", runtime="torch-cpu", batch=2, measure=FAST)


def test_crafted_model_pt_in_a_run_dir_does_not_run_on_resume(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    # "torch_state" is how runs before safetensors named their weights: still read, safely
    run = crafted_run_dir(tmp_path, MOE_TORCH, {"torch_state": "model.pt"})
    crafted_pickle(run / "artifacts" / MOE_TORCH.artifact_key / "model.pt", marker)
    code, out, err = cli(capsys, "run", "--resume", str(run), "--quiet", "--json")
    # the case ran and failed (the run itself did not crash): no case succeeded, so exit 1
    assert code == 1 and "no case succeeded" in err.splitlines()[-1], err
    (result,) = json.loads(out)["summary"]["rows"]
    assert result["status"] == "failed"
    assert "loading it could run code, so it is refused" in result["reason"]
    (raw,) = (run / "raw").glob("*/result.json")
    assert "model.pt: not a weights-only PyTorch file" in json.loads(raw.read_text())["traceback"]
    assert not marker.exists()


def test_weights_load_stays_weights_only_when_torch_is_told_otherwise(tmp_path, monkeypatch):
    """TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 restores torch's old pickle default; onnxbench
    passes weights_only=True explicitly, which that variable cannot override."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "PWNED"
    path = crafted_pickle(tmp_path / "model.pt", marker)
    with pytest.raises(UserError, match="not a weights-only PyTorch file"):
        load_state(torch.nn.Linear(2, 2), path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the control: this file does run code
    assert marker.exists()


def test_artifacts_are_saved_as_safetensors_and_load_back_with_tied_weights(tmp_path):
    module = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False))
    module[1].weight = module[0].weight  # tied, as language models do
    name = save_state(module, tmp_path)
    assert name.endswith(".safetensors") and (tmp_path / name).read_bytes()[:1] != b"\x80"
    fresh = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False))
    fresh[1].weight = fresh[0].weight
    load_state(fresh, tmp_path / name)
    assert torch.equal(fresh[0].weight, module[0].weight)


@pytest.mark.parametrize("how", ["relative path", "symlink"])
def test_artifact_record_pointing_outside_the_run_dir_is_refused(how, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    outside = crafted_pickle(tmp_path / "elsewhere.pt", marker)
    if how == "relative path":
        run = crafted_run_dir(tmp_path, MOE_TORCH, {"state_file": "../../../elsewhere.pt"})
    else:
        run = crafted_run_dir(tmp_path, MOE_TORCH, {"state_file": "model.pt"})
        (run / "artifacts" / MOE_TORCH.artifact_key / "model.pt").symlink_to(outside)
    for extra in ([], ["--trust"]):  # --trust covers the plan, never artifact records
        code, _out, err = cli(capsys, "run", "--resume", str(run), "--quiet", *extra)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        named = "state_file" if how == "relative path" else "model.pt: a symbolic link"
        assert "outside" in err and named in err, err
    assert not list((run / "raw").iterdir()) and not marker.exists()


FACTORY = """\
from pathlib import Path
Path({marker!r}).write_text("imported")

import torch

def make():
    return torch.nn.Linear(4, 2), {{"x": torch.randn(2, 4)}}
"""


def test_plan_naming_code_is_refused_on_resume_without_trust(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    code_file = tmp_path / "payload.py"
    code_file.write_text(FACTORY.format(marker=str(marker)))
    case = Case(model=f"{code_file}:make", runtime="test-skip", batch=1, measure=FAST)
    run = crafted_run_dir(tmp_path, case, None)
    code, _, err = cli(capsys, "run", "--resume", str(run), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "code it would run" in err and "payload.py:make" in err and "--trust" in err
    assert not marker.exists() and not list((run / "raw").iterdir())
    code, _out, err = cli(capsys, "run", "--resume", str(run), "--quiet", "--trust")
    assert code == 0, err
    assert marker.exists()  # with --trust the user's code runs: the flag is the gate


def test_tune_request_naming_code_is_refused_on_resume_without_trust(tmp_path, capsys):
    """``tune --resume`` reads its request from ``tune.json``: data, like a plan."""
    marker = tmp_path / "PWNED"
    code_file = tmp_path / "payload.py"
    code_file.write_text(FACTORY.format(marker=str(marker)))
    run = crafted_run_dir(tmp_path, MOE_TORCH, None)
    (run / "tune.json").write_text(json.dumps({"request": {"model": f"{code_file}:make"}}))
    code, _, err = cli(capsys, "tune", "--resume", str(run), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "tune.json" in err and "code it would run" in err and "--trust" in err
    assert not marker.exists()


def test_pickle_weights_folder_is_refused_before_transformers_opens_it(tmp_path, capsys):
    from transformers import BertConfig

    marker = tmp_path / "PWNED"
    folder = tmp_path / "weights"
    BertConfig(vocab_size=128, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=64).save_pretrained(folder)
    crafted_pickle(folder / "pytorch_model.bin", marker)
    code, _out, err = cli(capsys, "export", "bert", "--weights", str(folder), "--out",
                         str(tmp_path / "exp"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "pytorch_model.bin" in err and "safetensors" in err and "Traceback" not in err
    assert not marker.exists()


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    """Nested YAML aliases: ``width ** levels`` leaves from a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + f"\nsuite: bomb\ncases: *a{levels - 1}\n"


def test_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path, capsys):
    text = _alias_bomb()
    assert len(text) < 700  # the probe was 613 bytes for 1.1 GB
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    tracemalloc.start()
    try:
        code, _out, err = cli(capsys, "run", "--suite", str(path), "--dry-run")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "aliases expand to more than" in err and "bomb.yaml:" in err
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB traced while refusing"


def _bomb_value(levels: int = 6, width: int = 9) -> str:
    """An alias bomb in block style (no commas: ``ab --options`` splits on them) that fits
    one command-line value: 9**6 leaves, 50 times the bound (small enough that the code
    before the bound expanded it into a plan without taking the machine down)."""
    lines = [f"a0: &a0 {'x' * width}"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i}\n" + "".join(f"- *a{i - 1}\n" for _ in range(width)))
    return "\n".join(lines)


@pytest.mark.parametrize("argv", [
    ["bench", "{tiny}", "-o", "provider_options={bomb}"],
    ["ab", "{tiny}", "--runtime", "ort-cpu", "--options", "provider_options={bomb}"],
])
def test_yaml_alias_bomb_in_an_option_value_is_refused(argv, tmp_path, capsys):
    from test_worker import write_tiny_onnx

    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    bomb = _bomb_value()
    assert len(bomb) < 700  # the issue's: 287 bytes took 478 MB
    tracemalloc.start()
    try:
        code, _out, err = cli(capsys, *[a.format(tiny=tiny, bomb=bomb) for a in argv],
                              "--out", str(tmp_path / "never"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "provider_options" in err and "aliases expand to more than" in err, err
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB traced while refusing"
    assert not (tmp_path / "never").exists()


def test_yaml_alias_bomb_in_a_run_dirs_suite_is_refused_on_resume(tmp_path, capsys):
    run = crafted_run_dir(tmp_path, MOE_TORCH, None)
    (run / "configs" / "suite.yaml").write_text(_alias_bomb())
    code, _out, err = cli(capsys, "run", "--resume", str(run), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "suite.yaml" in err and "aliases expand to more than" in err, err


def test_recursive_yaml_alias_is_refused():
    with pytest.raises(UserError, match="refers to the node that contains it"):
        parse_suite("suite: r\ncases: &c\n  - model: *c\n", "r.yaml")


def test_oversized_suite_file_is_refused_before_it_is_parsed(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text("suite: huge\n# " + "x" * (2 << 20) + "\ncases: []\n")
    code, _out, err = cli(capsys, "run", "--suite", str(path), "--dry-run")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "at most" in err, err


IMPORT_LOG = """\
import os
with open({log!r}, "a") as fh:
    fh.write(f"{{os.getpid()}}\\n")

import torch

def make():
    return torch.nn.Linear(4, 2), {{"x": torch.randn(2, 4)}}
"""


def test_factory_file_is_imported_once_per_worker_and_never_in_onnxbench(tmp_path, capsys):
    log = tmp_path / "imports.log"
    (tmp_path / "fac.py").write_text(IMPORT_LOG.format(log=str(log)))
    code, _out, err = cli(capsys, "bench", f"{tmp_path / 'fac.py'}:make", "--exporter",
                         "torchscript", "--runs", "3", "--warmup", "1", "--quiet",
                         "--out", str(tmp_path / "run"))
    assert code == 0, err
    pids = log.read_text().split()
    # the check's worker, the artifact worker, each case worker: once in each, and never
    # in onnxbench's own process
    assert len(pids) == len(set(pids)) and os.getpid() not in map(int, pids)


def test_every_file_a_plan_reads_counts_as_outside_the_run_dir(tmp_path):
    from onnxbench.suite.trust import plan_references

    run = tmp_path / "run"
    run.mkdir()
    inside = run / "artifacts" / "m.onnx"
    case = Case(model="moe", runtime="ort-cpu", batch=1, inputs=str(tmp_path / "x.npz"),
                options={"weights": str(tmp_path / "w"), "accuracy_data": str(inside),
                         "reference": str(tmp_path / "fp32.onnx")})
    code, outside = plan_references([case, Case(model=str(inside), runtime="ort-cpu",
                                                 batch=1)], run)
    assert code == [] and outside == [str(tmp_path / "x.npz"), str(tmp_path / "w"),
                                      str(tmp_path / "fp32.onnx")]
