"""Run the onnxbench CLI in-process, as a user would, for the tests of every command."""

from __future__ import annotations

from typing import NamedTuple

from onnxbench.cli import main


class CliResult(NamedTuple):
    code: int
    out: str
    err: str


def run_cli(capsys, *argv: str) -> CliResult:
    """(exit code, stdout, stderr) of ``onnxbench ARGV``; success returns without exiting."""
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
