"""How an artifact reaches a node that does not share the run directory's file system.

Artifacts are built once per key on the driver (``artifacts/<key>/``, as with ``local``).
For Ray, the files an artifact needs (its key folder, or a bare ``.onnx`` file and its
external data) are packed once per key and put into Ray's object store; each case gets a
reference it resolves only when the files are neither at their paths on its node (same
host, or a run directory on shared storage) nor unpacked there by an earlier case. So a
node fetches each artifact once: it unpacks the pack under its temp directory, below the
driver's absolute paths (files keep their neighbours: a graph its external data, a key
folder its ``artifact.json``). A file is the same when its size and modification time
(nanoseconds, kept on unpacking) are: a model re-exported under the same name is fetched
again.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from onnxbench.core.artifact import Artifact

Pack = dict[str, bytes]  # absolute path on the driver -> the file's bytes
Stamps = dict[str, list[int]]  # absolute path on the driver -> [size, mtime_ns]
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


def stamps(artifact: Artifact, artifacts_dir: Path) -> Stamps:
    """Each needed file's size and modification time: a node has the files when all are
    there with these."""
    out: Stamps = {}
    for p in needed_files(artifact, artifacts_dir):
        st = p.stat()
        out[str(p)] = [st.st_size, st.st_mtime_ns]
    return out


def present(expected: Stamps, root: Path | None = None) -> bool:
    """Are the files at their paths (below ``root``: unpacked there) as stamped?"""
    try:
        for path, (size, mtime_ns) in expected.items():
            st = os.stat(_below(root, path) if root else path)
            if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                return False
        return True
    except OSError:
        return False


def cache_root() -> Path:
    return Path(tempfile.gettempdir()) / f"onnxbench-artifacts-{os.getuid()}"


def on_node(artifact: Artifact, expected: Stamps, fetch: Callable[[], Pack],
            root: Path | None = None) -> Artifact:
    """The artifact with paths this node can read: in place, or unpacked here earlier, or
    (only then) fetched with ``fetch()`` and unpacked under ``root`` (the cache)."""
    if present(expected):
        return artifact
    base = root or cache_root()
    if not present(expected, base):
        unpack(artifact, fetch(), expected, base)
    return relocated(artifact, base)


def _below(root: Path, path: str | Path) -> Path:
    return root / str(path).lstrip(os.sep)


def relocated(artifact: Artifact, root: Path) -> Artifact:
    """The artifact's paths below ``root``."""
    return dataclasses.replace(
        artifact, onnx_path=_below(root, artifact.onnx_path) if artifact.onnx_path else None,
        state_path=_below(root, artifact.state_path) if artifact.state_path else None)


def unpack(artifact: Artifact, files: Pack, expected: Stamps,
           root: Path | None = None) -> Artifact:
    """Write the pack under ``root`` (keeping the driver's paths below it) with the stamped
    modification times, and return the artifact pointing there; files already there as
    stamped are kept."""
    base = root or cache_root()
    for path, data in files.items():
        size, mtime_ns = expected[path]
        if not present({path: [size, mtime_ns]}, base):
            _write(_below(base, path), data, mtime_ns)
    return relocated(artifact, base)


def _write(path: Path, data: bytes, mtime_ns: int) -> None:
    """Write atomically, stamped: two cases of one node may unpack the same pack at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.utime(tmp, ns=(mtime_ns, mtime_ns))
    os.replace(tmp, path)
