"""Device time beside host time: the device clock a runtime offers, and what the two say.

A runtime whose calls return before the device has finished (asynchronous launches, e.g.
PyTorch on CUDA) may offer a ``DeviceClock`` (``Runtime.device_clock()``): marks placed on
the device's queue before and after a call (CUDA events), read after ``synchronize()``. A
runtime whose call waits for the device itself (ONNX Runtime's ``Run``) offers none: marks
around a call that has already finished measure the host, not the device.

Per run the timing loops record three figures (``DeviceRun``):

* **host**: call + synchronise, on ``time.perf_counter_ns``: what a caller sees;
* **device**: the device's time between the two marks;
* **launch**: how long the call took to *return* (the host still launching work).

When the host was still launching for most of the run (``launch ≥ LAUNCH_BOUND_SHARE ·
host``), the device waited on the host: the model is **launch-bound**, host time is what a
caller sees and its jitter is the host's (launch jitter), not the device's. The figures are
medians of the same runs, so host and device are reported side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

LAUNCH_BOUND_SHARE = 0.8  # host still launching for >= 80 % of a run: the device waited on it
_NS_PER_MS = 1_000_000


class DeviceClock(Protocol):
    """Marks on a device's queue around one call; read after the device is synchronised."""

    label: str  # what reports call it, e.g. "CUDA events"

    def start(self) -> None:
        """Queue the start mark (before the call)."""

    def stop(self) -> None:
        """Queue the end mark (after the call returned, before synchronising)."""

    def elapsed_ms(self) -> float:
        """The device's time between the last two marks, in ms (after synchronising)."""


@dataclass
class DeviceRun:
    """One timed call on both clocks (ms)."""

    host_ms: float
    device_ms: float | None = None
    launch_ms: float | None = None


def timed_call(fn: Callable[[], Any], sync: Callable[[], None] | None,
               device: DeviceClock | None, clock: Callable[[], int]) -> DeviceRun:
    """One call timed on the host clock (``clock``, ns) and, when given, the device clock."""
    if device is None:
        t0 = clock()
        fn()
        if sync is not None:
            sync()
        return DeviceRun((clock() - t0) / _NS_PER_MS)
    device.start()
    t0 = clock()
    fn()
    t1 = clock()
    device.stop()
    if sync is not None:
        sync()
    t2 = clock()
    return DeviceRun((t2 - t0) / _NS_PER_MS, device.elapsed_ms(), (t1 - t0) / _NS_PER_MS)


def launch_share(launch_ms: Sequence[float], host_ms: Sequence[float]) -> float | None:
    """Median launch time over median host time: the share of a run the host was launching."""
    if not launch_ms or not host_ms:
        return None
    host = float(np.median(host_ms))
    return float(np.median(launch_ms)) / host if host > 0 else None


def side_by_side(host_ms: Sequence[float], device_ms: Sequence[float],
                 launch_ms: Sequence[float], label: str) -> dict[str, Any]:
    """Host and device medians of the same runs, the launch share and the launch-bound flag."""
    share = launch_share(launch_ms, host_ms)
    return {"clock": label, "runs": len(device_ms),
            "host_p50_ms": float(np.median(host_ms)) if host_ms else None,
            "device_p50_ms": float(np.median(device_ms)) if device_ms else None,
            "launch_p50_ms": float(np.median(launch_ms)) if launch_ms else None,
            "launch_share": share,
            "launch_bound": share is not None and share >= LAUNCH_BOUND_SHARE}


def launch_note(share: float) -> str:
    """The sentence a report prints for a launch-bound model."""
    return (f"launch-bound: the host was still launching work for {100 * share:.0f} % of each "
            "run, so the device waited on it; host time is what a caller sees, and launch "
            "jitter (the host's CPU), not the device, dominates it")


__all__ = ["LAUNCH_BOUND_SHARE", "DeviceClock", "DeviceRun", "launch_note", "launch_share",
           "side_by_side", "timed_call"]
