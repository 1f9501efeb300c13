"""Isolation: a crash, an OOM, a time-out or an exception in a worker becomes a status.

The functions the workers run live at module level here so the worker can import them.
``write_tiny_onnx`` is shared with the other execution tests (bench, suite, resume).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from onnxbench.core.case import Case
from onnxbench.core.policy import MeasurePolicy
from onnxbench.isolation.worker import run_isolated
from onnxbench.suite.plan import Plan
from onnxbench.suite.rundir import create_run_dir
from onnxbench.suite.runner import run_cases

FAST = MeasurePolicy(warmup=1, min_runs=3, max_runs=3, min_time_s=0.0)


def write_tiny_onnx(path: Path, dims=("batch", 4)) -> Path:
    """A one-MatMul graph with a symbolic batch: the cheapest real model ORT can run."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [dims[0], 4])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4],
                           np.eye(4, dtype=np.float32).ravel().tolist())
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "tiny",
                              [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


# ---- functions run inside workers -------------------------------------------------

def double(x):
    return 2 * x


def raise_value_error():
    raise ValueError("bad value here\nsecond line of detail")


def raise_ort_allocation_failure():
    raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code "
                       "returned while running MatMul node. Status Message: "
                       "bfc_arena.cc:359 AllocateRawInternal Failed to allocate memory for "
                       "requested buffer of size 8589934592")


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def spawn_and_hang(pid_file: str):
    """Start a grandchild that would outlive us, record its pid, then hang."""
    child = subprocess.Popen(["sleep", "60"])
    Path(pid_file).write_text(str(child.pid))
    time.sleep(60)


# ---- tests -----------------------------------------------------------------------

def test_value_comes_back():
    out = run_isolated(double, 21, timeout_s=60)
    assert out.status == "ok" and out.value == 42 and out.reason is None


def test_exception_is_failed_with_first_line_and_traceback():
    out = run_isolated(raise_value_error, timeout_s=60)
    assert out.status == "failed"
    assert out.reason == "ValueError: bad value here"
    assert "raise_value_error" in out.traceback


def test_a_runtime_allocation_failure_is_oom_not_failed():
    out = run_isolated(raise_ort_allocation_failure, timeout_s=60)
    assert out.status == "oom"
    assert out.reason.startswith("out of memory: RuntimeError: [ONNXRuntimeError]")


@pytest.mark.parametrize("message, oom", [
    ("CUDA out of memory. Tried to allocate 2.00 GiB", True),
    ("CUDA failure 2: out of memory ; GPU=0", True),
    ("std::bad_alloc", True),
    ("Invalid rank for input: x Got: 1 Expected: 2", False),
    ("Ranks of input data are different, cannot concatenate them", False)])
def test_out_of_memory_messages(message, oom):
    from onnxbench.isolation.worker import is_out_of_memory

    assert is_out_of_memory(RuntimeError(message)) is oom


def test_sigkill_not_sent_by_us_is_crashed_unless_the_kernel_counted_an_oom_kill():
    out = run_isolated(kill_self, timeout_s=60)  # nobody ran out of memory here
    assert out.status == "crashed" and "SIGKILL" in out.reason


def test_timeout_kills_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "pid"
    out = run_isolated(spawn_and_hang, str(pid_file), timeout_s=1.5)
    assert out.status == "timeout" and "1.5 s" in out.reason
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # the kill is asynchronous; the zombie is reaped by init
        try:
            os.kill(grandchild, 0)
            with open(f"/proc/{grandchild}/stat") as fh:
                if fh.read().split()[2] == "Z":
                    break
        except (ProcessLookupError, FileNotFoundError):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the worker's grandchild survived the time-out")


def _run(tmp_path, cases, timeout=60.0):
    model = write_tiny_onnx(tmp_path / "tiny.onnx")
    cases = [c.model_copy(update={"model": str(model)}) for c in cases]
    run = create_run_dir(tmp_path / "runs", "t")
    plan = Plan("t", cases, {c.case_id: timeout for c in cases})
    return run_cases(plan, run, env={})


def test_crash_is_recorded_and_the_next_case_still_runs(tmp_path):
    cases = [Case(model="m.onnx", runtime="test-abort", batch=1, measure=FAST),
             Case(model="m.onnx", runtime="ort-cpu", batch=2, measure=FAST)]
    crashed, ok = _run(tmp_path, cases)
    assert crashed.status == "crashed" and crashed.reason == "worker died with SIGABRT"
    assert ok.status == "ok" and ok.stats.n == 3 and len(ok.timing.latencies_ms) == 3
    assert ok.throughput == pytest.approx(2 / (ok.stats.mean / 1000))
    assert ok.timing.session_create_ms is not None and ok.memory["peak_rss_mb"] > 0


def test_oom_and_timeout_statuses(tmp_path):
    cases = [Case(model="m.onnx", runtime="test-oom", batch=1, measure=FAST),
             Case(model="m.onnx", runtime="test-sleep", batch=1, measure=FAST)]
    oom, slept = _run(tmp_path, cases, timeout=1.0)
    assert oom.status == "oom" and "MemoryError" in oom.reason
    assert slept.status == "timeout" and slept.reason == "timed out after 1 s"


def allocate_mb(n: int) -> int:
    return len(bytearray(n * 1024 * 1024))


def virtual_mb() -> int:
    import psutil

    return int(psutil.Process().memory_info().vms / 2**20)


def test_memory_cap_turns_a_big_allocation_into_oom():
    cap = run_isolated(virtual_mb, timeout_s=60).value + 1024  # a worker's own size + 1 GiB
    out = run_isolated(allocate_mb, 4096, timeout_s=60, mem_limit_mb=cap)
    assert out.status == "oom" and "MemoryError" in out.reason
    assert run_isolated(allocate_mb, 8, timeout_s=60, mem_limit_mb=cap).value == 8 * 2**20


SCRIPT = """
import os, sys
with open(sys.argv[1], "a") as log:  # once per import of this script
    log.write(f"{os.getpid()}\\n")
from onnxbench.isolation import worker

def pid():
    return os.getpid()

if __name__ == "__main__":
    worker.PRELOAD[:] = []  # a quick fork server: only the parent's script matters here
    print(" ".join(str(worker.run_isolated(pid).value) for _ in range(3)))
"""


def test_workers_of_a_script_do_not_import_the_script_again(tmp_path):
    """The fork server imports the parent's main script once; its workers inherit it (each
    imported it again before: under Ray, whose worker script imports Ray, ~0.6 s a case)."""
    script, log = tmp_path / "parent.py", tmp_path / "imports.log"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(log)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    workers = set(proc.stdout.split())
    imported = log.read_text().split()
    assert len(workers) == 3 and not workers & set(imported), (workers, imported)
    assert len(imported) == 2  # the script as itself, and once in the fork server
