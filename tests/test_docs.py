"""Every example in README.md and docs/*.md runs as printed (``benchmarks/docs_examples.py``).

``make test`` runs the fast blocks here and checks every block: each ``onnxbench`` command
parses (options and values the CLI knows), each Python block compiles, each block that does
not run here says why. The slow blocks (exports, suites, load tests: minutes) run with
``python benchmarks/docs_examples.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import docs_examples as docs

BLOCKS = docs.blocks()
LANGS = {*docs.RUNS, "text", "yaml"}


def test_every_block_says_what_it_is_and_why_it_does_not_run():
    assert BLOCKS, "no fenced blocks found"
    for block in BLOCKS:
        assert block.lang in LANGS, f"{block.name}: give the block a language ({sorted(LANGS)})"
        if block.tag == "skip":
            assert block.reason, f"{block.name}: a skipped block says why"
        if block.tag:
            assert block.lang in docs.RUNS, f"{block.name}: only code blocks take a tag"


def test_every_command_parses_and_every_python_block_compiles():
    problems = [p for block in BLOCKS for p in docs.syntax_problems(block)]
    assert not problems, "\n".join(problems)


def test_a_renamed_option_is_caught():
    """The check can fail: an option the CLI does not have, a command it does not have."""
    assert "No such option" in docs.parse_problem(["bench", "m.onnx", "--bacth", "8"])
    assert "No such command" in docs.parse_problem(["benchh", "m.onnx"])
    assert docs.parse_problem(["bench", "m.onnx", "--batch", "8"]) is None


def test_the_transcript_check_compares_what_is_printed():
    shown = ["onnxbench: error: unknown runtime 'x'; choose one of: a, b, ..."]
    assert docs._console_mismatch(shown, "onnxbench: error: unknown runtime 'x'; choose one "
                                  "of: a, b, c, d\n") is None
    assert docs._console_mismatch(shown, "onnxbench: error: something else\n")
    table = ["...", "onnxbench: check failed: m.onnx: 1 error finding(s)"]
    assert docs._console_mismatch(table, "lint: m.onnx\n| error |\nonnxbench: check failed: "
                                  "m.onnx: 1 error finding(s)\n") is None
    assert docs._console_mismatch(table, "lint: m.onnx\nno findings\n")


FAST = [b for b in BLOCKS if b.fast]


@pytest.mark.parametrize("block", FAST, ids=[b.name for b in FAST])
def test_fast_blocks_run_as_printed(block, tmp_path_factory):
    folder = tmp_path_factory.mktemp(block.doc.stem)
    outcomes = list(docs.run_doc([block], folder, fast=True, log_path=folder / "docs.log"))
    assert outcomes and outcomes[0].ok, (f"{block.name}: {outcomes[0].detail}\n"
                                         + (folder / "docs.log").read_text()[-3000:])
