"""The README's and docs' results sections, rendered from committed data (``render_results.py``).

Each module registers its sections by name (``data.section``); a document holds a section
between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``. Importing the package
registers them all.
"""

from published import (  # noqa: F401
    cpu,
    gpu,
    h100_docs,
    h100_first,
    refs_a,
    refs_b,
    refs_c,
    serving,
    tuning,
)
from published.data import SECTIONS, Context

__all__ = ["SECTIONS", "Context"]
