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

from pathlib import Path

import pytest

from helpers import write_tiny_onnx


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
