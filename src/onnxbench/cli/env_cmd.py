"""``onnxbench env``: the measurement-environment table every benchmark carries."""

from __future__ import annotations

import json

import typer


def env(json_out: bool = typer.Option(False, "--json", help="print one JSON document")) -> None:
    """Show the machine and software this tool measures on (CPU, RAM, GPUs, versions)."""
    from onnxbench.isolation import env as env_mod

    data = env_mod.collect()
    if json_out:
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    from rich.table import Table

    from onnxbench.cli.common import console as make_console

    table = Table(title="Measurement environment", show_header=True)
    table.add_column("Field", style="bold")
    table.add_column("Value")
    for key, value in env_mod.as_rows(data):
        table.add_row(key, value)
    make_console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``env`` command to the app."""
    app.command("env")(env)
