"""One home per concept: where two places used to decide the same thing their own way, the
one that remains answers for both (each test fails against the old second copy)."""

from __future__ import annotations

import os
import stat

import pytest

from onnxbench.core.case import Case
from onnxbench.core.files import atomic_write_bytes, atomic_write_text, atomic_writer
from onnxbench.core.load_spec import LoadSpec


def test_a_case_with_both_thread_options_is_labelled_by_the_one_it_is_pinned_with():
    """``threads`` and ``intra_op_threads`` both set: the worker pins (and placement counts)
    ``threads``; the load report said ``intra_op_threads``."""
    from onnxbench.executors.placement import case_threads
    from onnxbench.isolation.threads import requested_threads
    from onnxbench.report.load_tables import threads_of

    case = Case(model="m.onnx", runtime="ort-cpu", batch=1,
                options={"threads": 2, "intra_op_threads": 4},
                scenario=LoadSpec(name="server", qps=100.0))
    assert requested_threads(case.options) == case_threads(case) == 2
    assert threads_of(case) == "2 threads"


def test_one_atomic_write_for_text_bytes_and_handles(tmp_path):
    """Readers see the old file or the whole new one; the mode is an ordinary file's; a
    failure inside the block leaves the old file and no temporary behind."""
    path = tmp_path / "d" / "f.txt"
    atomic_write_text(path, "one")
    atomic_write_bytes(path, b"two", mtime_ns=1_000_000_000)
    assert path.read_bytes() == b"two" and path.stat().st_mtime_ns == 1_000_000_000
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    with pytest.raises(RuntimeError), atomic_writer(path, "w") as fh:
        fh.write("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "two" and os.listdir(path.parent) == ["f.txt"]


def test_one_order_statistic_ci_for_tails_the_median_and_load_quantiles():
    """The load scenarios' quantile CI is the tails' exact one: with 3 requests no lower end
    is claimed for the median at 95 % (the old load copy clamped it to the fastest)."""
    import numpy as np

    from onnxbench.core.load_record import Quantiles
    from onnxbench.measure.stats import median_ci_halfwidth_pct
    from onnxbench.measure.tails import order_ci, order_ranks, tail
    from onnxbench.scenarios.analysis import quantiles

    q = quantiles(np.array([1.0, 2.0, 3.0]))
    assert isinstance(q, Quantiles) and q.ci["p50"] == [None, None]
    x = np.sort(np.random.default_rng(0).exponential(size=301))
    t = tail(x, 0.99)
    assert order_ci(x, 0.99) == (t.ci_low, t.ci_high)
    r = order_ranks(301, 0.5)[0]
    assert median_ci_halfwidth_pct(x) == pytest.approx(
        100 * (x[301 - r] - x[r - 1]) / 2 / np.median(x))


def test_one_did_you_mean_for_models_configs_runtimes_and_suite_fields():
    """Every 'did you mean' comes from core.errors (a suite field, a zoo model, a config,
    a runtime): the same spelling for the same near miss."""
    from onnxbench.core.errors import UserError, suggestion
    from onnxbench.model.checks import check_config
    from onnxbench.model.zoo import resolve
    from onnxbench.runtimes import runtime_class

    assert suggestion("dcnv", ["dcnv2", "bert"]) == "did you mean 'dcnv2'? "
    assert suggestion("zzz", ["dcnv2"]) == ""
    for call, near in ((lambda: resolve("dcnv"), "dcnv2"),
                       (lambda: check_config(resolve("dcnv2"), "tinny"), "tiny"),
                       (lambda: runtime_class("ort-cpux"), "ort-cpu")):
        with pytest.raises(UserError, match=f"did you mean '{near}'"):
            call()
