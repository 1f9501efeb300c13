"""Fake measurements on a fake clock for ``tune``'s search tests (``test_tune_*``)."""

from __future__ import annotations

from onnxbench.tuning.goals import parse_goal
from onnxbench.tuning.records import ABOutcome, Evidence, Fidelity
from onnxbench.tuning.search import Search
from onnxbench.tuning.space import Candidate, Serving


def make_cand(i: int, runtime: str = "ort-cpu", threads: int = 1, precision: str = "fp32",
          serving: Serving | None = None, exporter: str | None = None) -> Candidate:
    return Candidate(runtime, exporter, precision, (("threads", threads), ("variant", i)),
                     serving)


def make_cands(n: int, threads: int = 1) -> list[Candidate]:
    return [make_cand(i, threads=threads) for i in range(n)]


class Fake:
    """Scripted measurements on a fake clock. A step costs, per new graph, ``export`` s
    (fp32) or ``derive`` s (another precision), then per process ``overhead[runtime]`` s
    plus the timed window; past ``limit_s`` it is stopped there (status ``budget``)."""

    def __init__(self, medians: dict[int, float], drops: dict[int, float] | None = None,
                 width: float = 0.01, cost: float = 1.0, verdicts: dict | None = None,
                 overhead: dict[str, float] | None = None, export: float = 0.0,
                 derive: float = 0.0):
        self.medians, self.drops, self.width, self.cost = medians, drops or {}, width, cost
        self.overhead, self.export, self.derive = overhead or {}, export, derive
        self.now = 0.0
        self.calls: list[tuple[str, list[int]]] = []
        self.steps: list[dict] = []
        self.built: set[str] = set()
        self.verdicts = verdicts or {}
        self.compared: list[tuple[int, int]] = []

    def clock(self) -> float:
        return self.now

    def build_cost(self, c: Candidate) -> float:
        if c.graph in self.built:
            return 0.0
        return self.export if c.precision == "fp32" else self.derive

    def step_cost(self, c: Candidate, fid: Fidelity) -> float:
        per = self.overhead.get(c.runtime, self.cost) + fid.seconds
        return self.build_cost(c) + fid.processes * per

    def __call__(self, stage: str, fid: Fidelity, cands: list[Candidate], *,
                 limit_s: float | None = None):
        self.calls.append((stage, [c.opts["variant"] for c in cands]))
        out = {}
        for c in cands:
            cost = self.step_cost(c, fid)
            start = self.now
            if limit_s is not None and cost > limit_s:
                self.now += limit_s
                self.steps.append({"runtime": c.runtime, "start": start, "end": self.now,
                                   "stopped": True})
                out[c.key] = Evidence(c.key, "budget", "ran past the limit")
                continue
            build = self.build_cost(c)
            self.now += cost
            self.steps.append({"runtime": c.runtime, "start": start, "end": self.now,
                               "stopped": False})
            self.built.add(c.graph)
            i = c.opts["variant"]
            m = self.medians[i]
            out[c.key] = Evidence(c.key, value=m, ci=(m * (1 - self.width), m * (1 + self.width)),
                                  accuracy_drop=self.drops.get(i, 0.0), build_s=build)
        return out

    def compare(self, a: Candidate, b: Candidate, seconds: float) -> ABOutcome:
        pair = (a.opts["variant"], b.opts["variant"])
        self.compared.append(pair)
        spent = min(seconds, 10.0)
        self.now += spent + 2.0
        return ABOutcome(self.verdicts.get(pair, "slower"), pairs=4, blocks_s=spent)


def make_search(fake: Fake, cands, budget=1000.0, goal="latency", **kw) -> Search:
    return Search(parse_goal(goal), cands, fake, fake.compare, budget_s=budget,
                  clock=fake.clock, **kw)
