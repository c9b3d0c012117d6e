"""What the report shows that the selection alone does not hold, read from the case store:
the selection's timeline events and geotags, the warnings that concern it, where its messages
stand in their conversations, and the tags the examiner put on whole conversations."""
from __future__ import annotations

from typing import Any

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
            if ev["record_type"] in ("chat/message", "search/hit"):
                continue
            if (ev["item"], ev["locator"]) in keys:
                events.append(ev)
    for m in sel.messages:
        ev = _message_event(m, tl)
        if ev is not None:
            events.append(ev)
    events.extend(_hit_events(case, sel, tl, start, end))

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


def _hit_events(case, sel, tl, start: int | None, end: int | None) -> list[dict]:
    """The selected saved search hits at the times of the message, record or file each is
    in; a hit with none (unallocated space) is in data/search_hits.jsonl only."""
    from datetime import timezone

    from forensic.store.search import hit_times
    times = hit_times(case.db, [h["artifact_id"] for h in getattr(sel, "hits", None) or []])
    out = []
    for h in sel.hits:
        f = h["fields"]
        what = "[withheld: tagged sensitive]" if h["withheld"] else f"{f.get('text')!r} ({f.get('list')})"
        for t in times.get(h["artifact_id"], []):
            value = t.utc if t.tz_known and t.utc else t.local or t.utc
            if value is None:
                continue
            if tl.sort_key(value) is None:      # not a time we can read: listed as stored, untimed, as
                when, stamp, known = value, None, False     # forensic timeline lists it
            elif t.tz_known and t.utc:
                dt = tl.parse_stored(t.utc)
                dt = dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
                when, stamp, known = tl.iso(dt), tl.to_us(dt), True
                if (start is not None and stamp < start) or (end is not None and stamp > end):
                    continue
            else:
                when, stamp, known = tl.iso(tl.parse_stored(value).replace(tzinfo=None)), None, False
            out.append({"message": f"Search hit {what} in {f.get('where')}: {h['path'] or h['locator'] or '?'}",
                        "datetime": when, "timestamp_desc": f"Search hit ({t.label.replace('_', ' ')})",
                        "timestamp": stamp, "item": h["item"], "path": h["path"], "sha256": h["sha256"],
                        "record_type": "search/hit", "tz_known": known,
                        "tz_source": t.tz_source if known else "unknown", "local_datetime": when,
                        "locator": h["locator"], "recovery": None, "db_state": None, "recovered": None})
    return out


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


def case_facts(case, sel) -> dict:
    """The report's facts from the case store (keyword arguments of
    :class:`~forensic.exporters.report.ReportContext`), by the selected messages' artifact ids
    (which stay what they are when the strings of a selection are rewritten, e.g. pseudonymised):
    ``positions``, id -> (its place in its conversation in time order, how many messages the
    conversation has), so the report can say "2 of 60 messages" and mark the gaps; and
    ``conversation_tags``, id -> the tags put on its whole conversation (tag, note, sensitive),
    so those messages are one finding, not one each."""
    from forensic.store import chats as store_chats
    from forensic.store import tags as store_tags
    chosen = {m["artifact_id"] for m in sel.messages}
    positions: dict[int, tuple[int, int]] = {}
    members: dict[tuple[str, str | None], list[int]] = {}      # (item, conversation id) -> ids
    for item in sorted({m["item"] for m in sel.messages}):
        for (_, cid), ids in store_chats.conversation_order(case.db, item).items():
            if chosen.isdisjoint(ids):
                continue
            members.setdefault((item, cid), []).extend(ids)
            for i, aid in enumerate(ids):
                if aid in chosen:
                    positions[aid] = (i, len(ids))
    conversation_tags: dict[int, list[dict]] = {}
    for t in store_tags.all_tags(case.db):
        if t.target_kind != "conversation":
            continue
        for aid in members.get((t.item, t.target_ref), ()):
            if aid in chosen:
                conversation_tags.setdefault(aid, []).append({"tag": t.tag, "note": t.note, "sensitive": t.sensitive})
    return {"positions": positions, "conversation_tags": conversation_tags}
