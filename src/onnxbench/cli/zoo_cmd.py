"""``onnxbench zoo``: the built-in models, their configs and parameter counts."""

from __future__ import annotations

import json

import typer


def _human(n: int | None) -> str:
    """1234567 -> '1.23M' (a table cell); the JSON keeps the exact count."""
    if n is None:
        return "n/a (pip install 'onnxbench[tf]')"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def zoo(model: str | None = typer.Argument(None, help="only this model (a zoo name or "
                                              "path/to/file.py:factory)"),
        params: bool = typer.Option(False, "--params",
                                    help="count every model's parameters (builds each model: "
                                         "seconds each); on by default for one MODEL"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON document")) -> None:
    """List the zoo's models with their configs, inputs and settings (instant: nothing heavy
    is imported); parameter counts with --params or for one MODEL."""
    from rich.table import Table

    from onnxbench.cli.common import console as make_console
    from onnxbench.model.zoo.catalog import describe_zoo

    counted = params or model is not None
    rows = describe_zoo(model, params=counted)
    if as_json:
        typer.echo(json.dumps({"models": rows}, indent=1))
        return
    table = Table(title="onnxbench zoo")
    columns = ("model", "config", *(("params",) if counted else ()), "inputs", "settings")
    for col in columns:
        table.add_column(col, justify="right" if col in ("params", "inputs") else "left")
    for r in rows:
        config = f"{r['config']} *" if r["default"] else r["config"]
        cells = [r["model"], config, *((_human(r["params"]),) if counted else ()),
                 str(len(r["inputs"])), r["settings"]]
        table.add_row(*cells)
    console = make_console()
    console.print(table)
    console.print("* default config; " + ("exact counts with --json" if counted else
                                          "parameter counts with --params"), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``onnxbench zoo`` to the app."""
    app.command("zoo")(zoo)
