"""The onnxbench command line: the only place that prints.

Each command group lives in its own module with a ``register(app)`` function; this module
builds the typer app and turns UserError / CheckFailed into one line and an exit code.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from onnxbench.core.errors import CheckFailed, UserError


def quiet_flags(params: list[Any]) -> list[Any]:
    """A flag takes no value: no ``<bool>`` beside it in ``--help`` (typer >= 0.20 shows its
    type unless the metavar is empty). Applied to every command's flags, ``--help`` included."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class OnnxbenchGroup(TyperGroup):
    """The app's group: every command it hands out has its flags shown as flags."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            quiet_flags(cmd.get_params(ctx))
        return cmd

    def get_params(self, ctx: Any) -> list[Any]:
        return quiet_flags(super().get_params(ctx))


app = typer.Typer(
    name="onnxbench",
    cls=OnnxbenchGroup,
    help="Does it export, which runtime for which load, and what does optimisation buy?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def version_line() -> str:
    """``onnxbench 0.1.0 (onnxruntime 1.32.0, torch 2.13.0+cpu, Python 3.11.7)``: read from
    the installed packages' metadata, nothing imported."""
    import platform
    from importlib import metadata

    from onnxbench import __version__

    found = []
    for name in ("onnxruntime", "onnxruntime-gpu", "torch"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return f"onnxbench {__version__} ({', '.join([*found, 'Python ' + platform.python_version()])})"


def _version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                       help="print the version and exit")) -> None:
    """Does it export, which runtime for which load, and what does optimisation buy?"""
    # an explicit callback keeps typer in group mode even while one command is registered
    # (otherwise `onnxbench env` fails with "unexpected extra argument (env)")

# one module per command group; each owns its commands
from onnxbench.cli import (  # noqa: E402
    ab_cmd,
    bench_cmd,
    env_cmd,
    export_cmd,
    load_cmd,
    optimize_cmd,
    profile_cmd,
    report_cmd,
    run_cmd,
    tune_cmd,
    zoo_cmd,
)

for _module in (env_cmd, bench_cmd, zoo_cmd, export_cmd, run_cmd, report_cmd, ab_cmd,
                optimize_cmd, profile_cmd, load_cmd, tune_cmd):
    _module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; user errors become one line on stderr and exit code 2."""
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except UserError as exc:
        print(f"onnxbench: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except CheckFailed as exc:
        print(f"onnxbench: check failed: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:  # full disk, read-only, permissions, a file in the way: one line
        from onnxbench.core.errors import os_error_message

        print(f"onnxbench: error: {os_error_message(exc)}", file=sys.stderr)
        sys.exit(UserError.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("onnxbench: aborted", file=sys.stderr)
        sys.exit(130)
    except _CLICK_ERRORS as exc:
        # usage errors from the parser itself (unknown option, bad type): one line, exit 2
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `onnxbench`: help, not an error
            print(exc.format_message())
            sys.exit(0)
        print(f"onnxbench: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)


if TYPE_CHECKING:
    class _UsageError(Exception):
        """What mypy needs of click's ClickException (its import is dynamic)."""

        def format_message(self) -> str: ...


def _click_errors() -> tuple[type[_UsageError], ...]:
    """The parser's usage-error types: typer >= 0.20 vendors click as ``typer._click`` (click
    itself need not be installed: it is not a dependency); older typer uses click."""
    found: list[type[_UsageError]] = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(name).ClickException)
        except ImportError:
            continue
    return tuple(found)


_CLICK_ERRORS = _click_errors()
