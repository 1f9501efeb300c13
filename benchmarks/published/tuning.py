"""The README's `tune` results: tune against the exhaustive grid (docs/benchmarks/tune.md)
and one committed tune answer (docs/benchmarks/tune-example/: its tune.json and tune.md,
copied from a run of that benchmark)."""

from __future__ import annotations

import json
import re

from published.data import BENCH, Context, section

EXAMPLE = "tune-example"


@section("tune-benchmark")
def tune_benchmark(ctx: Context) -> str:
    text = (BENCH / "tune.md").read_text(encoding="utf-8")
    m = re.search(r"\*\*(\d+) of (\d+)\*\* goals", text)
    if m is None:
        raise ValueError("docs/benchmarks/tune.md has no '**N of M** goals' line")
    hits, total = int(m.group(1)), int(m.group(2))
    target = total - total // 5
    word = "met" if hits >= target else "missed"
    return (f"Against the exhaustive grid of the same space (five models, a latency and a rate "
            f"goal each, `tune` given a fifth of the grid's wall time): its pick was within the "
            f"grid best's CI in **{hits} of {total}** goals (target {target} of {total}: "
            f"{word}; [tune.md]({ctx.bench('tune.md')})).")


def _value(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


@section("tune-example")
def tune_example(ctx: Context) -> str:
    doc = json.loads((BENCH / EXAMPLE / "tune.json").read_text(encoding="utf-8"))
    req = doc["request"]
    space = " ".join(f"--space {k}={','.join(_value(v) for v in vals)}"
                     for k, vals in (req.get("space") or {}).items())
    parts = [f"onnxbench tune {req['model']}"]
    parts += [f"--config {req['config']}"] if req.get("config") else []
    parts += [f"--seq {req['seq']}"] if req.get("seq") else []
    goal = req["goal"]
    parts += [f'--goal "{goal}"' if " " in goal or "<" in goal else f"--goal {goal}"]
    parts += [f"--batch {req['batch']}"] if req.get("batch") else []
    parts += [f"--runtime {','.join(req['runtimes'])}"] if req.get("runtimes") else []
    parts += [space] if space else []
    parts += [f"--budget {req['budget']:.0f}s"]
    return ("One answer, from a run of that benchmark "
            f"([tune.md]({ctx.bench(EXAMPLE + '/tune.md')}), "
            f"[tune.json]({ctx.bench(EXAMPLE + '/tune.json')})); the same request on the "
            "command line:\n\n"
            "<!-- docs-test: slow -->\n```sh\n" + " ".join(parts) + "\n```\n\n> "
            + doc["paragraph"].strip().replace("\n", "\n> "))

