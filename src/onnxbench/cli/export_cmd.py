"""``onnxbench export | verify | lint | inspect``: does it export, and is the graph sound?"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer

from onnxbench.cli.common import console, fit_columns, parse_int_list
from onnxbench.cli.flags import alias
from onnxbench.cli.flags import option as opt
from onnxbench.core.errors import CheckFailed, UserError
from onnxbench.quality.parity import DEFAULT_ATOL, DEFAULT_RTOL, tolerances

RTOL_HELP = f"relative tolerance of the parity check (default {DEFAULT_RTOL:g})"
ATOL_HELP = f"absolute tolerance of the parity check (default {DEFAULT_ATOL:g})"
JSON_HELP = "print one JSON document instead of tables"


def _esc(text: Any) -> str:
    """Escape rich markup: shapes such as [batch, 4, 1] would be eaten as tags."""
    from rich.markup import escape

    return escape(str(text))


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def _failed_op(error: str | None) -> str:
    """The op type ORT failed in ("Concat"), from its long message; "" when it names none."""
    match = re.search(r"running (\S+) node\.", error or "")
    return match.group(1) if match else ""


def _cell_text(cell) -> str:
    if cell is None or cell.status == "not-run":
        return "·"
    if cell.status == "ort-error":
        op = _failed_op(cell.error)  # the whole message is printed below the table
        return f"[red]✗ ORT{': ' + op if op else ' error'}[/red]"
    mark = "[green]✓[/green]" if cell.status == "pass" else "[red]✗[/red]"
    sets = getattr(cell, "sets", 1)
    failed = len(getattr(cell, "failed_sets", []))
    tail = f" ({failed}/{sets})" if failed and sets > 1 else ""
    value = cell.max_abs if cell.max_abs is not None else float("nan")
    if value == 0:
        return f"{mark} 0{tail}"
    return (f"{mark} {value:.0e}{tail}" if cell.max_abs is not None
            else f"{mark} {_esc(cell.error)}")


# the matrix's columns a narrow terminal may go without (they are in --json)
MATRIX_OPTIONAL = (("opset", "nodes"), "size", "export s")


def _matrix_table(matrix, out):
    """The exporter matrix, fitted to ``out``: the variant (``+pad2``, ``+fix`` rows differ
    only there), status, lint and parity cells never wrap; opset, nodes, size and export
    time are left out, in that order, where the terminal is too narrow."""
    from rich import box
    from rich.table import Table

    title = f"exporter matrix: {matrix.model}" + (f" ({matrix.config})" if matrix.config else "")
    facts = ("export s", "opset", "nodes", "size")

    def build(drop: list[str]) -> Table:
        table = Table(title=f"{title}  rtol={matrix.rtol:g} atol={matrix.atol:g}",
                      title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        cols = [c for c in ("variant", "status", *facts, "lint") if c not in drop]
        for col in cols:
            table.add_column(col, justify="left" if col in ("variant", "status") else "right",
                             no_wrap=col not in facts)
        for key in matrix.keys:
            table.add_column(key, justify="left", no_wrap=True)
        for row in matrix.rows:
            cells = _matrix_cells(row)
            table.add_row(*[cells[c] for c in cols],
                          *[_cell_text(row.cells.get(k)) if row.export.ok else ""
                            for k in matrix.keys])
        return table

    return fit_columns(build, out, MATRIX_OPTIONAL)


def _matrix_cells(row) -> dict[str, str]:
    res = row.export
    errors = sum(f.severity == "error" for f in row.lint)
    lint_text = (f"[red]{errors} err[/red]" if errors else "") + \
        (f" {len(row.lint) - errors} warn" if len(row.lint) > errors else "")
    return {"variant": row.label, "status": "ok" if res.ok else "[red]failed[/red]",
            "export s": f"{res.export_s:.2f}" if res.export_s is not None and not row.pad_to
            else "", "opset": str(res.opset or ""), "nodes": str(res.nodes or ""),
            "size": _size(res.size_bytes), "lint": lint_text.strip() or ("0" if res.ok else "")}


def _findings_table(title: str, findings: list):
    from rich.table import Table

    table = Table(title=_esc(title))
    for col in ("severity", "rule", "op", "node", "message"):
        table.add_column(col, overflow="fold")
    for f in findings:
        style = "red" if f.severity == "error" else "yellow"
        table.add_row(f"[{style}]{f.severity}[/{style}]", f.rule, f.op, _esc(f.node),
                      _esc(f.message))
    return table


def _print_matrix(matrix, records: list[str]) -> None:
    out = console()
    out.print(_matrix_table(matrix, out))
    sets = getattr(matrix, "input_sets", 1)
    per = (f" (worst of {sets} seeded input sets per shape; (k/{sets}): k of them failed)"
           if sets > 1 else "")
    out.print(f"✓/✗ max abs difference vs {matrix.reference_label}{per}; · not run (pad rows "
              "change batch 1 only)")
    for row in matrix.rows:
        if not row.export.ok:
            out.print(f"[red]{row.label} failed:[/red] {_esc(row.export.error)}")
        for note in getattr(row, "notes", []):
            out.print(f"[yellow]{_esc(row.label)}:[/yellow] {_esc(note)}"
                      if not note.startswith(row.label) else f"[yellow]{_esc(note)}[/yellow]")
    errors = {(row.label, c.error) for row in matrix.rows for c in row.cells.values()
              if c.status == "ort-error"}
    for label, error in sorted(errors):
        out.print(f"[red]{label} ORT error:[/red] {_esc(error)}")
    seen = set()
    for row in matrix.rows:
        if row.lint and row.export.path not in seen:
            seen.add(row.export.path)
            out.print(_findings_table(f"lint: {row.export.path}", row.lint))
    for note in matrix.notes:
        out.print(f"note: {_esc(note)}")
    written = sorted({r.export.path for r in matrix.rows if r.export.ok})
    out.print("wrote: " + _esc(", ".join([*written, matrix.reference, *records])))


def export_command(
    model: str = typer.Argument(..., help="zoo name or path/to/file.py:factory"),
    config: str | None = opt("--config", None, "named config of the model"),
    exporter: str = opt("--exporter", "dynamo", "dynamo | torchscript | jit-trace | jit-script "
                                                "| tf2onnx (Keras models) | all"),
    opset: int | None = typer.Option(None, "--opset", help="ONNX opset (default: exporter's)"),
    fix: str | None = typer.Option(None, "--fix", help="export-side fix: squeeze-dims, "
                                   "jit-properties (comma-separated to combine)"),
    out: Path | None = opt("--out", None, "output folder (default exports/<model>[_<config>])"),
    weights: Path | None = typer.Option(None, "--weights", help="local weights folder"),
    batch: str = opt("--batch", "1,2,8,64", "batch sizes to check parity at"),
    seq: str | None = opt("--seq", None, "sequence lengths (text models)"),
    rtol: float = opt("--rtol", DEFAULT_RTOL, RTOL_HELP),
    atol: float = opt("--atol", DEFAULT_ATOL, ATOL_HELP),
    input_sets: int = typer.Option(3, "--input-sets", min=1, metavar="N",
                                   help="seeded input sets checked per shape (1 = one)"),
    as_json: bool = opt("--json", False, JSON_HELP),
    batches: str | None = alias("--batches", "--batch", None),
    seqs: str | None = alias("--seqs", "--seq", None),
) -> None:
    """Export a model with one exporter (or `all`: the exporter matrix), lint every file
    written, and check parity against the source model (PyTorch or TensorFlow) at every
    batch size."""
    from onnxbench.build.export.matrix import export_matrix, model_stem
    from onnxbench.core.options import ExportOptions, checked
    from onnxbench.model.frameworks import framework_of, known_exporters
    from onnxbench.model.zoo import resolve

    tolerances(rtol, atol, ("--rtol", "--atol"))
    checked(ExportOptions, "opset", opset, "--opset")
    choices = (*known_exporters(), "all")
    if exporter not in choices:
        raise UserError(f"--exporter {exporter!r}: choose one of {', '.join(choices)}")
    options: dict[str, Any] = {}
    if weights is not None:
        if not weights.exists():
            raise UserError(f"--weights {str(weights)!r}: no such folder; give the folder "
                            "holding the model's config.json and weights")
        options["weights"] = str(weights)
    out_dir = out or Path("exports") / (model_stem(model) + (f"_{config}" if config else ""))
    common: dict[str, Any] = dict(
                  opset=opset, out_dir=out_dir, batches=parse_int_list("--batch", batches or batch),
                  seqs=parse_int_list("--seq", seqs or seq) if seqs or seq else None,
                  rtol=rtol, atol=atol,
                  options=options)
    fw = framework_of(resolve(model))
    if exporter != "all" and exporter not in fw.exporters:
        raise UserError(f"--exporter {exporter!r}: {model} is a {fw.label} model; choose one "
                        f"of {', '.join(fw.exporters)} or all")
    matrix = export_matrix(model, config, fw.exporters if exporter == "all" else (exporter,),
                           fix=fix, all_mode=exporter == "all", input_sets=input_sets,
                           **common)
    from onnxbench.build.export.matrix import RECORD
    from onnxbench.report.matrix_md import write_matrix_markdown

    document = write_matrix_markdown(out_dir)
    if as_json:
        typer.echo(json.dumps(matrix.to_dict(), indent=1))
    else:
        _print_matrix(matrix, [str(Path(out_dir) / RECORD), str(document)])
    if not any(r.export.ok for r in matrix.rows):
        raise CheckFailed(f"{model}: no exporter produced a graph")


def verify_command(
    onnx_path: Path = typer.Argument(..., help="the .onnx file to check"),
    reference: Path | None = opt("--reference", None, "reference.json from export"),
    inputs: Path | None = opt("--inputs", None, "your inputs instead: .npz, .npy folder or "
                              "input_N.pb folder (with output_N.pb or arrays named like the "
                              "outputs to compare with)"),
    against: Path | None = typer.Option(None, "--against", metavar="FILE",
                                        help="with --inputs: compare "
                                           "with this .onnx's outputs on the same inputs"),
    value: list[str] = opt("--value", [], "with --inputs: NAME=NUMBER fills an input"),
    rtol: float = opt("--rtol", DEFAULT_RTOL, RTOL_HELP),
    atol: float = opt("--atol", DEFAULT_ATOL, ATOL_HELP),
    as_json: bool = opt("--json", False, JSON_HELP),
) -> None:
    """Check an ONNX file on ONNX Runtime (CPU) against a reference.json, or on your own
    inputs against their expected outputs or another .onnx; exit 1 on mismatch."""
    from rich.table import Table

    from onnxbench.build.export.reference import verify, verify_inputs
    from onnxbench.model.inputs import parse_value

    tolerances(rtol, atol, ("--rtol", "--atol"))
    if (reference is None) == (inputs is None):
        raise UserError("verify: give --reference reference.json or --inputs FILE (one of them)")
    if against is not None and inputs is None:
        raise UserError("--against: compares outputs on --inputs; give --inputs FILE too")
    if inputs is not None:
        report = verify_inputs(onnx_path, inputs, against, rtol, atol,
                               dict(parse_value(v) for v in value))
    elif reference is not None:
        report = verify(onnx_path, reference, rtol, atol)
    if as_json:
        typer.echo(json.dumps(report, indent=1))
    else:
        table = Table(title=f"verify {onnx_path}  rtol={rtol:g} atol={atol:g}")
        for col in ("shape", "result", "max abs", "max rel", "min atol", "min rtol", "detail"):
            table.add_column(col, overflow="fold")
        for key, case in report["cases"].items():
            mark = ("[green]pass[/green]" if case["passed"] else
                    "[red]ORT error[/red]" if case.get("error") else "[red]FAIL[/red]")
            nums = [_num(case.get(k)) for k in ("max_abs", "max_rel", "min_atol", "min_rtol")]
            detail = case.get("error") or case.get("reason") or _first_bad(case)
            table.add_row(key, mark, *nums, _esc(detail))
        out = console()
        out.print(table)
        if report["omitted"]:
            out.print(f"not in the reference (size cap): {', '.join(report['omitted'])}")
    if not report["passed"]:
        raise CheckFailed(verify_failure(str(onnx_path), report["cases"], rtol, atol))


def verify_failure(path: str, cases: dict[str, dict[str, Any]], rtol: float, atol: float) -> str:
    """The last line of a failed ``verify``: where ONNX Runtime errored (with its first
    line) apart from where the outputs differ."""
    errored = {k: c["error"] for k, c in cases.items() if not c["passed"] and c.get("error")}
    differ = [k for k, c in cases.items() if not c["passed"] and k not in errored]
    parts = []
    if errored:
        first = next(iter(errored))
        parts.append(f"ONNX Runtime failed at {', '.join(errored)} (at {first}: "
                     f"{errored[first]})")
    if differ:
        parts.append(f"mismatch at {', '.join(differ)} (rtol={rtol:g}, atol={atol:g})")
    return f"{path}: " + "; ".join(parts)


def _num(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else ("" if value is None else str(value))


def _first_bad(case: dict[str, Any]) -> str:
    for out in case.get("outputs", []):
        if not out["passed"]:
            return out.get("reason") or f"{out['name']}: {out['mismatches']}/{out['size']} differ"
    return ""


def lint_command(
    onnx_path: Path = typer.Argument(..., help="the .onnx file to lint"),
    as_json: bool = opt("--json", False, JSON_HELP),
) -> None:
    """Find dynamic-shape hazards statically (e.g. Squeeze without axes); exit 1 on errors."""
    from onnxbench.build.export.lint import has_errors, lint
    from onnxbench.model.inputs import load_onnx

    findings = lint(load_onnx(onnx_path))
    if as_json:
        typer.echo(json.dumps({"model": str(onnx_path), "errors": has_errors(findings),
                               "findings": [f.to_dict() for f in findings]}, indent=1))
    elif findings:
        console().print(_findings_table(f"lint: {onnx_path}", findings))
    else:
        console().print(f"lint: {_esc(onnx_path)}: no hazards found")
    if has_errors(findings):
        n = sum(f.severity == "error" for f in findings)
        raise CheckFailed(f"{onnx_path}: {n} error finding(s)")


def inspect_command(
    onnx_path: Path = typer.Argument(..., help="the .onnx file to inspect"),
    as_json: bool = opt("--json", False, JSON_HELP),
    netron: bool = typer.Option(False, "--netron", help="open the graph in Netron (extra viz)"),
) -> None:
    """Inputs/outputs with symbolic dims, opset, producer, parameters, op histogram."""
    from onnxbench.build.export.inspect import inspect_model, open_netron

    info = inspect_model(onnx_path)
    if as_json:
        typer.echo(json.dumps(info, indent=1))
    else:
        _print_inspect(info)
    if netron:
        address = open_netron(onnx_path)
        if not as_json:
            console().print(f"netron: serving {onnx_path} at {address}")


def _print_inspect(info: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    producer = f"{info['producer']['name']} {info['producer']['version']}".strip()
    opsets = ", ".join(f"{d} {v}" for d, v in info["opsets"].items())
    out.print(f"{_esc(info['path'])}: {_size(info['file_bytes'])}, producer {producer or '?'}, "
                  f"opset {opsets}, IR {info['ir_version']}")
    held = f"{info['initializers']} initializers"
    if info.get("constant_weights"):
        held += (f" and {info['constant_weights']} Constant nodes "
                 f"({info['constant_parameters']:,} parameters)")
    out.print(f"parameters: {info['parameters']:,} ({_size(info['parameter_bytes'])} in "
              f"{held}); nodes: {info['nodes']}")
    io_table = Table(title="inputs and outputs")
    for col in ("kind", "name", "dtype", "shape"):
        io_table.add_column(col)
    for kind in ("inputs", "outputs"):
        for v in info[kind]:
            shape = "?" if v["shape"] is None else "[" + ", ".join(map(str, v["shape"])) + "]"
            io_table.add_row(kind[:-1], _esc(v["name"]), v["dtype"], _esc(shape))
    out.print(io_table)
    ops = Table(title="op histogram")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, count in info["ops"].items():
        ops.add_row(_esc(op), str(count))
    out.print(ops)


def register(app: typer.Typer) -> None:
    """Add ``export``, ``verify``, ``lint`` and ``inspect`` to the app."""
    app.command("export")(export_command)
    app.command("verify")(verify_command)
    app.command("lint")(lint_command)
    app.command("inspect")(inspect_command)
