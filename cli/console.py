"""The console layer: the one place that decides what a command shows, and where.

* **stdout carries data.** With ``--json``: JSON (JSON Lines for listings, one object for
  summaries). Otherwise, on a terminal, readable tables fitted to its width (:func:`table`);
  in a pipe, compact tab-separated lines that other tools can cut.
* **stderr carries messages and progress**, through rich's own :class:`~rich.console.Console`
  (``err``). Progress is shown only on a terminal and never with ``--quiet``
  (:func:`progress_enabled`). Colour is rich's decision: none off a terminal, none with
  ``NO_COLOR`` or ``TERM=dumb``.
* **Verdicts are data.** What a checking command concludes is printed by :func:`verdict` on
  stdout in every mode, ``--quiet`` included.

Every string that may come from evidence or from the command line goes through :func:`esc`
before it meets rich markup or a terminal.
"""
from __future__ import annotations

import json
import re
import sys
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.table import Table
from rich.text import Text

# Messages and progress. rich reads sys.stderr when it writes (not when it is made), so
# click's test runner and redirections made later are honoured.
err = Console(stderr=True, highlight=False, soft_wrap=True)
# Tables and verdicts on a terminal.
out = Console(highlight=False)

QUIET, NORMAL, VERBOSE = -1, 0, 1
_verbosity = NORMAL


def set_verbosity(level: int) -> None:
    global _verbosity
    _verbosity = level


def is_quiet() -> bool:
    return _verbosity <= QUIET


def is_verbose() -> bool:
    return _verbosity >= VERBOSE


def stdout_is_terminal() -> bool:
    return out.is_terminal


def progress_enabled() -> bool:
    """Progress bars: on a terminal, unless quiet."""
    return not is_quiet() and err.is_terminal


def info(message: str) -> None:
    """A message for the examiner on stderr (markup allowed; escape evidence with ``esc``)."""
    if not is_quiet():
        err.print(message)


def detail(message: str) -> None:
    """A message shown only with ``--verbose``."""
    if is_verbose():
        err.print(f"[dim]{message}[/dim]")


def warn(message: str) -> None:
    """A warning on stderr, shown even with ``--quiet``."""
    err.print(f"[yellow]warning:[/yellow] {message}")


def error(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")


# Characters that must never reach a terminal raw: C0/C1 controls (ESC starts a terminal
# command, CR and BS rewrite what was printed), DEL, and the bidi controls that reorder
# what is shown (U+202E makes "gpj.exe" read "exe.jpg").
# Lone surrogates are the bytes of a name that is not UTF-8 (Python's surrogate escapes):
# shown as the bytes they stand for.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(match: re.Match) -> str:
    o = ord(match.group())
    if o < 0x100:
        return f"\\x{o:02x}"
    if 0xDC80 <= o <= 0xDCFF:
        return f"\\x{o - 0xDC00:02x}"
    return f"\\u{o:04x}"


def safe(value: Any) -> str:
    """``value`` as text with every control and bidi character shown as an escape (no markup
    escaping: for plain output, e.g. compact lines)."""
    text = str(value)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "backslashreplace")
    return _UNSAFE.sub(_visible, text)


def json_safe(text: str) -> str:
    """JSON text for a terminal: every character :func:`safe` would escape written as a
    ``\\uXXXX`` escape, which reads as the same JSON value."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def esc(value: Any) -> str:
    """Escape any string that may come from evidence before it meets rich markup."""
    return _markup_escape(safe(value))


def verdict(ok: bool | None, label: str, message: str) -> None:
    """A checking command's conclusion, on stdout in every mode: ``LABEL: message``, coloured
    on a terminal (green when ``ok``, red when not, yellow when ``None``), one plain line in
    a pipe. ``message`` is plain text (escaped here)."""
    if out.is_terminal:
        style = {True: "bold green", False: "bold red", None: "bold yellow"}[ok]
        out.print(Text.assemble((label, style), ": ", safe(message)))
    else:
        sys.stdout.write(f"{label}: {safe(message)}\n")
        sys.stdout.flush()


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None,
          legend: str | None = None, no_wrap: Sequence[str] = ()) -> int:
    """A table on stdout fitted to the terminal's width, with headers and, when given, a
    legend under it (plain text). Cells are shown as text with control characters escaped.
    Returns the number of rows."""
    t = Table(title=title, header_style="bold", expand=False, show_edge=False, pad_edge=False)
    for name in columns:
        t.add_column(name, no_wrap=name in no_wrap, overflow="fold")
    n = 0
    for row in rows:
        t.add_row(*(Text(safe("" if v is None else v)) for v in row))
        n += 1
    if n:
        out.print(t)
        if legend:
            out.print(Text(legend, style="dim"))
    return n


def listing(rows: Iterable[Any], *, as_json: bool, columns: Sequence[str], cells, line,
            legend: str | None = None, no_wrap: Sequence[str] = ()) -> int:
    """A listing in the form that fits where stdout goes, the same data in each: JSON Lines
    with ``--json``; on a terminal, tables of ``cells(row)`` under ``columns``; in a pipe, one
    compact ``line(row)`` per row. Returns the number of rows."""
    if as_json:
        return emit_jsonl(rows)
    if stdout_is_terminal():
        return table_pages(columns, map(cells, rows), legend=legend, no_wrap=no_wrap)
    return _lines(map(line, rows))


def compact_line(fields: Iterable[Any]) -> str:
    """A compact line: fields separated by tabs, control characters escaped."""
    return "\t".join(safe("" if v is None else v) for v in fields)


def compact(fields: Iterable[Any]) -> None:
    """One compact line on stdout (:func:`compact_line`)."""
    sys.stdout.write(compact_line(fields) + "\n")


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


# JSON escapes C0 controls itself; these it would write raw: C1 controls, bidi controls
# (a terminal showing the JSON would reorder it) and lone surrogates (a name that is not
# UTF-8, which could not be written as UTF-8 at all). Inside JSON strings only, as \\uXXXX.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, default=_default, separators=(", ", ": "))
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit_json(obj: Any) -> None:
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def emit_jsonl(rows: Iterable[Any]) -> int:
    return _lines(map(dumps, rows))


def _lines(texts: Iterable[str]) -> int:
    """Each text as a line on stdout; the count."""
    n = 0
    write = sys.stdout.write
    for text in texts:
        write(text + "\n")
        n += 1
    sys.stdout.flush()
    return n


def table_pages(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, legend: str | None = None,
                no_wrap: Sequence[str] = (), page: int = 500) -> int:
    """:func:`table` for a listing of any length: the rows go out in tables of ``page`` rows
    (headers repeated), each printed as soon as it is read, so the first rows show at once
    and memory stays flat; the legend goes under the last. Returns the number of rows."""
    import itertools
    it = iter(rows)
    n = 0
    while batch := list(itertools.islice(it, page)):
        n += table(columns, batch, no_wrap=no_wrap)
    if n and legend:
        out.print(Text(legend, style="dim"))
    return n
