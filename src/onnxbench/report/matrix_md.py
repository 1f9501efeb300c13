"""The exporter matrix as a document: ``matrix.json`` (written by ``export --exporter all``)
→ ``matrix.md``, so the matrix is a result anyone can read back and commit, not only a
terminal table. Reads the file only (a record from anyone: nothing in it runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from onnxbench.build.export.matrix import RECORD
from onnxbench.core.errors import UserError
from onnxbench.core.result import atomic_write_text
from onnxbench.isolation.env import markdown_lines
from onnxbench.report.fmt import one_line

DOCUMENT = "matrix.md"


def _cell(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("status") == "not-run":
        return "·"
    if cell.get("status") == "ort-error":
        return "ORT error"
    mark = "✓" if cell.get("status") == "pass" else "✗"
    failed, sets = len(cell.get("failed_sets") or []), cell.get("sets", 1)
    tail = f" ({failed}/{sets})" if failed and sets > 1 else ""
    value = cell.get("max_abs")
    return f"{mark} {float(value):.0e}{tail}" if isinstance(value, (int, float)) else mark + tail


def _lint(findings: list[dict[str, Any]]) -> str:
    errors = sum(f.get("severity") == "error" for f in findings)
    rules = sorted({f.get("rule", "?") for f in findings})
    return f"{errors} error(s): {', '.join(rules)}" if errors else (", ".join(rules) or "0")


def matrix_markdown(doc: dict[str, Any]) -> str:
    """The matrix, its notes, every failure and the environment, as markdown."""
    shapes = list(doc.get("shapes") or [])
    title = f"{doc.get('model')}" + (f" ({doc['config']})" if doc.get("config") else "")
    lines = [f"# Exporter matrix: {title}", "",
             f"Parity against {doc.get('reference_label', 'the source model')} at rtol "
             f"{doc.get('rtol')} and atol {doc.get('atol')}, worst of "
             f"{doc.get('input_sets', 1)} seeded input set(s) per shape; (k/n): k of them "
             "failed; · not run (pad rows change batch 1 only).", "",
             "| variant | status | export s | opset | nodes | lint | " + " | ".join(shapes)
             + " |", "|" + " --- |" * (6 + len(shapes))]
    problems = []
    for row in doc.get("rows", []):
        exp = row.get("export") or {}
        ok = exp.get("status") == "ok"
        secs = exp.get("export_s")
        cells = [_cell((row.get("cells") or {}).get(k)) if ok else "" for k in shapes]
        lines.append(f"| {row['label']} | {'ok' if ok else 'failed'} | "
                     f"{f'{secs:.2f}' if isinstance(secs, (int, float)) else ''} | "
                     f"{exp.get('opset') or ''} | {exp.get('nodes') or ''} | "
                     f"{_lint(row.get('lint') or []) if ok else ''} | " + " | ".join(cells)
                     + " |")
        if not ok:
            problems.append(f"**{row['label']} failed**: {one_line(exp.get('error'), 300)}")
        problems += [f"{row['label']}: {one_line(n, 300)}" for n in row.get("notes", [])]
        problems += [f"{row['label']} at {k}: {one_line(c.get('error'), 300)}"
                     for k, c in (row.get("cells") or {}).items()
                     if c.get("status") == "ort-error"]
    lines += ["", *(f"- {p}" for p in dict.fromkeys(problems))]
    lines += [f"- note: {one_line(n, 300)}" for n in doc.get("notes", [])]
    if doc.get("env"):
        lines += ["", "## Environment", "", *markdown_lines(doc["env"])]
    return "\n".join(lines) + "\n"


def write_matrix_markdown(out_dir: str | Path) -> Path:
    """Write ``matrix.md`` next to ``matrix.json``; UserError when there is none."""
    folder = Path(out_dir)
    path = folder / RECORD
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file; run `onnxbench export MODEL --exporter all "
                        f"--out {folder}` first") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable matrix record ({exc})") from exc
    out = folder / DOCUMENT
    atomic_write_text(out, matrix_markdown(doc))
    return out
