"""Tags and selections: what the examiner marks as relevant, and what an export takes.

Tags live in the case store (table ``tags``, read and written through
:mod:`forensic.store.tags`): one row per (target, tag). A target is

* ``file``: a file, by ``item`` + locator (a photo is the file that holds it);
* ``message``: one ``chat/message`` record, by its artifact id;
* ``conversation``: every message of a conversation, by ``item`` + conversation id.

``sensitive`` on any tag of a target withholds its content from bundles unless the export
says ``--include-sensitive``: the bundle then lists the target with its hashes and metadata
only (no bytes, no thumbnail, no message text).

:func:`resolve` turns an export's selection (tags, items, record types, time range) into the
exact files and messages that leave the case, in a fixed order (items by id, then the
order triage stored them in), so the same case and selection always give the same bundle.
The store hands the rows over typed (:mod:`forensic.store.selection`); the dicts made here
are what the bundle writes.

The exported messages' **sources** go with them: the chat file or database each message was
read from (a chat export's ``.txt``/``.json``, ``msgstore.db``, ``ChatStorage.sqlite``, ...)
and the ``-wal`` or ``-journal`` beside a database that triage read with it, so a message can
be checked against its source. They are selected files like any other (streamed and hashed in
the same one read), marked ``message_source``, after the files selected by tag, item or type.
A source is withheld (listed with its hashes, no bytes) when the file or any message in it,
selected or not, is tagged sensitive and the export is without ``--include-sensitive``: a
database holds every message of its app, not only the exported ones.

Words: ``withheld`` is only what the examiner held back (tagged sensitive, known-bad,
pseudonymised; ``withheld_reason`` says which). A selected file whose content could not be
read completely at triage (no SHA-256) is ``not_recoverable`` (``not_recoverable_reason``),
not withheld; it is listed with what is known of it, no bytes, like a withheld one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from forensic.exporters.timeline import parse_bound, sort_key
from forensic.case import Case
from forensic.errors import UsageError
from forensic.store import artifacts as store_artifacts, files as store_files, items as store_items
from forensic.store import hashsets as store_hashsets, selection as store_selection, similar as store_similar
from forensic.store.places import position
from forensic.store import tags as store_tags
from forensic.store.records import File, Photo, Record
from forensic.store.search import HIT_TYPE          # a hit kept by ``forensic search --save``
from forensic.timestamps import iso_utc, now_utc

TYPES = ("photos", "messages", "files")
TARGET_KINDS = ("file", "message", "conversation", "hit")
_TAG_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_ARTIFACT_REF = re.compile(r"^(?:message|artifact|photo|search-hit):(\d+)$")
EXPORTABLE_KINDS = ("file", "stream")
# the companions triage reads beside a database (forensic.extractors.sqlite_journal.SUFFIXES;
# the exporters do not import the extractors' layer)
COMPANION_SUFFIXES = ("-journal", "-wal")


# -- tagging ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Target:
    kind: str          # file | message | conversation
    item: str
    ref: str           # locator | artifact id | conversation id
    sha256: str | None = None
    label: str = ""    # what to show the examiner

    def to_json(self) -> dict:
        return {"kind": self.kind, "item": self.item, "ref": self.ref, "sha256": self.sha256,
                "label": self.label}


def _file_target(f: File) -> Target:
    return Target("file", f.item, f.locator, f.sha256, f.locator)


def find_targets(case: Case, targets: Iterable[str], *, item: str | None = None,
                 conversation: str | None = None, from_at: str | None = None,
                 to_at: str | None = None, geotagged: bool = False) -> list[Target]:
    """Resolve ``tag add`` arguments to targets; a target that matches nothing is an error."""
    db = case.db
    if item is not None:
        case.item(item)
    out: list[Target] = []
    for t in targets:
        found: list[Target] = []
        m = _ARTIFACT_REF.match(t)
        if m:
            rec = store_artifacts.get(db, int(m.group(1)))
            if rec is not None and (item is None or rec.item == item):
                if rec.record_type == HIT_TYPE:
                    found.append(Target("hit", rec.item, str(rec.id), rec.file_sha256,
                                        f"search hit {rec.id}" + (f" in {rec.locator}" if rec.locator else "")))
                elif rec.record_type == "chat/message":
                    found.append(Target("message", rec.item, str(rec.id), rec.file_sha256,
                                        f"message {rec.id} in {rec.locator}"))
                elif rec.locator is not None:
                    found.append(Target("file", rec.item, rec.locator, rec.file_sha256, rec.locator))
        elif _HEX64.match(t):
            found = [_file_target(f) for f in store_files.listing(db, [item] if item else None, sha256=t.lower())]
        else:
            found = [_file_target(f) for f in store_selection.files_at(db, t, item or None)]
        if not found:
            raise UsageError(f"nothing in the case matches {t!r}",
                             hint="give a locator exactly as 'forensic files' prints it, a SHA-256, "
                                  "message:ID (artifact id) or search-hit:ID (forensic search --save)")
        out.extend(found)
    start = parse_bound(from_at) if from_at else None
    end = parse_bound(to_at, end=True) if to_at else None
    timed = start is not None or end is not None
    if conversation is not None:
        rows = store_selection.chat_messages(db, item, conversation)
        if not rows:
            raise UsageError(f"no conversation {conversation!r} (by id or title) in the case",
                             hint="'forensic chats' lists the conversations")
        if timed or geotagged:
            out.extend(_message_targets(rows, geotagged, timed, start, end))
        else:
            convs = {(r.item, r.fields["conversation"]["id"]) for r in rows}
            out.extend(Target("conversation", it, cid, None, f"conversation {cid}") for it, cid in sorted(convs))
    elif geotagged or timed:
        # the photos and videos held by a file, by item and the order their records were stored
        photos = sorted((p for kind in (store_selection.PHOTO, store_selection.VIDEO)
                         for p in store_selection.photos(db, item or None, record_type=kind) if p.locator is not None),
                        key=lambda p: (p.item, p.artifact_id))
        for p in photos:
            f = p.fields
            if geotagged and not (f.get("gps_valid") and f.get("lat") is not None and f.get("lon") is not None):
                continue
            if timed and not _in_range(f.get("taken_at_utc"), start, end):
                continue
            out.append(Target("file", p.item, p.locator, p.sha256, p.locator))
        out.extend(_message_targets(store_selection.chat_messages(db, item, None), geotagged, timed, start, end))
    seen: set = set()
    unique = []
    for t in out:
        if (t.kind, t.item, t.ref) not in seen:
            seen.add((t.kind, t.item, t.ref))
            unique.append(t)
    return unique


def _message_targets(rows: list[Record], geotagged: bool, timed: bool, start, end) -> Iterator[Target]:
    """The messages among ``rows`` with a valid location (``geotagged``: the rule of ``forensic
    geo``, :func:`forensic.store.places.position`: two numbers in range, not 0/0) / sent in
    [start, end]."""
    for r in rows:
        f = r.fields
        loc = f.get("location")
        if geotagged and not (isinstance(loc, dict) and position(loc) is not None):
            continue
        if timed and not _in_range(f.get("sent_at_utc"), start, end):
            continue
        yield Target("message", r.item, str(r.id), r.file_sha256, f"message {r.id}")


def _in_range(utc: str | None, start: int | None, end: int | None) -> bool:
    k = sort_key(utc) if utc else None
    if k is None:
        return False
    return (start is None or k >= start) and (end is None or k <= end)


def add_tags(case: Case, targets: list[Target], tag: str, note: str | None, sensitive: bool,
             by: str | None) -> list[dict]:
    """Record ``tag`` on every target (idempotent; a repeat updates note and sensitivity)."""
    if not _TAG_RE.match(tag) or tag.strip() != tag:
        raise UsageError(f"unusable tag name {tag!r}", hint="1-100 printable characters, no leading/trailing space")
    at = iso_utc(now_utc())
    rows = []
    with case.transaction() as db:
        for t in targets:
            store_tags.add(db, t.kind, t.ref, t.item, tag, note, sensitive, at, by)
            rows.append({**t.to_json(), "tag": tag, "note": note, "sensitive": sensitive})
    return rows


def log_tags(case: Case, rows: list[dict], tag: str, sensitive: bool, note: str | None, by: str) -> None:
    """Record a tagging (the rows :func:`add_tags` returned) in the custody log: one
    ``tag.added`` entry per target, with hashes and locators, never content; signed with the
    examiner's key from the environment ($FORENSIC_KEY) when the case is signed. The one path
    every tagging takes (``forensic tag add``, ``forensic serve``)."""
    from forensic.chain_of_custody.log import CustodyLog
    from forensic.chain_of_custody.signing import signer_from_env
    entries = []
    for r in rows:
        subject = {"item": r["item"]}
        if r["kind"] == "file":
            subject["locator"] = r["ref"]
        else:
            subject[r["kind"]] = r["ref"]
        entries.append({"action": "tag.added", "subject": subject, "sha256": r["sha256"],
                        "details": {"tag": tag, "sensitive": sensitive, "note": note}})
    with CustodyLog(case.root, case.db, case.case_id, signer=signer_from_env(None), actor=by) as log:
        log.extend(entries)
        log.commit()


def list_tags(case: Case, tag: str | None = None) -> list[dict]:
    """The tags (or those named ``tag``) as ``tag list`` prints them: by name, item, then
    the order they were put."""
    return [{"kind": t.target_kind, "item": t.item, "ref": t.target_ref, "tag": t.tag,
             "note": t.note, "sensitive": t.sensitive, "at": t.at, "by": t.by}
            for t in store_tags.listing(case.db, tag)]


def remove_tags(case: Case, targets: list[Target], tag: str) -> int:
    n = 0
    with case.transaction() as db:
        for t in targets:
            n += store_tags.remove(db, t.kind, t.item, t.ref, tag)
    return n


# -- selection --------------------------------------------------------------------------------
@dataclass
class SelectionSpec:
    tags: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    from_at: str | None = None
    to_at: str | None = None
    include_sensitive: bool = False
    show_known_good: bool = False        # the report's gallery shows photos in known-good hash sets too

    def to_json(self) -> dict:
        out = {"tags": sorted(self.tags), "items": sorted(self.items), "types": sorted(self.types),
               "from": self.from_at, "to": self.to_at, "include_sensitive": self.include_sensitive}
        if self.show_known_good:
            out["show_known_good"] = True
        return out


@dataclass
class Selection:
    spec: SelectionSpec
    files: list[dict] = field(default_factory=list)       # every selected file (exported or withheld)
    photos: list[dict] = field(default_factory=list)      # photo/exif records of selected files
    videos: list[dict] = field(default_factory=list)      # media/video records of selected files (same shape)
    messages: list[dict] = field(default_factory=list)    # selected chat/message records
    hits: list[dict] = field(default_factory=list)        # selected search/hit records (forensic search --save)
    chat_sources: dict[int, dict] = field(default_factory=dict)   # file id -> its entry in files (or item, locator...)
    notes: list[str] = field(default_factory=list)        # limitations met while selecting
    items: list[str] = field(default_factory=list)

    @property
    def exported_files(self) -> list[dict]:
        return [f for f in self.files if not f["withheld"] and not f.get("not_recoverable")]

    @property
    def withheld_files(self) -> list[dict]:
        """Files the examiner held back (sensitive, known-bad, pseudonymised): listed, no bytes."""
        return [f for f in self.files if f["withheld"]]

    @property
    def not_recoverable_files(self) -> list[dict]:
        """Files whose content could not be read completely at triage: listed, no bytes."""
        return [f for f in self.files if f.get("not_recoverable")]

    @property
    def withheld_messages(self) -> list[dict]:
        return [m for m in self.messages if m["withheld"]]


def resolve(case: Case, spec: SelectionSpec) -> Selection:
    db = case.db
    for t in spec.types:
        if t not in TYPES:
            raise UsageError(f"unknown --type {t!r}", hint="one of: " + ", ".join(TYPES))
    for it in spec.items:
        case.item(it)
    if not (spec.tags or spec.items or spec.types):
        raise UsageError("nothing selected",
                         hint="give --tag, --item or --type (only what is selected leaves the case)")
    if spec.tags:
        known = store_tags.names(db)
        unknown = [t for t in spec.tags if t not in known]
        if unknown:
            raise UsageError(f"no such tag: {', '.join(unknown)}",
                             hint=("tags: " + ", ".join(sorted(known))) if known else "add one with 'forensic tag add'")
    start = parse_bound(spec.from_at) if spec.from_at else None
    end = parse_bound(spec.to_at, end=True) if spec.to_at else None
    want_files = not spec.types or "files" in spec.types or "photos" in spec.types
    only_photos = bool(spec.types) and "files" not in spec.types and "photos" in spec.types
    want_messages = not spec.types or "messages" in spec.types
    items = sorted(spec.items) if spec.items else store_items.ids(db)
    sel = Selection(spec, items=items)

    # sensitivity and tags of every target (any tag counts for sensitivity)
    file_tags: dict[tuple[str, str], list] = {}
    msg_tags: dict[str, list] = {}
    conv_tags: dict[tuple[str, str], list] = {}
    hit_tags: dict[str, list] = {}
    for t in store_tags.all_tags(db):
        entry = {"tag": t.tag, "note": t.note, "sensitive": t.sensitive}
        if t.target_kind == "file":
            file_tags.setdefault((t.item, t.target_ref), []).append(entry)
        elif t.target_kind == "message":
            msg_tags.setdefault(t.target_ref, []).append(entry)
        elif t.target_kind == "conversation":
            conv_tags.setdefault((t.item, t.target_ref), []).append(entry)
        elif t.target_kind == "hit":
            hit_tags.setdefault(t.target_ref, []).append(entry)
    chosen = set(spec.tags)

    def tagged(entries: list | None) -> bool:
        return bool(entries) and any(e["tag"] in chosen for e in entries)

    photo_file_ids = set()
    if want_files:
        unknown_time = 0
        for item in items:
            # a file's photo record (the last stored, should it have two)
            photos = {p.file_id: p for p in store_selection.photos(db, item)}
            videos = {v.file_id: v for v in store_selection.photos(db, item, record_type=store_selection.VIDEO)}
            for r in store_files.listing(db, [item]):
                tags = file_tags.get((item, r.locator))
                if spec.tags and not tagged(tags):
                    continue
                if r.kind not in EXPORTABLE_KINDS:
                    continue
                photo = photos.get(r.id)
                video = videos.get(r.id) if photo is None else None
                if only_photos and photo is None and video is None:     # --type photos: videos too
                    continue
                if start is not None or end is not None:
                    when = _file_time(r, photo or video)
                    if when is None:
                        unknown_time += 1
                        continue
                    if not _in_range(when, start, end):
                        continue
                sensitive = any(e["sensitive"] for e in tags or ())
                f = _file_json(r, tags or [], sensitive, sensitive and not spec.include_sensitive)
                sel.files.append(f)
                media = photo or video
                if media is not None:
                    photo_file_ids.add(r.id)
                    (sel.photos if photo is not None else sel.videos).append(
                        {"artifact_id": media.artifact_id, "file_id": r.id, "item": item,
                         "locator": r.locator, "path": r.path, "sha256": r.sha256,
                         "mime": r.mime, "deleted": r.deleted, "recovery": r.recovery,
                         "fields": media.fields, "corrupted": media.corrupted,
                         "warnings": media.warnings,
                         "extractor": media.extractor, "withheld": f["withheld"],
                         "sensitive": sensitive})
        if unknown_time:
            sel.notes.append(f"{unknown_time} file(s) left out of the time range because their time has no "
                             "known zone (or no time at all); select them by tag to include them")
    sensitive_sources: set[int] = set()      # file ids of chat files holding a message tagged sensitive
    if want_messages:
        unknown_time = 0
        for item in items:
            for r in store_artifacts.of_item(db, item, "chat/message"):
                fields = r.fields
                conv = (fields.get("conversation") or {}).get("id")
                tags = (msg_tags.get(str(r.id)) or []) + (conv_tags.get((item, conv)) or [])
                if r.file_id is not None and any(e["sensitive"] for e in tags):
                    sensitive_sources.add(r.file_id)
                if spec.tags and not tagged(tags):
                    continue
                if start is not None or end is not None:
                    if not fields.get("sent_at_utc"):
                        unknown_time += 1
                        continue
                    if not _in_range(fields["sent_at_utc"], start, end):
                        continue
                sensitive = any(e["sensitive"] for e in tags)
                sel.messages.append({"artifact_id": r.id, "item": item, "file_id": r.file_id,
                                     "locator": r.locator, "path": r.path, "sha256": r.file_sha256,
                                     "source_ref": r.source_ref, "fields": fields,
                                     "corrupted": r.corrupted, "warnings": r.warnings,
                                     "extractor": r.extractor, "tags": tags, "sensitive": sensitive,
                                     "withheld": sensitive and not spec.include_sensitive})
                if r.file_id is not None and r.file_id not in sel.chat_sources:
                    sel.chat_sources[r.file_id] = {"item": item, "locator": r.locator, "path": r.path,
                                                   "sha256": r.file_sha256}
        if unknown_time:
            sel.notes.append(f"{unknown_time} message(s) left out of the time range because their time has no "
                             "known zone; select them by tag to include them")
    if spec.tags or not spec.types:
        _add_hits(case, sel, hit_tags, tagged)
    _add_message_sources(case, sel, file_tags, sensitive_sources)
    unreadable = [f for f in sel.files if not f["sha256"]]
    for f in unreadable:             # not recoverable, not withheld: "withheld" is the examiner's choice only
        f["not_recoverable"] = True
        f["not_recoverable_reason"] = NOT_RECOVERABLE_REASON
        sel.notes.append(f"{f['locator']}: not exported, its content could not be read completely at triage")
    _mark_hashsets(case, sel)
    return sel


def _add_hits(case: Case, sel: Selection, hit_tags: dict[str, list], tagged) -> None:
    """The saved search hits selected: those tagged with a selected tag, or, an export by
    item alone, every hit of its items. A hit tagged sensitive goes without its text and
    context unless the export includes sensitive content."""
    for item in sel.items:
        for r in store_artifacts.of_item(case.db, item, HIT_TYPE):
            tags = hit_tags.get(str(r.id)) or []
            if sel.spec.tags and not tagged(tags):
                continue
            sensitive = any(e["sensitive"] for e in tags)
            withheld = sensitive and not sel.spec.include_sensitive
            fields = dict(r.fields)
            if withheld:
                fields.update(term=None, text=None, context=None)   # a literal term is the text
            sel.hits.append({"artifact_id": r.id, "item": item, "locator": r.locator, "path": r.path,
                             "sha256": r.file_sha256, "fields": fields, "extractor": r.extractor,
                             "tags": tags, "sensitive": sensitive, "withheld": withheld})


NOT_RECOVERABLE_REASON = "content could not be read completely at triage (no SHA-256)"


def bundle_note(f: dict) -> str:
    """What a file's description says about its bytes in the bundle (CASE/UCO's
    ``core:description`` and the hash statements that check it): not recoverable when its
    content could not be read, withheld only when the examiner held it back, else where it
    is stored."""
    if f.get("not_recoverable"):
        return " (not recoverable: its content could not be read completely at triage)"
    if f.get("withheld"):
        why = "pseudonymised" if f.get("withheld_reason") == "pseudonymised" else "sensitive"
        return f" (withheld from the bundle by the examiner: {why})"
    return f" stored as {f['bag_path']}" if f.get("bag_path") else ""


KNOWN_BAD_WITHHELD = ("in a known-bad hash set: listed with its hash and metadata, never its content "
                      "(export with --include-sensitive to include it; it is never shown as a picture)")


SUSPECTED_WITHHELD = ("a near-duplicate of a photo in a known-bad hash set (resized or re-compressed: another "
                      "SHA-256, the same picture): listed with its hash and metadata, never its content "
                      "(export with --include-sensitive to include it; it is never shown as a picture)")


def never_pictured(d: dict) -> bool:
    """Whether a selected file, photo or video is never shown as a picture (a placeholder in
    its place): in a known-bad hash set, or a near-duplicate of a photo in one
    (``suspected_known_bad``, :func:`forensic.store.similar.suspected_known_bad`)."""
    return bool(d.get("known_bad") or d.get("suspected_known_bad"))


def _mark_hashsets(case: Case, sel: Selection) -> None:
    """Files in a known-bad hash set (by content: the same bytes under any name) are marked
    ``known_bad`` with the set's category, and withheld unless the export includes sensitive
    content; photos in a known-good set are marked ``known_good`` (the report leaves them out
    unless ``show_known_good``)."""
    bad = store_hashsets.known_bad_sha256(case.db)
    marks = store_hashsets.hits(case.db, sel.items)
    suspects = store_similar.suspected_known_bad(case.db, [f["id"] for f in sel.files])
    for f in sel.files:
        if f.get("sha256") in bad:
            f["known_bad"] = True
            f["known_bad_category"] = bad[f["sha256"]]
        elif f["id"] in suspects:
            f["suspected_known_bad"] = suspects[f["id"]].to_json()
        if never_pictured(f) and not sel.spec.include_sensitive and not f["withheld"]:
            f["withheld"] = True
            f["withheld_reason"] = KNOWN_BAD_WITHHELD if f.get("known_bad") else SUSPECTED_WITHHELD
    for m in [*sel.photos, *sel.videos]:
        if m.get("sha256") in bad:
            m["known_bad"] = True
            m["known_bad_category"] = bad[m["sha256"]]
        elif m["file_id"] in suspects:
            m["suspected_known_bad"] = suspects[m["file_id"]].to_json()
            m["known_bad_category"] = store_similar.suspect_label(suspects[m["file_id"]])
        if never_pictured(m):
            m["withheld"] = m["withheld"] or not sel.spec.include_sensitive
        m["known_good"] = any(h.kind == "known-good" for h in marks.get(m["file_id"], ()))
        m["hidden_known_good"] = m["known_good"] and not m.get("known_bad") and not sel.spec.show_known_good


SOURCE_WITHHELD_REASON = ("holds messages tagged sensitive (export without --include-sensitive): the file "
                          "holds every message of its chat or app, not only the exported ones")


def _add_message_sources(case: Case, sel: Selection, file_tags: dict[tuple[str, str], list],
                         sensitive_sources: set[int]) -> None:
    """Add the chat files and databases the selected messages came from to ``sel.files``
    (with the ``-wal``/``-journal`` triage read beside a database), each once, after the
    files selected, by item and walk order; ``sel.chat_sources`` then maps each source's file
    id to its entry in ``sel.files``. A file selected already is marked, not added again."""
    db = case.db
    counts: dict[int, int] = {}
    for m in sel.messages:
        if m["file_id"] is not None:
            counts[m["file_id"]] = counts.get(m["file_id"], 0) + 1
    selected = {(f["item"], f["locator"]): f for f in sel.files}
    added: list[tuple[tuple[str, int], dict]] = []
    for file_id, src in sel.chat_sources.items():
        item, locator = src["item"], src["locator"]
        rows = [r for r in store_selection.files_at(db, locator, item) if r.id == file_id] if locator else []
        if not rows or rows[0].kind not in EXPORTABLE_KINDS:
            sel.notes.append(f"{locator or f'file {file_id}'}: the source of {counts.get(file_id, 0)} exported "
                             "message(s) is not a file that can be exported; the messages name it and its SHA-256")
            continue
        db_row = rows[0]
        family = [(db_row, None)]
        if not db_row.deleted:                  # triage reads a companion beside an allocated database
            for suffix in COMPANION_SUFFIXES:
                family += [(c, locator) for c in store_selection.files_at(db, locator + suffix, item)
                           if c.kind in EXPORTABLE_KINDS and not c.deleted]
        hidden = file_id in sensitive_sources and not sel.spec.include_sensitive
        for r, companion_of in family:
            role = {"messages": counts.get(file_id, 0), "companion_of": companion_of}
            f = selected.get((item, r.locator))
            if f is None:
                tags = file_tags.get((item, r.locator)) or []
                sensitive = any(e["sensitive"] for e in tags) or file_id in sensitive_sources
                f = _file_json(r, tags, sensitive, sensitive and not sel.spec.include_sensitive)
                if hidden and not any(e["sensitive"] for e in tags):
                    f["withheld_reason"] = SOURCE_WITHHELD_REASON
                selected[(item, r.locator)] = f
                added.append(((item, r.id), f))
            elif hidden and not f["withheld"]:        # selected by tag, but it holds sensitive messages
                f["sensitive"] = f["withheld"] = True
                f["withheld_reason"] = SOURCE_WITHHELD_REASON
            f["message_source"] = role
            if companion_of is None:
                sel.chat_sources[file_id] = f
    sel.files.extend(f for _, f in sorted(added, key=lambda a: a[0]))


def _file_time(r: File, photo: Photo | None) -> str | None:
    """When a file was made, for a time range: its photo's (or video's) time taken, else its
    modification time; None when neither has a known zone."""
    if photo is not None and photo.fields.get("taken_at_utc"):
        return photo.fields["taken_at_utc"]
    if r.times_tz_known and r.modified_at:
        return r.modified_at
    return None


_FILE_FIELDS = ("id", "item", "locator", "path", "name", "kind", "size", "sha256", "md5", "sha1", "mime",
                "modified_at", "accessed_at", "changed_at", "born_at")


def _file_json(r: File, tags: list, sensitive: bool, withheld: bool) -> dict[str, Any]:
    out = {k: getattr(r, k) for k in _FILE_FIELDS}
    out["layers"] = r.layers
    out["deleted"] = r.deleted
    out["recovery"] = r.recovery
    out["times_tz_known"] = r.times_tz_known
    out["extension_mismatch"] = r.extension_mismatch
    out["tags"] = tags
    out["sensitive"] = sensitive
    out["withheld"] = withheld
    if withheld:
        out["withheld_reason"] = "tagged sensitive (export without --include-sensitive)"
    return out
