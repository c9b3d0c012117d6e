"""Shared option bundles and helpers for the Click commands."""
from __future__ import annotations

import functools
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from forensic.case import Case
from forensic.store.schema import migration_to_record
from forensic.cli.console import detail, esc
from forensic.errors import UsageError


def case_option(f):
    """``--case DIR`` (default: $FORENSIC_CASE, else the current folder)."""
    return click.option(
        "--case", "case_dir", type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("FORENSIC_CASE", "."), show_default="$FORENSIC_CASE or .",
        help="Case folder.")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")(f)


def with_case(f):
    """Open the case named by --case and pass it as ``case``; close it afterwards. A command
    that records in the custody log is refused before it does anything when the log is
    signed and it has no key, or a key the case has not pinned."""
    @case_option
    @functools.wraps(f)
    def wrapper(*args, case_dir: Path, **kwargs):
        case = Case.open(case_dir)
        detail(f"case {esc(case.case_id)} in {esc(case.root)}")
        try:
            # A store an older version wrote was migrated when opened: the custody log
            # records it now (or, for a signed log, with the next command given a key).
            if migration_to_record(case.db) is not None:
                from forensic.chain_of_custody.hooks import record_pending
                if record_pending(case, kwargs.get("key_path"), kwargs.get("passphrase_file")):
                    detail("the case store was migrated to the current schema; recorded in the custody log")
            # Commands that record: those taking --key, and those writing a file with --out
            # (an export.created entry), which sign with $FORENSIC_KEY.
            if "key_path" in kwargs or kwargs.get("out") is not None:
                from forensic.chain_of_custody.hooks import preflight
                preflight(case, kwargs.get("key_path"), kwargs.get("passphrase_file"))
            return f(*args, case=case, **kwargs)
        finally:
            case.close()
    return wrapper


def key_options(f):
    """``--key FILE`` and ``--passphrase-file F``: the examiner key that signs the custody
    checkpoint written at the end of the command (else $FORENSIC_KEY; else unsigned)."""
    f = click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="File whose first line is the key's passphrase (else $FORENSIC_KEY_PASSPHRASE).")(f)
    f = click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Examiner key that signs the custody checkpoint (else $FORENSIC_KEY).")(f)
    return f


def time_bound(text: str | None, end: bool, option: str) -> datetime | None:
    """A time-filter option's value (``--from``, ``--to``, ``--since``, ...): an ISO 8601
    date or date-time, naive meaning UTC; a date alone as an end bound (``end``) means the
    whole day. A usage error naming ``option`` when it is neither."""
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO 8601 date or date-time",
                         hint="e.g. 2021-03-14, 2021-03-14T21:00, 2021-03-14T21:00:00+01:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    if end and len(text.strip()) == 10:
        dt += timedelta(days=1) - timedelta(microseconds=1)
    return dt


def table_time(value: str | None) -> str:
    """An ISO 8601 time for a table cell: a space instead of the 'T', so it wraps between
    date and time; '?' when there is none."""
    return value.replace("T", " ", 1) if value else "?"
