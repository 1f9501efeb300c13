"""A Ray node lost mid-case: the case is ``crashed`` with the reason and ``--resume`` reruns it.

A cluster of two raylets on this host (``ray.cluster_utils.Cluster``): a head without CPUs
and a worker node with the custom resource ``doomed``, which the suite's ``hardware:``
pins the case to. The worker node is killed (not drained) while the case runs.
"""

from __future__ import annotations

import logging
import threading
import time

import psutil
import pytest

from clitools import run_cli as cli
from helpers import write_tiny_onnx
from onnxbench.core.result import read_results

ray = pytest.importorskip("ray", reason="needs the [ray] extra: pip install 'onnxbench[ray]'")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SUITE = """
suite: lost
defaults:
  measure: {{warmup: 0, min_runs: 1, max_runs: 100000, min_time_s: 0.2, max_time_s: 0.2}}
  processes: 1
cases:
  - model: {tiny}
    runtimes: test-sleep
    options: {{sleep_s: 6}}
    hardware: doomed
"""


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                            "include_dashboard": False})
    node = cluster.add_node(num_cpus=2, resources={"doomed": 1})
    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.ERROR)
    yield cluster, node
    ray.shutdown()
    cluster.shutdown()


def _remove_when_running(cluster, node, done: list[bool], limit_s: float = 300.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        tasks = [p for p in psutil.Process().children(recursive=True)
                 if "run_case" in p.name()]
        if tasks:
            time.sleep(2.0)
            cluster.remove_node(node, allow_graceful=False)
            done.append(True)
            return
        time.sleep(0.1)


def test_a_node_lost_mid_case_is_crashed_and_resume_reruns_it(cluster, tmp_path, capsys):
    cluster, node = cluster
    suite = tmp_path / "lost.yaml"
    suite.write_text(SUITE.format(tiny=write_tiny_onnx(tmp_path / "tiny.onnx")))
    removed: list[bool] = []
    killer = threading.Thread(target=_remove_when_running, args=(cluster, node, removed),
                              daemon=True)
    killer.start()
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                       "--executor", "ray", "--quiet")
    killer.join(10)
    assert code == 1 and removed and "no case succeeded" in err, err  # its one case crashed
    (run,) = (tmp_path / "runs").iterdir()
    (lost,) = read_results(run / "raw")
    assert lost.status == "crashed" and lost.rerun, (lost.status, lost.reason)
    assert "lost mid-case" in lost.reason and "node" in lost.reason.lower()
    cluster.add_node(num_cpus=2, resources={"doomed": 1})  # a replacement machine joins
    cluster.wait_for_nodes()
    code, _, err = cli(capsys, "run", "--resume", run, "--trust", "--executor", "ray", "--quiet")
    assert code == 0, err
    (again,) = read_results(run / "raw")
    assert again.status == "ok" and not again.rerun
    assert again.ran_on["node_id"] != node.node_id
