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


class ExtractorError(ForensicError):
    """An extractor failed on an input (becomes a warning, never fatal)."""
