"""The interleaved A/B design on a simulated drifting host (``drift_sim``: slow drift, per-
process and per-session offsets; no wall clock): the CI shrinks against a process per block,
A/A stays honest over hundreds of simulated runs (and would not if the pairs inside a process
were taken as independent), a known 5 % difference is found; plus the in-process loop, the
two-level analysis against hand-computed values and the device clock's side-by-side
figures on a fake clock."""

from __future__ import annotations

import math

import numpy as np
import pytest

import drift_sim
from drift_sim import Noise
from onnxbench.measure import twolevel
from onnxbench.measure.device import LAUNCH_BOUND_SHARE, side_by_side
from onnxbench.measure.interleave import BlockPlan, Side, interleave, runs_per_block
from onnxbench.measure.pairs import Sequential, Unit
from onnxbench.measure.twolevel import ProcessPairs, components, pair_blocks

NOISE = Noise()


class StopOnSignificance(Sequential):
    """The worst stopping rule: stop the moment the CI excludes 1."""

    def stop_rule(self):
        r = self.result
        return "significant" if r is not None and r.significant else None


# ---- the in-process loop ----------------------------------------------------------------

class FakeClock:
    """Nanoseconds that move only when a fake call runs."""

    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns

    def call(self, ms: float):
        def run() -> None:
            self.ns += int(ms * 1e6)
        return run


def test_blocks_alternate_abba_baab_in_whole_quads_sized_from_the_warmup():
    clock = FakeClock()
    plan = BlockPlan(block_s=0.05, min_runs=10, process_s=0.5, warmup=3, switch_runs=1)
    out = interleave({"a": Side(clock.call(1.0)), "b": Side(clock.call(4.0))}, plan,
                     clock=clock)
    assert out.runs_per_block == {"a": 50, "b": 12}  # 50 ms of runs, at least 10
    arms = "".join(b.arm for b in out.blocks)
    assert arms.startswith("abbabaab") and len(arms) % 4 == 0
    assert out.timed_s >= 0.5 and len(out.latencies_ms("a")) == 50 * arms.count("a")
    assert [b.host_ms for b in out.blocks[:2]] == [1.0, 4.0]
    flipped = interleave({"a": Side(clock.call(1.0)), "b": Side(clock.call(1.0))},
                         BlockPlan(process_s=0.001, first="b"), clock=clock)
    assert "".join(b.arm for b in flipped.blocks) == "baab"  # at least one whole quad
    assert runs_per_block(0.0, 0.05, 10) == 10 and runs_per_block(200.0, 0.05, 10) == 10


class FakeDevice:
    """A device that stays busy ``tail_ms`` after the host's call returns."""

    label = "fake"

    def __init__(self, clock: FakeClock, tail_ms: float) -> None:
        self.clock, self.tail = clock, tail_ms
        self.t0 = self.t1 = 0

    def start(self) -> None:
        self.t0 = self.clock.ns

    def stop(self) -> None:
        self.t1 = self.clock.ns

    def elapsed_ms(self) -> float:
        return (self.t1 - self.t0) / 1e6 + self.tail


@pytest.mark.parametrize("tail_ms, bound", [(0.02, True), (3.0, False)])
def test_device_time_beside_host_time_and_the_launch_bound_call(tail_ms, bound):
    clock = FakeClock()
    sync = clock.call(tail_ms)  # the host waits for the device's tail
    side = Side(clock.call(1.0), sync, FakeDevice(clock, tail_ms))
    out = interleave({"a": side, "b": Side(clock.call(1.0), sync, FakeDevice(clock, tail_ms))},
                     BlockPlan(process_s=0.2, warmup=2), clock=clock)
    blk = out.blocks[0]
    assert blk.host_ms == pytest.approx(1.0 + tail_ms)
    assert blk.device_ms == pytest.approx(1.0 + tail_ms) and blk.launch_ms == pytest.approx(1.0)
    row = side_by_side(out.latencies_ms("a"), out.column("a", "device_ms"),
                       out.column("a", "launch_ms"), "fake")
    assert row["launch_share"] == pytest.approx(1.0 / (1.0 + tail_ms))
    assert row["launch_bound"] is bound and (row["launch_share"] >= LAUNCH_BOUND_SHARE) is bound


# ---- the two levels ---------------------------------------------------------------------

def test_pairs_and_the_two_levels_match_hand_computed_values():
    pairs = pair_blocks(list("abbabaab"), [10, 11, 11.5, 10.2, 10.4, 10.1, 9.9, 10.8])
    assert pairs == ProcessPairs((10, 10.2, 10.1, 9.9), (11, 11.5, 10.4, 10.8))
    d = [math.log(b / a) for a, b in zip(pairs.a, pairs.b)]
    a, b = pairs.unit()
    assert math.log(b / a) == pytest.approx(sum(d) / 4)  # the unit's ratio = the mean pair's
    assert pair_blocks(list("ab"), [1.0, None]) is None  # a side without the value
    assert pair_blocks(list("aa"), [1.0, 1.0]) is None
    other = ProcessPairs((10.0, 10.0), (10.5, 10.7))
    lv = components([pairs, other])
    means = [np.mean(d), np.mean([math.log(1.05), math.log(1.07)])]
    var_d = np.var(means, ddof=1)
    explained = np.mean([np.var(d, ddof=1) / 4, np.var(other.log_ratios, ddof=1) / 2])
    assert lv["process_sd"] == pytest.approx(math.sqrt(var_d))
    assert lv["between_process_sd"] == pytest.approx(math.sqrt(max(0.0, var_d - explained)))
    assert lv["pairs"] == 6 and lv["processes"] == 2
    assert other.to_unit() == Unit(*other.unit(), blocks=4, pairs=2, processes=1)


# ---- the simulated host -----------------------------------------------------------------

def test_the_ci_shrinks_against_a_process_per_block():
    """Same simulated host, same 30 s: the interleaved design resolves a difference several
    times smaller than a fresh process per block (which carries the process offsets into
    every pair and spends most of its time starting processes)."""
    def width(design: str) -> float:
        outs = [drift_sim.run(design, seed, NOISE, threshold=1e-4, target=None, max_time_s=30)
                for seed in range(20)]
        assert all(o.stop_rule == "max_time" for o in outs)
        return float(np.median([o.result.resolvable_pct for o in outs]))

    assert width("interleaved") < 0.4 * width("process")


def _aa(state: type[Sequential], n: int, max_time_s: float = 15) -> float:
    outs = [drift_sim.run("interleaved", seed, NOISE, state=state, max_time_s=max_time_s)
            for seed in range(n)]
    return float(np.mean([o.result.significant for o in outs]))


def test_aa_stays_honest_over_hundreds_of_simulated_runs():
    outs = [drift_sim.run("interleaved", seed, NOISE) for seed in range(300)]
    called = sum(o.result.verdict in ("faster", "slower") for o in outs)
    assert called <= 0.05 * len(outs)
    assert np.mean([o.result.ci_low <= 1 <= o.result.ci_high for o in outs]) >= 0.95


def test_alpha_spending_holds_with_processes_as_the_unit(monkeypatch):
    """Under the harshest stopping rule the A/A error stays at alpha (within the binomial
    error of 300 runs); taking every pair inside a process as a unit instead ignores the
    sessions' own offsets and calls A/A different far more often, so this test can fail."""
    n = 300
    slack = 2 * math.sqrt(0.05 * 0.95 / n)
    assert _aa(StopOnSignificance, n) <= 0.05 + slack
    captured: list[Unit] = []
    to_unit = ProcessPairs.to_unit

    def pairs_as_units(self: ProcessPairs) -> Unit:  # the naive one-level analysis
        captured.extend(Unit(a, b, 2, 1, 0) for a, b in zip(self.a[1:], self.b[1:]))
        return Unit(self.a[0], self.b[0], 2, 1, 1)

    monkeypatch.setattr(twolevel.ProcessPairs, "to_unit", pairs_as_units)
    naive = _naive_rate(n, captured)
    monkeypatch.setattr(twolevel.ProcessPairs, "to_unit", to_unit)
    assert naive > 0.05 + 2 * slack


def _naive_rate(n: int, captured: list[Unit]) -> float:
    from onnxbench.measure.pairs import run_units

    wrong = 0
    for seed in range(n):
        host = drift_sim.Host(seed, NOISE)
        per_process = drift_sim.interleaved_design(host)
        captured.clear()

        def unit(i: int, per_process=per_process) -> Unit:
            return captured.pop(0) if captured else per_process(i)

        out = run_units(unit, StopOnSignificance(0.02, 0.01), max_time_s=15,
                        clock=host.now_s)
        wrong += out.result.significant
    return wrong / n


def test_a_known_5_percent_difference_is_found_sooner_than_with_a_process_per_block():
    found = [drift_sim.run("interleaved", 1000 + seed, NOISE, ratio=1.05) for seed in range(100)]
    assert sum(o.result.verdict == "slower" for o in found) >= 95
    assert np.mean([o.result.ci_low <= 1.05 <= o.result.ci_high for o in found]) >= 0.9
    old = [drift_sim.run("process", 1000 + seed, NOISE, ratio=1.05) for seed in range(20)]
    fast = np.median([o.elapsed_s for o in found])
    assert fast * 3 <= np.median([o.elapsed_s for o in old])


# ---- which design: from the runtimes' capabilities ----------------------------------------

def _case(runtime: str, **options):
    from onnxbench.core.case import Case

    return Case(model="moe", runtime=runtime, exporter="dynamo", batch=1, options=options)


@pytest.mark.parametrize("a, b, reason", [
    (_case("ort-cpu"), _case("torch-cpu"), "run on different thread pools"),
    (_case("torch-cpu", tf32=True), _case("torch-cpu", tf32=False),
     "option tf32 differs (True vs False) and is process-wide"),
    (_case("ort-cpu", threads=1), _case("ort-cpu", threads=2), "option threads differs"),
    (_case("ort-cpu"), _case("ort-cpu", graph_optimization_level="basic"), None),
    (_case("ort-cpu"), _case("ort-cuda"), None),
    (_case("test-delay", delay_us=1), _case("ort-cpu"), None)])
def test_which_sides_share_a_process(a, b, reason):
    from onnxbench.suite.ab.design import choose, obstacle

    got = obstacle(a, b)
    assert (got is None) if reason is None else reason in got
    design = choose(a, b, "auto")
    assert design.used == ("interleaved" if reason is None else "process")
    assert choose(a, b, "process").used == "process"


def test_models_that_do_not_fit_together_fall_back(tmp_path):
    from onnxbench.core.artifact import Artifact
    from onnxbench.suite.ab.design import Design, after_build

    model = tmp_path / "m.onnx"
    model.write_bytes(b"x" * 1000)
    arts = {arm: Artifact(model=str(model), onnx_path=model, bare_onnx=True) for arm in "ab"}
    auto = Design("interleaved", "auto", "")
    assert after_build(auto, arts, available=100_000) is auto
    fell = after_build(auto, arts, available=10_000)
    assert fell.used == "process" and "both models together need" in fell.reason
    asked = Design("interleaved", "interleaved", "")
    assert after_build(asked, arts, available=10_000) is asked  # asked for: it is tried
