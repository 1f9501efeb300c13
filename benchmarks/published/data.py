"""What the sections read: committed runs under docs/benchmarks/, their hosts' margins, links.

``Run`` is one committed suite folder (``summary.csv``, ``env.json``): ``run.pick(...)``
returns exactly one ``Figure`` (a LookupError naming the filters and the candidates
otherwise, so a renamed case fails the render instead of quoting the wrong row). One-process
figures carry their host's ``Margin`` (``evidence.Margin``), measured on that host and named:

* ``gpu``: the A/A ``onnxbench ab`` on the lent H100 host, per framework (ORT's for ``ort-*``
  runtimes, PyTorch eager's for the rest): docs/benchmarks/h100/2026-11-27-h100-b/aa-*/ab.json;
* ``cpu``: the pooled between-process noise of the 2-core VM's 3-process suites
  (deberta-latency, moe-backends), as the resolvable difference of two one-process points.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from onnxbench.measure.fold import pool_noise
from onnxbench.report.evidence import Figure, Margin
from onnxbench.report.summary_rows import SummaryPoint, read_summary

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "docs" / "benchmarks"
SECTIONS: dict[str, Callable[[Context], str]] = {}

AA = {"ort": "h100/2026-11-27-h100-b/aa-ort-cuda/ab.json",
      "torch": "h100/2026-11-27-h100-b/aa-torch-cuda/ab.json"}
CPU_NOISE_RUNS = ("cpu/deberta-latency", "cpu/moe-backends")


@dataclass(frozen=True)
class Context:
    """The document being rendered (links are relative to its folder)."""

    doc: Path

    def link(self, target: str) -> str:
        """A relative link from the document to ``target`` (a path under the repository)."""
        return os.path.relpath(ROOT / target, self.doc.parent).replace(os.sep, "/")

    def bench(self, rel: str) -> str:
        return self.link(f"docs/benchmarks/{rel}")


def section(name: str) -> Callable[[Callable[[Context], str]], Callable[[Context], str]]:
    """Register a section renderer under ``name`` (one home per name)."""
    def register(fn: Callable[[Context], str]) -> Callable[[Context], str]:
        if name in SECTIONS:
            raise ValueError(f"section {name!r} registered twice")
        SECTIONS[name] = fn
        return fn
    return register


@cache
def gpu_margin(family: str) -> Margin:
    rel = AA[family]
    doc = json.loads((BENCH / rel).read_text(encoding="utf-8"))
    what = "ORT CUDA" if family == "ort" else "PyTorch eager CUDA"
    return Margin.from_ab(doc, f"A/A `onnxbench ab` of {what} on the H100 host")


@cache
def cpu_margin() -> Margin:
    points = [p for rel in CPU_NOISE_RUNS for p in read_summary(BENCH / rel / "summary.csv")]
    noise = pool_noise((p.process_rsd, p.n_processes) for p in points
                       if p.process_rsd is not None)
    if noise is None:
        raise ValueError(f"{CPU_NOISE_RUNS}: no point with ≥ 2 processes")
    return Margin.from_noise(noise, "between-process noise of the 2-core VM's 3-process suites")


def margin_for(host: str, runtime: str) -> Margin:
    if host == "gpu":
        return gpu_margin("ort" if runtime.startswith("ort") else "torch")
    if host == "cpu":
        return cpu_margin()
    raise ValueError(f"unknown host {host!r}")


def _matches(p: SummaryPoint, want: dict[str, Any]) -> bool:
    for key, value in want.items():
        if key == "opts":
            if any(p.options.get(k) != v and not (v in (None, False) and not p.options.get(k))
                   for k, v in value.items()):
                return False
        elif getattr(p, key) != value:
            return False
    return True


class Run:
    """One committed suite folder under docs/benchmarks/ and its figures."""

    def __init__(self, rel: str, host: str) -> None:
        self.rel, self.host = rel, host
        self.path = BENCH / rel
        self.points = read_summary(self.path / "summary.csv")

    @classmethod
    def maybe(cls, rel: str, host: str) -> Run | None:
        """The run if it is committed, else None (its section says it is pending)."""
        return cls(rel, host) if (BENCH / rel / "summary.csv").is_file() else None

    def figure(self, p: SummaryPoint) -> Figure:
        return Figure(p, margin_for(self.host, p.runtime) if p.n_processes < 2 else None)

    def all(self, **want: Any) -> list[Figure]:
        return [self.figure(p) for p in self.points if _matches(p, want)]

    def pick(self, **want: Any) -> Figure:
        found = self.all(**want)
        if len(found) != 1:
            ids = ", ".join(f.point.point_id for f in found) or "none"
            raise LookupError(f"docs/benchmarks/{self.rel}: {len(found)} rows match {want} "
                              f"(need exactly one): {ids}")
        return found[0]

    def flag_pairs(self, flag: str) -> list[tuple[Figure, Figure]]:
        """(``flag`` on, off) figures of every ok point whose other fields and options match
        one point without it (an A/B axis such as ``pin_memory``)."""
        out = []
        for p in self.points:
            if p.status == "ok" and p.options.get(flag) is True:
                other = self.all(model=p.model, config=p.config, runtime=p.runtime,
                                 batch=p.batch, seq=p.seq, precision=p.precision,
                                 opts={**p.options, flag: None})
                if len(other) == 1:
                    out.append((self.figure(p), other[0]))
        return out

    def env(self) -> dict[str, Any]:
        path = self.path / "env.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def machine(self) -> str:
        """"Intel(R) Xeon(R) Processor, 2 cores, ORT 1.31.1, torch 2.13.0+cpu"."""
        env = self.env()
        cpu, gpus = env.get("cpu") or {}, env.get("gpus") or []
        bits = [gpus[0].get("name", "GPU") if gpus else cpu.get("model", "?")]
        bits.append(f"{cpu.get('physical_cores', '?')} cores")
        bits.append(f"ORT {(env.get('onnxruntime') or {}).get('version', '?')}")
        bits.append(f"torch {(env.get('torch') or {}).get('version', '?')}")
        return ", ".join(bits)


def md_tables(rel: str) -> list[list[dict[str, str]]]:
    """The pipe tables of a committed markdown output, each as rows keyed by its header; a
    repeated header name gets " (2)", and every row carries the heading above its table
    under ``"_heading"``."""
    path = BENCH / rel
    tables: list[list[dict[str, str]]] = []
    header: list[str] | None = None
    heading = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            header = None
            continue
        if header is None:
            header = [c if c not in cells[:i] else f"{c} ({cells[:i].count(c) + 1})"
                      for i, c in enumerate(cells)]
            tables.append([])
        elif not all(set(c) <= set("-: ") for c in cells):
            tables[-1].append({**dict(zip(header, cells)), "_heading": heading})
    return tables


def table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A markdown table."""
    head = list(headers)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)
