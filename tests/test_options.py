"""Option families: typed values, the planner's check, and where a bad option is reported."""

from __future__ import annotations

import pytest

from onnxbench.core.errors import UserError
from onnxbench.core.options import (
    EXPORT_OPTIONS,
    FAMILIES,
    OPTIMIZE_OPTIONS,
    HarnessOptions,
    OptionError,
)
from onnxbench.runtimes.case_options import check_options, option_help


@pytest.mark.parametrize("value, expected", [(True, True), ("yes", True), ("ON", True), (1, True),
                                             ("off", False), (0, False), ("false", False)])
def test_flags_take_yaml_and_cli_spellings(value, expected):
    assert HarnessOptions.parse({"verify": value}, "harness").verify is expected


@pytest.mark.parametrize("key, value, message", [
    ("verify", "maybe", "verify='maybe' must be true or false"),
    ("verify", 2, "verify=2 must be true or false"),
    ("mem_limit_mb", "lots", "mem_limit_mb='lots' must be an integer >= 1"),
    ("mem_limit_mb", True, "mem_limit_mb=True must be an integer >= 1"),  # never a number
    ("pad_batch_to", 2.5, "pad_batch_to=2.5 must be an integer >= 1"),
    ("atol", -1, "atol=-1 must be a number >= 0"),
    ("atol", False, "atol=False must be a number >= 0"),
])
def test_bad_values_name_the_option_value_and_what_is_right(key, value, message):
    with pytest.raises(OptionError, match=message) as err:
        HarnessOptions.parse({key: value}, "harness")
    assert err.value.key == key and isinstance(err.value, UserError)
    assert "\n" not in str(err.value)


def test_numbers_accept_their_spellings():
    opts = HarnessOptions.parse({"mem_limit_mb": "512", "pad_batch_to": 4.0, "atol": "1e-4"}, "h")
    assert (opts.mem_limit_mb, opts.pad_batch_to, opts.atol) == (512, 4, 1e-4)


def test_check_options_union_and_errors():
    report = check_options("ort-cpu", {"intra_op_threads": 2, "verify": True, "opset": 17,
                                       "fuse": "bert", "tf32": True})
    assert report.families["runtime ort-cpu"] == ["intra_op_threads"]
    assert report.families["harness"] == ["verify"] and report.families["export"] == ["opset"]
    assert report.other_runtimes == ["tf32"]
    with pytest.raises(OptionError, match="unknown option 'intra_op_thread'; did you mean "
                                          "'intra_op_threads'\\? valid options for ort-cpu: "):
        check_options("ort-cpu", {"intra_op_thread": 2})
    with pytest.raises(OptionError, match="'zzz'; it belongs to no option family") as err:
        check_options("torch-cpu", {"zzz": 1})
    assert err.value.key == "zzz"
    with pytest.raises(OptionError, match="runtime ort-cpu: option cuda_graph=true needs "
                                          "io_binding=true"):
        check_options("ort-cpu", {"cuda_graph": True, "io_binding": False})
    with pytest.raises(OptionError, match="runtime torch-compile-cpu: option mode='fast'"):
        check_options("torch-compile-cpu", {"mode": "fast"})


def test_families_are_declared_once_and_feed_the_artifact_key():
    assert OPTIMIZE_OPTIONS == FAMILIES["optimize"].names() <= EXPORT_OPTIONS
    assert {"opset", "fix", "export_batch", "weights", "image_size"} <= EXPORT_OPTIONS
    assert not EXPORT_OPTIONS & FAMILIES["harness"].names()
    helps = option_help("ort-cuda")
    assert helps["harness"]["verify"] and helps["runtime ort-cuda"]["cuda_graph"]


def test_tf_runtimes_come_from_their_plugin():
    from onnxbench.core.plugins import load_plugins
    from onnxbench.runtimes import runtime_class, runtime_names

    assert "tf-call" in runtime_names() and load_plugins()["tf"] == "onnxbench.tf.plugin"
    cls = runtime_class("tf-predict")
    assert cls.framework == "tf" and cls.needs_module and not cls.thread_safe
    assert "reduce_retracing" in cls.Options.names()
