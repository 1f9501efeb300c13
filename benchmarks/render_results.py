"""Render the results sections of the README and docs/benchmarks/**/README.md from committed data.

A section is the text between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``; its
content is what ``published`` renders for NAME from the committed summaries, ab.json files
and benchmark outputs under docs/benchmarks/ (figures with their CI or resolvable margin,
process count and unstable mark; ties as the reports decide them). Prose around the markers
interprets; the numbers come from here.

    python benchmarks/render_results.py            # rewrite every section in place
    python benchmarks/render_results.py --check    # exit 1 when a committed section differs

``make test`` runs the check (tests/test_published.py): edit the data or the renderer, then
run this script, never the numbers by hand.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

from published import SECTIONS, Context
from published.data import ROOT

DOCUMENTS = ("README.md", "docs/benchmarks/h100/README.md",
             "docs/benchmarks/h100/2026-11-21/README.md")
BLOCK = re.compile(r"^(?P<indent>[ \t]*)<!-- results:(?P<name>[\w-]+) -->\n(?P<body>.*?)"
                   r"^(?P=indent)<!-- /results:(?P=name) -->", re.S | re.M)
OPEN = re.compile(r"<!-- results:([\w-]+) -->")


class RenderError(Exception):
    """A document that cannot be rendered (unknown section, unbalanced markers, bad data)."""


def render_text(text: str, doc: Path) -> tuple[str, list[str]]:
    """(the document with every section rendered, the names of the sections found)."""
    names = OPEN.findall(text)
    closed = [m.group("name") for m in BLOCK.finditer(text)]
    if names != closed:
        missing = [n for n in names if n not in closed]
        raise RenderError(f"{doc}: section(s) {missing} have no closing "
                          f"<!-- /results:NAME --> line")
    ctx = Context(doc)

    def fill(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in SECTIONS:
            raise RenderError(f"{doc}: unknown section {name!r}; known: {', '.join(SECTIONS)}")
        try:
            body = SECTIONS[name](ctx).strip("\n")
        except (LookupError, ValueError, OSError) as exc:
            raise RenderError(f"{doc}: section {name}: {exc}") from exc
        pad = m.group("indent")
        lines = "".join(f"{pad}{line}\n" if line else "\n" for line in body.split("\n"))
        return f"{pad}<!-- results:{name} -->\n{lines}{pad}<!-- /results:{name} -->"

    return BLOCK.sub(fill, text), names


def render_all(root: Path = ROOT, documents: tuple[str, ...] = DOCUMENTS
               ) -> dict[Path, tuple[str, str]]:
    """{document: (committed text, rendered text)} for every document."""
    out = {}
    for rel in documents:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        out[path] = (text, render_text(text, path)[0])
    return out


def drift(root: Path = ROOT, documents: tuple[str, ...] = DOCUMENTS) -> list[str]:
    """A unified diff per document whose committed sections differ from the rendering."""
    diffs = []
    for path, (old, new) in render_all(root, documents).items():
        if old != new:
            rel = path.relative_to(root)
            diffs.append("".join(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                f"{rel} (committed)", f"{rel} (rendered)", n=1)))
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when a committed section differs from its rendering")
    args = ap.parse_args()
    try:
        if args.check:
            diffs = drift()
            for d in diffs:
                print(d)
            if diffs:
                print("results sections are stale: run python benchmarks/render_results.py",
                      file=sys.stderr)
            return 1 if diffs else 0
        for path, (old, new) in render_all().items():
            if old != new:
                path.write_text(new, encoding="utf-8")
                print(f"rendered {path.relative_to(ROOT)}")
    except RenderError as exc:
        print(f"render_results: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
