"""Python's cyclic garbage collector, paused while a load window runs.

A load generator written in Python shares its process with the collector. A full (oldest
generation) collection walks every tracked object: with torch, onnxruntime and transformers
imported that is ~400k objects and **180–240 ms** on the 2-core CPU VM, during which no
request is issued or answered. Such a pause comes once every few seconds to minutes,
depending on how much the window allocates, so it decides a p99 over a long window and is
missed by a short one: a peak found with 3 s probes then fails a 60 s re-check. It is the
harness's own stall, not the model's (measured: docs/benchmarks/gc_stalls.md).

So each load window runs with the collector off, after a full collection (outside the
window), as ``timeit`` does for its loops; a serving process freezes what it built and
turns the collector off for its life. Reference counting still frees every acyclic object,
which is nearly all a request allocates.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_NOTE = "off in each load window (a full collection before it)"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect, then keep the cyclic collector off until the block ends (restored after)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def gc_off_for_life() -> None:
    """For a process that only serves: freeze what it has built, collector off."""
    gc.collect()
    gc.freeze()
    gc.disable()


__all__ = ["GC_NOTE", "gc_off_for_life", "gc_paused"]
