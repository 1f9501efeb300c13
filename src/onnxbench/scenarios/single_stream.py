"""The single-stream scenarios: one session, one request at a time, the timing loop.

- ``single-stream``: the case's inputs, bound once, timed under the stopping rules
  (``onnxbench.measure.timer``); the device's own clock beside the host's;
- ``seq-mix``: the same session over a seeded order of sequence lengths (``case.seq_mix``,
  ``onnxbench.measure.shape_mix``).

Session creation is timed apart; after the timed loop come parity, accuracy, placement and
the profile (``onnxbench.scenarios.after``), in a point's first process only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from onnxbench.core import timeline
from onnxbench.core.case import Case
from onnxbench.core.result import Result, Timing
from onnxbench.isolation.memory import peak_memory_mb
from onnxbench.measure.shape_mix import run_mix
from onnxbench.measure.stats import summarize
from onnxbench.measure.timer import measure
from onnxbench.model.bundle import Bundle
from onnxbench.profile import after_timing
from onnxbench.runtimes.base import Runtime
from onnxbench.runtimes.prep import pad_inputs, runtime_options
from onnxbench.scenarios.after import case_accuracy, case_parity, device_times
from onnxbench.scenarios.base import Scenario


class SingleStream(Scenario):
    """One request at a time on the case's inputs."""

    name: ClassVar[str] = "single-stream"

    def run(self, case: Case, bundle: Bundle, runtime: Runtime,
            base: dict[str, Any]) -> Result:
        """Prepare (timed as session creation), bind, run the timing loop, summarise."""
        options = runtime_options(case, bundle, runtime)
        inputs, padding = pad_inputs(bundle.make_inputs(case), case)
        timeline.mark("session_start")
        t = time.perf_counter_ns()
        runtime.prepare(bundle, options)
        session_ms = (time.perf_counter_ns() - t) / 1e6
        timeline.mark("session_ready")
        # a CPU runtime's synchronize() is a no-op: leave it out of the timed loop altogether
        sync = runtime.synchronize if runtime.device == "cuda" else None
        timing, mix = self.timed(case, bundle, runtime, sync, inputs)
        timing.session_create_ms = session_ms
        stats = summarize(timing.latencies_ms, unstable_iqr_ratio=case.measure.unstable_iqr_ratio)
        info = {**runtime.info(), **padding, **runtime.what_ran()}
        memory = {**peak_memory_mb(), **runtime.device_memory()}
        parity = case_parity(case, bundle, runtime, inputs)
        accuracy = case_accuracy(case, bundle, runtime)
        # fresh sessions: the timed one is done
        placement, profile = (None, None) if case.repeat else (  # a point's first process only
            after_timing(runtime, runtime.cast_inputs(inputs), case.options, stats.p50))
        return Result(status="ok", timing=timing, stats=stats,
                      throughput=case.batch / (stats.mean / 1000.0) if stats.mean > 0 else None,
                      memory=memory, runtime_info=info, parity=parity, accuracy=accuracy,
                      placement=placement, profile=profile, mix=mix, **base)

    def timed(self, case: Case, bundle: Bundle, runtime: Runtime,
              sync: Callable[[], None] | None,
              inputs: Any) -> tuple[Timing, dict[str, Any] | None]:
        """The timing loop on the bound inputs, and the device clock's figure after it."""
        call = runtime.bind(runtime.cast_inputs(inputs))
        timing = measure(call, sync, case.policy)
        timing.stages_ms.update(device_times(runtime, call, timing))
        return timing, None


class SeqMix(SingleStream):
    """Mixed shapes: one session, a seeded order of sequence lengths."""

    name: ClassVar[str] = "seq-mix"

    def timed(self, case: Case, bundle: Bundle, runtime: Runtime,
              sync: Callable[[], None] | None,
              inputs: Any) -> tuple[Timing, dict[str, Any] | None]:
        """The timing loop over the case's ``seq_mix`` (``onnxbench.measure.shape_mix``)."""
        def bind(seq: int) -> Callable[[], Any]:
            feeds, _ = pad_inputs(bundle.make_inputs(case, seq=seq), case)
            return runtime.bind(runtime.cast_inputs(feeds))

        timing, mix = run_mix(bind, sync, case.policy, case.seq_mix or [], case.seed)
        return timing, mix
