"""onnxbench: does it export, which runtime for which load, what does optimisation buy."""

__version__ = "0.1.0"
