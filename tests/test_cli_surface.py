"""The command line's surface: --version, flags shown as flags, a zoo listing that imports
no framework, and one meaning per option name across every command."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from clitools import run_cli
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


def _signature(param) -> tuple:
    """What an option name means, as far as the parser can tell: the kind of value (type,
    repeatable, flag) and its declared metavar."""
    return (param.bare_type(), bool(param.multiple), bool(param.is_flag),
            "" if param.is_flag else (param.metavar or ""))


def _option_names():
    """{name: {signature: [commands]}} over every option name (hidden ones too) of every
    command, and {short name: {long name}}."""
    group, commands = _commands()
    names: dict[str, dict[tuple, list[str]]] = {}
    shorts: dict[str, set[str]] = {}
    for cmd_name, cmd in [("(root)", group), *commands.items()]:
        for param in cmd.params:
            if param.param_type_name != "option":
                continue
            every = [*param.opts, *param.secondary_opts]
            longs = [n for n in every if n.startswith("--")]
            for name in every:
                if name.startswith("--"):
                    names.setdefault(name, {}).setdefault(_signature(param), []).append(cmd_name)
                else:
                    shorts.setdefault(name, set()).update(longs)
    return names, shorts


def test_every_option_name_has_one_meaning_across_commands():
    names, shorts = _option_names()
    clashes = {name: sigs for name, sigs in names.items() if len(sigs) > 1}
    assert not clashes, "same option name, different kinds of value:\n" + "\n".join(
        f"{name}: " + "; ".join(f"{sig} in {cmds}" for sig, cmds in sigs.items())
        for name, sigs in clashes.items())
    assert {s: longs for s, longs in shorts.items() if len(longs) > 1} == {}


def test_a_value_option_that_several_commands_take_is_declared_once():
    """A shared name lives in the registry (flags.NAMES), which says its meaning once; a
    command that declared it by hand could give it another."""
    from onnxbench.cli.flags import NAMES

    names, _ = _option_names()
    shared = {name for name, sigs in names.items()
              if sum(len(c) for c in sigs.values()) > 1 and not next(iter(sigs))[2]}
    assert shared - set(NAMES) == set()
    for name in shared:
        (sig,) = names[name]
        assert sig[3] == NAMES[name].metavar, name


@pytest.mark.parametrize(("command", "old", "new"), [
    ("ab", "--options", "--option"), ("ab", "--a-options", None), ("ab", "--b-options", None),
    ("export", "--batches", "--batch"), ("export", "--seqs", "--seq"),
    ("tune", "--runtimes", "--runtime")])
def test_old_spellings_stay_as_hidden_aliases(command, old, new, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    names, _ = _option_names()
    assert any(command in cmds for cmds in names[old].values())  # still parsed
    _, out, _ = run_cli(capsys, command, "--help")
    assert old not in out  # but not shown
    if new:
        assert new in out


def test_renamed_options_mean_one_thing():
    names, shorts = _option_names()
    assert shorts["-o"] == {"--option"} and shorts["-r"] == {"--runtime"}
    in_report = {n for n, sigs in names.items() for cmds in sigs.values() if "report" in cmds}
    assert "--runs" not in in_report and "--layout" not in in_report
    (precision,) = names["--precision"]
    assert precision[0] == "str"
    (batch,) = names["--batch"]
    assert batch[3] == "SIZES"


def test_optimize_takes_one_sequence_length(tmp_path, capsys):
    from test_worker import write_tiny_onnx

    model = write_tiny_onnx(tmp_path / "m.onnx")
    code, _, err = run_cli(capsys, "optimize", model, "--level", "basic", "--seq", "8,16")
    assert code == 2 and "--seq 8,16: optimize takes one value" in err
