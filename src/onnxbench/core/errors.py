"""The user-facing error type.

Anything a user can cause (a bad path, an unknown name, a malformed value) raises
``UserError``; the CLI prints its one-line message and exits with code 2. Anything else
that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import errno as errno_mod
import re
from collections.abc import Iterable


class UserError(Exception):
    """A mistake in the user's input: one line, exit code 2, no traceback.

    The message names the file, field or value and says what would be right.
    """

    exit_code = 2


class CheckFailed(Exception):
    """A check that ran and failed (parity mismatch, a regression): exit code 1."""

    exit_code = 1


class RunFailed(CheckFailed):
    """A run in which no case succeeded (every one failed, crashed, ran out of memory or
    timed out): exit code 1. ``run`` is what was made of it (``onnxbench.Run``: its rows
    and results say why each case failed)."""

    def __init__(self, message: str, run: object = None) -> None:
        super().__init__(message)
        self.run = run


class Skip(Exception):
    """This case cannot run on this machine (absent provider, no GPU, no PyTorch model).

    Raised while preparing a runtime; the case is recorded with status ``skipped`` and
    the message as its reason.
    """


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_LINE = 300  # a reason is one line in a table; the full text stays in the traceback


def first_line(exc: BaseException, *, with_type: bool = True, root_cause: bool = False,
               limit: int = MAX_LINE) -> str:
    """One line that says what went wrong: the exception's first non-empty line.

    ``with_type`` prefixes the exception's type (unless the exception class sets
    ``show_type = False``: its message already says it all); ``root_cause`` follows
    ``__cause__`` to the original error (the dynamo exporter wraps the real one in a generic
    message). ANSI colours are dropped and ONNX Runtime's C++ location is trimmed from its
    status messages; the line is cut at ``limit`` characters with an ellipsis.
    """
    if root_cause:
        while exc.__cause__ is not None and exc.__cause__ is not exc:
            exc = exc.__cause__
    text = _ANSI.sub("", str(exc)).strip()
    line = _tidy_ort(next((ln.strip() for ln in text.splitlines() if ln.strip()), ""))
    if with_type and getattr(exc, "show_type", True):
        line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return shorten(line, limit)


def shorten(line: str, limit: int = MAX_LINE) -> str:
    """``line`` within ``limit`` characters: its start and its end, the middle elided (the
    useful half of a runtime's message is often its end: "... is till opset 28.")."""
    if len(line) <= limit:
        return line
    head = limit // 3
    return line[:head].rstrip() + " … " + line[-(limit - head - 3):].lstrip()


# where ONNX Runtime's C++ threw: "<path>/x.cc:46 void ns::Fn(args...) " before the message
# (a signature is a qualified C++ name, "a::b(", never an English phrase with a bracket)
_CPP_WHERE = re.compile(r"(?:/|[A-Za-z]:\\)\S*onnxruntime\S*\.(?:cc|cpp|h):\d+\s+"
                        r"(?:(?:[\w:<>,*&~]+ ){0,3}[\w<>~]*::[\w:<>~]+"
                        r"\((?:[^()]|\([^()]*\))*\)(?: const)?\s+)?")


def _tidy_ort(line: str) -> str:
    """Drop the C++ source location and signature from an ORT message.

    ``... Status Message: /onnxruntime_src/...h:118 onnxruntime::...) const [with ...]
    input_rank == reference_rank was false. Ranks of input data are different ...`` keeps
    only the sentence after the failed check; ``Load model from m.onnx failed:/onnxruntime_
    src/...h:46 void onnxruntime::...(...) ONNX Runtime only *guarantees* ...`` keeps the
    message after the signature.
    """
    head, sep, detail = line.partition("Status Message: ")
    if sep and " was false. " in detail:
        return f"{head}{sep}{detail.rsplit(' was false. ', 1)[1].strip()}"
    return _CPP_WHERE.sub(" ", line).replace("  ", " ").strip()


# what to do about an OS error, by errno: the path comes from the exception itself
_OS_ADVICE = {
    "ENOSPC": "no space left on the device; free space or choose another --out",
    "EDQUOT": "disk quota exceeded; free space or choose another --out",
    "EROFS": "read-only file system; choose a writable --out (copy a run directory "
             "somewhere writable to resume or aggregate it there)",
    "EACCES": "permission denied; fix its permissions or use another path",
    "EPERM": "operation not permitted; fix its permissions or use another path",
    "EEXIST": "a file is in the way where a directory belongs; choose another path",
    "ENOTDIR": "a file is in the way where a directory belongs; choose another path",
    "EISDIR": "is a directory where a file belongs; choose another path",
    "ENOENT": "no such file or directory",
    "ENAMETOOLONG": "the path is too long; choose a shorter one",
    "EMFILE": "too many open files; raise the limit (ulimit -n)",
}


def os_error_message(exc: OSError, doing: str | None = None) -> str:
    """One line for an OS error: the path, what went wrong, and what to do about it."""
    name = errno_mod.errorcode.get(exc.errno or 0, "")
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = " -> ".join(paths) if paths else "(no path)"
    advice = _OS_ADVICE.get(name) or (exc.strerror or str(exc)).strip() or type(exc).__name__
    return f"{where}: {advice}" + (f" ({doing})" if doing else "")


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.75) -> str | None:
    """The choice closest to ``word`` (difflib's ratio at least ``cutoff``), or None."""
    near = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=cutoff)
    return near[0] if near else None


def suggestion(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """``"did you mean 'x'? "`` for a message, or ``""`` when nothing is close."""
    near = did_you_mean(word, choices, cutoff)
    return f"did you mean {near!r}? " if near else ""
