"""Build: the artifacts a case runs (export, optimize, the shared artifact cache)."""
