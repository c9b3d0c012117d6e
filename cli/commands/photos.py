"""forensic photos, forensic geo, forensic timeline"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

import click

from forensic.cli.common import json_option, with_case
from forensic.cli.console import emit_jsonl, err, esc
from forensic.exporters import geo as geo_export
from forensic.exporters import timeline as timeline_export
from forensic.case import Case
from forensic.errors import UsageError

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(value) -> str:
    """Evidence text for a terminal: control characters (escape sequences) shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def _summary(message: str) -> None:
    """One line on stderr, unless --quiet was given (shown off a TTY too: it names a file written)."""
    root = click.get_current_context().find_root()
    if not root.params.get("quiet"):
        err.print(message)


@contextmanager
def output(out: Path | None) -> Iterator[TextIO]:
    """stdout, or a file written atomically: a temporary file beside it, then os.replace."""
    if out is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder", hint="give a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"the folder of --out {out} does not exist", hint="create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _record_export(case: Case, export: str, fmt: str, out: Path, count: int, filters: dict) -> str:
    """A file written with --out is an export: its SHA-256 goes into the custody log."""
    digest = hashlib.sha256()
    with open(out, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    sha = digest.hexdigest()
    from forensic.chain_of_custody.hooks import record
    record(case, "export.created", {"export": export, "file": out.name}, sha256=sha,
           details={"format": fmt, "path": str(Path(out).resolve()), "count": count,
                    "filters": {k: v for k, v in filters.items() if v not in (None, False)}})
    return sha


def _out_option(f):
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Write to this file (atomically) instead of stdout.")(f)


def _item_option(f):
    return click.option("--item", default=None, help="Only this evidence item.")(f)


# -- photos -----------------------------------------------------------------------------------
@click.command()
@_item_option
@click.option("--geotagged", is_flag=True, help="Only photos with a valid GPS position.")
@json_option
@with_case
def photos(case: Case, item: str | None, geotagged: bool, as_json: bool) -> int:
    """List every photo found by triage: camera, time taken (with its time-zone source), GPS."""
    if item:
        case.item(item)
    rows = geo_export.photo_rows(case.db, item, geotagged)
    if as_json:
        emit_jsonl(rows)
        return 0
    for r in rows:
        gps = "G" if geo_export.is_geotagged(r) else "!" if r["gps_raw"] else "-"
        flags = ("D" if r["deleted"] else "-") + ("C" if r["corrupted"] else "-") + gps
        where = f"{r['lat']:.6f},{r['lon']:.6f}" if geo_export.is_geotagged(r) else "-"
        click.echo(f"{flags} {r['taken_at'] or '-':32} {r['tz_source'] or '-':10} {where:22} "
                   f"{printable(r['device'] or '-'):32} w{len(r['warnings'])} {printable(r['locator'] or '-')}")
    return 0


# -- geo ------------------------------------------------------------------------------------------
@click.command()
@click.option("--format", "fmt", type=click.Choice(sorted(geo_export.WRITERS)), default="geojson",
              show_default=True, help="GeoJSON (RFC 7946), KML 2.2 (Google Earth) or CSV.")
@_out_option
@_item_option
@with_case
def geo(case: Case, fmt: str, out: Path | None, item: str | None) -> int:
    """Export every geotagged photo (position, time, device, SHA-256, locator) as GeoJSON, KML or CSV."""
    if item:
        case.item(item)
    rows = geo_export.photo_rows(case.db, item, geotagged=True)
    with output(out) as fh:
        n = geo_export.WRITERS[fmt](rows, fh)
    if out is not None:
        sha = _record_export(case, "geo", fmt, out, n, {"item": item})
        _summary(f"{n:,} geotagged photos written to {esc(out)} ({fmt}, SHA-256 {sha})")
    return 0


# -- timeline -------------------------------------------------------------------------------------
@click.command()
@click.option("--format", "fmt", type=click.Choice(sorted(timeline_export.WRITERS)), default="jsonl",
              show_default=True, help="JSON Lines or CSV (both in Timesketch's import format).")
@click.option("--from", "start", default=None, metavar="T",
              help="Only events at or after T (ISO 8601 date or date-time; no offset means UTC).")
@click.option("--to", "end", default=None, metavar="T",
              help="Only events at or before T (a date alone includes that whole day).")
@click.option("--tz", "tz_name", default=None, metavar="ZONE",
              help="Render 'datetime' in this IANA zone (default UTC); zoneless times stay zoneless.")
@click.option("--known-only", is_flag=True,
              help="Leave out events whose time zone is unknown (e.g. for a tool that would read them as UTC).")
@_out_option
@_item_option
@with_case
def timeline(case: Case, fmt: str, start: str | None, end: str | None, tz_name: str | None,
             known_only: bool, out: Path | None, item: str | None) -> int:
    """One sorted timeline of file-system, photo, GPS and chat times (Timesketch JSONL/CSV)."""
    if item:
        case.item(item)
    tz = timeline_export.zone(tz_name)
    flt = timeline_export.TimelineFilter(
        item=item,
        start_us=timeline_export.parse_bound(start) if start else None,
        end_us=timeline_export.parse_bound(end, end=True) if end else None,
        known_only=known_only)
    if flt.start_us is not None and flt.end_us is not None and flt.start_us > flt.end_us:
        raise UsageError(f"--from {start} is after --to {end}")
    with output(out) as fh:
        n = timeline_export.WRITERS[fmt](timeline_export.events(case.db, flt, tz), fh)
    if out is not None:
        sha = _record_export(case, "timeline", fmt, out, n, {"item": item, "from": start, "to": end,
                                                                "tz": tz_name, "known_only": known_only})
        _summary(f"{n:,} timeline events written to {esc(out)} ({fmt}, SHA-256 {sha})")
    return 0


COMMANDS = [photos, geo, timeline]
