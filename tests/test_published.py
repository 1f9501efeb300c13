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


def _pipe_table(head, rows):
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                      *("| " + " | ".join(r) + " |" for r in rows)]) + "\n"


def test_serving_and_stationarity_sections_read_what_their_scripts_now_write(
        render, tmp_path, monkeypatch):
    """The serving and stationarity outputs will be rewritten by their scripts (issue #27's
    rules): the sections read those tables by the scripts' own column names."""
    import published.data as data
    import published.serving as serving
    import serving_cpu
    import stationarity

    monkeypatch.setattr(data, "BENCH", tmp_path)
    monkeypatch.setattr(serving, "BENCH", tmp_path)
    ctx = render.Context(ROOT / "README.md")
    assert "*pending*" in serving.stationarity(ctx)
    row = ["dcnv2/light", "ORT CPU, 2 processes × 1 thread", "p99 ≤ 5 ms", "9000", "60 s",
           "0.81", "9500", "60 s", "8990", "3.10", "stable", "0.80", "yes", "100 %", ""]
    bad = [*row[:12], "NO", "0 %", "queue grew 3.1 ms/s"]
    (tmp_path / "serving_cpu.md").write_text(
        "# serving-cpu\n\n" + _pipe_table(serving_cpu.HEAD, [row, bad]), encoding="utf-8")
    text = serving.serving_cpu(ctx)
    assert "**1 of 2** peaks hold" in text and "queue grew 3.1 ms/s" in text
    assert "| 9000 | 60 s | 0.81 | 8990 | 3.10 | stable | yes |" in text
    verdicts = [["0.7", "400.0", "stable", "20", "20", "0", "0", "0", "20", "–", "–"],
                ["1.05", "600.0", "growing", "20", "0", "1", "19", "0", "19", "–", "–"]]
    (tmp_path / "stationarity.md").write_text(
        "# s\n\n## Verdicts\n\n" + _pipe_table(stationarity.VERDICTS_HEAD, verdicts),
        encoding="utf-8")
    assert serving.stationarity(ctx).startswith(
        "ρ 0.7 (stable): 20 right; ρ 1.05 (growing): 19 right")
