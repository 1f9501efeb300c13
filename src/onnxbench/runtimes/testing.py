"""Runtimes that misbehave on purpose, for tests and for validating the harness itself.

They need no model and work with any artifact:
- ``test-abort``: ``os.abort()`` (in prepare, or the first run with ``at: run``): the
  isolation test needs a worker that really crashes (SIGABRT).
- ``test-oom``: raises ``MemoryError`` (the worker must record status ``oom``).
- ``test-sleep``: sleeps ``sleep_s`` (default one hour), longer than any time-out.
- ``test-delay``: a pure-Python busy wait of ``delay_us`` microseconds, times
  ``1 + slowdown``: the A/B sensitivity benchmark needs a runtime slowed by a *known*
  fraction (e.g. 10 %) to check that the statistics detect it. With ``wait: sleep`` it
  sleeps instead, releasing the GIL as a native runtime does: N threads then serve N calls
  at once (a known capacity for the load scenarios). With ``device_clock: true`` it offers a
  fake device clock (``FakeDeviceClock``) and ``synchronize()`` busy-waits ``sync_us``: a
  device that finishes ``sync_us`` after the call returns, so device time and the launch
  share are known on a CPU.
- ``test-skip``: always ``Skip``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from onnxbench.core.errors import Skip
from onnxbench.core.options import Flag, choice, number
from onnxbench.runtimes.base import Inputs, Runtime, RuntimeOptions

if TYPE_CHECKING:
    from onnxbench.model.bundle import Bundle


def busy_wait_ns(duration_ns: int) -> None:
    """Spin (no sleep: sleeping has millisecond jitter) until ``duration_ns`` have passed."""
    end = time.perf_counter_ns() + duration_ns
    while time.perf_counter_ns() < end:
        pass


class TestOptions(RuntimeOptions):
    """When and how the test runtimes misbehave."""

    at: Annotated[str, choice("prepare", "run")] = Field(
        "prepare", description="when the fault happens: prepare or the first run")
    sleep_s: Annotated[float, number(0, optional=False)] = Field(
        3600.0, description="test-sleep: seconds to sleep")
    delay_us: Annotated[float, number(0, optional=False)] = Field(
        100.0, description="test-delay: busy wait per call (microseconds)")
    slowdown: Annotated[float, number(-1, above=True, optional=False)] = Field(
        0.0, description="test-delay: the delay is delay_us * (1 + slowdown)")
    wait: Annotated[str, choice("spin", "sleep")] = Field(
        "spin", description="test-delay: spin (holds the GIL) or sleep (releases it, as a "
        "native runtime does: N threads serve N calls at once)")
    device_clock: Flag = Field(False, description="test-delay: a fake device clock")
    sync_us: Annotated[float, number(0, optional=False)] = Field(
        0.0, description="test-delay: synchronize() busy-waits this long (a device that "
                         "is still working when the call returns)")


class _TestRuntime(Runtime):
    """Shared plumbing: echo the inputs as outputs, no device, fault injected at a stage."""

    __test__ = False  # not a pytest test class
    framework = "test"
    thread_safe = True
    Options: ClassVar[type[RuntimeOptions]] = TestOptions

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.opts: TestOptions = TestOptions()

    def prepare(self, bundle: Bundle, options: Mapping[str, Any]) -> None:
        self.accept(bundle, options)
        if self.opts.at == "prepare":
            self.fault()

    def fault(self) -> None:
        """The misbehaviour; the delay runtime has none."""

    def _outputs(self, inputs: Inputs) -> list[np.ndarray]:
        return [np.array(v, copy=True) for v in inputs.values()] or [np.zeros(1, np.float32)]

    def run(self, inputs: Inputs) -> list[np.ndarray]:
        if self.opts.at == "run":
            self.fault()
        return self._outputs(inputs)

    def bind(self, inputs: Inputs) -> Callable[[], Any]:
        return functools.partial(self.run, inputs)

    def info(self) -> dict[str, Any]:
        return {**self.base_info(), "backend": "test",
                "clock": "time.perf_counter_ns, host, after synchronize()"}


class AbortRuntime(_TestRuntime):
    def fault(self) -> None:
        os.abort()


class OomRuntime(_TestRuntime):
    def fault(self) -> None:
        raise MemoryError(f"{self.name}: simulated out-of-memory")


class SleepRuntime(_TestRuntime):
    def fault(self) -> None:
        time.sleep(self.opts.sleep_s)


class SkipRuntime(_TestRuntime):
    def prepare(self, bundle: Bundle, options: Mapping[str, Any]) -> None:
        raise Skip(f"{self.name} always skips (a test runtime)")


class DelayRuntime(_TestRuntime):
    """A known latency: ``delay_us * (1 + slowdown)`` of busy waiting per call."""

    def prepare(self, bundle: Bundle, options: Mapping[str, Any]) -> None:
        super().prepare(bundle, {**(options or {}), "at": "run"})
        self.delay_ns = round(self.opts.delay_us * 1000 * (1.0 + self.opts.slowdown))

    def _delay(self) -> None:
        if self.opts.wait == "sleep":
            time.sleep(self.delay_ns / 1e9)
        else:
            busy_wait_ns(self.delay_ns)

    def fault(self) -> None:
        self._delay()

    def bind(self, inputs: Inputs) -> Callable[[], Any]:
        if self.opts.wait == "sleep":
            return functools.partial(time.sleep, self.delay_ns / 1e9)
        return functools.partial(busy_wait_ns, self.delay_ns)

    def synchronize(self) -> None:
        if self.opts.sync_us:
            busy_wait_ns(round(self.opts.sync_us * 1000))

    def device_clock(self) -> FakeDeviceClock | None:
        return FakeDeviceClock(self.opts.sync_us) if self.opts.device_clock else None

    def info(self) -> dict[str, Any]:
        return {**super().info(), "delay_ns": self.delay_ns, "wait": self.opts.wait}


class FakeDeviceClock:
    """A device that is busy from ``start`` until ``sync_us`` after ``stop`` (the host's
    clock stands in for the device's): test-delay's ``device_clock``."""

    label = "fake device clock (test-delay)"

    def __init__(self, sync_us: float) -> None:
        self.sync_ns = round(sync_us * 1000)
        self.t0 = self.t1 = 0

    def start(self) -> None:
        self.t0 = time.perf_counter_ns()

    def stop(self) -> None:
        self.t1 = time.perf_counter_ns()

    def elapsed_ms(self) -> float:
        return (self.t1 - self.t0 + self.sync_ns) / 1e6
