"""The README's and docs' results sections are what the renderer makes of the committed data.

``benchmarks/render_results.py`` renders every ``<!-- results:NAME -->`` section from the
summaries, ab.json files and benchmark outputs under docs/benchmarks/; a committed section
that differs from its rendering (a figure edited by hand, data changed without re-rendering)
fails here. Fast: it reads CSV, JSON and markdown only.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def render():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("render_results")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_committed_sections_match_their_rendering(render):
    diffs = render.drift()
    assert not diffs, ("results sections differ from the committed data's rendering; run "
                       "`python benchmarks/render_results.py`:\n" + "\n".join(diffs)[:4000])


def test_every_document_has_sections_and_every_section_is_used(render):
    used = set()
    for rel in render.DOCUMENTS:
        text = (ROOT / rel).read_text(encoding="utf-8")
        names = render.OPEN.findall(text)
        assert names, f"{rel}: no results section"
        used.update(names)
    assert set(render.SECTIONS) == used, "sections registered but not in any document: " \
        f"{sorted(set(render.SECTIONS) - used)}"


def test_a_figure_edited_by_hand_is_drift(render):
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    start = text.index("<!-- results:gpu-fastest -->")
    end = text.index("<!-- /results:gpu-fastest -->")
    body = text[start:end]
    edited = body.replace("0.697", "0.597", 1)
    assert edited != body
    tampered = text[:start] + edited + text[end:]
    rendered, names = render.render_text(tampered, path)
    assert "gpu-fastest" in names
    assert rendered != tampered and rendered == text


def test_unknown_and_unclosed_sections_are_errors(render, tmp_path):
    doc = tmp_path / "x.md"
    with pytest.raises(render.RenderError, match="unknown section 'nope'"):
        render.render_text("<!-- results:nope -->\n<!-- /results:nope -->\n", doc)
    with pytest.raises(render.RenderError, match="no closing"):
        render.render_text("<!-- results:cpu -->\nbody\n", doc)


def test_an_indented_section_keeps_its_indentation(render):
    path = ROOT / "README.md"
    text = "- item:\n  <!-- results:stationarity -->\n  old\n  <!-- /results:stationarity -->\n"
    out, _ = render.render_text(text, path)
    lines = out.splitlines()
    assert lines[1] == "  <!-- results:stationarity -->"
    assert lines[-1] == "  <!-- /results:stationarity -->"
    assert all(line.startswith("  ") for line in lines[1:] if line)
