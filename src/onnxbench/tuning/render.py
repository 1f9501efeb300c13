"""``tune.md``: the answer document a tune run writes beside ``tune.json``."""

from __future__ import annotations

from typing import Any


def markdown(doc: dict[str, Any]) -> str:
    from onnxbench.report.markdown import md_table
    from onnxbench.report.tune_section import paste_lines, tune_tables

    goal = doc.get("goal") or {}
    lines = [f"# tune: {goal.get('describe', '')}", "", doc.get("paragraph") or "", ""]
    lines += paste_lines(doc)
    lines += [md_table(t, 2) for t in tune_tables(doc)]
    stages = doc.get("stages") or []
    if stages:
        lines += ["## Stages", "", "| Stage | Kind | Measured | Kept | Seconds |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {s['name']} | {s['kind']} | {len(s['measured'])} | {len(s['kept'])} | "
                  f"{s['seconds']:.1f} |" for s in stages]
    return "\n".join(lines).rstrip() + "\n"


__all__ = ["markdown"]
