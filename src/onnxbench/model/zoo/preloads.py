"""What the fork server imports for the zoo's models (a spec's ``preload``), so no worker
pays for it: importing this module imports deepctr_torch (quietly: no PyPI check, nothing
printed; ``dcnv2.deepctr``) and scikit-learn's data sets, and reads the digits split once.

Half a second of imports per worker is most of a quick case's cost: the quickstart's 36
workers spent ~10 s in them.
"""

from __future__ import annotations

import onnxbench.model.zoo.moe  # noqa: F401 - the spec module itself
from onnxbench.model.zoo.data import digits_split
from onnxbench.model.zoo.dcnv2 import deepctr

deepctr()
digits_split()
