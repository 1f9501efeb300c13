"""What every benchmark script does with its markdown: print it, and with --write commit it."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def emit(text: str, out: Path, write: bool) -> None:
    """Print ``text``; with ``write`` also save it to ``out`` (a path under docs/benchmarks)."""
    print(text)
    if write:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
