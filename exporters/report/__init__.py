"""The bundle's report (``data/report/index.html``): one self-contained HTML file that opens
offline in any browser, written for the people who read it -- a prosecutor, a judge, the
defence -- and checked by ``forensic verify-bundle`` against the rest of the bundle.

At the top, a summary (what the bundle is, who made it for whom, what it holds) with the
integrity verdict ``verify-bundle`` gives the bundle as made and how to get it oneself; then
the findings: each tag the examiner put, its note as the narrative, its items in time order in
plain words. Then the evidence (conversations, with "2 of 60 messages (selected)" and the gaps
marked when only some of a conversation is exported; photos, videos, the map, the timeline,
the files), the evidence items, the chain of custody as a summary, and the limitations.

How it is made: :func:`prepare` turns a :class:`ReportContext` into plain data (the *view*,
:mod:`.view`); :func:`render` lays the view out with the Jinja2 templates in ``templates/``
(autoescape on) and puts in the pictures collected while the evidence streamed
(:mod:`.thumbnails`). Every value is escaped by :func:`e` (the templates' ``finalize``): the
same escaping ``verify-bundle`` expects when it reads the hashes the report shows. Only markup
the code builds from escaped parts or numbers (the map's SVG, a picture's ``<img>``) is marked
safe. No scripts, no external style sheets, fonts or images; links to OpenStreetMap are plain
``<a href>``, loaded only when clicked.

A caller that must change what the report shows (pseudonyms for victims and witnesses) gives
:attr:`ReportContext.shown`, applied to every string of the view before it is laid out.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

from markupsafe import Markup

from forensic.exporters.report.gather import (  # noqa: F401  (the report's public names)
    case_facts, case_warnings, selection_geo_rows, selection_timeline)
from forensic.exporters.report.thumbnails import (  # noqa: F401
    THUMBNAILS_DIR, ThumbnailCollector, exif_thumbnail, thumbnail_member)
from forensic.exporters.report.view import MESSAGES_CAP, SECTIONS, TIMELINE_ROWS_CAP, osm_link  # noqa: F401


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


# controls, and the bidi controls that turn text around ("invoice\u202egpj.exe" reads "invoiceexe.jpg")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPECIAL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069&<>\"']")  # what e() changes


def _show_control(m: re.Match) -> str:
    return f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}"


@dataclass
class ReportContext:
    info: dict
    files: list[dict]
    photos: list[dict]
    messages: list[dict]
    timeline: list[dict]
    geo: list[dict]
    custody: Any
    thumbs: ThumbnailCollector | None = None      # the pictures; render() takes them
    name_map: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    videos: list[dict] = field(default_factory=list)    # the selection's media/video records
    search_hits: list[dict] = field(default_factory=list)   # the selection's saved search hits
    # from the case store (see gather.case_facts), by message artifact id: (its place in its
    # conversation, the conversation's size); the tags put on its whole conversation
    positions: dict[int, tuple[int, int]] = field(default_factory=dict)
    conversation_tags: dict[int, list[dict]] = field(default_factory=dict)
    # how the bundle is packaged: signed, key_id, fingerprint, encrypted, hide_names
    packaging: dict = field(default_factory=dict)
    shown: Callable[[str], str] | None = None     # applied to every string the report shows


def prepare(ctx: ReportContext) -> dict:
    """What the report shows, as plain data (see :mod:`.view`)."""
    from forensic.exporters.report.view import prepare as _prepare
    return _prepare(ctx)


def render(view: dict | ReportContext, thumbs: ThumbnailCollector | None = None,
           evidence_digest: str | None = None) -> bytes:
    """The report, UTF-8: the view (or a context, prepared here) laid out, with the pictures
    ``thumbs`` collected (a placeholder where there is none) and, when given, the bundle's
    evidence digest in the summary."""
    if isinstance(view, ReportContext):
        thumbs = thumbs if thumbs is not None else view.thumbs
        view = prepare(view)
    return render_html(view, thumbs, evidence_digest).encode("utf-8")


def render_html(view: dict, thumbs: ThumbnailCollector | None = None, evidence_digest: str | None = None,
                paper: int = 0) -> str:
    """The report as text (see :func:`render`). ``paper`` > 0 lays out the paper edition the PDF
    prints (:mod:`.pdf`): every listing but the findings and the messages cut to its first
    ``paper`` rows, saying where the rest is; 0 is the report as the browser shows it."""
    images = thumbs.images if thumbs is not None else {}

    def picture(key: Iterable[str], alt: str) -> Markup:
        img = images.get(tuple(key))        # type: ignore[arg-type]
        if img is None:
            return Markup('<div class="ph">no thumbnail</div>')
        uri = img[0].decode("ascii") if isinstance(img[0], bytes) else img[0]
        # a data: URI of base64 the collector made (see thumbnails.ThumbnailCollector)
        return Markup(f'<img src="{e(uri)}" alt="{e(alt)}" title="{e(img[1])}">')

    return _environment().get_template("report.html").render(
        view=view, picture=picture, skipped=thumbs.skipped if thumbs is not None else 0,
        evidence_digest=evidence_digest, paper=paper, cut=lambda rows: rows[:paper] if paper else rows)


def _shown(value: Any) -> Any:
    """The templates' ``finalize``: every value printed is escaped by :func:`e` (markup the code
    built is kept as it is), so the report escapes as ``verify-bundle`` reads it."""
    if hasattr(value, "__html__"):
        return value
    return Markup(e(value))


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2
    return jinja2.Environment(loader=jinja2.PackageLoader("forensic.exporters.report", "templates"),
                              autoescape=True, finalize=_shown, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


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


