"""Files onnxbench writes and reads: one atomic write, and paths confined to a directory.

A run directory is shared between processes (workers, a node's Ray tasks, a second
``--resume``) and read by people: ``atomic_writer`` (``atomic_write_text``,
``atomic_write_bytes``) makes a reader see the old file or the whole new one, never half.

A run directory is data from anyone (a colleague's tarball, a CI artifact). Whatever
onnxbench reads or writes in it must lie in it, links followed:

- ``in_dir(root, *parts)``: ``root/parts`` when no component of it, from ``root`` down,
  is a symbolic link that leads out of ``root`` (nor a ``..`` that climbs out); otherwise
  ``Outside`` (a ``UserError``: one line naming the link, exit 2);
- ``scan(root)``: the same rule for every entry of a whole tree, plus no FIFO, socket or
  device (reading one would block or never end), checked once when a command opens a run
  directory, so a file read later through a library (ONNX Runtime, safetensors) is
  covered too;
- ``open_nofollow``: for the files onnxbench itself creates and appends to (``.lock``,
  ``worker.log``): a link there is refused outright, even one that stays inside (a lock
  opened through it would truncate the file it points to).

The checks are made when a command starts and at each open; a process that plants a link
in between (a race with a concurrent writer) is outside this model: a run directory is
handed over, not shared with someone hostile while it runs.
"""

from __future__ import annotations

import os
import stat
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


class Outside(UserError):
    """A path in a run directory leads out of it (a symbolic link, ``..``)."""


def inside(path: Path | str, root: Path | str) -> bool:
    """Does ``path`` (links followed) lie in ``root``?"""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def confined(path: Path | str, root: Path | str, what: str) -> Path:
    """``path`` when it resolves inside ``root``; UserError naming ``what`` otherwise."""
    if not inside(path, root):
        raise Outside(f"{what}: {path} lies outside {root}; a run directory's records may "
                      "only name files inside it (refusing to read it)")
    return Path(path)


def _link_error(link: Path, root: Path | str) -> Outside:
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    return Outside(f"{link}: a symbolic link to {target}, outside the run directory {root}; "
                   "a run directory is data and nothing in it may lead out of it (remove "
                   "the link, or copy the file it points to in its place)")


def in_dir(root: Path | str, *parts: str | os.PathLike[str]) -> Path:
    """``root/parts``, checked component by component: ``Outside`` when one is a symbolic
    link leading out of ``root`` or the whole resolves outside it (``..``)."""
    base = os.path.realpath(root)
    path = Path(root)
    for part in Path(*parts).parts if parts else ():
        path = path / part
        if os.path.islink(path) and not inside(path, base):
            raise _link_error(path, root)
    if not inside(path, base):
        raise Outside(f"{path}: lies outside the run directory {root} (a '..' or an absolute "
                      "path in a name); a run directory's files must lie inside it")
    return path


def scan(root: Path | str) -> None:
    """Every entry under ``root``: no link out of it, nothing but files, folders and links
    (no FIFO, socket or device). ``Outside`` / ``UserError`` naming the first offender."""
    base = os.path.realpath(root)
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder, name)
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:  # a temporary file another writer just renamed
                continue
            if stat.S_ISLNK(mode):
                if not inside(path, base):
                    raise _link_error(path, root)
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise UserError(f"{path}: not a regular file (a FIFO, socket or device) in "
                                f"the run directory {root}; remove it")


def open_nofollow(path: Path | str, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (``Outside``, naming it)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if os.path.islink(path):
            raise Outside(f"{path}: a symbolic link where onnxbench keeps its own file; "
                          "a run directory is data and onnxbench never writes through a "
                          "link in it (remove the link)") from None
        raise exc


__all__ = ["Outside", "confined", "in_dir", "inside", "open_nofollow", "scan"]
