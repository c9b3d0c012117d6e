"""forensic photos, forensic geo, forensic timeline"""
from __future__ import annotations

import hashlib
import itertools
import sys
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import click

from forensic.cli.commands.files import ListingScope, filter_words, hashset_fields
from forensic.cli.common import json_option, with_case
from forensic.cli.console import esc, info, json_safe, listing, safe, stdout_is_terminal, table_pages, warn
from forensic.exporters import geo as geo_export
from forensic.exporters import timeline as timeline_export
from forensic.case import Case
from forensic.store import hashsets as store_hashsets, selection as store_selection, similar as store_similar
from forensic.errors import UsageError
from forensic.outputs import check_output, write_atomic


PHOTOS_LEGEND = ("Flags: D deleted · C corrupted (damaged inside its format) · G geotagged · ! invalid GPS "
                 "(never placed on a map) · K carved from unallocated space · E embedded in another file · V video "
                 "(--videos) · B known-bad (a hash set's: only its hash and metadata are ever shown) · b suspected "
                 "known-bad (a near-duplicate of a known-bad photo: shown as one is). "
                 "Known-good photos are left out unless --known-good. "
                 "Zone: where the time's zone comes from (unknown: the camera's clock)")
TIMELINE_LEGEND = ("Zone: where the time's zone comes from; unknown: the device's clock, placed as if it were "
                   "UTC (its true instant may be 14 h earlier to 12 h later)")


def _when(value: str | None) -> str:
    """An ISO 8601 time for a table: a space instead of the 'T', so it wraps between date
    and time."""
    return value.replace("T", " ", 1) if value else "-"


def _first(rows: Iterable) -> tuple[bool, Iterator]:
    """Whether ``rows`` has any row, and all of them (the first one read ahead)."""
    it = iter(rows)
    for first in it:
        return True, itertools.chain((first,), it)
    return False, it


def _summary(message: str) -> None:
    """One line on stderr, unless --quiet was given (shown off a TTY too: it names a file written)."""
    info(message)


class TerminalText:
    """What an exporter writes to stdout when stdout is a terminal, with every control and
    bidi character of evidence text escaped (console.safe decides which) before the terminal
    acts on it: in JSON as ``\\uXXXX`` (the JSON still reads the same), otherwise as ``\\xNN``
    / ``\\uXXXX``. Line ends are kept (CSV's CRLF shown as a plain line end)."""

    def __init__(self, stream: TextIO, json_text: bool) -> None:
        self.stream = stream
        self._line = json_safe if json_text else safe

    def write(self, text: str) -> int:
        shown = "\n".join(map(self._line, text.replace("\r\n", "\n").split("\n")))
        self.stream.write(shown)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def output(out: Path | None, case: Case, json_text: bool = False) -> Iterator[TextIO]:
    """stdout (on a terminal through :class:`TerminalText`; ``json_text``: the format is
    JSON), or a new file written atomically (never over evidence or the case store:
    :mod:`forensic.outputs`)."""
    if out is None:
        yield TerminalText(sys.stdout, json_text) if stdout_is_terminal() else sys.stdout
        sys.stdout.flush()
        return
    check_output(out, case)
    with write_atomic(out, "w", encoding="utf-8", newline="") as fh:
        yield fh


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
# photo record fields shown by `photos --json` after geo's columns (docs/formats.md): the
# lens, where the serial came from, every date with its source, which one taken_at is and why
PHOTO_MEDIA_FIELDS = ("lens", "lens_make", "lens_model", "lens_serial", "serial_source", "taken_at_source", "dates",
                      "gps", "xmp_source")


def _photo_rows(case: Case, item: str | None, geotagged: bool, videos: bool = False,
                known_good: bool = True) -> Iterator[dict]:
    """The photo rows; with the hash sets each photo's file matched (``hashsets``,
    ``known_good``, ``known_bad``, ``known_bad_category``); known-good ones left out unless
    ``known_good``."""
    marks = store_hashsets.hits(case.db, [item] if item else None)
    suspects = store_similar.suspected_known_bad(case.db)
    # near-duplicates of known-bad photos are sought by hash version: said only where there are some
    older = store_similar.older_hashes(case.db) if store_hashsets.known_bad_sha256(case.db) else None
    if older is not None:
        warn(esc("suspected known-bad photos: " + older.message()))
    for p in store_selection.photos(case.db, item, geotagged):
        mine = marks.get(p.file_id, []) if p.file_id is not None else []
        if not known_good and any(m.kind == "known-good" for m in mine):
            continue
        row = geo_export.photo_row(p)
        for key in PHOTO_MEDIA_FIELDS:
            row[key] = p.fields.get(key)
        if videos:
            row["kind"] = geo_export.PHOTO_KIND
        row.update(hashset_fields(mine))
        suspect = suspects.get(p.file_id) if p.file_id is not None and not row["known_bad"] else None
        row["suspected_known_bad"] = suspect.to_json() if suspect is not None else None
        yield row
    if videos:
        # the media/video records: a photo row's fields (those a video has not are null),
        # then kind "video", duration, codecs, frame rate, the dates and the track's size
        by_content = store_hashsets.hits_by_sha256(case.db, [item] if item else None)
        for row in geo_export.video_rows(case.db, item, geotagged):
            del row["artifact_id"]
            mine = by_content.get(row["sha256"], []) if row.get("sha256") else []
            if not known_good and any(m.kind == "known-good" for m in mine):
                continue
            row.update(hashset_fields(mine))
            yield {**row, **{k: row.get(k) for k in PHOTO_MEDIA_FIELDS}}


@click.command()
@_item_option
@click.option("--geotagged", is_flag=True, help="Only photos with a valid GPS position.")
@click.option("--videos", is_flag=True,
              help="Also list videos (MOV/MP4, GoPro): flag V, kind 'video', duration, codecs, track size.")
@click.option("--known-good", is_flag=True, help="Also list photos in a known-good hash set (left out by default).")
@json_option
@with_case
def photos(case: Case, item: str | None, geotagged: bool, videos: bool, known_good: bool, as_json: bool) -> int:
    """List every photo found by triage: camera, time taken (with its time-zone source), GPS.

    On a terminal: a table (flags explained under it). In a pipe: one compact line per photo
    (flags, time taken, zone source, position, device, wN warnings, locator). With --json:
    JSON Lines."""
    scope = ListingScope(case, item)
    with closing(_photo_rows(case, item, geotagged, videos, known_good)) as rows:
        n = listing(rows, as_json=as_json,
                    columns=("Flags", "Taken", "Zone", "Position", "Device", "Warnings", "Locator"),
                    cells=_photo_cells, line=_photo_line, legend=PHOTOS_LEGEND, no_wrap=("Flags",))
    scope.report("photos and videos" if videos else "photos", n,
                 filter_words(("--geotagged", geotagged), ("--videos", videos)))
    return 0


def _photo_flags(r: dict, blank: str) -> str:
    gps = "G" if geo_export.is_geotagged(r) else "!" if r["gps_raw"] else blank
    flags = ("D" if r["deleted"] else blank) + ("C" if r["corrupted"] else blank) + gps
    if r.get("known_bad"):
        flags += "B"
    elif r.get("suspected_known_bad"):
        flags += "b"
    return flags + "V" if r.get("kind") == geo_export.VIDEO_KIND else flags


def _photo_line(r: dict) -> str:
    """The compact line of a photo (a public format: other tools cut it)."""
    where = f"{r['lat']:.6f},{r['lon']:.6f}" if geo_export.is_geotagged(r) else "-"
    return (f"{_photo_flags(r, '-')} {r['taken_at'] or '-':32} {r['tz_source'] or '-':10} {where:22} "
            f"{safe(r['device'] or '-'):32} w{len(r['warnings'])} {safe(r['locator'] or '-')}")


def _photo_cells(r: dict) -> tuple:
    where = f"{r['lat']:.6f}, {r['lon']:.6f}" if geo_export.is_geotagged(r) else "-"
    how = {"carved": "K", "embedded": "E"}.get(r.get("recovery") or "", "")
    return (_photo_flags(r, "") + how, _when(r["taken_at"]), r["tz_source"] or "-", where, r["device"] or "-",
            len(r["warnings"]), r["locator"] or "-")


# -- geo ------------------------------------------------------------------------------------------
@click.command()
@click.option("--format", "fmt", type=click.Choice(sorted(geo_export.WRITERS)), default=None,
              help="GeoJSON (RFC 7946; the default), KML 2.2 (Google Earth), CSV, or JSON Lines (one geotag a line).")
@_out_option
@_item_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout (the same as --format jsonl).")
@with_case
def geo(case: Case, fmt: str | None, out: Path | None, item: str | None, as_json: bool) -> int:
    """Export every geotag: geotagged photos (position, time, device, SHA-256, locator) and positions
    shared in chat messages (with the message: app, conversation, sender, time, id, text, and the chat
    database or export it came from), and positions the device recorded (kind 'device_location': iOS
    routined fixes and visits, Google Maps saved places), as GeoJSON, KML, CSV or JSON Lines."""
    if as_json and fmt not in (None, "jsonl"):
        raise UsageError(f"--json and --format {fmt} ask for two formats", hint="give one of them")
    fmt = "jsonl" if as_json else fmt or "geojson"
    scope = ListingScope(case, item)
    counts = {geo_export.PHOTO_KIND: 0, geo_export.VIDEO_KIND: 0, geo_export.CHAT_KIND: 0,
              geo_export.DEVICE_KIND: 0}

    def counted(rows: Iterable[dict]) -> Iterator[dict]:
        for row in rows:
            counts[row["kind"]] += 1
            yield row
    with closing(geo_export.geo_rows(case.db, item)) as found:
        some, rows = _first(found)
        if not some and len(scope.untriaged) == len(scope.items):
            scope.report("geotags", 0)                  # no triage yet: nothing is written
            return 0
        with output(out, case, json_text=fmt in ("geojson", "jsonl")) as fh:
            n = geo_export.WRITERS[fmt](counted(rows), fh)
    chats, videos = counts[geo_export.CHAT_KIND], counts[geo_export.VIDEO_KIND]
    devices = counts[geo_export.DEVICE_KIND]
    if out is not None:
        sha = _record_export(case, "geo", fmt, out, n, {"item": item})
        parts = [f"{counts[geo_export.PHOTO_KIND]:,} geotagged photos"] \
            + ([f"{videos:,} geotagged videos"] if videos else []) \
            + ([f"{chats:,} chat locations"] if chats else []) \
            + ([f"{devices:,} device locations"] if devices else [])
        said = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        _summary(f"{said} written to {esc(out)} ({fmt}, SHA-256 {sha})")
    scope.report("geotags", n)
    return 0


# -- timeline -------------------------------------------------------------------------------------
@click.command()
@click.option("--format", "fmt", type=click.Choice(sorted(timeline_export.WRITERS)), default=None,
              help="JSON Lines or CSV (both in Timesketch's import format). Default: JSON Lines; on a "
                   "terminal, without --out, a table.")
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
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout (the same as --format jsonl).")
@with_case
def timeline(case: Case, fmt: str | None, start: str | None, end: str | None, tz_name: str | None,
             known_only: bool, out: Path | None, item: str | None, as_json: bool) -> int:
    """One sorted timeline of file-system, photo, GPS and chat times (Timesketch JSONL/CSV).

    On a terminal (no --format, --json or --out): a table of time, zone source, item and
    event. Otherwise JSON Lines (or CSV), in Timesketch's import format."""
    if as_json and fmt not in (None, "jsonl"):
        raise UsageError(f"--json and --format {fmt} ask for two formats", hint="give one of them")
    as_table = fmt is None and not as_json and out is None and stdout_is_terminal()
    fmt = fmt or "jsonl"
    scope = ListingScope(case, item)
    tz = timeline_export.zone(tz_name)
    flt = timeline_export.TimelineFilter(
        item=item,
        start_us=timeline_export.parse_bound(start) if start else None,
        end_us=timeline_export.parse_bound(end, end=True) if end else None,
        known_only=known_only)
    if flt.start_us is not None and flt.end_us is not None and flt.start_us > flt.end_us:
        raise UsageError(f"--from {start} is after --to {end}")
    with closing(timeline_export.events(case.db, flt, tz)) as found:
        some, rows = _first(found)
        if not some and len(scope.untriaged) == len(scope.items):
            scope.report("timeline events", 0)          # no triage yet: nothing is written
            return 0
        if as_table:
            n = table_pages(("Time", "Zone", "Item", "Event"), map(_event_cells, rows), legend=TIMELINE_LEGEND,
                            no_wrap=("Zone",))
        else:
            with output(out, case, json_text=fmt == "jsonl") as fh:
                n = timeline_export.WRITERS[fmt](rows, fh)
    if out is not None:
        sha = _record_export(case, "timeline", fmt, out, n, {"item": item, "from": start, "to": end,
                                                                "tz": tz_name, "known_only": known_only})
        _summary(f"{n:,} timeline events written to {esc(out)} ({fmt}, SHA-256 {sha})")
    scope.report("timeline events", n, filter_words(("--from", start), ("--to", end), ("--known-only", known_only)))
    return 0


def _event_cells(e: dict) -> tuple:
    message = e["message"].replace("\r", "").replace("\n", " ⏎ ")
    return (_when(e["datetime"]), e["tz_source"], e["item"], message)


COMMANDS = [photos, geo, timeline]
