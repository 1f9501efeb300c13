"""The cyclic garbage collector is off inside every load window and restored after it."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from onnxbench.core.load_spec import LoadSpec
from onnxbench.measure.gcpause import GC_NOTE, gc_paused
from onnxbench.scenarios import ceiling


def test_drive_runs_the_window_with_the_collector_off(monkeypatch):
    seen = []
    monkeypatch.setitem(ceiling.GENERATORS, ("concurrency", "closed-loop"),
                        lambda *a, **k: seen.append(gc.isenabled()))
    assert gc.isenabled()
    ceiling.drive(LoadSpec(name="concurrency", concurrency=1), None, 0, 0.1)
    assert seen == [False]
    assert gc.isenabled()  # restored


def test_gc_paused_restores_after_an_error_and_keeps_a_disabled_collector_off():
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("x")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


def test_the_harness_record_says_so():
    rec = ceiling.harness_mark(None, None, None, None)
    assert rec.python_gc == GC_NOTE


def test_a_serving_process_turns_its_collector_off():
    code = ("import gc; from onnxbench.measure.gcpause import gc_off_for_life; "
            "gc_off_for_life(); print(gc.isenabled(), gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
