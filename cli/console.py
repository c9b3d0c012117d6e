"""Output helpers: data on stdout, messages and progress on stderr (rich)."""
from __future__ import annotations

import json
import sys
from typing import Any, Iterable


class _Stderr:
    """The rich console on stderr, made (and rich imported: ~20 ms) when first used, so a
    quiet command that prints nothing does not pay for it."""

    _console = None

    def __getattr__(self, name: str) -> Any:
        console = _Stderr._console
        if console is None:
            from rich.console import Console
            console = _Stderr._console = Console(stderr=True, highlight=False, soft_wrap=True)
        return getattr(console, name)


err: Any = _Stderr()
_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet


def info(message: str) -> None:
    """A message for the examiner (markup allowed; escape evidence strings with ``esc``)."""
    if not _quiet:
        err.print(message)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}")


def esc(value: Any) -> str:
    """Escape any string that may come from evidence before it meets rich markup."""
    from rich.markup import escape
    return escape(str(value))


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_default, separators=(", ", ": "))


def emit_json(obj: Any) -> None:
    sys.stdout.write(dumps(obj) + "\n")


def emit_jsonl(rows: Iterable[Any]) -> int:
    n = 0
    write = sys.stdout.write
    for row in rows:
        write(dumps(row) + "\n")
        n += 1
    sys.stdout.flush()
    return n
