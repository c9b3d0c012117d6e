"""Error types. Every error carries a message and, where one helps, a hint.

The CLI's single error boundary (``cli/main.py``) renders ``message`` and ``hint``
on stderr and maps the error class to a named exit code.
"""
from __future__ import annotations


class ForensicError(Exception):
    """Base error: a message for the examiner and an optional hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(ForensicError):
    exit_code = 2


class CaseError(ForensicError):
    """The case folder or its store is missing, unreadable or inconsistent."""


class DiskFullError(CaseError):
    """No space is left on the file system holding the case (ENOSPC, SQLite's "database or
    disk is full"). What was being written is rolled back (the case store) or cut back to
    its last whole line (the custody log), so the command can simply be run again."""

    MESSAGE = "the disk holding the case is full: free space and run the command again"

    def __init__(self, where: object | None = None) -> None:
        place = f"the case folder {where}" if where is not None else "the case folder"
        super().__init__(self.MESSAGE,
                         hint=f"{place} is on a file system with no space left; what completed "
                              "before is kept, and running the command again carries on from there")


class SourceError(ForensicError):
    """An evidence source cannot be opened or read."""


class UnsupportedFormatError(SourceError):
    """The source is not of any format this tool reads."""


class PasswordError(SourceError):
    """An encrypted container needs a (correct) password."""


class CorruptSourceError(SourceError):
    """The source is of a known format but damaged."""


class IntegrityError(ForensicError):
    """A hash, chain, signature or manifest does not match."""

    exit_code = 4
