"""Fixtures every test module may use (pytest finds them by name; nothing to import).

- ``tiny_onnx``: one MatMul graph with a symbolic batch, written once per session (the
  cheapest real model ORT runs); a test that changes its model writes its own with
  ``helpers.write_tiny_onnx``.
- ``warm_workers`` (automatic): the session's fork server imports what the zoo's models
  and the load scenarios import, once, before its first worker (``isolation.worker.preload``,
  what a run does for its own plan's models): a suite of many small runs would otherwise
  import transformers or deepctr-torch again in every worker of every run after the first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import write_tiny_onnx

# pytest-xdist's workers set COLUMNS=80 (and LINES): the CLI would then fit its tables to 80
# columns where a serial run, piped, prints 140; the tests expect the piped width
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    return write_tiny_onnx(tmp_path_factory.mktemp("models") / "tiny.onnx")


# what the tests' workers import beyond the fork server's own PRELOAD (best effort: a
# module that fails to import is imported later by the worker that needs it)
TEST_PRELOAD = ["onnxbench.model.zoo.dcnv2", "onnxbench.model.zoo.moe",
                "onnxbench.model.zoo.resnet", "onnxbench.model.zoo.transformers_text",
                "sklearn.datasets", "transformers",
                "transformers.models.bert.modeling_bert",
                "transformers.models.resnet.modeling_resnet", "PIL.Image",
                "onnxbench.scenarios.run", "onnxbench.profile.ort", "onnxbench.quality.accuracy"]


@pytest.fixture(scope="session", autouse=True)
def warm_workers():
    from onnxbench.isolation import worker

    worker.preload(TEST_PRELOAD)
    yield


# with pytest-xdist (``-n 2 --dist loadgroup``), tests that share a machine-wide resource
# run on one worker, one after another: the Ray tests' local cluster, TensorFlow's memory
GROUPS = {"test_ray_executor.py": "ray", "test_ray_node_lost.py": "ray",
          "test_tf.py": "tf", "test_tf_suite.py": "tf"}


# tests whose assertions rest on measured speed (a regression found, a capacity, a verdict
# within a time budget, a signal in time): ``make test`` runs them after the others, alone
TIMING = {
    "test_compare.py::test_two_runs_of_an_unchanged_suite_pass_and_a_real_regression_fails",
    "test_profile.py::test_attribution_sums_to_the_measured_difference_and_finds_the_added_matmuls",
    "test_peak_search.py::test_a_probe_whose_queue_grows_is_not_met_whatever_its_percentile",
    "test_scenarios.py::test_peak_search_finds_a_known_capacity",
    "test_ab.py::test_two_zoo_runtimes",
    "test_load.py::test_load_peak_on_a_zoo_model",
    "test_resume.py::test_ctrl_c_keeps_finished_results_and_says_how_to_resume",
    "test_ray_executor.py::test_ctrl_c_cancels_the_cases_in_flight_and_says_how_to_resume",
    "test_ray_node_lost.py::test_a_node_lost_mid_case_is_crashed_and_resume_reruns_it",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        group = GROUPS.get(item.path.name)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
        if f"{item.path.name}::{item.originalname}" in TIMING:
            item.add_marker(pytest.mark.timing)
