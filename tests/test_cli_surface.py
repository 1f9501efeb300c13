"""The command line's surface: --version, flags shown as flags, a zoo listing that imports
no framework, and one meaning per option name across every command."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from tests.clitools import run_cli

from onnxbench import __version__

HEAVY = ("torch", "tensorflow", "transformers", "deepctr_torch", "onnxruntime", "onnx")


def _commands():
    import typer

    from onnxbench.cli import app

    group = typer.main.get_command(app)
    return group, dict(group.commands)


def test_version_prints_the_package_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    assert out.startswith(f"onnxbench {__version__} (") and "Python" in out


@pytest.mark.parametrize("command", [None, "bench", "run", "load", "report", "zoo", "ab"])
def test_help_shows_no_type_beside_a_flag(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run_cli(capsys, *([command] if command else []), "--help")
    assert code == 0
    assert ("--help" in out and "--json" in out) or command is None
    assert "<bool>" not in out, out


def test_zoo_lists_names_without_importing_a_framework():
    code = ("import json, sys; from onnxbench.cli import main; main(['zoo', '--json']); "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    rows = json.loads(done.stdout)["models"]
    assert {"dcnv2", "moe", "bert"} <= {r["model"] for r in rows}
    assert all(r["params"] is None and r["inputs"] for r in rows)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_zoo_counts_parameters_of_one_named_model(capsys):
    code, out, _ = run_cli(capsys, "zoo", "moe", "--json")
    assert code == 0
    rows = json.loads(out)["models"]
    assert rows and all(isinstance(r["params"], int) and r["params"] > 0 for r in rows)
    code, out, _ = run_cli(capsys, "zoo", "moe")
    assert re.search(r"params", out)
