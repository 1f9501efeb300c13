"""``onnxbench tune``: what should I deploy? The best configuration for a goal, with evidence.

    import onnxbench
    result = onnxbench.tune("bert", goal="latency", batch=1, config="tiny", seq=128,
                            max_accuracy_drop="0.5%", budget="15m")
    print(result.paragraph)

Everything is checked before anything runs (``goals``: the goal, the budget, the accuracy
constraint; ``space``: the candidates from the registries, the dropped ones with their
reasons). The search (``search``) measures through ``evidence`` into ONE normal run
directory (``runs/tune-<model>_<time>/``: resumable, reportable, comparable), whose
``tune.json`` holds the request and the answer; ``report.md``/``report.html`` show it with
the Pareto front. ``resume=DIR`` re-runs the search on that directory: finished cases are
read, not measured again.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.core.errors import UserError
from onnxbench.tuning.axes import build_space
from onnxbench.tuning.goals import Goal, accuracy_source, parse_budget, parse_drop, parse_goal
from onnxbench.tuning.records import Decision, Measure
from onnxbench.tuning.search import Search
from onnxbench.tuning.space import Space, parse_space

TUNE_JSON = "tune.json"


@dataclass
class TuneResult:
    """The answer: the run directory, the goal, the paragraph, what to paste, every row."""

    run_dir: Path | None
    goal: Goal
    space: Space
    decision: Decision | None = None
    paragraph: str = ""
    paste: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def winner(self) -> str | None:
        return self.decision.winner if self.decision else None

    def to_dict(self) -> dict[str, Any]:
        d = self.decision
        return {"run_dir": str(self.run_dir) if self.run_dir else None,
                "goal": {**vars(self.goal), "describe": self.goal.describe()},
                "paragraph": self.paragraph, "paste": self.paste, "rows": self.rows,
                "winner": d.winner if d else None, "ties": d.ties if d else [],
                "exhausted": d.exhausted if d else False, "notes": d.notes if d else [],
                "remedies": d.remedies if d else [],
                "ab": d.ab if d else [],
                "stages": [vars(s) for s in d.stages] if d else [],
                "candidates": [c.label() for c in self.space.candidates],
                "dropped": [{"what": w, "reason": r} for w, r in self.space.dropped]
                + [{"what": _label(self.space, k), "reason": r}
                   for k, r in (d.dropped.items() if d else [])]}


def _label(space: Space, key: str) -> str:
    return next((c.label() for c in space.candidates if c.key == key),
                next((c.engine.label() for c in space.candidates if c.engine.key == key), key))


@dataclass
class Request:
    """What was asked (kept in tune.json so ``resume`` asks it again)."""

    model: str
    goal: str = "latency"
    batch: int | None = None
    p99: str | None = None
    max_accuracy_drop: str | float | None = None
    accuracy_data: str | None = None
    metric: str | None = None
    budget: str | float = "15m"
    runtimes: list[str] | None = None
    space: dict[str, list[Any]] = field(default_factory=dict)
    config: str | None = None
    seq: int | None = None
    seed: int = 0


def tune(model: str | Path, goal: str = "latency", *, batch: int | None = None,
         p99: str | None = None, max_accuracy_drop: str | float | None = None,
         accuracy_data: str | Path | None = None, metric: str | None = None,
         budget: str | float = "15m", runtimes: Iterable[str] | None = None,
         space: Iterable[str] | Mapping[str, Any] | None = None, config: str | None = None,
         seq: int | None = None, seed: int = 0, out: str | Path = "runs",
         dry_run: bool = False, progress: Callable[[Any], None] | None = None,
         measure: Measure | None = None) -> TuneResult:
    """Search the deployable configurations of ``model`` for ``goal`` within ``budget``.

    ``goal``: ``latency`` (with ``batch``), ``throughput`` (with ``p99``, a bound such as
    ``"50ms"``) or a rate ``"p99<=10ms@200qps"``. ``max_accuracy_drop``: ``"0.5%"`` of the
    model's metric against fp32 (its own data, or ``accuracy_data``: a labelled .npz).
    ``runtimes`` and ``space`` (``{"precision": ["fp32", "int8-dynamic"]}`` or
    ``["threads=1,2"]``) narrow or widen the search. ``dry_run``: the space only (candidates
    and what was dropped, with reasons), nothing measured. ``measure``: replace the real
    measurements (tests). UserError (one line) for anything wrong, before anything runs.
    """
    started = time.monotonic()  # the budget counts from here
    req = Request(str(model), goal, batch, p99, max_accuracy_drop,
                  str(accuracy_data) if accuracy_data else None, metric, budget,
                  list(runtimes) if runtimes else None, parse_space(space), config, seq, seed)
    return _tune(req, out=out, dry_run=dry_run, progress=progress, measure=measure,
                 started=started)


def resume(run_dir: str | Path, *, progress: Callable[[Any], None] | None = None,
           trust: bool = False) -> TuneResult:
    """Run a tune's search again on its directory: finished cases are read, not re-measured.

    A run directory is data: it is checked whole (no link out of it), and a ``tune.json``
    whose request names code (``file.py:factory``) or files outside it is refused unless
    ``trust`` (as ``run --resume`` refuses such a plan)."""
    from onnxbench.suite.rundir import open_run_dir
    from onnxbench.suite.trust import references, refuse_untrusted

    started = time.monotonic()
    run = open_run_dir(run_dir)
    record = run.file(TUNE_JSON)
    try:
        doc = json.loads(record.read_text(encoding="utf-8"))
        req = Request(**doc["request"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{run.path}: not a tune run directory (no readable {TUNE_JSON}: "
                        f"{type(exc).__name__}); pass a directory made by `onnxbench tune`") \
            from None
    if not trust:
        refuse_untrusted(*references([str(req.model)], [req.accuracy_data], run.path), record)
    return _tune(req, out=run.path.parent, progress=progress, run_dir=run.path,
                 started=started)


def _tune(req: Request, *, out: str | Path, started: float, dry_run: bool = False,
          progress: Any = None, measure: Measure | None = None,
          run_dir: Path | None = None) -> TuneResult:
    from onnxbench.model.onnxfile import is_onnx_file
    from onnxbench.suite.model_check import check_model

    g = parse_goal(req.goal, batch=req.batch, p99=req.p99)
    budget_s = parse_budget(req.budget, g, export=not is_onnx_file(req.model))
    max_drop = parse_drop(req.max_accuracy_drop)
    source = accuracy_source(req.model, req.accuracy_data, max_drop)
    model, config, _, _ = check_model(req.model, req.config, None, None, [g.batch], req.seq)
    req.model, req.config = model, config
    space = build_space(model, g, runtimes=req.runtimes, overrides=req.space)
    result = TuneResult(None, g, space)
    if dry_run:
        return result
    checked = _Checked(g, budget_s, max_drop, _accuracy_options(source, req), started)
    return _search(req, checked, result, out, progress, measure, run_dir)


@dataclass
class _Checked:
    """The request, parsed and checked: what the search runs under."""

    goal: Goal
    budget_s: float
    max_drop: float | None
    accuracy: dict[str, Any]    # the accuracy / accuracy_data options of a screen
    started: float              # the budget's clock starts when tune is called


def _accuracy_options(source: str | None, req: Request) -> dict[str, Any]:
    if source == "data":
        return {"accuracy_data": str(Path(str(req.accuracy_data)).resolve()),
                **({"metric": req.metric} if req.metric else {})}
    return {"accuracy": True} if source == "model" else {}


def _search(req: Request, chk: _Checked, result: TuneResult, out: str | Path, progress: Any,
            measure: Measure | None, run_dir: Path | None) -> TuneResult:
    from onnxbench.model.onnxfile import is_onnx_file
    from onnxbench.suite.rundir import create_run_dir, open_run_dir, write_configs
    from onnxbench.suite.runner import RunOutcome, collect_env, finish
    from onnxbench.tuning.budget import PRIOR_EXPORT_S, Costs
    from onnxbench.tuning.evidence import RunMeasure, Target
    from onnxbench.tuning.remedies import remedies_for

    g, space = chk.goal, result.space
    label = re.sub(r"[^A-Za-z0-9.-]+", "-", Path(req.model.split(":")[0]).stem).strip("-")
    run = open_run_dir(run_dir) if run_dir else create_run_dir(out, f"tune-{label or 'model'}")
    result.run_dir = run.path
    with run.lock():
        env = collect_env()
        target = Target(req.model, req.config, g.batch, req.seq, req.seed, chk.accuracy)
        real = RunMeasure(run, target, g, env=env, progress=progress)
        if not run_dir:
            write_configs(run, real.plan.to_json(), env)
        _write(run, req, result)  # the request first: an interrupted tune resumes
        search = Search(g, space.candidates, measure or real,
                        None if measure else real.compare, budget_s=chk.budget_s,
                        max_drop=chk.max_drop, seed=req.seed, start=chk.started,
                        costs=Costs(prior_export_s=0.0 if is_onnx_file(req.model)
                                    else PRIOR_EXPORT_S),
                        remedies=remedies_for(req.model))
        result.decision = search.run()
        space.candidates += result.decision.added
        _answer(result, req, chk.accuracy)
        _write(run, req, result)
        if measure is None:
            finish(run, RunOutcome(run.path))
    return result


def _answer(result: TuneResult, req: Request, accuracy: dict[str, Any]) -> None:
    from onnxbench.tuning.answer import paragraph, rows
    from onnxbench.tuning.paste import what_to_paste

    d = result.decision
    assert d is not None
    result.rows = rows(result.goal, result.space, d)
    result.paragraph = paragraph(result.goal, result.space, d)
    if d.winner:
        win = next(c for c in result.space.candidates if c.key == d.winner)
        result.paste = what_to_paste(win, result.goal, model=req.model, config=req.config,
                                     seq=req.seq, accuracy=accuracy)


def _write(run: Any, req: Request, result: TuneResult) -> None:
    """``tune.json`` (and ``tune.md``) at their checked paths in ``run`` (a ``RunDir``)."""
    from onnxbench.core.result import atomic_write_text
    from onnxbench.tuning.render import markdown

    doc = {"request": vars(req), "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
           **result.to_dict()}
    atomic_write_text(run.file(TUNE_JSON), json.dumps(doc, indent=1, default=str) + "\n")
    if result.decision is not None:
        atomic_write_text(run.file("tune.md"), markdown(doc))


__all__ = ["Request", "TuneResult", "resume", "tune"]
