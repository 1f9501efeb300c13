"""Is this model an ONNX file? Decided by the file's content, not its name.

Every place that needs to know (the planner, ``bench``, the artifact builder, the case's
record) asks :func:`is_onnx_file`, so ``model.ONNX``, ``model.bin`` or a file with no suffix
at all are ONNX models when they hold one, and ``model.keras`` never is.

The check reads the first bytes only: a serialised ``onnx.ModelProto`` starts with its
``ir_version`` (field 1, a varint: tag byte ``0x08``), then the next field's tag. A path
whose suffix is ``.onnx`` (any case) also counts, existing or not, so a missing or broken
``.onnx`` file is reported as one ("no such file", "not a valid ONNX model") rather than
as an unknown model name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# tags of the ModelProto fields that may follow ir_version (2..8 and 14, 20, 25)
_NEXT_TAGS = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0xA2, 0xCA})


def has_onnx_header(path: str | Path) -> bool:
    """True when ``path`` is a regular file that starts like a serialised ONNX model."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(3)
    except OSError:
        return False
    return (len(head) == 3 and head[0] == 0x08 and 0 < head[1] < 0x80
            and head[2] in _NEXT_TAGS)


def is_onnx_file(model: str | Path) -> bool:
    """Is ``model`` an ONNX file: named ``*.onnx`` (any case), or a file holding one?"""
    path = Path(model)
    if path.suffix.lower() == ".onnx":
        return True
    return path.is_file() and has_onnx_header(path)




def check_declared_dims(path: Path | str, model: Any) -> None:
    """An input dim declared as 0 or negative is no size a tensor can have: ONNX Runtime
    fails on it only once the case runs (or runs an empty tensor); ``UserError`` here.
    ``model``: the loaded ``onnx.ModelProto``."""
    from onnxbench.core.errors import UserError

    inits = {t.name for t in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits or vi.type.WhichOneof("value") != "tensor_type" or \
                not vi.type.tensor_type.HasField("shape"):
            continue
        for axis, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.HasField("dim_value") and d.dim_value <= 0:
                raise UserError(f"{path}: input {vi.name!r} declares dim {axis} as "
                                f"{d.dim_value}; a dim is a positive size, or a name "
                                "(dim_param) for one given at run time: fix the graph")


__all__ = ["check_declared_dims", "has_onnx_header", "is_onnx_file"]
