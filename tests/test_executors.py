"""Executors without a cluster: placement requests, core claims, artifact shipping, the
suite's ``executor:`` and ``hardware:`` fields, the missing-extra error, lost Ray tasks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import UserError
from onnxbench.executors import make_executor, shipping
from onnxbench.executors.placement import Node, claimed_cores, request_for, slots
from onnxbench.suite import expand, parse_suite
from test_bench_cli import cli
from test_worker import write_tiny_onnx

CPU8 = Node("n-cpu", "cpu-host", {"CPU": 8.0, "memory": 1e9})
GPU4 = Node("n-gpu", "gpu-host", {"CPU": 16.0, "GPU": 4.0, "accelerator_type:H100": 1.0})
A10 = Node("n-a10", "a10-host", {"CPU": 8.0, "GPU": 1.0, "a10g": 1.0})


def case(runtime="ort-cpu", hardware=None, **options) -> Case:
    return Case(model="m.onnx", runtime=runtime, batch=1, options=options, hardware=hardware)


def test_a_cpu_case_without_threads_takes_a_whole_node():
    req = request_for(case(), [CPU8, GPU4])
    assert req.whole_node and set(req.nodes) == {"n-cpu", "n-gpu"} and req.num_gpus == 0
    assert slots(req, [CPU8, GPU4]) == 2  # one such case per node at a time


def test_a_cpu_case_takes_its_threads_or_one_core_when_nodes_may_be_shared():
    req = request_for(case(threads=4), [CPU8])
    assert (req.num_cpus, req.whole_node, slots(req, [CPU8])) == (4, False, 2)
    assert request_for(case(), [CPU8], share_cpu_nodes=True).num_cpus == 1
    too_many = request_for(case(threads=32), [CPU8])
    assert too_many.skip and "largest node" in too_many.skip and "8" in too_many.skip


def test_a_gpu_case_takes_one_gpu_and_its_share_of_the_cores():
    req = request_for(case("ort-cuda"), [CPU8, GPU4])
    assert (req.num_gpus, req.num_cpus, req.nodes) == (1, 4, ("n-gpu",))
    assert slots(req, [CPU8, GPU4]) == 4
    assert request_for(case("torch-cuda", threads=2), [GPU4]).num_cpus == 2
    assert "no node of the Ray cluster has a GPU" in request_for(case("ort-cuda"), [CPU8]).skip


def test_hardware_maps_to_a_custom_or_an_accelerator_type_resource():
    assert request_for(case("ort-cuda", "a10g"), [GPU4, A10]).resources == {"a10g": 0.001}
    h100 = request_for(case("ort-cuda", "h100"), [GPU4, A10])
    assert h100.resources == {"accelerator_type:H100": 0.001} and h100.nodes == ("n-gpu",)
    with pytest.raises(UserError, match=r"hardware 'v100'.*ray start"):
        request_for(case("ort-cuda", "v100"), [GPU4, A10])


def test_core_claims_are_exclusive_and_released():
    n = len(os.sched_getaffinity(0))
    with claimed_cores(n) as first:
        assert first == sorted(os.sched_getaffinity(0))
        with claimed_cores(1, wait_s=0.3) as second:
            assert second is None  # every core is held
    with claimed_cores(1, wait_s=0.3) as again:
        assert again is not None and len(again) == 1


def test_an_artifact_travels_as_its_folder_and_lands_under_the_same_names(tmp_path):
    key = tmp_path / "artifacts" / "tiny_key"
    key.mkdir(parents=True)
    onnx = write_tiny_onnx(key / "model.onnx")
    (key / "model.pt").write_bytes(b"state")
    (key / "artifact.json").write_text("{}")
    (key / "worker.log").write_text("noise")
    art = shipping.absolute(Artifact("dcnv2", "light", onnx, key / "model.pt"))
    pack = shipping.pack(art, tmp_path / "artifacts")
    assert sorted(Path(p).name for p in pack) == ["artifact.json", "model.onnx", "model.pt"]
    stamps = shipping.stamps(art, tmp_path / "artifacts")
    assert shipping.present(stamps)
    there = shipping.unpack(art, pack, stamps, tmp_path / "node")
    assert there.onnx_path.read_bytes() == onnx.read_bytes()
    assert there.state_path.parent == there.onnx_path.parent
    assert (there.onnx_path.parent / "artifact.json").is_file()
    assert not shipping.present({str(tmp_path / "elsewhere.onnx"): [3, 0]})


def test_a_node_fetches_an_artifact_once_and_again_when_it_changed(tmp_path):
    """Files in place are read there; elsewhere the first case fetches and unpacks the
    pack, later ones find it unpacked; a model re-exported under its name (same size, new
    modification time) is fetched again."""
    onnx = write_tiny_onnx(tmp_path / "model.onnx")
    art = shipping.absolute(Artifact("m", None, onnx, None))
    fetched: list[int] = []
    stamps = shipping.stamps(art, tmp_path / "artifacts")
    assert shipping.on_node(art, stamps, lambda: {}, tmp_path / "node") == art  # in place
    elsewhere = {f"{tmp_path}/gone/model.onnx": stamps[str(onnx)]}  # not on this node
    moved = shipping.absolute(Artifact("m", None, tmp_path / "gone" / "model.onnx", None))
    packed = {f"{tmp_path}/gone/model.onnx": onnx.read_bytes()}

    def fetch_moved() -> shipping.Pack:
        fetched.append(1)
        return packed

    first = shipping.on_node(moved, elsewhere, fetch_moved, tmp_path / "node")
    again = shipping.on_node(moved, elsewhere, fetch_moved, tmp_path / "node")
    assert first == again and first.onnx_path.read_bytes() == onnx.read_bytes()
    assert len(fetched) == 1
    size, mtime = elsewhere[str(moved.onnx_path)]
    newer = {str(moved.onnx_path): [size, mtime + 1_000_000_000]}  # re-exported, same size
    shipping.on_node(moved, newer, fetch_moved, tmp_path / "node")
    assert len(fetched) == 2 and first.onnx_path.stat().st_mtime_ns == mtime + 1_000_000_000


def test_suite_executor_and_hardware_fields(tmp_path):
    tiny = write_tiny_onnx(tmp_path / "t.onnx")
    suite = parse_suite(f"suite: s\nexecutor: ray\ncases:\n  - model: {tiny}\n"
                        "    hardware: [a10g, h100]\n    processes: 1\n")
    assert suite.executor.name == "ray" and not suite.executor.share_cpu_nodes
    ids = [c.case_id for c in expand(suite).cases]
    assert [i.split("_")[-2] for i in ids] == ["hw-a10g", "hw-h100"]
    spec = parse_suite(f"suite: s\nexecutor: {{name: ray, address: auto, share_cpu_nodes: true}}"
                       f"\ncases:\n  - model: {tiny}\n").executor
    assert (spec.address, spec.share_cpu_nodes) == ("auto", True)
    with pytest.raises(UserError, match=r"<suite>:2: executor.name: unknown executor 'rey'; "
                                        r"did you mean 'ray'"):
        parse_suite(f"suite: s\nexecutor: rey\ncases:\n  - model: {tiny}\n")


def test_resume_reads_the_executor_of_the_suite_as_run():
    from onnxbench.suite.parse import executor_spec

    text = "suite: s\nexecutor: {name: ray, address: 'head:6379'}\ncases: []\n"
    assert executor_spec(text).model_dump() == {"name": "ray", "address": "head:6379",
                                                "share_cpu_nodes": False}
    assert executor_spec("suite: s\ncases: []\n").name == "local"
    with pytest.raises(UserError, match=r"suite\.yaml: executor: "):
        executor_spec("executor: {name: ray, adress: x}\n", "suite.yaml")


def test_hardware_needs_the_ray_executor(tmp_path, capsys):
    tiny = write_tiny_onnx(tmp_path / "t.onnx")
    suite = tmp_path / "hw.yaml"
    suite.write_text(f"suite: hw\ncases:\n  - model: {tiny}\n    hardware: h100\n")
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs")
    assert code == 2 and "--executor ray" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # refused before a run directory was made


def test_executor_options_are_checked():
    with pytest.raises(UserError, match="unknown; choose one of: local, ray"):
        make_executor("dask")
    with pytest.raises(UserError, match="executor local: takes no address"):
        make_executor("local", address="auto")


def test_without_the_ray_extra_executor_ray_exits_2_with_the_install_line(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    tiny = write_tiny_onnx(tmp_path / "t.onnx")
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: s\ncases:\n  - model: {tiny}\n    runtimes: test-skip\n")
    code, out, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                         "--executor", "ray")
    assert code == 2, (out, err)
    assert err.strip() == ("onnxbench: error: --executor ray needs Ray, an optional extra: "
                           "pip install 'onnxbench[ray]'")
    assert not (tmp_path / "runs").exists()


def test_an_address_where_no_cluster_answers_exits_2_at_once(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray", reason="needs the [ray] extra")
    import socket

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # keep this process's auth mode as it is

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tiny = write_tiny_onnx(tmp_path / "t.onnx")
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: s\ncases:\n  - model: {tiny}\n    runtimes: test-skip\n")
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                       "--executor", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert code == 2 and "no Ray cluster answers at " in err and f":{port};" in err, err
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")  # ray.init would join it, for ever
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs",
                       "--executor", "ray")
    assert code == 2 and err.startswith(f"onnxbench: error: RAY_ADDRESS 127.0.0.1:{port}: "), err
    assert not (tmp_path / "runs").exists()


def test_a_lost_ray_task_becomes_crashed_and_is_rerun_on_resume(tmp_path):
    ray = pytest.importorskip("ray", reason="needs the [ray] extra")
    from onnxbench.core.result import write_result
    from onnxbench.executors.ray import lost
    from onnxbench.suite.rundir import RunDir

    c = case("test-delay")
    node = lost(c, ray.exceptions.NodeDiedError("node 10.0.0.7 died: raylet missed heartbeats"),
                "2026-01-01T00:00:00+00:00", 3.5)
    assert node.status == "crashed" and node.rerun and node.duration_s == 3.5
    assert "lost mid-case" in node.reason and "raylet missed heartbeats" in node.reason
    worker = lost(c, ray.exceptions.WorkerCrashedError(), "t", 1.0)
    assert worker.status == "crashed" and "died unexpectedly" in worker.reason
    oom = lost(c, ray.exceptions.OutOfMemoryError("node memory 97% > 95%"), "t", 1.0)
    assert oom.status == "oom" and not oom.rerun
    run = RunDir(tmp_path)
    write_result(node, run.raw)
    assert not run.done(c)  # --resume runs it again
    write_result(node.model_copy(update={"rerun": False, "status": "ok"}), run.raw)
    assert run.done(c)


def _on(hardware: str, result):
    case = result.case.model_copy(update={"hardware": hardware})
    return result.model_copy(update={"case": case, "case_id": case.case_id})


def test_the_report_puts_each_hardware_in_a_column(tmp_path):
    from onnxbench.core.result import write_result
    from onnxbench.report import build_report
    from onnxbench.report.markdown import render_markdown
    from report_fixtures import make_result

    results = [_on("a10g", make_result("ort-cuda", 8, 2.0, seed=1)),
               _on("h100", make_result("ort-cuda", 8, 1.0, seed=2)),
               _on("a10g", make_result("ort-cuda", 64, 4.0, seed=3)),
               _on("h100", make_result("ort-cuda", 64, 4.0, seed=4)),
               _on("a10g", make_result("torch-cuda", 8, 3.0, seed=5, exporter=None)),
               _on("h100", make_result("torch-cuda", 8, None, status="oom", exporter=None,
                                       reason="out of memory: CUDA out of memory"))]
    for r in results:
        write_result(r, tmp_path / "raw")
    report = build_report(tmp_path)
    (table,) = [t for t in report.tables if t.title.startswith("Hardware side by side")]
    assert table.headers == ["Case", "a10g (ms)", "h100 (ms)", "h100 vs a10g"]
    rows = {r[0].text: r for r in table.rows}
    b8 = rows["dcnv2/light ORT CUDA b8"]
    assert b8[2].bold and not b8[1].bold and b8[3].text == "2.00×"
    assert rows["dcnv2/light ORT CUDA b64"][3].text.startswith("tie")
    torch = rows["dcnv2/light PyTorch CUDA b8"]
    assert torch[2].is_word and torch[2].text.startswith("oom") and torch[3].text == "–"
    assert any("on h100" in n and "CUDA out of memory" in n for n in table.notes)
    # the per-model tables keep the two hardware types apart, labelled
    labels = {s.label for g in report.groups for s in g.group.series}
    assert {"ORT CUDA (hardware=a10g)", "ORT CUDA (hardware=h100)"} <= labels
    assert "| dcnv2/light ORT CUDA b8 |" in render_markdown(report)


class _FakeRay:
    """Just enough of ``ray`` for the actor pool: made and killed actors, by name."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.killed: list[str] = []

    def remote(self, **_options):
        fake = self

        class Actor:
            @staticmethod
            def options(**options):
                class Made:
                    @staticmethod
                    def remote(*_args):
                        fake.made.append(f"a{len(fake.made)}:{options['num_cpus']}")
                        return fake.made[-1]
                return Made
        return lambda _cls: Actor

    def kill(self, handle, no_restart=True) -> None:
        self.killed.append(handle)


def test_the_actor_pool_reuses_an_idle_actor_of_a_kind_and_retires_finished_kinds():
    from onnxbench.executors.ray_pool import ActorPool

    ray = _FakeRay()
    pool = ActorPool(ray, ["numpy"], "driver")
    one, whole = (1, 0, (), False), (0, 0, (), True)
    a = pool.acquire(one, None, {"num_cpus": 1})
    b = pool.acquire(one, None, {"num_cpus": 1})
    assert (a.handle, b.handle) == ("a0:1", "a1:1")  # two cases at once: two devices
    pool.release(a)
    assert pool.acquire(one, None, {"num_cpus": 1}) is a and len(ray.made) == 2  # reused
    pool.release(a)
    pool.release(b)
    w = pool.acquire(whole, "n1", {"num_cpus": 2})
    pool.release(w)
    assert pool.idle_nodes(whole) == {"n1"} and pool.acquire(whole, "n2", {"num_cpus": 2})
    pool.retire({whole})  # no one-core case left: their cores go back to the cluster
    assert sorted(ray.killed) == ["a0:1", "a1:1"]
    pool.close()
    assert sorted(ray.killed) == ["a0:1", "a1:1", "a2:2", "a3:2"]


def test_a_timeline_splits_into_phases_and_its_fixed_cost():
    from onnxbench.core.timeline import overhead, phases

    line = {"dispatched": 10.0, "worker_born": 9.0, "started": 10.5, "fork_requested": 10.6,
            "worker_up": 10.7, "loop_start": 11.0, "loop_end": 14.0, "collected": 14.5,
            "returned": 14.6}
    split = phases(line)
    assert "worker_born" not in split  # a worker older than the case is no part of it
    assert split["started"] == 0.5 and split["loop_end"] == 3.0
    assert abs(overhead(line) - 1.6) < 1e-9  # 4.6 s from dispatch to result, 3 s timed
    assert abs(phases({**line, "worker_born": 10.2})["worker_born"] - 0.2) < 1e-9
    assert overhead({k: v for k, v in line.items() if k != "loop_start"}) is None


def test_a_local_case_records_where_its_time_went(tmp_path, capsys):
    from onnxbench.core.result import read_results
    from onnxbench.core.timeline import MARKS, overhead, phases

    tiny = write_tiny_onnx(tmp_path / "t.onnx")
    suite = tmp_path / "s.yaml"
    suite.write_text(f"suite: s\ndefaults:\n  measure: {{warmup: 1, min_runs: 3, max_time_s: 0.1}}"
                     f"\ncases:\n  - model: {tiny}\n    runtimes: ort-cpu\n    processes: 1\n")
    code, _, err = cli(capsys, "run", "--suite", suite, "--out", tmp_path / "runs", "--quiet")
    assert code == 0, err
    (result,) = read_results(next((tmp_path / "runs").iterdir()) / "raw")
    line = result.timeline
    assert {"dispatched", "fork_requested", "worker_up", "imported", "session_start",
            "session_ready", "loop_start", "loop_end", "worker_done", "collected",
            "returned"} <= set(line)
    stamps = [line[m] for m in MARKS if m in line]
    assert stamps == sorted(stamps)
    assert abs(sum(phases(line).values()) - (line["returned"] - line["dispatched"])) < 1e-6
    timed = line["loop_end"] - line["loop_start"]
    assert abs(timed - result.timing.timed_s) < 0.05  # the marks bracket the timed loop
    assert overhead(line) is not None and overhead(line) >= 0
