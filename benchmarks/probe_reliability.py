"""Plant every hostile file, fault and bad input of docs/reliability.md and count the answers.

Each probe is one test item of the probe modules below (a parametrized test counts once per
parameter): it plants the case (a symbolic link in a run directory, a factory whose forward
segfaults, an alias bomb in an option value, NaN in ``--inputs``, a full disk at
report.html, ...), runs the command a user would, and checks the answer the rules ask for:
one line and exit 2 naming the thing (or a recorded status), nothing written, the planted
target untouched. **ok**: it held; **wrong**: it did not; **not tried**: skipped on this
machine (the reason is printed). The exit status is 1 when anything is wrong.

    .venv/bin/python benchmarks/probe_reliability.py [--write] [-k EXPR]

Run from the repository root (about 2 minutes on 2 shared cores: the faults start real workers,
kill parents, fill disks). ``--write`` replaces the counts block of docs/reliability.md;
``-k`` selects probes as pytest does (a partial run is never written).
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- probe-counts:begin -->", "<!-- probe-counts:end -->"

# module -> what its probes plant (the sections of docs/reliability.md)
MODULES = {
    "tests/test_links.py": "Hostile run directories: links and FIFOs",
    "tests/test_hostile.py": "Hostile files: pickles, plans naming code, YAML bombs",
    "tests/test_user_code.py": "A user's model code: segfault, hang, exit, raise",
    "tests/test_refusals.py": "Bad input: numbers, dims, dry run, resume, messages",
    "tests/test_badinput.py": "Bad input: suites, flags, files",
    "tests/test_faults.py": "Faults: kills, OOM, full disk, read-only, permissions",
}


@dataclass
class Tally:
    """Outcome of every probe, by node id (``ok``, ``wrong`` or ``not tried``)."""

    outcomes: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def pytest_runtest_logreport(self, report) -> None:  # pytest's hook
        if report.failed:
            self.outcomes[report.nodeid] = "wrong"
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "not tried")
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            self.skipped[report.nodeid] = str(reason)
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "ok")

    def by_module(self) -> dict[str, Counter]:
        counts: dict[str, Counter] = {m: Counter() for m in MODULES}
        for nodeid, outcome in self.outcomes.items():
            counts.setdefault(nodeid.split("::")[0], Counter())[outcome] += 1
        return counts


def markdown(tally: Tally, when: str) -> str:
    rows, total = [], Counter()
    for module, counts in tally.by_module().items():
        tried = counts["ok"] + counts["wrong"]
        total.update(counts)
        rows.append(f"| {MODULES.get(module, module)} | `{module}` | {tried} | {counts['ok']} | "
                    f"{counts['wrong']} | {counts['not tried']} |")
    tried = total["ok"] + total["wrong"]
    head = (f"`python benchmarks/probe_reliability.py` ({when}, Python "
            f"{platform.python_version()}, {platform.system()}): **{tried} probes tried, "
            f"{total['ok']} ok, {total['wrong']} wrong** ({total['not tried']} not tried here).")
    table = ["| Probes | Module | Tried | OK | Wrong | Not tried |",
             "| --- | --- | ---: | ---: | ---: | ---: |", *rows,
             f"| **all** | | **{tried}** | **{total['ok']}** | **{total['wrong']}** | "
             f"**{total['not tried']}** |"]
    wrong = [f"- wrong: `{n}`" for n, o in sorted(tally.outcomes.items()) if o == "wrong"]
    skipped = [f"- not tried: `{n}` ({why})" for n, why in sorted(tally.skipped.items())
               if tally.outcomes.get(n) == "not tried"]
    return "\n".join([head, "", *table, *([""] + wrong if wrong else []),
                      *([""] + skipped if skipped else [])]) + "\n"


def write_block(text: str, doc: Path = DOC) -> None:
    """Replace the text between the probe-counts markers of ``doc``."""
    current = doc.read_text(encoding="utf-8")
    head, sep, rest = current.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise SystemExit(f"{doc}: no {BEGIN} ... {END} block to replace")
    doc.write_text(f"{head}{BEGIN}\n{text}{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    parser.add_argument("-k", dest="select", help="only the probes matching EXPR (pytest -k)")
    args = parser.parse_args(argv)
    tally = Tally()
    pytest_args = ["-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
                   *(str(ROOT / m) for m in MODULES)]
    if args.select:
        pytest_args += ["-k", args.select]
    pytest.main(pytest_args, plugins=[tally])
    text = markdown(tally, datetime.now(UTC).strftime("%Y-%m-%d"))
    print(text)
    if args.write and not args.select:
        write_block(text)
        print(f"wrote {DOC}", file=sys.stderr)
    wrong = sum(1 for o in tally.outcomes.values() if o == "wrong")
    return 1 if wrong or not tally.outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
