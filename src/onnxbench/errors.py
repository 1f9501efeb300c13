"""The user-facing error type.

Anything a user can cause (a bad path, an unknown name, a malformed value) raises
``UserError``; the CLI prints its one-line message and exits with code 2. Anything else
that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import re


class UserError(Exception):
    """A mistake in the user's input: one line, exit code 2, no traceback.

    The message names the file, field or value and says what would be right.
    """

    exit_code = 2


class CheckFailed(Exception):
    """A check that ran and failed (parity mismatch, a regression): exit code 1."""

    exit_code = 1


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
    if len(line) > limit:
        line = line[:limit - 1] + "…"
    return line


def _tidy_ort(line: str) -> str:
    """Drop the C++ source location and signature from an ORT 'Status Message'.

    ``... Status Message: /onnxruntime_src/...h:118 onnxruntime::...) const [with ...]
    input_rank == reference_rank was false. Ranks of input data are different ...`` keeps
    only the sentence after the failed check.
    """
    head, sep, detail = line.partition("Status Message: ")
    if not sep:
        return line
    if " was false. " in detail:
        detail = detail.rsplit(" was false. ", 1)[1]
    elif detail.startswith("/"):
        detail = detail.split(" ", 1)[-1]
    return f"{head}{sep}{detail.strip()}"
