"""``onnxbench optimize MODEL.onnx``: write optimised graphs and print the change report.

Thin: validates the flags, calls ``onnxbench.build.optimize.apply_optimizations``, writes the
report next to the graphs (``change_report.json``) and prints it as tables or one JSON
document. A fusion that finds nothing to fuse is not an error (exit 0, reason in the
report); a truncation beyond the model's depth is (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from onnxbench.cli.common import parse_int_list
from onnxbench.cli.flags import one_value
from onnxbench.cli.flags import option as opt
from onnxbench.core.errors import UserError


def _precision(fp16: bool, int8: str | None) -> str:
    if fp16 and int8:
        raise UserError("--fp16 and --int8: choose one precision per optimised graph")
    if int8 is not None:
        if int8 not in ("dynamic", "static"):
            raise UserError(f"--int8: unknown mode {int8!r}; choose one of: dynamic, static")
        return f"int8-{int8}"
    return "fp16" if fp16 else "fp32"


def _check_precision_flags(precision: str, keep_io_types: bool, op_block: list[str] | None,
                           calibration: str | None, int8_flags: dict[str, Any]) -> None:
    """Flags that only mean something with another: one line instead of being ignored."""
    given = [flag for flag, value in int8_flags.items() if value]
    if given and not precision.startswith("int8"):
        raise UserError(f"{given[0]}: only applies to int8 quantisation; add --int8 dynamic "
                        f"or --int8 static, or drop {given[0]}")
    if precision != "fp16" and (keep_io_types or op_block):
        flag = "--keep-io-types" if keep_io_types else "--fp16-block-op"
        raise UserError(f"{flag}: only applies to --fp16 (float16 conversion); add --fp16 "
                        f"or drop {flag}")
    if calibration is not None and precision != "int8-static":
        why = ("dynamic int8 computes its scales at run time, drop --calibration"
               if precision == "int8-dynamic" else "add --int8 static")
        raise UserError(f"--calibration {calibration}: only static int8 (--int8 static) is "
                        f"calibrated; {why}")


_QUIET_SETTINGS = {"providers", "op_types", "model_hint", "detected"}


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f}"


def _render(doc: dict[str, Any]) -> None:
    from rich.table import Table

    from onnxbench.cli.common import console as make_console

    console = make_console()
    table = Table(title="optimisation steps", title_justify="left")
    for col in ("step", "settings", "nodes", "size KB", "fused", "not fused / notes"):
        table.add_column(col, justify="right" if col in ("nodes", "size KB") else "left",
                         overflow="fold")
    table.add_row("source", Path(doc["source"]["path"]).name, str(doc["nodes_before"]),
                  _kb(doc["bytes_before"]), "", "")
    for step in doc["steps"]:
        after = step.get("after") or {}
        settings = ", ".join(f"{k}={v}" for k, v in step["settings"].items()
                             if v not in (None, [], 0, False) and k not in _QUIET_SETTINGS)
        fused = ", ".join(f"{k} {v}" for k, v in step["fused"].items())
        why = [f"{k}: {v}" for k, v in step["not_fused"].items()] + step["notes"]
        table.add_row(step["step"], settings, str(after.get("nodes", "—")),
                      _kb(after["file_bytes"]) if after else "—", fused, "\n".join(why))
    console.print(table)
    delta = Table(title="node count by op type (before → after)", title_justify="left")
    for col in ("op", "before", "after", "change"):
        delta.add_column(col, justify="left" if col == "op" else "right")
    before, after = doc["source"]["op_counts"], doc["final"]["op_counts"]
    for op, change in doc["op_delta"].items():
        delta.add_row(op, str(before.get(op, 0)), str(after.get(op, 0)), f"{change:+d}")
    console.print(delta)
    console.print(f"optimised graph: {doc['output']}", highlight=False, soft_wrap=True)


def optimize(
    model: Path = typer.Argument(..., help="the exported .onnx graph to optimise"),
    level: str | None = typer.Option(None, "--level", help="ORT offline level: basic|extended|all"),
    fuse: str | None = typer.Option(None, "--fuse",
                                    help="transformer fusion model type, e.g. bert"),
    fp16: bool = typer.Option(False, "--fp16", help="convert to float16"),
    keep_io_types: bool = typer.Option(False, "--keep-io-types",
                                       help="fp16: keep float32 inputs/outputs"),
    op_block: list[str] | None = typer.Option(None, "--fp16-block-op",
                                              help="fp16: op type kept in float32 (repeatable)"),
    int8: str | None = typer.Option(None, "--int8", help="int8 quantisation: dynamic|static"),
    calibration: str | None = typer.Option(
        None, "--calibration", help="static int8: minmax (default)|entropy|percentile"),
    per_channel: bool = typer.Option(
        False, "--per-channel", help="int8: one weight scale per output channel (ORT's "
                                     "default: per tensor)"),
    reduce_range: bool = typer.Option(False, "--reduce-range", help="int8: 7-bit weights"),
    int8_op_types: str | None = typer.Option(
        None, "--int8-op-types", help="int8: op types quantised, e.g. MatMul,Gemm (default: "
                                      "dynamic, all ORT knows; static, MatMul,Gemm,Conv,"
                                      "ConvTranspose)"),
    truncate_layers: int = typer.Option(
        0, "--truncate-layers", help="remove the encoder's last N layers (proved)"),
    fold_slices: bool = typer.Option(
        False, "--fold-slices",
        help="fold slices of a Concat and exact id cast pairs (CTR feature assembly)"),
    merge_embeddings: bool = typer.Option(
        False, "--merge-embeddings",
        help="per-feature embedding lookups -> one lookup in concatenated tables"),
    split_concat: int = typer.Option(
        0, "--split-concat", help="split Concats of more than N inputs (CUDA graphs take 32)"),
    model_name: str | None = typer.Option(
        None, "--model-name", help="zoo model of the graph (bert|deberta-v2|moe|...)"),
    config: str | None = opt("--config", None, "zoo config of the graph, e.g. tiny"),
    seq: str | None = opt("--seq", None, "sequence length of calibration/proof inputs (one)"),
    ranges: list[str] = opt("--range", [], "static int8 without --model-name: value range of "
                                           "an integer input, NAME=LOW:HIGH (repeatable)"),
    out: Path | None = opt("--out", None, "output folder (default: MODEL_optimized/ next to "
                                          "it)"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Write optimised ONNX graphs and a change report (nodes, fused ops, size, what did not
    fuse)."""
    from onnxbench.build.optimize import apply_optimizations
    from onnxbench.model.inputs import parse_range
    from onnxbench.model.zoo import is_factory

    precision = _precision(fp16, int8)
    int8_flags = {"--per-channel": per_channel, "--reduce-range": reduce_range,
                  "--int8-op-types": int8_op_types}
    _check_precision_flags(precision, keep_io_types, op_block, calibration, int8_flags)
    if truncate_layers < 0:
        raise UserError(f"--truncate-layers: must be a positive number of layers, "
                        f"not {truncate_layers}")
    if truncate_layers and model_name and is_factory(model_name):
        raise UserError(f"--model-name {model_name}: --truncate-layers rebuilds a zoo model's "
                        "encoder (bert, deberta-v2) here; a file.py:factory runs only in "
                        "workers: truncate it in a suite (options: {truncate_layers: N})")
    if split_concat < 0 or split_concat == 1:
        raise UserError(f"--split-concat: the most inputs per Concat, 2 or more (32 for ORT's "
                        f"CUDA graphs), not {split_concat}")
    out_dir = out or model.with_name(f"{model.stem}_optimized")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: is a file; give a folder for the optimised graphs")
    result = apply_optimizations(
        model, out_dir, precision=precision, level=level, fuse=fuse,
        model_type_hint=model_name, calibration_inputs=None, keep_io_types=keep_io_types,
        op_block_list=op_block or None, calibration=calibration or "minmax",
        truncate_layers=truncate_layers, model=model_name, config=config,
        seq=one_value("--seq", parse_int_list("--seq", seq), "optimize") if seq else None,
        fold_slices=fold_slices, merge_embeddings=merge_embeddings, split_concat=split_concat,
        ranges=dict(parse_range(r) for r in ranges or ()) or None,
        per_channel=per_channel, reduce_range=reduce_range, int8_op_types=int8_op_types)
    doc = result.report.summary()
    (out_dir / "change_report.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    if json_out:
        typer.echo(json.dumps(doc, indent=1))
    else:
        _render(doc)


def register(app: typer.Typer) -> None:
    """Add ``optimize`` to the app."""
    app.command("optimize")(optimize)
