"""Every shell command and Python block of README.md and docs/*.md, run as printed.

    python benchmarks/docs_examples.py                 # every block that runs here (slow ones too)
    python benchmarks/docs_examples.py --fast          # what `make test` runs (tests/test_docs.py)
    python benchmarks/docs_examples.py --list          # each block, its tag and why it is skipped
    python benchmarks/docs_examples.py --only README.md:126 --keep /tmp/docs   # one block, kept
    python benchmarks/docs_examples.py --skip 'serving-cpu|tf-vs-ort|onnxbench tune'  # quicker

A fenced block's language says what it is: ``sh`` (commands, one per line; ``\\`` continues a
line), ``python`` (saved as a script and run with ``python``, as a user would), ``console`` (a
transcript: each ``$`` command is run, whatever its exit code, and its output compared with
the lines shown; a line ending in ``...`` matches any ending, a line starting with ``...``
any lines).
Anything else (``yaml``, ``text``) is not run. An HTML
comment on the line before a block tags it, invisible on GitHub::

    <!-- docs-test: slow -->                 run by this script only (minutes of CPU)
    <!-- docs-test: skip needs a CUDA GPU -->  never run here, and the reason

Untagged ``sh`` / ``python`` / ``console`` blocks are fast: ``make test`` runs them. Blocks
of one document run in order in one scratch directory (the README's ``export`` makes the
files its ``bench`` reads), which holds small stand-ins for the files the docs name as the
user's own (``docs_fixtures.py``: ``model.onnx``, ``val.npz``, ``my-suite.yaml``, ...). Every
``onnxbench`` command of every block, skipped or not, is also parsed by the CLI without
running (an option that was renamed fails ``make test`` at once).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNS = ("sh", "python", "console")
TAG = re.compile(r"<!--\s*docs-test:\s*(slow|skip)\b\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\S*)\s*$")
TIMEOUT_S = 3600.0
FAST_TIMEOUT_S = 120.0  # a command of an untagged block: longer means the block is slow
LIMIT = {"s": TIMEOUT_S}


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and its tag."""

    doc: Path
    line: int          # the line of its opening fence (1-based)
    lang: str
    text: str
    tag: str = ""      # "", "slow" or "skip"
    reason: str = ""   # why a "skip" block does not run here

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUNS and self.tag != "skip"

    @property
    def fast(self) -> bool:
        return self.runs and self.tag == ""


def blocks(paths: list[Path] | None = None) -> list[Block]:
    """Every fenced block of ``paths`` (default: README.md and docs/*.md), in order."""
    out = []
    for path in paths or DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")),
                       len(lines))
            tag = TAG.search(lines[i - 1]) if i else None
            out.append(Block(path, i + 1, m.group(1), "\n".join(lines[i + 1:end]),
                             tag.group(1) if tag else "", tag.group(2) if tag else ""))
            i = end + 1
    return out


def commands(block: Block) -> list[str]:
    """The logical lines of a ``sh`` block (continuations joined), comments kept (bash drops
    them); a ``console`` block's ``$`` lines."""
    if block.lang == "console":
        return [ln[2:] for ln in block.text.splitlines() if ln.startswith("$ ")]
    out, current = [], ""
    for ln in block.text.splitlines():
        current += ln.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            out.append(current.strip())
        current = ""
    return out


def onnxbench_args(command: str) -> list[str] | None:
    """The arguments of an ``onnxbench`` command line (None for any other command)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    return words[1:] if words and words[0] == "onnxbench" else None


def parse_problem(args: list[str]) -> str | None:
    """Why the CLI would refuse ``args`` as a command line (unknown command or option, a
    bad value type), without running anything; None when it parses."""
    import typer

    from onnxbench.cli import _CLICK_ERRORS, app

    group = typer.main.get_command(app)
    try:
        ctx = group.make_context("onnxbench", list(args), resilient_parsing=False)
        left = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        name, cmd, rest = group.resolve_command(ctx, left)
        if cmd is not None:
            cmd.make_context(name or "", rest, parent=ctx)
    except _CLICK_ERRORS as exc:
        return exc.format_message()
    return None


def syntax_problems(block: Block) -> list[str]:
    """Every ``onnxbench`` line the CLI would not parse; a Python block that does not compile."""
    if block.lang == "python":
        try:
            compile(block.text, block.name, "exec")
        except SyntaxError as exc:
            return [f"{block.name}: {exc}"]
        return []
    if block.lang not in ("sh", "console"):
        return []
    found = []
    for command in commands(block):
        args = onnxbench_args(command)
        problem = parse_problem(args) if args is not None else None
        if problem:
            found.append(f"{block.name}: `{command}`: {problem}")
    return found


# --------------------------------------------------------------------------- running

@dataclass
class Outcome:
    block: Block
    ok: bool
    seconds: float
    detail: str = ""


def _env() -> dict[str, str]:
    """This interpreter's environment first on PATH (its ``onnxbench`` and ``python``)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(cmd: list[str], cwd: Path, log, stdin: str | None = None) -> subprocess.CompletedProcess:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), input=stdin, capture_output=True,
                          text=True, timeout=LIMIT["s"])
    log.write(proc.stdout + proc.stderr + f"[exit {proc.returncode}]\n")
    return proc


def _console_mismatch(shown: list[str], got: str) -> str | None:
    """How ``got`` differs from the transcript lines ``shown``: in order, a line ending in
    ``...`` matches any ending, and a line that starts with ``...`` any number of lines (the
    rest of it is a note for the reader)."""
    lines = [ln.rstrip() for ln in got.strip().splitlines()]
    i, skipping = 0, False
    for want in shown:
        if want.startswith("..."):  # any lines; the rest of it is a note for the reader
            skipping = True
            continue
        while True:
            have = lines[i] if i < len(lines) else None
            ok = have is not None and (have.startswith(want[:-3].rstrip())
                                       if want.endswith("...") else have == want)
            if ok or not skipping or have is None:
                break
            i += 1
        if not ok:
            return f"shown {want!r}, printed {have!r}"
        i, skipping = i + 1, False
    return None


def run_block(block: Block, cwd: Path, log) -> str | None:
    """Run one block in ``cwd``; None when it ran as printed, else what went wrong."""
    if block.lang == "python":
        script = cwd / f"example_{block.doc.stem}_{block.line}.py"
        script.write_text(block.text + "\n", encoding="utf-8")
        proc = _run([sys.executable, script.name], cwd, log)
        return None if proc.returncode == 0 else f"exit {proc.returncode}: {_tail(proc)}"
    if block.lang == "console":
        return _run_console(block, cwd, log)
    for command in commands(block):
        proc = _run(["bash", "-e", "-o", "pipefail", "-c", command], cwd, log)
        if proc.returncode != 0:
            return f"`{command}` exit {proc.returncode}: {_tail(proc)}"
    return None


def _run_console(block: Block, cwd: Path, log) -> str | None:
    lines = block.text.splitlines()
    for i, ln in enumerate(lines):
        if not ln.startswith("$ "):
            continue
        shown = []
        for nxt in lines[i + 1:]:
            if nxt.startswith("$ "):
                break
            shown.append(nxt.rstrip())
        proc = _run(["bash", "-o", "pipefail", "-c", ln[2:]], cwd, log)
        problem = _console_mismatch(shown, proc.stdout + proc.stderr)
        if problem:
            return f"`{ln[2:]}`: {problem}"
    return None


def _tail(proc: subprocess.CompletedProcess) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    return text[-1][:300] if text else "(no output)"


def run_doc(doc_blocks: list[Block], folder: Path, *, fast: bool,
            log_path: Path) -> Iterator[Outcome]:
    """Run a document's blocks in order in ``folder`` (its fixtures made first)."""
    from docs_fixtures import make_fixtures

    selected = [b for b in doc_blocks if (b.fast if fast else b.runs)]
    if not selected:
        return
    LIMIT["s"] = FAST_TIMEOUT_S if fast else TIMEOUT_S
    make_fixtures("\n".join(b.text for b in selected), folder, _env())
    with open(log_path, "a", encoding="utf-8") as log:
        for block in selected:
            log.write(f"\n===== {block.name} ({block.tag or 'fast'})\n")
            start = time.monotonic()
            try:
                problem = run_block(block, folder, log)
            except subprocess.TimeoutExpired:
                problem = f"a command ran past {LIMIT['s']:g} s" + (
                    "; a slow block: tag it <!-- docs-test: slow -->" if fast else "")
            yield Outcome(block, problem is None, time.monotonic() - start, problem or "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", action="store_true", help="only the untagged blocks (make test)")
    ap.add_argument("--only", help="blocks whose DOC:LINE or text matches this regex")
    ap.add_argument("--skip", help="leave out blocks whose DOC:LINE or text matches this regex")
    ap.add_argument("--list", action="store_true", help="list the blocks, run nothing")
    ap.add_argument("--keep", type=Path, help="run in this folder (kept) instead of a temp one")
    args = ap.parse_args(argv)
    every = blocks()
    if args.list:
        for b in every:
            what = (b.tag or "fast") if b.lang in RUNS else f"not run ({b.lang or 'no language'})"
            print(f"{b.name:28} {b.lang:8} {what}" + (f": {b.reason}" if b.reason else ""))
        return 0
    problems = [p for b in every for p in syntax_problems(b)]
    for p in problems:
        print(f"PARSE {p}")
    def matches(pattern: str | None, b: Block) -> bool:
        return bool(pattern) and bool(re.search(pattern, b.name) or re.search(pattern, b.text))

    chosen = [b for b in every if (not args.only or matches(args.only, b))
              and not matches(args.skip, b)]
    if not any(b.fast if args.fast else b.runs for b in chosen):
        print(f"--only {args.only!r}: matches no block that runs here (see --list)")
        return 2
    root = args.keep or Path(tempfile.mkdtemp(prefix="onnxbench-docs-"))
    failed = len(problems)
    for doc in DOCS:
        doc_blocks = [b for b in chosen if b.doc == doc]
        folder = root / doc.stem
        folder.mkdir(parents=True, exist_ok=True)
        for o in run_doc(doc_blocks, folder, fast=args.fast, log_path=root / "docs.log"):
            failed += not o.ok
            print(f"{'ok  ' if o.ok else 'FAIL'} {o.block.name:28} {o.seconds:7.1f} s  "
                  f"{o.detail}", flush=True)
    print(f"log: {root / 'docs.log'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
