"""How an artifact reaches a node that does not share the run directory's file system.

Artifacts are built once per key on the driver (``artifacts/<key>/``, as with ``local``).
For Ray, the files an artifact needs (its key folder, or a bare ``.onnx`` file and its
external data) are packed once per key and put into Ray's object store; each task gets a
reference it resolves only when the files are not already at their paths on its node (same
host, or a run directory on shared storage). Otherwise the node fetches the pack and unpacks
it under its temp directory, below the driver's absolute paths (so files keep their
neighbours: a graph its external data, a key folder its ``artifact.json``).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

from onnxbench.core.artifact import Artifact

Pack = dict[str, bytes]  # absolute path on the driver -> the file's bytes
SKIP_SUFFIXES = (".log", ".tmp")


def absolute(artifact: Artifact) -> Artifact:
    """The artifact with absolute paths (workers may start in another directory)."""
    return dataclasses.replace(
        artifact, onnx_path=Path(artifact.onnx_path).resolve() if artifact.onnx_path else None,
        state_path=Path(artifact.state_path).resolve() if artifact.state_path else None)


def needed_files(artifact: Artifact, artifacts_dir: Path) -> list[Path]:
    """Every file a case of this artifact reads: a built key's whole folder (the graph, the
    state dict, ``artifact.json``), or a user's ``.onnx`` file with its external data."""
    root = Path(artifacts_dir).resolve()
    files: set[Path] = set()
    for path in (artifact.onnx_path, artifact.state_path):
        if path is None:
            continue
        path = Path(path).resolve()
        if root in path.parents:
            files.update(p for p in path.parent.iterdir()
                         if p.is_file() and not p.name.startswith(".")
                         and not p.name.endswith(SKIP_SUFFIXES))
        else:
            files.add(path)
            files.update(_external_data(path))
    return sorted(files)


def _external_data(onnx_path: Path) -> list[Path]:
    if onnx_path.suffix != ".onnx":
        return []
    import onnx
    from onnx.external_data_helper import (
        ExternalDataInfo,
        _get_all_tensors,
        uses_external_data,
    )

    model = onnx.load(str(onnx_path), load_external_data=False)
    names = {ExternalDataInfo(t).location for t in _get_all_tensors(model) if uses_external_data(t)}
    return [onnx_path.parent / n for n in sorted(names)]


def pack(artifact: Artifact, artifacts_dir: Path) -> Pack:
    return {str(p): p.read_bytes() for p in needed_files(artifact, artifacts_dir)}


def sizes(artifact: Artifact, artifacts_dir: Path) -> dict[str, int]:
    """Each needed file's size: a node has the files when all are there at these sizes."""
    return {str(p): p.stat().st_size for p in needed_files(artifact, artifacts_dir)}


def present(expected: dict[str, int]) -> bool:
    try:
        return all(os.stat(p).st_size == n for p, n in expected.items())
    except OSError:
        return False


def cache_root() -> Path:
    return Path(tempfile.gettempdir()) / f"onnxbench-artifacts-{os.getuid()}"


def unpack(artifact: Artifact, files: Pack, root: Path | None = None) -> Artifact:
    """Write the pack under ``root`` (keeping the driver's paths below it) and return the
    artifact pointing there; files already unpacked at their size are kept."""
    base = root or cache_root()

    def local(path: str | Path) -> Path:
        return base / str(path).lstrip(os.sep)

    for path, data in files.items():
        dst = local(path)
        if not (dst.is_file() and dst.stat().st_size == len(data)):
            _write(dst, data)
    return dataclasses.replace(
        artifact, onnx_path=local(artifact.onnx_path) if artifact.onnx_path else None,
        state_path=local(artifact.state_path) if artifact.state_path else None)


def _write(path: Path, data: bytes) -> None:
    """Write atomically: two tasks of one node may unpack the same pack at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
