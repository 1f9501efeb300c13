"""The user-facing error type.

Anything a user can cause (a bad path, an unknown name, a malformed value) raises
``UserError``; the CLI prints its one-line message and exits with code 2. Anything else
that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


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
