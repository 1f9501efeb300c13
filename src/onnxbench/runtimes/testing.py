"""Runtimes that misbehave on purpose, for tests and for validating the harness itself.

They need no model and work with any artifact:
- ``test-abort``: ``os.abort()`` (in prepare, or the first run with ``at: run``): the
  isolation test needs a worker that really crashes (SIGABRT).
- ``test-oom``: raises ``MemoryError`` (the worker must record status ``oom``).
- ``test-sleep``: sleeps ``sleep_s`` (default one hour), longer than any time-out.
- ``test-delay``: a pure-Python busy wait of ``delay_us`` microseconds, times
  ``1 + slowdown``: the A/B sensitivity benchmark needs a runtime slowed by a *known*
  fraction (e.g. 10 %) to check that the statistics detect it.
- ``test-skip``: always ``Skip``.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any, Callable, Mapping

import numpy as np

from onnxbench.artifact import Artifact
from onnxbench.errors import Skip, UserError
from onnxbench.runtimes import as_choice


def busy_wait_ns(duration_ns: int) -> None:
    """Spin (no sleep: sleeping has millisecond jitter) until ``duration_ns`` have passed."""
    end = time.perf_counter_ns() + duration_ns
    while time.perf_counter_ns() < end:
        pass


class _TestRuntime:
    """Shared plumbing: echo the inputs as outputs, no device, fault injected at a stage."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.device = "cpu"
        self.options: dict[str, Any] = {}

    def prepare(self, artifact: Artifact, options: Mapping[str, Any]) -> None:
        self.options = dict(options or {})
        self.stage = as_choice(self.name, "at", self.options.get("at", "prepare"), ("prepare", "run"))
        if self.stage == "prepare":
            self.fault()

    def fault(self) -> None:
        """The misbehaviour; the delay runtime has none."""

    def _outputs(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return [np.array(v, copy=True) for v in inputs.values()] or [np.zeros(1, np.float32)]

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if self.stage == "run":
            self.fault()
        return self._outputs(inputs)

    def bind(self, inputs: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        return functools.partial(self.run, inputs)

    def synchronize(self) -> None:
        return None

    def info(self) -> dict[str, Any]:
        return {"runtime": self.name, "backend": "test", "options": dict(self.options),
                "clock": "time.perf_counter_ns, host, after synchronize()"}

    def close(self) -> None:
        return None


class AbortRuntime(_TestRuntime):
    def fault(self) -> None:
        os.abort()


class OomRuntime(_TestRuntime):
    def fault(self) -> None:
        raise MemoryError(f"{self.name}: simulated out-of-memory")


class SleepRuntime(_TestRuntime):
    def fault(self) -> None:
        time.sleep(float(self.options.get("sleep_s", 3600)))


class SkipRuntime(_TestRuntime):
    def prepare(self, artifact: Artifact, options: Mapping[str, Any]) -> None:
        raise Skip(f"{self.name} always skips (a test runtime)")


class DelayRuntime(_TestRuntime):
    """A known latency: ``delay_us * (1 + slowdown)`` of busy waiting per call."""

    def prepare(self, artifact: Artifact, options: Mapping[str, Any]) -> None:
        super().prepare(artifact, {**(options or {}), "at": "run"})
        try:
            delay_us = float(self.options.get("delay_us", 100.0))
            slowdown = float(self.options.get("slowdown", 0.0))
        except (TypeError, ValueError) as exc:
            raise UserError(f"runtime {self.name}: options delay_us and slowdown must be numbers, "
                            f"got {self.options.get('delay_us')!r}, {self.options.get('slowdown')!r}") from exc
        if delay_us < 0 or slowdown <= -1:
            raise UserError(f"runtime {self.name}: need delay_us >= 0 and slowdown > -1, "
                            f"got {delay_us}, {slowdown}")
        self.delay_ns = int(round(delay_us * 1000 * (1.0 + slowdown)))

    def fault(self) -> None:
        busy_wait_ns(self.delay_ns)

    def bind(self, inputs: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        return functools.partial(busy_wait_ns, self.delay_ns)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "delay_ns": self.delay_ns}


TEST_RUNTIMES: dict[str, type[_TestRuntime]] = {
    "test-abort": AbortRuntime,
    "test-oom": OomRuntime,
    "test-sleep": SleepRuntime,
    "test-delay": DelayRuntime,
    "test-skip": SkipRuntime,
}
