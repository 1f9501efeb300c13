"""``--executor ray`` on a small local Ray cluster (2 CPUs): runs, resumes and aggregates
like ``local``; places CPU timings exclusively; a Ray worker killed mid-case makes the case
``crashed`` and ``--resume`` reruns it; a killed driver's run resumes with Ray; Ctrl-C
cancels the cases in flight and prints the resume line.

One cluster serves the module (Ray takes seconds to start on 2 cores); drivers join it
in-process (Ray already initialised) or from a subprocess (``--ray-address``).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from clitools import run_cli as cli
from helpers import default_sigint, write_tiny_onnx
from onnxbench.core.result import read_results

ray = pytest.importorskip("ray", reason="needs the [ray] extra: pip install 'onnxbench[ray]'")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SUITE = """
suite: tiny
defaults:
  measure: {{warmup: 1, min_runs: 3, max_runs: 100000, min_time_s: {secs}, max_time_s: {secs}}}
  processes: 1
cases:
  - model: {tiny}
    runtimes: {runtimes}
    options: {{delay_us: 100{extra}}}
    batch: {batch}
"""


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of 2 CPUs for the module; yields its address for other drivers."""
    info = ray.init(num_cpus=2, resources={"tinybox": 1}, include_dashboard=False,
                    log_to_driver=False, logging_level=logging.ERROR)
    yield info.address_info["address"]
    ray.shutdown()


def write_suite(tmp_path: Path, runtimes="[test-delay]", batch="[1, 2]", secs=0.3,
                extra="") -> Path:
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.format(tiny=tiny, runtimes=runtimes, batch=batch, secs=secs,
                                 extra=extra))
    return path


def run_dir_of(runs: Path) -> Path:
    (found,) = [p for p in runs.iterdir() if p.is_dir()]
    return found


def shape(value):
    """The nested key structure of a JSON value (the values themselves ignored; a timeline's
    marks depend on the path a case took)."""
    return {k: "." if k == "timeline" else shape(v) for k, v in value.items()} \
        if isinstance(value, dict) else "."


def in_order(timeline: dict[str, float]) -> bool:
    """Are the marks in the order a case meets them (one host: one wall clock)?"""
    from onnxbench.core.timeline import MARKS

    stamps = [timeline[m] for m in MARKS if m in timeline and m != "worker_born"]
    return stamps == sorted(stamps)


def interval(result) -> tuple[float, float]:
    start = datetime.fromisoformat(result.started_at).timestamp()
    return start, start + result.duration_s


def test_ray_resumes_a_local_run_and_aggregates_results_shaped_like_local(cluster, tmp_path,
                                                                          capsys):
    suite = write_suite(tmp_path, runtimes="[test-delay, ort-cpu]")
    runs = tmp_path / "runs"
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", runs, "--only", "_b1_",
                       "--quiet")
    assert code == 0, err
    run = run_dir_of(runs)
    code, out, err = cli(capsys, "run", "--resume", run, "--trust", "--executor", "ray", "--quiet",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["summary"]["statuses"] == {"ok": 4}
    code, out, err = cli(capsys, "aggregate", run, "--json")
    assert code == 0 and json.loads(out)["summary"]["n_points"] == 4, err

    docs = {p.parent.name: json.loads(p.read_text()) for p in (run / "raw").glob("*/result.json")}
    for runtime in ("test-delay", "ort-cpu"):
        (local,) = [d for cid, d in docs.items() if f"_{runtime}_b1_" in cid]
        (remote,) = [d for cid, d in docs.items() if f"_{runtime}_b2_" in cid]
        assert (local["ran_on"]["executor"], remote["ran_on"]["executor"]) == ("local", "ray")
        assert shape(local) == shape(remote), runtime
        assert remote["status"] == "ok" and remote["stats"]["n"] >= 3
        assert remote["ran_on"]["pinned"] and remote["ran_on"]["node_id"]
        assert (run / "raw" / remote["case_id"] / "worker.log").is_file()
        for doc in (local, remote):
            assert in_order(doc["timeline"]) and {"dispatched", "worker_up", "loop_start",
                                                  "loop_end", "returned"} <= set(doc["timeline"])
    # both Ray cases ran on one warm actor (one device: whole-node CPU cases): its fork
    # server was up before either case asked for a worker
    remote = [d["timeline"] for cid, d in docs.items() if "_b2_" in cid]
    assert len({tl["worker_born"] for tl in remote}) == 1
    assert not any("forkserver_ready" in tl for tl in remote)


def test_two_cpu_cases_that_take_all_cores_never_overlap(cluster, tmp_path, capsys):
    suite = write_suite(tmp_path, batch="[1, 2, 3]", secs=0.8)
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                       "--executor", "ray", "--quiet")
    assert code == 0, err
    results = read_results(run_dir_of(tmp_path / "runs") / "raw")
    assert len(results) == 3 and all(r.status == "ok" for r in results)
    spans = sorted(interval(r) for r in results)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"two whole-node CPU cases overlapped: {spans}"
    cores = min(2, len(os.sched_getaffinity(0)))
    assert all(r.ran_on["cores"] is not None and len(r.ran_on["cores"]) == cores
               and r.runtime_info["OMP_NUM_THREADS"] == str(cores) for r in results)


def test_cases_of_two_kinds_share_the_cluster_one_kind_after_the_other(cluster, tmp_path,
                                                                       capsys):
    """One-core cases (an actor per core) and a whole-node case (an actor holding both
    cores): the idle actors of a finished kind give their cores back, so all run."""
    suite = write_suite(tmp_path, batch="[1, 2]", secs=0.3, extra=", threads: 1")
    suite.write_text(suite.read_text() + "  - model: {}\n    runtimes: [test-delay]\n"
                     "    batch: [3]\n".format(tmp_path / "tiny.onnx"))
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                       "--executor", "ray", "--quiet")
    assert code == 0, err
    results = read_results(run_dir_of(tmp_path / "runs") / "raw")
    assert sorted(r.case.batch for r in results if r.status == "ok") == [1, 2, 3]
    (whole,) = [r for r in results if r.case.batch == 3]
    start, end = interval(whole)
    assert all(e <= start or s >= end for s, e in map(interval, results) if s != start)


def _running_tasks() -> list[psutil.Process]:
    out = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "run_case" in proc.name():  # a task, or an actor's call
                out.append(proc)
        except psutil.Error:
            continue
    return out


def _kill_task_after(delay_s: float, found: list[int], limit_s: float = 300.0) -> None:
    """Kill (SIGKILL) the first Ray worker seen running a case, ``delay_s`` after seeing it."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and not found:
        found += [p.pid for p in _running_tasks()[:1]]
        time.sleep(0.1)
    if found:
        time.sleep(delay_s)
        os.kill(found[0], signal.SIGKILL)


def test_a_ray_worker_killed_mid_case_is_crashed_and_resume_reruns_it(cluster, tmp_path,
                                                                      capsys):
    suite = write_suite(tmp_path, runtimes="[test-sleep]", batch="[1]", secs=0.2,
                        extra=", sleep_s: 8")
    killed: list[int] = []
    killer = threading.Thread(target=_kill_task_after, args=(2.0, killed), daemon=True)
    killer.start()
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                       "--executor", "ray", "--quiet")
    killer.join(5)
    assert code == 1 and killed and "no case succeeded" in err, err  # its one case crashed
    run = run_dir_of(tmp_path / "runs")
    (result,) = read_results(run / "raw")
    assert result.status == "crashed" and result.rerun, (result.status, result.reason)
    assert "Ray worker or its node was lost mid-case" in result.reason
    code, _, err = cli(capsys, "run", "--resume", run, "--trust", "--executor", "ray", "--quiet")
    assert code == 0, err
    (again,) = read_results(run / "raw")
    assert again.status == "ok" and not again.rerun and again.started_at > result.started_at


def _driver_with_a_result(suite: Path, runs: Path, cluster: str) -> subprocess.Popen:
    """``onnxbench run --executor ray`` in a subprocess, once its first result is written."""
    proc = subprocess.Popen([sys.executable, "-m", "onnxbench", "run", "--suite", str(suite),
                             "--out", str(runs), "--executor", "ray", "--ray-address", cluster,
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None \
            and not list(runs.glob("*/raw/*/result.json")):
        time.sleep(0.05)
    return proc


def test_a_killed_ray_driver_resumes_with_ray(cluster, tmp_path, capsys):
    runs = tmp_path / "runs"
    proc = _driver_with_a_result(write_suite(tmp_path, batch="[1, 2, 3, 4]", secs=0.5), runs,
                                 cluster)
    try:
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        _, err = proc.communicate()
    run = run_dir_of(runs)
    before = {r.case_id: r.started_at for r in read_results(run / "raw")}
    assert 1 <= len(before) < 4, f"the kill came too late: {err}"
    code, out, err = cli(capsys, "run", "--resume", run, "--trust", "--executor", "ray", "--quiet",
                         "--json")
    assert code == 0, err
    after = {r.case_id: r for r in read_results(run / "raw")}
    assert len(after) == 4 and all(r.status == "ok" for r in after.values())
    assert all(after[cid].started_at == stamp for cid, stamp in before.items())
    assert json.loads(out)["summary"]["statuses"] == {"ok": 4}


def test_hardware_names_a_node_resource_and_an_absent_one_exits_2(cluster, tmp_path, capsys):
    suite = write_suite(tmp_path, batch="[1]", secs=0.1)
    text = suite.read_text().replace("    batch: [1]", "    batch: [1]\n    hardware: [tinybox]")
    suite.write_text(text)
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                       "--executor", "ray", "--quiet")
    assert code == 0, err
    (result,) = read_results(run_dir_of(tmp_path / "runs") / "raw")
    assert result.status == "ok" and result.case.hardware == "tinybox"
    assert result.case_id.endswith("_hw-tinybox_r0")
    suite.write_text(text.replace("tinybox", "h100"))
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "none",
                       "--executor", "ray", "--quiet")
    assert code == 2 and "hardware 'h100'" in err and not (tmp_path / "none").exists(), err


def test_ctrl_c_cancels_the_cases_in_flight_and_says_how_to_resume(cluster, tmp_path):
    runs = tmp_path / "runs"
    proc = _driver_with_a_result(write_suite(tmp_path, batch="[1, 2, 3, 4]", secs=1.5,
                                             extra=", threads: 1"), runs, cluster)
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    run = run_dir_of(runs)
    assert proc.returncode == 130, err
    assert f"--resume {run}" in err and "Traceback" not in err, err
    done = read_results(run / "raw")
    assert 1 <= len(done) < 4 and all(r.status == "ok" for r in done), err
    deadline = time.monotonic() + 30  # the cancelled tasks' workers go back to idle
    while _running_tasks() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running_tasks()
