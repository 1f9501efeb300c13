"""Paths confined to a directory: the one check every run-directory reader and writer uses.

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
from pathlib import Path

from onnxbench.core.errors import UserError


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
