"""Crossover detection on synthetic medians: a flip, no flip, two flips, ties within CI."""

from __future__ import annotations

import math

import pytest

from onnxbench.report.crossover import find_crossovers, winner_sentence

XS = [1, 4, 16, 64, 256]


def tight(meds, rel=0.01):
    return [(m * (1 - rel), m * (1 + rel)) for m in meds]


def test_one_flip_interpolated_in_log_x():
    a = [1, 2, 4, 8, 16]           # CPU: grows with batch
    b = [4, 4, 4, 4, 4]            # GPU: flat
    flips = find_crossovers(XS, a, tight(a), b, tight(b))
    assert len(flips) == 1
    f = flips[0]
    # the medians are equal at 16 (a tie, so the bracket is 4..64) and the crossover is 16
    assert (f.x_low, f.x_high) == (4, 64)
    assert (f.faster_before, f.faster_after) == ("a", "b")
    assert f.x_cross == pytest.approx(16)


def test_flip_between_grid_points():
    a = [1, 2, 3, 8, 16]
    b = [5, 5, 5, 5, 5]
    (f,) = find_crossovers(XS, a, tight(a), b, tight(b))
    assert (f.x_low, f.x_high) == (16, 64)
    # hand computation: d = log(5/a); zero between log16 (d=log 5/3) and log64 (d=log 5/8)
    d0, d1 = math.log(5 / 3), math.log(5 / 8)
    expect = math.exp(math.log(16) + d0 / (d0 - d1) * (math.log(64) - math.log(16)))
    assert f.x_cross == pytest.approx(expect)
    assert not f.within_noise


def test_no_flip():
    a = [1, 2, 3, 4, 5]
    b = [2, 4, 6, 8, 10]
    assert find_crossovers(XS, a, tight(a), b, tight(b)) == []


def test_two_flips():
    a = [1, 5, 5, 5, 1]
    b = [3, 3, 3, 3, 3]
    flips = find_crossovers(XS, a, tight(a), b, tight(b))
    assert [(f.x_low, f.x_high) for f in flips] == [(1, 4), (64, 256)]
    assert [f.faster_after for f in flips] == ["b", "a"]


def test_tie_within_ci_is_not_a_flip():
    a = [1, 2, 4, 8, 16]
    b = [2, 4, 3.9, 16, 32]        # at x=16 B looks faster by 2.5 %, but the CIs are ±10 %
    wide = tight(a, 0.1)
    assert find_crossovers(XS, a, wide, b, tight(b, 0.1)) == []
    # the same medians with tight CIs do flip twice
    assert len(find_crossovers(XS, a, tight(a, 0.001), b, tight(b, 0.001))) == 2


def test_overlapping_cis_are_a_tie_and_the_flip_is_within_noise():
    a = [1, 2, 3, 4.5, 8]
    b = [4, 4, 4, 4.0, 4]
    # at 64 B is faster by 11 %, but the CIs (±7 %) overlap: a tie, so the flip's bracket
    # spans it (16 → 256) and it happens inside the noise
    (f,) = find_crossovers(XS, a, tight(a, 0.07), b, tight(b, 0.07))
    assert f.within_noise and (f.x_low, f.x_high) == (16, 256)
    (g,) = find_crossovers(XS, a, tight(a, 0.01), b, tight(b, 0.01))
    assert not g.within_noise and (g.x_low, g.x_high) == (16, 64)


def test_sentence_names_a_tie_where_cis_overlap():
    a = [1.0, 2.0, 4.0]
    b = [1.02, 3.0, 8.0]          # at x=1 B is 2 % slower, inside both ±5 % CIs: a tie
    s = winner_sentence("batch", [1, 4, 16], {"ORT CPU": (a, tight(a, 0.05)),
                                              "PyTorch CPU": (b, tight(b, 0.05))})
    assert s == ("ORT CPU and PyTorch CPU (tied: CIs overlap) are fastest up to batch 1; "
                 "ORT CPU from 4.")
    slower_wide = winner_sentence("batch", [1], {"ORT CPU": ([0.023], [(0.01, 0.04)]),
                                                 "PyTorch CPU": ([0.17], [(0.16, 0.18)])})
    assert slower_wide == "ORT CPU is fastest at every batch measured (batch 1)."


def test_sentence_names_leaders_and_crossover():
    a = [1, 2, 3, 8, 16]
    b = [5, 5, 5, 5, 5]
    s = winner_sentence("batch", XS, {"ORT CPU": (a, tight(a)), "ORT CUDA": (b, tight(b))})
    assert s.startswith("ORT CPU is fastest up to batch 16; ORT CUDA from 64 (crossover ≈ ")
    one = winner_sentence("batch", XS, {"ORT CPU": (a, tight(a)),
                                        "PyTorch CPU": ([20] * 5, tight([20] * 5))})
    assert one == "ORT CPU is fastest at every batch measured (batch 1–256)."


def test_sentence_with_three_leaders():
    xs = [1, 8, 64, 128, 512]
    cpu, gpu, trt = [1, 4, 30, 60, 200], [5, 5, 8, 9, 40], [50, 20, 10, 11, 20]
    s = winner_sentence("batch", xs, {"ORT CPU": (cpu, tight(cpu)), "ORT CUDA": (gpu, tight(gpu)),
                                      "ORT TensorRT": (trt, tight(trt))})
    assert s.startswith("ORT CPU is fastest up to batch 8; ORT CUDA from 64 to 128 (crossover ≈ ")
    assert "; ORT TensorRT from 512 (crossover ≈ " in s
