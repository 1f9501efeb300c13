"""What a command prints last, after its tables: the profile's heaviest ops (where a profile
was taken) and the sentence the run exists for (``report.answer``: the same sentences the
report shows on top), so the answer is the last thing on the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console


def run_answers(run_dir: Path | str) -> tuple[list[str], list[str]]:
    """(profile lines, answer sentences) of a run directory, from its files."""
    from onnxbench.report import build_report
    from onnxbench.report.answer import answers, profile_lines

    report = build_report(run_dir)
    return profile_lines(report), answers(report)


def print_answer(run_dir: Path | str, out: Console, *, profiles: bool = True) -> None:
    """The profile lines (unless ``profiles`` is off: the command printed its own), then the
    sentences, last. A run whose report cannot be built says so instead of a traceback."""
    try:
        lines, sentences = run_answers(run_dir)
    except Exception as exc:  # noqa: BLE001 - the tables and paths are printed already
        from onnxbench.core.errors import first_line

        out.print(f"no answer sentence: {first_line(exc)}", highlight=False, soft_wrap=True)
        return
    for line in lines if profiles else []:
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    if sentences:
        out.print()
    for text in sentences:
        out.print(text, style="bold", highlight=False, markup=False)


def answer_doc(run_dir: Path | str) -> dict[str, Any]:
    """The same for ``--json``: ``{"answers": [...], "profiles": [...]}``."""
    lines, sentences = run_answers(run_dir)
    return {"answers": sentences, "profiles": lines}


__all__ = ["answer_doc", "print_answer", "run_answers"]
