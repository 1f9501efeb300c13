"""A/B statistics: the pair analysis against hand-computed values, the sequential stopping
rule's error rate on simulated A/A streams, the verdict rules, the Bonferroni family, and
the run-vs-run test that never calls the runs' own noise a difference."""

from __future__ import annotations

import math

import numpy as np
import pytest

import onnxbench.measure.pairs as pairs_mod
from onnxbench.measure.fold import Folded, Noise
from onnxbench.measure.pairs import (
    Sequential,
    block_arm,
    is_look,
    judge_pairs,
    look_alpha,
    run_sequential,
)
from onnxbench.measure.ratio import verdict_of
from onnxbench.report.abtest import NO_NOISE, compare_blocks, compare_folds

T_975_3 = 3.182446305284263   # Student's t, 0.975 quantile, 3 df (tables)


def test_pair_analysis_matches_hand_computed_values():
    a = [10.0, 10.2, 9.9, 10.1]
    b = [10.5, 10.6, 10.5, 10.4]
    d = [math.log(y / x) for x, y in zip(a, b)]
    mean = sum(d) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in d) / 3)
    half = T_975_3 * sd / 2
    r = judge_pairs(a, b, threshold=0.02)
    assert r.ratio == pytest.approx(math.exp(mean), rel=1e-12)
    assert r.ci_low == pytest.approx(math.exp(mean - half), rel=1e-9)
    assert r.ci_high == pytest.approx(math.exp(mean + half), rel=1e-9)
    assert r.resolvable_pct == pytest.approx((math.exp(half) - 1) * 100, rel=1e-9)
    assert r.center_a == pytest.approx((10.0 * 10.2 * 9.9 * 10.1) ** 0.25)
    assert r.n_a == r.n_b == 4 and r.level == pytest.approx(0.95)
    assert r.verdict == "slower"  # CI ≈ 1.023–1.055: above 1, beyond the ±2 % band
    assert judge_pairs(b, a, threshold=0.02).verdict == "faster"


def test_one_pair_cannot_be_bounded():
    r = judge_pairs([10.0], [11.0], threshold=0.02)
    assert r.verdict == "cannot tell" and r.ci_low is None and "2 are needed" in r.note
    assert r.ratio == pytest.approx(1.1)


@pytest.mark.parametrize("ci, verdict", [((0.99, 1.01), "equivalent"),
                                         ((1.005, 1.015), "equivalent"),
                                         ((1.01, 1.04), "slower"), ((0.90, 0.97), "faster"),
                                         ((0.97, 1.03), "cannot tell")])
def test_verdict_rules(ci, verdict):
    assert verdict_of(*ci, threshold=0.02) == verdict


def test_block_order_and_look_schedule():
    assert "".join(block_arm(i) for i in range(16)) == "abbabaababbabaab"
    assert [n for n in range(1, 70) if is_look(n)] == [4, 8, 16, 32, 64]
    assert sum(look_alpha(k, 0.05) for k in range(1, 10_000)) == pytest.approx(0.05, rel=1e-3)


def _stream(seed: int, *, true: float = 1.0, sigma: float = 0.03, pairs: int = 64):
    """Simulated blocks: lognormal between-process noise, a slow drift shared by A and B."""
    rng = np.random.default_rng(seed)
    clock = [0.0]
    drift = rng.normal(0, 0.03)

    def block(arm: str, i: int) -> float:
        clock[0] += 1.0
        level = math.exp(drift * i / 40) * (true if arm == "b" else 1.0)
        return level * math.exp(rng.normal(0, sigma))

    return block, clock


class StopOnSignificance(Sequential):
    """The worst stopping rule: stop the moment the CI excludes 1."""

    def stop_rule(self):
        r = self.result
        return "significant" if r is not None and r.significant else None


def _aa_error_rate(state_type, n: int = 800) -> float:
    wrong = 0
    for seed in range(n):
        block, clock = _stream(seed)
        out = run_sequential(block, state_type(0.02, 0.01), max_time_s=128,
                             clock=lambda c=clock: c[0])
        wrong += out.result.significant
    return wrong / n


def test_sequential_stopping_holds_the_error_rate_on_simulated_aa_streams(monkeypatch):
    """Under the harshest rule (stop at the first look that excludes 1), alpha spending keeps
    A/A false findings at or below alpha; without it the same rule exceeds alpha, so this
    test can fail."""
    assert _aa_error_rate(StopOnSignificance) <= 0.05
    monkeypatch.setattr(pairs_mod, "look_alpha", lambda k, alpha: alpha)  # no spending
    assert _aa_error_rate(StopOnSignificance) > 0.05


def test_sequential_aa_and_sensitivity_with_the_real_rule():
    aa = []
    for seed in range(300):
        block, clock = _stream(seed)
        aa.append(run_sequential(block, Sequential(0.02, 0.01), max_time_s=128,
                                 clock=lambda c=clock: c[0]))
    assert sum(o.result.verdict in ("faster", "slower") for o in aa) <= 0.05 * len(aa)
    assert np.mean([o.result.ci_low <= 1 <= o.result.ci_high for o in aa]) >= 0.95
    found = []
    for seed in range(100):
        block, clock = _stream(1000 + seed, true=1.05)
        found.append(run_sequential(block, Sequential(0.02, 0.01), max_time_s=128,
                                    clock=lambda c=clock: c[0]))
    assert sum(o.result.verdict == "slower" for o in found) >= 90
    assert all(o.stop_rule in ("decided", "target_ci", "max_time") for o in found)


def test_a_decided_verdict_wins_when_the_target_ci_is_met_on_the_same_look():
    """B is half of A with tiny noise: at the first look the CI is both narrower than the
    ±1 % target and wholly below 1 - threshold; the stop is reported as ``decided``."""
    jitter = [1.0, 1.001, 0.999, 1.0005, 0.9995, 1.0002, 0.9998, 1.0]

    def block(arm: str, i: int) -> float:
        return (0.5 if arm == "b" else 1.0) * jitter[i % len(jitter)]

    out = run_sequential(block, Sequential(0.02, 0.01), max_time_s=100, clock=lambda: 0.0)
    r = out.result
    assert r.resolvable_pct is not None and r.resolvable_pct <= 1.0   # target_ci holds too
    assert r.ci_high < 0.98 and r.verdict == "faster"
    assert out.stop_rule == "decided" and out.pairs == 4 and out.looks == 1


def test_time_budget_ends_with_a_final_look():
    block, clock = _stream(7, sigma=0.2)
    out = run_sequential(block, Sequential(0.02, 0.001), max_time_s=11,
                         clock=lambda: clock[0])
    assert out.stop_rule == "max_time" and out.pairs == 5 and out.looks == 2
    assert out.result.n_a == 5 and out.result.level == pytest.approx(1 - look_alpha(2, 0.05))


def test_a_failed_block_stops_the_run():
    def block(arm, i):
        return "crashed: worker died with SIGSEGV" if i == 5 else 1.0

    out = run_sequential(block, Sequential(0.02, 0.01), max_time_s=100, clock=lambda: 0.0)
    assert out.stop_rule == "block_failed" and out.failed.startswith("a: crashed")
    assert out.pairs == 2


def _fold(medians: list[float]) -> Folded:
    logs = np.log(medians)
    return Folded("ok", median=float(np.exp(logs.mean())), process_medians=list(medians),
                  process_repeats=list(range(len(medians))),
                  process_rsd=float(logs.std(ddof=1)) if len(medians) > 1 else None)


def test_runs_inside_their_noise_are_never_significant():
    # tight points (0.1 % between processes) but the runs' own noise is 3 %
    a, b = _fold([1.000, 1.001, 0.999]), _fold([1.030, 1.031, 1.029])
    tight = compare_folds([(a, b)], None, None, threshold=0.02)[0]
    assert tight.verdict == "slower"  # without the runs' noise: a 3 % "difference"
    noise = Noise(0.03, 40, 20)
    (r,) = compare_folds([(a, b)], noise, noise, threshold=0.02)
    assert r.verdict != "slower" and r.ci_low < 1 < r.ci_high


def test_a_real_regression_beyond_the_noise_is_slower():
    noise = Noise(0.02, 60, 30)
    a, b = _fold([1.00, 1.02, 0.99]), _fold([1.20, 1.19, 1.22])
    (r,) = compare_folds([(a, b)], noise, noise, threshold=0.05)
    assert r.verdict == "slower" and r.ratio == pytest.approx(1.2, rel=0.02)


def test_one_process_without_noise_cannot_tell():
    (r,) = compare_folds([(_fold([1.0]), _fold([2.0]))], None, None, threshold=0.05)
    assert r.verdict == "cannot tell" and r.ci_low is None and r.note == NO_NOISE
    # one process, but the other run measured its noise: that bounds both
    (r,) = compare_folds([(_fold([1.0]), _fold([2.0]))], None, Noise(0.02, 40, 20),
                         threshold=0.05)
    assert r.verdict == "slower" and "other run" in r.note


def test_family_is_bonferroni():
    rng = np.random.default_rng(3)
    blocks = [(list(rng.normal(10, 0.1, 6)), list(rng.normal(10.3, 0.1, 6))) for _ in range(4)]
    single = judge_pairs(*blocks[0], threshold=0.02)
    family = compare_blocks(blocks, threshold=0.02)
    assert family[0].level == pytest.approx(1 - 0.05 / 4)
    assert family[0].p_adjusted == pytest.approx(min(1.0, 4 * single.p_value))
    assert family[0].ci_high - family[0].ci_low > single.ci_high - single.ci_low
    assert family[0].significant == (family[0].p_adjusted < 0.05)
