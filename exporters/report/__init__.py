"""The bundle's report: one self-contained HTML file that opens offline in any browser.

No scripts, no external style sheets, fonts or images: inline CSS, images as ``data:`` URIs,
the map as inline SVG (equirectangular projection of the points' bounding box, graticule
and labels, no tiles). Links to an online map (OpenStreetMap) are plain ``<a href>``: nothing
is loaded unless the reader clicks. Every string that comes from evidence or the case goes
through :func:`html.escape` (the helper :func:`e`), attributes included.

Thumbnails: a photo or video is shown by the thumbnail made at triage (``photo/thumbnail``:
upright, at most 256 px; a video's is its first key frame), else a photo by its EXIF thumbnail
(the JPEG in IFD1, found in the first bytes of the file) when it has one, else by itself when
it is a small JPEG/PNG/GIF/WebP, else a placeholder; the total embedded is capped. A file
withheld as sensitive shows none (nor does any file of the same content).
"""
from __future__ import annotations

import base64
import html
import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable

SECTIONS = (("case", "Case"), ("items", "Evidence items"), ("selection", "Selection"),
            ("files", "Exported files"), ("gallery", "Photos"), ("videos", "Videos"), ("map", "Map of geotags"),
            ("chats", "Conversations"), ("timeline", "Timeline"), ("custody", "Chain of custody"),
            ("limitations", "Limitations"))
TIMELINE_ROWS_CAP = 5000
MESSAGES_CAP = 20000
_IMAGE_MIMES = {"image/jpeg": "image/jpeg", "image/png": "image/png", "image/gif": "image/gif",
                "image/webp": "image/webp"}


def e(value: Any) -> str:
    """Escape for HTML text and quoted attributes; None becomes an em dash."""
    if value is None:
        return "&#8212;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if not _SPECIAL.search(text):
        return text
    if _CONTROL.search(text):    # invisible or layout-breaking: shown as \xNN
        text = _CONTROL.sub(_show_control, text)
    return html.escape(text, quote=True)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f&<>\"']")     # what e() changes


def _show_control(m: re.Match) -> str:
    return f"\\x{ord(m[0]):02x}"


# -- thumbnails ---------------------------------------------------------------------------------
def exif_thumbnail(head: bytes) -> bytes | None:
    """The JPEG thumbnail of IFD1 in a JPEG's Exif APP1 segment, if it lies within ``head``."""
    if head[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        seg_len = struct.unpack(">H", head[pos + 2:pos + 4])[0]
        if marker == 0xE1 and head[pos + 4:pos + 10] == b"Exif\x00\x00":
            tiff = head[pos + 10:pos + 2 + seg_len]
            return _ifd1_jpeg(tiff)
        if marker in (0xDA, 0xD9):
            return None
        pos += 2 + seg_len
    return None


def _ifd1_jpeg(tiff: bytes) -> bytes | None:
    try:
        if tiff[:2] == b"II":
            en = "<"
        elif tiff[:2] == b"MM":
            en = ">"
        else:
            return None
        ifd0 = struct.unpack(en + "I", tiff[4:8])[0]
        n = struct.unpack(en + "H", tiff[ifd0:ifd0 + 2])[0]
        nxt = struct.unpack(en + "I", tiff[ifd0 + 2 + 12 * n:ifd0 + 6 + 12 * n])[0]
        if not nxt or nxt + 2 > len(tiff):
            return None
        n1 = struct.unpack(en + "H", tiff[nxt:nxt + 2])[0]
        offset = length = None
        for i in range(min(n1, 256)):
            at = nxt + 2 + 12 * i
            tag, typ, count, value = struct.unpack(en + "HHII", tiff[at:at + 12])
            if typ == 3:                     # SHORT stored in the first two bytes
                value = struct.unpack(en + "H", tiff[at + 8:at + 10])[0]
            if tag == 0x0201:
                offset = value
            elif tag == 0x0202:
                length = value
        if offset and length and offset + length <= len(tiff):
            data = tiff[offset:offset + length]
            return data if data[:2] == b"\xff\xd8" else None
    except struct.error:
        return None
    return None


THUMBNAILS_DIR = "data/report/thumbnails/"


def thumbnail_member(bag_path: str) -> str:
    """The bundle member holding the thumbnail made at triage of the file stored at ``bag_path``
    (``data/evidence/...``): listed in the manifest like every member, so verify-bundle checks
    the report's picture of a photo is that file's."""
    rel = bag_path[len("data/"):] if bag_path.startswith("data/") else bag_path
    return f"{THUMBNAILS_DIR}{rel}.jpg"


class ThumbnailCollector:
    """Collects small images of exported photos while they stream into the bundle."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.images: dict[tuple[str, str], tuple[bytes, str]] = {}  # key -> (data URI, ASCII; how it was found)
        self.skipped = 0
        self.triage: dict[tuple[str, str], bytes] = {}   # key -> JPEG, the thumbnails made at triage taken

    def preload(self, media: Iterable[dict], stored: dict[int, str]) -> None:
        """Take the thumbnails made at triage (``stored``: base64 JPEG by file id) of the
        selected photos and videos ``media`` (dicts with item, locator, file_id, sha256,
        withheld). A withheld one's is never taken, nor any of content a withheld file has
        (the same picture under another name). Taken first, they are what :meth:`add` keeps."""
        media = list(media)
        hidden = {m["sha256"] for m in media if m["withheld"] and m.get("sha256")}
        for m in media:
            b64 = stored.get(m.get("file_id"))    # type: ignore[arg-type]
            if m["withheld"] or b64 is None or (m.get("sha256") and m["sha256"] in hidden):
                continue
            try:                               # decoded and encoded again: only base64 goes in the page
                jpeg = base64.b64decode(b64, validate=True)
            except ValueError:
                continue
            if not jpeg.startswith(b"\xff\xd8"):
                continue
            if self.used + len(jpeg) > self.budget:
                self.skipped += 1
                continue
            self.used += len(jpeg)
            uri = b"data:image/jpeg;base64," + base64.b64encode(jpeg)
            self.images[(m["item"], m["locator"])] = (uri, "thumbnail made at triage")
            self.triage[(m["item"], m["locator"])] = jpeg

    def add(self, f: dict, head: bytes, whole: bytes | None) -> None:
        if (f["item"], f["locator"]) in self.images:      # its thumbnail made at triage
            return
        thumb, kind, mime = exif_thumbnail(head), "EXIF thumbnail", "image/jpeg"
        if thumb is None and whole is not None and f.get("mime") in _IMAGE_MIMES:
            thumb, kind, mime = whole, "the photo itself", _IMAGE_MIMES[f["mime"]]
        if thumb is None:
            return
        if self.used + len(thumb) > self.budget:
            self.skipped += 1
            return
        self.used += len(thumb)
        uri = b"data:" + mime.encode("ascii") + b";base64," + base64.b64encode(thumb)
        self.images[(f["item"], f["locator"])] = (uri, kind)


# -- what the report shows, from the selection --------------------------------------------------
def selection_timeline(case, sel) -> list[dict]:
    """Timeline events of the selection only: file-system and photo times of the selected
    files (from :mod:`forensic.exporters.timeline`), and the selected messages' times."""
    from forensic.exporters import timeline as tl
    start = tl.parse_bound(sel.spec.from_at) if sel.spec.from_at else None
    end = tl.parse_bound(sel.spec.to_at, end=True) if sel.spec.to_at else None
    keys = {(f["item"], f["locator"]) for f in sel.files}
    events: list[dict] = []
    for item in sorted({f["item"] for f in sel.files}):
        for ev in tl.events(case.db, tl.TimelineFilter(item=item, start_us=start, end_us=end)):
            if ev["record_type"] == "chat/message":
                continue
            if (ev["item"], ev["locator"]) in keys:
                events.append(ev)
    for m in sel.messages:
        ev = _message_event(m, tl)
        if ev is not None:
            events.append(ev)

    def key(ev: dict):
        k = tl.sort_key(ev["datetime"]) if ev["datetime"] else None
        return (k is not None, k or 0, not ev["tz_known"], ev["item"] or "", ev["path"] or "", ev["timestamp_desc"])
    events.sort(key=key)
    return events


def _message_event(m: dict, tl) -> dict | None:
    from datetime import timezone
    f = m["fields"]
    utc, local = f.get("sent_at_utc"), f.get("sent_at")
    if utc:
        dt = tl.parse_stored(utc)
        dt = dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
        when, stamp, known, local_iso = tl.iso(dt), tl.to_us(dt), True, local or tl.iso(dt)
    elif local:
        when = tl.iso(tl.parse_stored(local).replace(tzinfo=None))
        stamp, known, local_iso = None, False, when
    else:
        return None
    conv = f.get("conversation") or {}
    body = "[withheld: tagged sensitive]" if m["withheld"] else (f.get("body") or "")
    state, recovered = f.get("db_state"), f.get("recovered")
    desc = tl.LABELS[("chat/message", "sent")]
    lat, lon = (None, None) if m["withheld"] else _position(f)
    return {"message": tl.message_text(desc, conv.get("title") or conv.get("id") or "?", f.get("sender"), body, state,
                                       lat, lon, recovered),
            "datetime": when, "timestamp_desc": tl.describe(desc, state, recovered), "timestamp": stamp,
            "item": m["item"],
            "path": m["path"], "sha256": m["sha256"], "record_type": "chat/message", "tz_known": known,
            "tz_source": f.get("tz_source") if known else "unknown", "local_datetime": local_iso,
            "locator": m["locator"], "db_state": state, "recovered": recovered}


def _position(fields: dict) -> tuple[Any, Any]:
    """A message's shared position (latitude, longitude), or (None, None)."""
    from forensic.store.places import position
    loc = fields.get("location")
    pos = position(loc) if isinstance(loc, dict) else None
    return pos if pos is not None else (None, None)


def selection_geo_rows(case, sel) -> list[dict]:
    """The geotags of the selection: its photos' (geotagged or not: the writers keep only the
    geotagged), its videos' (kind ``video``, each with its GPS track: the writers add it as a
    line), then the positions shared in its messages, each with the message (a message
    withheld as sensitive gives none: its location is withheld with its text)."""
    from forensic.exporters import geo
    keys = {(p["item"], p["locator"]) for p in sel.photos}
    rows = []
    for item in sorted({p["item"] for p in sel.photos}):
        for row in geo.photo_rows(case.db, item):
            if (row["item"], row["locator"]) in keys:
                rows.append(dict(row, kind=geo.PHOTO_KIND))
    video_keys = {(v["item"], v["locator"]) for v in getattr(sel, "videos", ())}
    for item in sorted({k[0] for k in video_keys}):
        for row in geo.video_rows(case.db, item, track=True):
            if (row["item"], row["locator"]) in video_keys:
                rows.append(row)
    for m in sel.messages:
        lat, lon = _position(m["fields"])
        if m["withheld"] or lat is None:
            continue
        rows.append(geo.message_geo_row(m["item"], m["artifact_id"], m["fields"], float(lat), float(lon), m["path"],
                                        m["locator"], m["sha256"], False, m["corrupted"]))
    return rows


def case_warnings(case, sel) -> list[dict]:
    """The warnings of the selection's items that concern the whole item or one of the
    selected files and chat sources, in the order they were met."""
    from forensic.store import warnings as store_warnings
    items = sorted({f["item"] for f in sel.files} | {m["item"] for m in sel.messages})
    keys = {(f["item"], f["locator"]) for f in sel.files} | \
        {(s["item"], s["locator"]) for s in sel.chat_sources.values()}
    out = []
    for item in items:
        for w in store_warnings.listing(case.db, item):
            if w.locator is None or (w.item, w.locator) in keys:
                out.append({"item": w.item, "locator": w.locator, "stage": w.stage, "message": w.message})
    return out


@dataclass
class ReportContext:
    info: dict
    files: list[dict]
    photos: list[dict]
    messages: list[dict]
    timeline: list[dict]
    geo: list[dict]
    custody: Any
    thumbs: ThumbnailCollector | None = None      # render_template() does without
    name_map: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    videos: list[dict] = field(default_factory=list)    # the selection's media/video records


# -- rendering ----------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#fff}
header{background:#1d3557;color:#fff;padding:1.2em 2em}header h1{margin:0 0 .2em 0;font-size:1.5em}
nav{background:#f1f3f5;padding:.5em 2em;position:sticky;top:0;border-bottom:1px solid #ccd}
nav a{margin-right:1em;color:#1d3557;text-decoration:none;font-size:.9em}
main{padding:0 2em 3em 2em;max-width:80em}section{margin-top:2em}h2{border-bottom:2px solid #1d3557;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ccd;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f1f3f5}code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;
font-size:.85em;word-break:break-all}.gallery{display:flex;flex-wrap:wrap;gap:1em}.card{border:1px solid #ccd;
width:15em;padding:.5em;font-size:.8em}.card img{max-width:100%;max-height:12em;display:block;margin:auto}
.ph{height:8em;background:#e9ecef;display:flex;align-items:center;justify-content:center;color:#666}
.conv{border:1px solid #ccd;margin:1em 0;padding:.5em 1em}.msg{margin:.4em 0;padding:.3em .6em;background:#f8f9fa;
border-left:3px solid #457b9d}.msg .meta{font-size:.75em;color:#555}.msg .body{white-space:pre-wrap}
.cite{font-size:.7em;color:#666}.ok{color:#1b7f3b;font-weight:bold}.bad{color:#b00020;font-weight:bold}
.warn{color:#8a5a00}.small{font-size:.8em;color:#555}svg{border:1px solid #ccd;background:#f7fbff}
.msg.uncommitted{border-left:3px dashed #b00020;background:#fff4f4}.unc{display:inline-block;padding:0 .4em;
border:1px solid #b00020;border-radius:3px;color:#b00020;background:#fff;font-weight:bold;font-size:.9em;
text-decoration:none}.unc-note{border:1px solid #b00020;background:#fff4f4;padding:.5em 1em}
.msg.recovered{border-left:3px dotted #8a5a00;background:#fffaf0}.rec{display:inline-block;padding:0 .4em;
border:1px solid #8a5a00;border-radius:3px;color:#8a5a00;background:#fff;font-weight:bold;font-size:.9em;
text-decoration:none}.rec-note{border:1px solid #8a5a00;background:#fffaf0;padding:.5em 1em}
"""

# What "uncommitted" means, said once in the report (where such messages are shown); every
# uncommitted message, and its timeline events, carry a label that links here.
UNCOMMITTED_NOTE = (
    "A message marked <b>UNCOMMITTED</b> was found only in a phone database's unfinished transaction: the "
    "database was found with a hot rollback journal or a write-ahead log holding changes that were never "
    "committed (the phone stopped while saving them, for example because its battery died, or the change was "
    "rolled back). In the database as the phone itself would read it (its committed state) the message is not "
    "there. It is reported because its content was on the device, but it is <b>not</b> one of the database's "
    "ordinary messages: the database alone does not tell whether the phone ever showed it, sent it or kept it. "
    "The warning that names the database (see Limitations) counts these messages; in "
    "<code>data/messages.jsonl</code> they carry <code>\"db_state\": \"uncommitted\"</code>, and in "
    "<code>data/timeline.csv</code> their events read &#8220;Message sent (uncommitted)&#8221;, with "
    "<code>db_state</code> <code>uncommitted</code>.")
UNCOMMITTED_LABEL = '<a class="unc" href="#uncommitted" title="found only in a database\'s unfinished transaction">' \
                    'UNCOMMITTED</a>'


def _uncommitted(fields: dict) -> bool:
    return fields.get("db_state") == "uncommitted"


# What "recovered" means, said once in the report (where such messages are shown); every
# recovered message, and its timeline events, carry a label that links here.
RECOVERED_NOTE = (
    "A message marked <b>RECOVERED</b> is a deleted row: the phone database no longer holds it as a message, "
    "but its bytes were still in the database's free space (a page on the freelist, free space inside a page, "
    "or an older page image in its write-ahead log) and were read back from there. It was on the device at "
    "some time; the database alone does not tell when or by whom it was deleted, and a row whose id a live "
    "message now has may be an earlier version of that message (its <code>recovered_note</code> says so). "
    "The warning that names the database (see Limitations) counts these rows; in "
    "<code>data/messages.jsonl</code> they carry <code>\"recovered\": \"deleted\"</code> and "
    "<code>source.page</code>, <code>source.offset</code> (where in the file they were found), and in "
    "<code>data/timeline.csv</code> their events read &#8220;Message sent (recovered deleted row)&#8221;, "
    "with <code>recovered</code> <code>deleted</code>.")
RECOVERED_LABEL = '<a class="rec" href="#recovered" title="a deleted row found in a database\'s free space">' \
                  'RECOVERED</a>'


def _recovered(fields: dict) -> bool:
    return fields.get("recovered") == "deleted"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], raw: bool = False) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(pairs: Iterable[tuple[str, str]]) -> str:
    """Key/value table; values are already escaped HTML."""
    return "<table><tbody>" + "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in pairs) + "</tbody></table>"


def _hash(value: str | None) -> str:
    return f'<span class="hash">{e(value)}</span>'


def osm_link(lat: float, lon: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


def render(ctx: ReportContext) -> bytes:
    """The report, UTF-8."""
    return fill(render_template(ctx), ctx.thumbs)


def render_template(ctx: ReportContext) -> list:
    """The report as UTF-8 pieces with a hole (a tuple) wherever it shows what the evidence
    stream collects: each photo's image and the count of images left out. Everything else
    is known from the case store, so the template can be made while the evidence streams;
    :func:`fill` puts the thumbnails in. ``ctx.thumbs`` is not used."""
    info = ctx.info
    case = info["case"]
    parts: list = ["<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
                   "style-src 'unsafe-inline'\">",
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                   f"<title>Evidence bundle {e(case['case_id'])}</title><style>{CSS}</style></head><body>",
                   f"<header><h1>Evidence bundle &#8212; case {e(case['case_id'])}</h1>"
                   f"<div>Examiner {e(case['examiner'])}"
                   f"{' &#183; ' + e(case['organisation']) if case.get('organisation') else ''}"
                   f" &#183; {e(info['tool']['name'])} {e(info['tool']['version'])}</div></header>",
                   "<nav>" + "".join(f'<a href="#{sid}">{e(title)}</a>' for sid, title in SECTIONS) + "</nav><main>"]
    parts.append(_case_section(ctx))
    parts.append(_items_section(ctx))
    parts.append(_selection_section(ctx))
    parts.append(_files_section(ctx))
    parts.extend(_gallery_section(ctx))
    parts.extend(_videos_section(ctx))
    parts.append(_map_section(ctx))
    parts.append(_chats_section(ctx))
    parts.append(_timeline_section(ctx))
    parts.append(_custody_section(ctx))
    parts.append(_limitations_section(ctx))
    parts.append("</main></body></html>\n")
    template: list = []
    text: list[str] = []
    for part in parts:
        if type(part) is str:
            text.append(part)
        else:
            template += ["".join(text).encode("utf-8"), part]
            text = []
    template.append("".join(text).encode("utf-8"))
    return template


def fill(template: list, thumbs: ThumbnailCollector) -> bytes:
    """The report from its template (:func:`render_template`) and the collected thumbnails."""
    out = []
    for piece in template:
        if type(piece) is bytes:
            out.append(piece)
        elif piece[0] == "img":
            _, key, alt = piece
            img = thumbs.images.get(key)
            if img is None:
                out.append(b'<div class="ph">no thumbnail</div>')
            else:                       # the URI (up to ~100 KB) is copied once, by the join
                out += (b'<img src="', img[0], f'" alt="{alt}" title="{e(img[1])}">'.encode("utf-8"))
        elif thumbs.skipped:            # ("skipped",)
            out.append(f"<p class=\"small\">{thumbs.skipped} thumbnail(s) not embedded (size budget of "
                       "the report).</p>".encode("utf-8"))
    return b"".join(out)


def _section(sid: str, body: str) -> str:
    title = dict(SECTIONS)[sid]
    return f'<section id="{sid}"><h2>{e(title)}</h2>{body}</section>'


def _case_section(ctx: ReportContext) -> str:
    info, case = ctx.info, ctx.info["case"]
    c = info["counts"]
    unc = sum(1 for m in ctx.messages if _uncommitted(m["fields"]))
    rec = sum(1 for m in ctx.messages if _recovered(m["fields"]))
    body = _kv([("Case", e(case["case_id"])), ("Examiner", e(case["examiner"])),
                ("Organisation", e(case.get("organisation"))), ("Case opened", e(case.get("created_at"))),
                ("Tool", e(f"{info['tool']['name']} {info['tool']['version']} ({info['format']})")),
                ("Recipient", e(info.get("recipient"))),
                ("Contents", e(f"{c['files']} files exported, {c['withheld_files']} withheld; {c['photos']} photos; "
                               + (f"{c['videos']} videos; " if c.get("videos") else "")
                               + f"{c['messages']} messages ({c['withheld_messages']} withheld"
                               + (f", {unc} uncommitted" if unc else "")
                               + (f", {rec} recovered deleted rows" if rec else "") + ")")
                 + (' (<a href="#uncommitted">what uncommitted means</a>)' if unc else "")
                 + (' (<a href="#recovered">what recovered means</a>)' if rec else ""))])
    body += ("<p class=\"small\">The bundle's creation time is in <code>bag-info.txt</code> "
             "(<code>Bundle-Created</code>); this report is the same for every export of the same selection. "
             "How to verify the bundle: <code>docs/prosecutor-guide.md</code> of the forensic tool, or "
             "<code>forensic verify-bundle</code>.</p>")
    return _section("case", body)


def _items_section(ctx: ReportContext) -> str:
    rows = []
    for it in ctx.info["items"]:
        acq = it.get("acquisition_hashes") or {}
        acq_text = ", ".join(f"{k}: {v}" for k, v in sorted(acq.items())) or None
        lv = it.get("last_verification")
        if not lv:
            verification = "not re-verified since intake"
        elif lv.get("ok") is None:
            verification = f"{e(lv['action'])} at {e(lv['at'])}: no hash recorded"
        else:
            verification = (f"{e(lv['action'])} at {e(lv['at'])}: "
                            + ('<span class="ok">matches intake</span>' if lv["ok"]
                               else '<span class="bad">DIFFERS</span>'))
        rows.append([e(it["item"]), e(it["format"]), e(it["source_name"]), e(it.get("description")),
                     e(f"{it['size']:,}"), _hash(it["sha256"]) + "<br>MD5 " + _hash(it["md5"]),
                     e(acq_text) + (f"<br>verified: {e(it['acquisition_hash_verified'])}"
                                    if it.get("acquisition_hash_verified") is not None else ""),
                     verification, e(it.get("added_at")), e(it.get("triaged_at"))])
    return _section("items", _table(["Item", "Format", "Source", "Description", "Bytes", "Intake SHA-256 / MD5",
                                     "Acquisition hashes", "Verification", "Added", "Triaged"], rows, raw=True))


def _selection_section(ctx: ReportContext) -> str:
    s = ctx.info["selection"]
    body = _kv([("Tags", e(", ".join(s["tags"]) or "(none: whole items)")),
                ("Items", e(", ".join(s["items"]) or "all")),
                ("Record types", e(", ".join(s["types"]) or "all")), ("From", e(s["from"])), ("To", e(s["to"])),
                ("Sensitive items", e("included (--include-sensitive)" if s["include_sensitive"]
                                      else "withheld: listed with hashes and metadata only"))])
    body += ("<p class=\"small\">Only what this selection names left the case. Times given without a zone "
             "are the device's wall clock; their zone is unknown.</p>")
    return _section("selection", body)


def _files_section(ctx: ReportContext) -> str:
    rows = []
    for f in ctx.files:
        status = "withheld" if f["withheld"] else "exported"
        tags = ", ".join(t["tag"] + (" (sensitive)" if t["sensitive"] else "")
                         + (f": {t['note']}" if t.get("note") else "") for t in f.get("tags") or [])
        rows.append([e(f["item"]), f"<code>{e(f['locator'])}</code>",
                     f"<code>{e(f['bag_path'])}</code>" if f.get("bag_path") else e(status),
                     e(f"{f['size']:,}" if f["size"] is not None else None), _hash(f["sha256"]), e(f.get("mime")),
                     e(f.get("modified_at")) + ("" if f["times_tz_known"] or not f.get("modified_at")
                                                else " <span class=\"warn\">(zone unknown)</span>"),
                     e(_how_had(f)), e(tags), e(status)])
    body = _table(["Item", "Locator", "Stored as", "Bytes", "SHA-256", "Type", "Modified", "", "Tags", "Status"],
                  rows, raw=True)
    body += "<p class=\"small\">Every exported file was re-read from the evidence at export and its SHA-256 " \
            "matched the value recorded at triage.</p>"
    if ctx.name_map:
        body += "<h3>Names changed for storage</h3>" + _table(
            ["Original", "Stored as"], [[f"<code>{e(m['original'])}</code>", f"<code>{e(m['stored'])}</code>"]
                                        for m in ctx.name_map], raw=True)
    return _section("files", body)


def _how_had(f: dict) -> str:
    """'deleted', 'carved' (from unallocated space) or 'embedded' (inside another file)."""
    how = f.get("recovery")
    if how == "carved":
        return "carved from unallocated space"
    if how == "embedded":
        return "embedded in another file" + (", deleted" if f["deleted"] else "")
    return "deleted" if f["deleted"] else ""


def _gallery_section(ctx: ReportContext) -> list:
    """Text and holes (see :func:`render_template`)."""
    if not ctx.photos:
        return [_section("gallery", "<p>No photos in this selection.</p>")]
    cards: list = [f'<section id="gallery"><h2>{e(dict(SECTIONS)["gallery"])}</h2><div class="gallery">']
    for p in ctx.photos:
        f = p["fields"]
        if p["withheld"]:
            pic = '<div class="ph">withheld (sensitive)</div>'
        else:                        # the image, if one is collected while the photo streams
            pic = ("img", (p["item"], p["locator"]), e(p["path"]))
        gps = ""
        if f.get("gps_valid") and f.get("lat") is not None and f.get("lon") is not None:
            gps = (f'{e(round(f["lat"], 6))}, {e(round(f["lon"], 6))}'
                   + (f", {e(f['alt'])} m" if f.get("alt") is not None else "")
                   + f' (<a href="{e(osm_link(f["lat"], f["lon"]))}" rel="noreferrer">map</a>)')
        taken = f.get("taken_at")
        tz = "" if f.get("tz_known") or not taken else " <span class=\"warn\">(zone unknown)</span>"
        cards += ['<div class="card">', pic,
                  f'<div><code>{e(p["path"])}</code>'
                  + (f' <span class="warn">({e(_how_had(p))})</span>' if p.get("recovery") in ("carved", "embedded")
                     else "") + '</div>'
                  f'<div>Taken: {e(taken)}{tz} <span class="small">[{e(f.get("tz_source"))}]</span></div>'
                  f'<div>Camera: {e(" ".join(x for x in (f.get("make"), f.get("model")) if x) or None)}'
                  f'{(" #" + e(f["serial"])) if f.get("serial") else ""}</div>'
                  f'<div>GPS: {gps or "&#8212;"}</div>'
                  f'<div class="small">{e(f.get("width"))}&#215;{e(f.get("height"))} &#183; '
                  f'SHA-256 {_hash(p["sha256"])}</div>'
                  f'<div class="cite">{e(p["item"])} &#8250; <code>{e(p["locator"])}</code></div></div>']
    return cards + ["</div>", ("skipped",), "</section>"]


def _videos_section(ctx: ReportContext) -> list:
    """One row per selected video: the file (item, locator, SHA-256: the bundle's checks read
    them), when it was recorded and which of its dates that is, the camera, where (its first
    GPS fix or ISO 6709 place), its duration and how many GPS track points it holds. Above
    the table, each video not withheld with its first key frame (a hole: see
    :func:`render_template`)."""
    if not ctx.videos:
        return [_section("videos", "<p>No videos in this selection.</p>")]
    cards: list = []
    for v in ctx.videos:
        if v["withheld"]:
            continue
        cards += ['<div class="card">', ("img", (v["item"], v["locator"]), e(v["path"])),
                  f'<div><code>{e(v["path"])}</code></div><div class="small">first key frame</div>'
                  f'<div class="cite">{e(v["item"])} &#8250; <code>{e(v["locator"])}</code></div></div>']
    rows = []
    for v in ctx.videos:
        f = v["fields"]
        taken = f.get("taken_at")
        src = f.get("taken_at_source")
        src_text = src.get("source") if isinstance(src, dict) else src
        recorded = (e(taken) + ("" if f.get("tz_known") or not taken else ' <span class="warn">(zone unknown)</span>')
                    + f' <span class="small">[{e(f.get("tz_source"))}'
                    + (f"; from {e(src_text)}" if src_text else "") + "]</span>")
        place = "&#8212;"
        lat, lon = f.get("lat"), f.get("lon")
        if f.get("gps_valid") and isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
            place = (f"{e(round(lat, 6))}, {e(round(lon, 6))}"
                     + (f", {e(f['alt'])} m" if f.get("alt") is not None else "")
                     + f' (<a href="{e(osm_link(lat, lon))}" rel="noreferrer">map</a>)')
        device = " ".join(str(x) for x in (f.get("make"), f.get("model")) if x) or None
        if f.get("serial"):
            device = f"{device or ''} #{f['serial']}".strip()
        points = f.get("track_points") or 0
        track = f"{points} point(s)" + (" (decimated in the record)" if f.get("track_decimated") else "")
        how = _how_had(v)
        rows.append([e(v["item"]), f"<code>{e(v['locator'])}</code>", _hash(v["sha256"]), recorded, e(device),
                     place, e(f"{f['duration_s']:g} s" if isinstance(f.get("duration_s"), (int, float)) else None),
                     e(track if points else "none"),
                     e(("withheld (sensitive)" if v["withheld"] else "") + (f" {how}" if how else "")) or ""])
    body = (_table(["Item", "File", "SHA-256", "Recorded [zone source; date used]", "Device", "Place (first fix)",
                    "Duration", "GPS track", ""], rows, raw=True)
            + "<p class=\"small\">A video's place is its first GPS fix (or the place its metadata names); its "
            "whole GPS track is a line in <code>data/geotags.geojson</code> and <code>data/geotags.kml</code> "
            "(kind <code>video_track</code>). The date used says which of the video's dates gives the time "
            "recorded.</p>")
    head = f'<section id="videos"><h2>{e(dict(SECTIONS)["videos"])}</h2>'
    if cards:
        return [head + '<div class="gallery">', *cards, "</div>" + body + "</section>"]
    return [head + body + "</section>"]


def _map_section(ctx: ReportContext) -> str:
    pts = [r for r in ctx.geo if r.get("gps_valid") and r.get("lat") is not None and r.get("lon") is not None]
    if not pts:
        return _section("map", "<p>No geotagged photos, videos or chat locations in this selection.</p>")
    from forensic.exporters.geo import track_coordinates
    tracks = [[(c[1], c[0]) for c in track_coordinates(r)] for r in pts if r.get("track")]
    from forensic.exporters.report.basemap import map_svg as base_map_svg
    # labels are the table's row numbers: the SVG holds no text from the evidence
    svg = base_map_svg([dict(lat=r["lat"], lon=r["lon"], kind=r.get("kind"), label=str(i + 1))
                        for i, r in enumerate(pts)], tracks=[t for t in tracks if len(t) >= 2])
    rows = [[str(i + 1), _map_what(r), e(round(r["lat"], 6)), e(round(r["lon"], 6)),
             e(r.get("alt")), e(r.get("sent_at") if r.get("kind") == "chat_message" else r.get("taken_at")),
             e(r.get("sender") if r.get("kind") == "chat_message" else r.get("device")),
             f'<a href="{e(osm_link(r["lat"], r["lon"]))}" rel="noreferrer">OpenStreetMap</a>']
            for i, r in enumerate(pts)]
    body = (svg + "<p class=\"small\">The points (numbered as in the table; points closer than 14 pixels are "
            "one circle with their count) on coastlines and borders from Natural Earth (public domain), drawn in "
            "the report itself: nothing is loaded from the network. The links open an online map only when clicked. "
            "A point is a photo's geotag, a video's place (its first GPS fix; its GPS track is drawn as a line), "
            "or a position shared in a chat message (then the message: conversation, "
            "sender, time sent, message id, and the chat database or export it came from).</p>"
            + _table(["#", "Photo, video or chat message", "Latitude", "Longitude", "Altitude (m)", "Taken or sent",
                      "Device or sender", "Online map"], rows, raw=True))
    return _section("map", body)


def _map_what(r: dict) -> str:
    """The map table's description of a point: the photo's path, or the message it came from."""
    if r.get("kind") == "video":
        points = r.get("track_points") or 0
        return (f"<code>{e(r['path'])}</code> (video" + (f", GPS track of {e(points)} points" if points else "")
                + ")")
    if r.get("kind") != "chat_message":
        return f"<code>{e(r['path'])}</code>"
    place = f" &#8220;{e(r['location_name'])}&#8221;" if r.get("location_name") else ""
    return (f"Location{place} shared in {e(r.get('platform'))} conversation <b>{e(r.get('conversation'))}</b>"
            f" &#183; message {e(r.get('message_id'))} (record {e(r.get('artifact_id'))})"
            f'<div class="cite">{e(r["item"])} &#8250; <code>{e(r.get("locator"))}</code></div>')


def map_svg(points: list[tuple[float, float]], lines: list[list[tuple[float, float]]] | None = None,
            width: int = 800, height: int = 480) -> str:
    """The points (numbered) and ``lines`` (a video's GPS track: (lat, lon) each) on a graticule."""
    lines = lines or []
    lats = [p[0] for p in points] + [q[0] for line in lines for q in line]
    lons = [p[1] for p in points] + [q[1] for line in lines for q in line]
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    span = max(lat1 - lat0, lon1 - lon0, 0.01)
    pad = span * 0.15
    lat0, lat1 = max(-90.0, lat0 - pad), min(90.0, lat1 + pad)
    lon0, lon1 = max(-180.0, lon0 - pad), min(180.0, lon1 + pad)
    if lat1 - lat0 < span:
        mid = (lat0 + lat1) / 2
        lat0, lat1 = mid - span / 2 - pad, mid + span / 2 + pad
    if lon1 - lon0 < span:
        mid = (lon0 + lon1) / 2
        lon0, lon1 = mid - span / 2 - pad, mid + span / 2 + pad
    m = 40

    def x(lon: float) -> float:
        return m + (lon - lon0) / (lon1 - lon0) * (width - 2 * m)

    def y(lat: float) -> float:
        return m + (lat1 - lat) / (lat1 - lat0) * (height - 2 * m)

    out = [f'<svg width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="map of geotags">']
    step = _nice_step(max(lat1 - lat0, lon1 - lon0) / 5)
    import math
    dec = max(0, -math.floor(math.log10(step)))
    for g in _grid(lat0, lat1, step):
        out.append(f'<line x1="{m}" y1="{y(g):.1f}" x2="{width - m}" y2="{y(g):.1f}" stroke="#ccd" stroke-width="0.5"/>'
                   f'<text x="2" y="{y(g) + 3:.1f}" font-size="9" fill="#666">{g:.{dec}f}&#176;</text>')
    for g in _grid(lon0, lon1, step):
        out.append(f'<line x1="{x(g):.1f}" y1="{m}" x2="{x(g):.1f}" y2="{height - m}" '
                   'stroke="#ccd" stroke-width="0.5"/>'
                   f'<text x="{x(g) - 10:.1f}" y="{height - m + 14}" '
                   f'font-size="9" fill="#666">{g:.{dec}f}&#176;</text>')
    out.append(f'<rect x="{m}" y="{m}" width="{width - 2 * m}" height="{height - 2 * m}" fill="none" stroke="#889"/>')
    for line in lines:
        pts = " ".join(f"{x(lon):.1f},{y(lat):.1f}" for lat, lon in line)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#457b9d" stroke-width="2"/>')
    for i, (lat, lon) in enumerate(points):
        out.append(f'<circle cx="{x(lon):.1f}" cy="{y(lat):.1f}" r="5" fill="#e63946" stroke="#fff"/>'
                   f'<text x="{x(lon) + 7:.1f}" y="{y(lat) - 6:.1f}" font-size="11" fill="#1d3557">{i + 1}</text>')
    out.append("</svg>")
    return "".join(out)


def _grid(lo: float, hi: float, step: float):
    """The grid values (multiples of ``step``) within [lo, hi]."""
    g = (int(lo / step) - 1) * step
    while g <= hi:
        if g >= lo:
            yield g
        g += step


def _nice_step(raw: float) -> float:
    import math
    if raw <= 0:
        return 1.0
    exp = math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if mult * 10 ** exp >= raw:
            return mult * 10 ** exp
    return 10 ** (exp + 1)


def _chats_section(ctx: ReportContext) -> str:
    if not ctx.messages:
        return _section("chats", "<p>No messages in this selection.</p>")
    convs: dict[tuple, list] = {}
    for m in ctx.messages[:MESSAGES_CAP]:
        c = m["fields"].get("conversation") or {}
        convs.setdefault((m["item"], m["fields"].get("platform"), c.get("id"), c.get("title")), []).append(m)
    out = []
    total = sum(1 for m in ctx.messages if _uncommitted(m["fields"]))
    if total:
        out.append(f'<p id="uncommitted" class="unc-note"><b>Uncommitted messages ({total} in this selection).</b> '
                   f'{UNCOMMITTED_NOTE}</p>')
    found = sum(1 for m in ctx.messages if _recovered(m["fields"]))
    if found:
        out.append(f'<p id="recovered" class="rec-note"><b>Recovered deleted messages ({found} in this selection).'
                   f'</b> {RECOVERED_NOTE}</p>')
    for (item, platform, cid, title), msgs in convs.items():
        people = sorted({p for m in msgs for p in (m["fields"].get("participants") or []) if isinstance(p, str)})
        src = msgs[0]["source"]
        pending = sum(1 for m in msgs if _uncommitted(m["fields"]))
        deleted_rows = sum(1 for m in msgs if _recovered(m["fields"]))
        block = [f'<div class="conv"><h3>{e(title or cid)}</h3>'
                 f'<div class="small">{e(platform)} &#183; item {e(item)} &#183; '
                 f'participants: {e(", ".join(people) or None)}'
                 + (f' &#183; <span class="bad">{pending} of its {len(msgs)} messages uncommitted</span>'
                    if pending else "")
                 + (f' &#183; <span class="warn">{deleted_rows} of its {len(msgs)} messages recovered deleted rows'
                    '</span>' if deleted_rows else "")
                 + f'<br>source: <code>{e(src["locator"])}</code> (SHA-256 {_hash(src["sha256"])})</div>']
        for m in msgs:
            f = m["fields"]
            unc, rec = _uncommitted(f), _recovered(f)
            when = f.get("sent_at")
            tz = "" if f.get("tz_known") or not when else " (zone unknown)"
            body = "<em>[withheld: tagged sensitive]</em>" if m["withheld"] else e(f.get("body") or "")
            atts = ""
            if f.get("attachments"):
                atts = "<div class=\"small\">attachments: " + e(", ".join(
                    (a.get("name") or "[withheld]") + (f" (sha256 {a['sha256']})" if a.get("sha256") else "")
                    for a in f["attachments"])) + "</div>"
            flags = ", ".join(k for k in ("edited", "deleted", "system") if f.get(k))
            block.append(f'<div class="msg{" uncommitted" if unc else ""}{" recovered" if rec else ""}">'
                         f'<div class="meta">{UNCOMMITTED_LABEL + " " if unc else ""}'
                         f'{RECOVERED_LABEL + " " if rec else ""}<b>{e(f.get("sender") or "(system)")}</b> &#183; '
                         f'{e(when)}{e(tz)}{(" &#183; " + e(flags)) if flags else ""}</div>'
                         f'<div class="body">{body}</div>{atts}'
                         f'<div class="cite">source: <code>{e(m["source"]["locator"])}</code> {e(m["source"]["ref"])} '
                         f'&#183; record {e(m["artifact_id"])}</div></div>')
        block.append("</div>")
        out.append("".join(block))
    if len(ctx.messages) > MESSAGES_CAP:
        out.append(f"<p class=\"warn\">Only the first {MESSAGES_CAP:,} messages are shown; all are in "
                   "data/messages.jsonl.</p>")
    return _section("chats", "".join(out))


def _timeline_section(ctx: ReportContext) -> str:
    if not ctx.timeline:
        return _section("timeline", "<p>No dated events in this selection.</p>")
    rows = [[e(ev["datetime"]) + ("" if ev["tz_known"] else " <span class=\"warn\">(zone unknown)</span>"),
             (UNCOMMITTED_LABEL + " " if ev.get("db_state") == "uncommitted" else "")
             + (RECOVERED_LABEL + " " if ev.get("recovered") == "deleted" else "") + e(ev["timestamp_desc"]),
             e(ev["message"]), e(ev["item"]), f"<code>{e(ev['locator'])}</code>"]
            for ev in ctx.timeline[:TIMELINE_ROWS_CAP]]
    body = _table(["Time", "Event", "Description", "Item", "Locator"], rows, raw=True)
    if len(ctx.timeline) > TIMELINE_ROWS_CAP:
        body += (f"<p class=\"warn\">First {TIMELINE_ROWS_CAP:,} of {len(ctx.timeline):,} events; "
                 "all are in data/timeline.csv.</p>")
    body += ("<p class=\"small\">Events whose zone is unknown are placed by their wall-clock time read as UTC; "
             "their true instant may lie up to 14 hours before or 12 hours after. data/timeline.csv has the "
             "Timesketch columns.</p>")
    return _section("timeline", body)


def _custody_section(ctx: ReportContext) -> str:
    ex = ctx.custody
    if ex is None or ex.checkpoint is None:
        return _section("custody", "<p class=\"warn\">The case has no custody log checkpoint: no custody excerpt "
                                   "is included.</p>")
    cp = ex.checkpoint
    v = ex.verify or {}
    verdict = ('<span class="ok">verified</span>' if v.get("ok")
               else f'<span class="bad">did NOT verify</span>: {e(v.get("problem"))}')
    body = _kv([("Checkpoint", e(f"{cp.tree_size} entries, root {cp.root}")), ("Checkpoint time", e(cp.at)),
                ("Checkpoint signature", e(f"signed by {cp.signer} (key {cp.public_key})" if cp.signature
                                           else "unsigned")),
                ("Whole log at export", verdict + " (hash chain, Merkle roots, checkpoints and their signatures)"),
                ("In this bundle", e(f"{len(ex.concerned)} entries that concern the exported items, each with an "
                                     "inclusion proof against the checkpoint (data/custody/)"))])
    rows = []
    for seq in ex.concerned[:2000]:
        en = ex.entries[seq]
        actor = en.get("actor") or {}
        subject = en.get("subject")
        subject_text = json.dumps(subject, ensure_ascii=False, sort_keys=True) if isinstance(subject, dict) else subject
        rows.append([e(seq), e(en.get("at")), e(actor.get("name") if isinstance(actor, dict) else actor),
                     e(en.get("action")), f"<code>{e(subject_text)}</code>", _hash(en.get("sha256")),
                     e(en.get("reason"))])
    runs = triage_runs(ex.entries[seq] for seq in ex.concerned)
    if runs:
        body += "<h3>Triage runs</h3>" + _table(
            ["Item", "Began", "Ended", "Outcome"],
            [[e(r["item"]), e(r["began"]), e(r["ended"]),
              f'<span class="{"ok" if r["status"] == "finished" else "warn"}">{e(r["status"])}</span>'
              + (f": {e(r['note'])}" if r["note"] else "")] for r in runs], raw=True)
    body += _table(["#", "At", "Actor", "Action", "Subject", "SHA-256", "Reason"], rows, raw=True)
    if len(ex.concerned) > 2000:
        body += f"<p class=\"small\">First 2,000 of {len(ex.concerned):,} entries shown.</p>"
    return _section("custody", body)


def triage_runs(entries: Iterable[dict]) -> list[dict]:
    """Each triage of an item, from its custody entries in order: when it began (started,
    or resumed after an unfinished run) and how it ended -- finished, interrupted (why, and
    how far it got), or with no end recorded (the process was killed, or is still running).
    Returns dicts: item, began, ended, status, note."""
    runs: list[dict] = []
    open_runs: dict[str, dict] = {}
    for en in entries:
        action, subject = en.get("action"), en.get("subject")
        if not (isinstance(action, str) and action.startswith("triage.") and isinstance(subject, dict)):
            continue
        item = subject.get("item")
        details = en.get("details") if isinstance(en.get("details"), dict) else {}
        run = open_runs.get(item)
        if action in ("triage.started", "triage.resumed"):
            if run is not None:
                run.update(status="no end recorded", note="the run was stopped before it could record an end")
            run = open_runs[item] = {"item": item, "began": en.get("at"), "ended": None,
                                     "status": "no end recorded",
                                     "note": "the run was stopped before it could record an end, or was "
                                             "still running at export"}
            run["resumed"] = action == "triage.resumed"
            runs.append(run)
        elif action in ("triage.finished", "triage.interrupted") and run is not None:
            del open_runs[item]
            run["ended"] = en.get("at")
            if action == "triage.finished":
                run["status"] = "finished"
                run["note"] = (f"{details.get('files', '?')} entries, {details.get('artifacts', '?')} artifacts, "
                               f"{details.get('warnings', '?')} warnings")
            else:
                run["status"] = "interrupted"
                run["note"] = (f"{en.get('reason') or 'no reason recorded'}; {details.get('files_recorded', '?')} "
                               f"files recorded, {details.get('files_stored', '?')} kept in the case; the next "
                               "run of this item carries on from there")
    for run in runs:
        if run.pop("resumed"):
            run["note"] = "resumed the unfinished run before it; " + run["note"]
    return runs


def _limitations_section(ctx: ReportContext) -> str:
    items = []
    withheld = [f for f in ctx.files if f["withheld"]]
    wmsgs = [m for m in ctx.messages if m["withheld"]]
    if withheld or wmsgs:
        items.append(f"<li>{len(withheld)} file(s) and {len(wmsgs)} message(s) are <b>withheld</b>: listed with "
                     "their hashes and metadata, without content or thumbnails:<ul>"
                     + "".join(f"<li><code>{e(f['locator'])}</code> SHA-256 {_hash(f['sha256'])} &#8212; "
                               f"{e(f.get('withheld_reason'))}</li>" for f in withheld[:500])
                     + "".join(f"<li>message record {e(m['artifact_id'])} in "
                               f"<code>{e(m['source']['locator'])}</code></li>" for m in wmsgs[:500])
                     + "</ul></li>")
    unknown_photos = sum(1 for p in ctx.photos if p["fields"].get("taken_at") and not p["fields"].get("tz_known"))
    unknown_videos = sum(1 for v in ctx.videos if v["fields"].get("taken_at") and not v["fields"].get("tz_known"))
    unknown_msgs = sum(1 for m in ctx.messages if m["fields"].get("sent_at") and not m["fields"].get("tz_known"))
    unknown_files = sum(1 for f in ctx.files if not f["times_tz_known"])
    if unknown_photos or unknown_videos or unknown_msgs or unknown_files:
        items.append(f"<li>Unknown time zones: {unknown_photos} photo time(s), "
                     + (f"{unknown_videos} video time(s), " if unknown_videos else "")
                     + f"{unknown_msgs} message time(s) and "
                     f"{unknown_files} file(s) with file-system times in local time (FAT/exFAT/ZIP) are the device's "
                     "wall clock; they are shown without a zone and never as UTC.</li>")
    for note in ctx.info.get("notes") or []:
        items.append(f"<li>{e(note)}</li>")
    pending = sum(1 for m in ctx.messages if _uncommitted(m["fields"]))
    if pending:
        items.append(f'<li class="bad">{pending} message(s) are <b>uncommitted</b>: found only in a phone database\'s '
                     'unfinished transaction, not in the database as the phone would read it; each is labelled '
                     f'{UNCOMMITTED_LABEL} (<a href="#uncommitted">what this means</a>).</li>')
    found = sum(1 for m in ctx.messages if _recovered(m["fields"]))
    if found:
        items.append(f'<li class="warn">{found} message(s) are <b>recovered deleted rows</b>: read back from a phone '
                     'database\'s free space, not messages the database still holds; each is labelled '
                     f'{RECOVERED_LABEL} (<a href="#recovered">what this means</a>).</li>')
    corrupted = ([p for p in ctx.photos if p["corrupted"]] + [v for v in ctx.videos if v["corrupted"]]
                 + [m for m in ctx.messages if m["corrupted"]])
    if corrupted:
        items.append(f"<li>{len(corrupted)} record(s) come from damaged data (marked corrupted); what could be "
                     "read is shown.</li>")
    v = getattr(ctx.custody, "verify", None) or {}
    if v and not v.get("ok"):
        items.append(f"<li class=\"bad\">The custody log did not verify at export: {e(v.get('problem'))}</li>")
    if ctx.warnings:
        items.append(f"<li>{len(ctx.warnings)} warning(s) recorded during intake and triage for this selection:"
                     + _table(["Item", "Locator", "Stage", "Message"],
                              [[r["item"], r["locator"], r["stage"], r["message"]] for r in ctx.warnings[:1000]])
                     + "</li>")
    items.append("<li>Findings are limited to what the tool's extractors read; absence of a record is not proof "
                 "of absence on the device.</li>")
    return _section("limitations", "<ul>" + "".join(items) + "</ul>")
