"""Does it export? PyTorch → ONNX exporters, the exporter matrix, the graph lint, inspect.

Modules (import the one you need; this package imports nothing heavy on its own):
- ``exporters``: ``export(module, example_inputs, ..., exporter=...) -> ExportResult``
- ``fixes``: ``apply_fix("squeeze-dims")``, a context manager used around an export
- ``matrix``: ``export_matrix(model, config, exporters, ...) -> Matrix``
- ``lint``: ``lint(onnx.ModelProto) -> list[Finding]``
- ``inspect``: ``inspect_model(path) -> dict``
- ``reference``: reference.json (``write_reference``, ``read_reference``, ``verify``)
"""
