"""Files onnxbench writes and reads: one atomic write, and paths confined to a directory.

A run directory is shared between processes (workers, a node's Ray tasks, a second
``--resume``) and read by people: a reader must see the old file or the whole new one,
never half of it, and a record in it may only point inside it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from onnxbench.core.errors import UserError


@contextmanager
def atomic_writer(path: Path, mode: str = "w", *,
                  mtime_ns: int | None = None) -> Iterator[IO[Any]]:
    """A file handle whose content replaces ``path`` in one step when the block ends (and
    never, if it raises); with ``mtime_ns``, stamped with that modification time first.

    The file gets the mode an ordinary ``open`` would (0644 under the usual umask 022), not
    ``mkstemp``'s private 0600: results are meant to be shared. An ``OSError`` names
    ``path``, not the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~current_umask())
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, read-only, ...: name the file meant, not the temp
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    with atomic_writer(path, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: Path, data: bytes, *, mtime_ns: int | None = None) -> None:
    """``atomic_write_text`` for bytes (stamped with ``mtime_ns`` if given)."""
    with atomic_writer(path, "wb", mtime_ns=mtime_ns) as fh:
        fh.write(data)


def current_umask() -> int:
    """The process umask, read without changing it (Linux: /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def inside(path: Path | str, root: Path | str) -> bool:
    """Does ``path`` (links followed) lie in ``root``?"""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def confined(path: Path | str, root: Path | str, what: str) -> Path:
    """``path`` when it resolves inside ``root``; UserError naming ``what`` otherwise."""
    if not inside(path, root):
        raise UserError(f"{what}: {path} lies outside {root}; a run directory's records may "
                        "only name files inside it (refusing to read it)")
    return Path(path)
