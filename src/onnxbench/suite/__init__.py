"""Suites: YAML schema, plan expansion, run directories, running, resume, aggregation.

The public entry points, for the CLI and for library users::

    suite, path, text = load_suite("quickstart")      # or a path; UserError on mistakes
    plan = expand(suite)                              # Plan(cases, timeouts, ab_axes)
    outcome = run_suite(plan, "runs", suite_text=text, progress=callback)
    outcome = resume("runs/quickstart_20260101-120000")
    summary = aggregate("runs/quickstart_20260101-120000")
"""

from __future__ import annotations

from onnxbench.suite.aggregate import Summary, aggregate
from onnxbench.suite.parse import load_suite, parse_suite
from onnxbench.suite.plan import Plan, expand
from onnxbench.suite.runner import Progress, RunOutcome, resume, run_cases, run_suite
from onnxbench.suite.schema import Suite

__all__ = ["Plan", "Progress", "RunOutcome", "Suite", "Summary", "aggregate", "expand",
           "load_suite", "parse_suite", "resume", "run_cases", "run_suite"]
