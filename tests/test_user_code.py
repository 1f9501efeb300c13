"""A user's model code never runs in onnxbench's own process (issue 25, item 5).

A ``file.py:factory`` is imported, constructed and run (once, to learn its outputs) in a
worker; whatever it does there (segfault, hang, raise, exit) is one line and exit 2, and
onnxbench itself goes on. The segfault and the hang run onnxbench as a subprocess: without
the isolation they would take the test process down (or hold it forever).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clitools import run_cli as cli

SRC = str(Path(__file__).resolve().parents[1] / "src")

FORWARD = {
    "segfault": "os.kill(os.getpid(), signal.SIGSEGV)",
    "hang": "time.sleep(3600)",
    "raise": "raise ValueError('forward is broken here')",
    "exit": "os._exit(7)",
}


def factory(tmp_path: Path, forward: str, marker: Path | None = None) -> str:
    """A factory file whose module's forward does ``forward``; importing it appends the
    importing process's pid to ``marker``."""
    log = f"open({str(marker)!r}, 'a').write(f'{{os.getpid()}}\\n')\n" if marker else ""
    (tmp_path / "user_model.py").write_text(textwrap.dedent(f"""\
        import os, signal, time
        import torch
        {log}
        class Model(torch.nn.Module):
            def forward(self, x):
                {forward}
                return x

        def make():
            return Model(), {{"x": torch.randn(2, 4)}}
        """))
    return f"{tmp_path / 'user_model.py'}:make"


DRIVER = """
import os, sys
import onnxbench.model.zoo.external as external
external.CHECK_TIMEOUT_S = float(os.environ.get("CHECK_TIMEOUT_S", "300"))
from onnxbench.cli import main
main(sys.argv[1:])
"""


def _onnxbench(*argv: str, check_s: float = 300, limit_s: float = 600
               ) -> subprocess.CompletedProcess:
    """``onnxbench ARGV`` in a subprocess, the factory check's time limit ``check_s``."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "CHECK_TIMEOUT_S": str(check_s)}
    return subprocess.run([sys.executable, "-c", DRIVER, *argv], capture_output=True,
                          text=True, timeout=limit_s, env=env)


@pytest.mark.parametrize("what, words", [
    ("segfault", "crashed (worker died with SIGSEGV)"),
    ("hang", "did not finish in time (timed out after 5 s)"),
    ("exit", "worker exited with code 7"),
])
def test_factory_that_kills_its_process_is_one_line_and_onnxbench_survives(what, words,
                                                                          tmp_path):
    model = factory(tmp_path, FORWARD[what])
    proc = _onnxbench("bench", model, "--out", str(tmp_path / "never"),
                      check_s=5 if what == "hang" else 300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, proc.stderr)
    assert "user_model.py:make" in lines[0] and words in lines[0], lines[0]
    assert not (tmp_path / "never").exists()


def test_factory_whose_forward_raises_is_one_line_and_never_ran_here(tmp_path, capsys):
    marker = tmp_path / "imported-by"
    model = factory(tmp_path, FORWARD["raise"], marker)
    code, _out, err = cli(capsys, "bench", model, "--out", str(tmp_path / "never"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "fails on its own example inputs" in err and "forward is broken here" in err
    pids = [int(p) for p in marker.read_text().split()]
    assert pids and os.getpid() not in pids  # imported in a worker only


def test_export_of_a_segfaulting_factory_is_one_line(tmp_path):
    """``export`` builds and runs the model too: in a worker, its output in export.log."""
    model = factory(tmp_path, FORWARD["segfault"])
    proc = _onnxbench("export", model, "--exporter", "torchscript", "--out",
                      str(tmp_path / "exp"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, proc.stderr)
    assert "SIGSEGV" in lines[0] and "user_model.py:make" in lines[0], lines[0]


def test_suite_and_ab_check_a_factory_in_a_worker_too(tmp_path, capsys):
    model = factory(tmp_path, FORWARD["raise"], tmp_path / "imported-by")
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: s\ncases:\n  - model: {model}\n")
    for argv in (["run", "--suite", str(suite), "--dry-run"],
                 ["ab", model, "--runtime", "ort-cpu,torch-cpu", "--out", str(tmp_path / "r")]):
        code, _out, err = cli(capsys, *argv)
        assert code == 2 and "forward is broken here" in err, err
    assert os.getpid() not in [int(p) for p in (tmp_path / "imported-by").read_text().split()]


def test_optimize_does_not_build_a_factory_in_onnxbench(tmp_path, capsys):
    """``--truncate-layers`` rebuilds the model named by ``--model-name`` in this process:
    a factory there is refused (truncate it in a suite, where a worker builds it)."""
    from test_worker import write_tiny_onnx

    marker = tmp_path / "imported-by"
    model = factory(tmp_path, FORWARD["raise"], marker)
    code, _out, err = cli(capsys, "optimize", str(write_tiny_onnx(tmp_path / "t.onnx")),
                          "--truncate-layers", "1", "--model-name", model,
                          "--out", str(tmp_path / "o"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--model-name" in err and "runs only in workers" in err
    assert not marker.exists() and not (tmp_path / "o").exists()
