"""What the report shows, prepared from a :class:`~forensic.exporters.report.ReportContext`:
plain data (strings, numbers, lists, dicts) that the templates lay out and escape. Nothing
here writes HTML but the map's SVG, drawn by code from numbers (or labels it escapes itself).

The view comes in the order a reader needs it: the summary and the verdict, the findings (each
tag the examiner put, with its note as the narrative and its items in time order, in plain
words), then the evidence itself, the custody summary and the limitations.

Words: "withheld" is only what the examiner held back (tagged sensitive, exported without
``--include-sensitive``); a file whose content could not be read at triage, or an attachment
not found, is "not recoverable".
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from markupsafe import Markup

from forensic.exporters.selection import never_pictured

SECTIONS = (("summary", "Summary"), ("findings", "Findings"), ("chats", "Conversations"), ("gallery", "Photos"),
            ("videos", "Videos"), ("map", "Map"), ("timeline", "Timeline"), ("hits", "Search hits"),
            ("files", "Exported files"),
            ("items", "Evidence items"), ("case", "Case"), ("selection", "Selection"),
            ("custody", "Chain of custody"), ("limitations", "Limitations"))
TIMELINE_ROWS_CAP = 5000
MESSAGES_CAP = 20000
FINDING_ITEMS_CAP = 500          # items listed under one tag; the rest are in the sections below
CUSTODY_RANGES_SHOWN = 12
BODY_SHOWN = 400                 # characters of a message quoted in the findings

WITHHELD = "withheld"
NOT_RECOVERABLE = "not recoverable"
PLATFORMS = {"whatsapp": "WhatsApp", "telegram": "Telegram", "signal": "Signal", "messenger": "Messenger",
             "instagram": "Instagram", "discord": "Discord", "sms": "SMS", "imessage": "iMessage",
             "google-messages": "Google Messages", "viber": "Viber", "kik": "Kik", "skype": "Skype",
             "line": "LINE", "snapchat": "Snapchat"}
ACTIONS = {   # custody actions in plain words
    "case.created": "case opened", "case.migrated": "case store upgraded to a new layout",
    "evidence.received": "evidence item received and hashed", "evidence.verified": "evidence item hashed again",
    "triage.started": "triage started", "triage.resumed": "triage resumed", "triage.finished": "triage finished",
    "triage.interrupted": "triage interrupted", "file.recorded": "file recorded at triage, with its hash",
    "artifact.recorded": "record read from a file (photo metadata, message...)",
    "artifact.linked": "record linked to another file (an attachment, a thumbnail...)",
    "tag.added": "tagged by the examiner", "tag.removed": "tag taken off", "export.created": "bundle exported",
    "examiner.added": "examiner key added to the case", "person.marked": "person marked",
    "person.unmarked": "person mark taken off",
    "hashset.checked": "checked against hash sets of known files", "file.viewed": "known-bad content viewed",
    "search.recorded": "search hits kept as records",
}
UNCOMMITTED = "UNCOMMITTED"
RECOVERED = "RECOVERED"


# -- small helpers ------------------------------------------------------------------------------
def osm_link(lat: float, lon: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


def platform_name(platform: Any) -> str:
    if not isinstance(platform, str) or not platform:
        return "Chat"
    return PLATFORMS.get(platform.lower(), platform)


def file_status(row: dict) -> str:
    """'exported', 'withheld' (the examiner held it back) or 'not recoverable' (its content could
    not be read completely at triage, so there is nothing to export). ``not_recoverable`` says
    so; bundles made before that field marked such a file ``withheld`` without a SHA-256."""
    if row.get("not_recoverable"):
        return NOT_RECOVERABLE
    if not row.get("withheld"):
        return "exported"
    if not row.get("sha256") or str(row.get("withheld_reason") or "").startswith("content could not be read"):
        return NOT_RECOVERABLE
    return WITHHELD


def withheld_why(f: dict) -> str:
    """Why the examiner held a file back, in words."""
    if f.get("sensitive"):
        return "tagged sensitive"
    return str(f.get("withheld_reason") or "held back by the examiner")


def how_had(f: dict) -> str:
    """'deleted', 'carved from unallocated space' or 'embedded in another file', or ''."""
    how = f.get("recovery")
    if how == "carved":
        return "carved from unallocated space"
    if how == "embedded":
        return "embedded in another file" + (", deleted" if f.get("deleted") else "")
    return "deleted" if f.get("deleted") else ""


def uncommitted(fields: dict) -> bool:
    return fields.get("db_state") == "uncommitted"


def recovered(fields: dict) -> bool:
    return fields.get("recovered") == "deleted"


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def moment(local: Any, utc: Any, tz_known: Any) -> tuple[int | None, str]:
    """A time as the report sorts and says it: (microseconds since the epoch -- of the UTC
    instant, or of the wall clock read as UTC when the zone is unknown -- and the words, e.g.
    ``18 Feb 2023 13:27:46 (UTC+04:00)`` or ``12 Feb 2023 16:00:00 (time zone unknown)``)."""
    dt = _parse(local) or _parse(utc)
    if dt is None:
        return None, "time unknown"
    shown = dt.strftime("%d %b %Y %H:%M:%S")
    if dt.tzinfo is not None and (tz_known or local is None or _parse(local) is None):
        off = dt.utcoffset()
        minutes = int(off.total_seconds() // 60) if off is not None else 0
        sign = "+" if minutes > 0 else "-"
        zone = "UTC" if minutes == 0 else f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        key_dt = dt.astimezone(timezone.utc)
        words = f"{shown} ({zone})"
    else:
        key_dt = dt.replace(tzinfo=timezone.utc)
        words = f"{shown} (time zone unknown)"
    delta = key_dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds, words


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _ranges(seqs: Iterable[int]) -> str:
    """Entry numbers as ranges: ``24-27, 866-880`` (the first few, then how many more)."""
    out: list[str] = []
    run: list[int] = []
    for s in sorted(set(seqs)):
        if run and s == run[-1] + 1:
            run.append(s)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}\u2013{run[-1]}")
        run = [s]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}\u2013{run[-1]}")
    if len(out) > CUSTODY_RANGES_SHOWN:
        return ", ".join(out[:CUSTODY_RANGES_SHOWN]) + f" and {len(out) - CUSTODY_RANGES_SHOWN} more runs"
    return ", ".join(out)


def _short(text: Any, limit: int = BODY_SHOWN) -> str:
    s = str(text or "")
    return s if len(s) <= limit else s[:limit].rstrip() + "\u2026"


def _name(path: Any) -> str:
    s = str(path or "")
    return s.rsplit("/", 1)[-1] or s


def mapped(obj: Any, fn: Callable[[str], str]) -> Any:
    """``obj`` with every string it holds through ``fn``: not its dicts' keys, not markup the
    code made, not the lookup keys of pictures (``"key"``: never shown)."""
    if isinstance(obj, Markup):
        return obj
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: v if k == "key" else mapped(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [mapped(v, fn) for v in obj]
    return obj


# -- the view -----------------------------------------------------------------------------------
def prepare(ctx: Any) -> dict:
    """Everything the report shows, as data for the templates (see the module doc)."""
    view = {
        "sections": [{"id": sid, "title": title} for sid, title in SECTIONS
                     if sid != "hits" or getattr(ctx, "search_hits", None)],
        "hits": _hits(ctx),
        "case": ctx.info["case"], "tool": ctx.info["tool"], "format": ctx.info.get("format"),
        "summary": _summary(ctx),
        "findings": _findings(ctx),
        "chats": _chats(ctx),
        "gallery": _gallery(ctx),
        "gallery_known_good": sum(1 for p in ctx.photos if p.get("hidden_known_good")),
        "videos": _videos(ctx),
        "timeline": _timeline(ctx),
        "files": _files(ctx),
        "evidence": _items(ctx),
        "case_details": _case_details(ctx),
        "selection": _selection(ctx),
        "custody": _custody(ctx),
        "limitations": _limitations(ctx),
    }
    geo = _map_rows(ctx)
    if ctx.shown is not None:           # e.g. pseudonyms: every string the report shows
        view = mapped(view, ctx.shown)
        geo = mapped(geo, ctx.shown)
    view["map"] = _map(geo)
    return view


def _selection_words(sel: dict) -> str:
    parts = []
    if sel.get("tags"):
        parts.append("tagged " + ", ".join(f"\u201c{t}\u201d" for t in sel["tags"]))
    if sel.get("items"):
        parts.append("of evidence item" + ("s " if len(sel["items"]) > 1 else " ") + ", ".join(sel["items"]))
    if sel.get("types"):
        parts.append("only " + ", ".join(sel["types"]))
    if sel.get("from") or sel.get("to"):
        parts.append(f"from {sel.get('from') or 'the start'} to {sel.get('to') or 'the end'}")
    return "; ".join(parts) or "everything"


def _summary(ctx: Any) -> dict:
    info, case = ctx.info, ctx.info["case"]
    c = info["counts"]
    not_recoverable = sum(1 for f in ctx.files if file_status(f) == NOT_RECOVERABLE)
    withheld_files = sum(1 for f in ctx.files if file_status(f) == WITHHELD)
    convs = {(m["item"], (m["fields"].get("conversation") or {}).get("id"), m["fields"].get("platform"))
             for m in ctx.messages}
    media = [_plural(c[k], k[:-1]) for k in ("photos", "videos") if c.get(k)]
    counts = [f"{_plural(c['files'], 'file')} exported" + (f" ({', '.join(media)})" if media else "")]
    if c.get("messages"):
        unc = sum(1 for m in ctx.messages if uncommitted(m["fields"]))
        counts.append(f"{_plural(c['messages'], 'message')} from {_plural(len(convs), 'conversation')}"
                      + (f", of which {unc} uncommitted (read from a phone database's write-ahead log or "
                         "journal, not yet written into the database itself)" if unc else ""))
    if withheld_files or c.get("withheld_messages"):
        counts.append(f"{_plural(withheld_files, 'file')} and {_plural(c.get('withheld_messages') or 0, 'message')} "
                      "withheld by the examiner: listed with their hashes, without content (Limitations says why)")
    if not_recoverable:
        counts.append(f"{_plural(not_recoverable, 'selected file')} not recoverable (the content could not be "
                      "read completely at triage): listed, not exported")
    items = info.get("items") or []
    return {
        "case_id": case["case_id"], "examiner": case["examiner"], "organisation": case.get("organisation"),
        "recipient": info.get("recipient"), "tool": f"{info['tool']['name']} {info['tool']['version']}",
        "selection": _selection_words(info.get("selection") or {}),
        "evidence_items": [{"item": it["item"], "description": it.get("description"), "format": it.get("format")}
                           for it in items],
        "counts": counts, "verdict": _verdict(ctx),
        "tags": len({t for f in ctx.files for t in (x["tag"] for x in f.get("tags") or [])}
                    | {t["tag"] for m in ctx.messages for t in m.get("tags") or []}),
    }


def _verdict(ctx: Any) -> dict:
    """The integrity verdict ``forensic verify-bundle`` gives the bundle as it was made, and
    how the reader gets it for themself."""
    pk = ctx.packaging or {}
    ex = ctx.custody
    signed = bool(pk.get("signed"))
    points = ["Every exported file was read again from the evidence at export; its SHA-256 matched the value "
              "recorded at triage, and the bundle's manifest lists it."]
    if signed:
        label = "VERIFIED"
        text = (f"checked with the examiner's public key (key id {pk.get('key_id')}, fingerprint "
                f"{pk.get('fingerprint')}), verify-bundle says VERIFIED: every file is as the examiner recorded "
                "it. Checked only with the copy of the key inside the bundle it says INTACT, SIGNER UNCONFIRMED "
                "until you compare that fingerprint with the one the examiner gave you by another channel.")
    else:
        label = "INTACT, UNSIGNED"
        text = ("verify-bundle says INTACT, UNSIGNED: the files agree with every hash the bundle states, but no "
                "signature shows who made it; it can be trusted as far as the way it reached you.")
    bad = False
    if ex is not None and getattr(ex, "checkpoint", None) is not None:
        cp = ex.checkpoint
        v = ex.verify or {}
        if v.get("ok"):
            points.append(f"The case's custody log ({_plural(cp.tree_size, 'entry', 'entries')}) verified at "
                          "export: hash chain, Merkle roots, checkpoints and their signatures. The bundle carries "
                          f"{_plural(len(ex.concerned), 'entry', 'entries')} of it, each with a proof that it is "
                          "in the checkpoint" + (f" {cp.signer} signed." if cp.signature else " (not signed)."))
        elif not v:
            points.append("The case's custody log was not checked at export.")
        else:
            bad = True
            # verify-bundle checks the excerpt the bundle carries, not the whole log as it stood at
            # export: the label must not read as a clean bill when the examiner's log failed
            label += " (BUT THE CASE'S CUSTODY LOG FAILED AT EXPORT)"
            points.append(f"The case's custody log did NOT verify at export: {v.get('problem')}.")
    else:
        points.append("The case has no custody checkpoint: the bundle carries no custody excerpt.")
    if pk.get("encrypted"):
        points.append("The bundle is encrypted (AES-256)" + (", its file names hidden inside one encrypted member"
                                                              if pk.get("hide_names") else "")
                      + "; the password reaches you separately.")
    # an unsigned bundle checked with a key fails ("not signed, but you supplied the key")
    commands = ["forensic verify-bundle BUNDLE.zip" + (" --pubkey EXAMINER.pub" if signed else "")
                + (" --password-file PASSWORD" if pk.get("encrypted") else "")]
    return {"label": label, "text": text, "points": points, "bad": bad, "signed": signed,
            "encrypted": bool(pk.get("encrypted")), "commands": commands}


# -- findings -----------------------------------------------------------------------------------
def _findings(ctx: Any) -> list[dict]:
    chosen = list((ctx.info.get("selection") or {}).get("tags") or [])
    tags: dict[str, dict] = {}

    def entry(name: str) -> dict:
        if name not in tags:
            tags[name] = {"tag": name, "notes": [], "sensitive": False, "entries": [], "selected": name in chosen}
        return tags[name]

    def noted(t: dict, note: Any, sensitive: Any) -> dict:
        e = entry(t)
        if note and note not in e["notes"]:
            e["notes"].append(note)
        e["sensitive"] = e["sensitive"] or bool(sensitive)
        return e

    media = {(p["item"], p["locator"]): ("photo", p) for p in ctx.photos}
    media.update({(v["item"], v["locator"]): ("video", v) for v in ctx.videos})
    for f in ctx.files:
        for t in f.get("tags") or []:
            noted(t["tag"], t.get("note"), t.get("sensitive"))["entries"].append(
                dict(_file_finding(f, media.get((f["item"], f["locator"]))), note=t.get("note")))
    convs: dict[tuple, list[dict]] = {}
    for m in ctx.messages:
        conv = m["fields"].get("conversation") or {}
        cid = None if conv.get("id") is None else str(conv.get("id"))
        convs.setdefault((m["item"], m["fields"].get("platform"), cid), []).append(m)
    for (item, platform, cid), msgs in convs.items():
        on_conv: list[dict] = []          # the tags on the whole conversation, as its messages have them
        for m in msgs:
            on_conv += [t for t in (ctx.conversation_tags or {}).get(m["artifact_id"]) or () if t not in on_conv]
        names = {t["tag"] for t in on_conv}
        for t in on_conv:
            noted(t["tag"], t.get("note"), t.get("sensitive"))["entries"].append(
                dict(_conversation_finding(ctx, item, platform, cid, msgs), note=t.get("note")))
        for m in msgs:
            for t in m.get("tags") or []:
                if t["tag"] in names:
                    continue
                noted(t["tag"], t.get("note"), t.get("sensitive"))["entries"].append(
                    dict(_message_finding(m), note=t.get("note")))
    out = []
    for name in [*[t for t in chosen if t in tags], *sorted(t for t in tags if t not in chosen)]:
        e = tags[name]
        seen, items = set(), []
        for it in e["entries"]:
            if it["key"] not in seen:
                seen.add(it["key"])
                items.append(it)
        items.sort(key=lambda it: (it["sort"] is None, it["sort"] or 0, it["text"]))
        if len(e["notes"]) <= 1:            # one note: said once, as the tag's narrative
            for it in items:
                it["note"] = None
        e["count"] = len(items)
        e["more"] = max(0, len(items) - FINDING_ITEMS_CAP)
        e["entries"] = items[:FINDING_ITEMS_CAP]
        kinds = Counter(it["kind"] for it in items)
        e["contents"] = ", ".join(_plural(n, k) for k, n in sorted(kinds.items()))
        out.append(e)
    return out


def _file_finding(f: dict, media: tuple[str, dict] | None) -> dict:
    status = file_status(f)
    name = _name(f.get("path") or f["locator"])
    how = how_had(f)
    if media is not None:
        kind, rec = media
        fields = rec["fields"]
        sort, when = moment(fields.get("taken_at"), fields.get("taken_at_utc"), fields.get("tz_known"))
        camera = " ".join(str(x) for x in (fields.get("make"), fields.get("model")) if x)
        text = f"{'Photo' if kind == 'photo' else 'Video'} {name}" + (f", {how}" if how else "")
        text += f", {'taken' if kind == 'photo' else 'recorded'} with {camera}" if camera else ""
        lat, lon = fields.get("lat"), fields.get("lon")
        if fields.get("gps_valid") and isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
            text += f", at {lat:.5f}, {lon:.5f}"
        if kind == "video" and isinstance(fields.get("duration_s"), (int, float)):
            text += f", {fields['duration_s']:g} s long"
        if fields.get("taken_at") is None and fields.get("taken_at_utc") is None:
            sort, when = moment(f.get("modified_at"), None, f.get("times_tz_known"))
            when = f"{when}, file modified" if sort is not None else when
    else:
        kind = "file"
        sort, when = moment(f.get("modified_at"), None, f.get("times_tz_known"))
        if sort is not None:
            when += ", file modified"
        size = f"{f['size']:,} bytes" if isinstance(f.get("size"), int) else "size unknown"
        text = f"File {name} ({size}" + (f", {f['mime']}" if f.get("mime") else "") + ")" + (f", {how}" if how else "")
    if status == WITHHELD:
        text += f": withheld ({withheld_why(f)}); listed with its hash, without content"
    elif status == NOT_RECOVERABLE:
        text += ": not recoverable (its content could not be read completely at triage)"
    # its thumbnail may be printed beside it (the PDF): an exported photo or video, not known-bad
    pictured = (media is not None and status == "exported" and not never_pictured(f)
                and not never_pictured(media[1]))
    return {"key": ("file", f["item"], f["locator"]), "kind": kind, "sort": sort, "when": when, "text": text,
            "where": f["locator"], "status": status, "pictured": pictured}


def _message_finding(m: dict) -> dict:
    f = m["fields"]
    conv = f.get("conversation") or {}
    sort, when = moment(f.get("sent_at"), f.get("sent_at_utc"), f.get("tz_known"))
    sender = f.get("sender") or ("the system" if f.get("system") else "an unknown sender")
    title = conv.get("title") or conv.get("id")
    text = f"{platform_name(f.get('platform'))} message from {sender} in \u201c{title}\u201d"
    if m["withheld"]:
        text += ": text withheld (tagged sensitive)"
    elif f.get("body"):
        text += f": \u201c{_short(f['body'])}\u201d"
    if f.get("attachments"):
        text += f" ({_plural(len(f['attachments']), 'attachment')})"
    if uncommitted(f):
        text += f" [{UNCOMMITTED}: found only in a database's unfinished transaction]"
    if recovered(f):
        text += f" [{RECOVERED}: a deleted row read back from the database's free space]"
    return {"key": ("message", m["artifact_id"]), "kind": "message", "sort": sort, "when": when, "text": text,
            "where": f"{m['source']['locator']} \u00b7 record {m['artifact_id']}",
            "status": WITHHELD if m["withheld"] else "exported"}


def _conversation_finding(ctx: Any, item: str, platform: Any, cid: Any, msgs: list[dict]) -> dict:
    f = msgs[0]["fields"]
    conv = f.get("conversation") or {}
    times = sorted((moment(m["fields"].get("sent_at"), m["fields"].get("sent_at_utc"), m["fields"].get("tz_known"))
                    for m in msgs), key=lambda t: (t[0] is None, t[0] or 0))
    total = _conversation_size(ctx, msgs)
    people = sorted({p for m in msgs for p in (m["fields"].get("participants") or []) if isinstance(p, str)})
    text = (f"{platform_name(platform)} conversation \u201c{conv.get('title') or cid}\u201d"
            + (f" between {', '.join(people)}" if people else "") + ": "
            + _count_words(len(msgs), total))
    if len(times) > 1 and times[0][0] is not None:
        text += f", {times[0][1]} to {times[-1][1]}"
    withheld = sum(1 for m in msgs if m["withheld"])
    if withheld:
        text += f"; {_plural(withheld, 'message')} withheld (tagged sensitive)"
    return {"key": ("conversation", item, platform, cid), "kind": "conversation", "sort": times[0][0],
            "when": times[0][1], "text": text + " (see Conversations)",
            "where": msgs[0]["source"]["locator"], "status": "exported"}


# -- conversations ------------------------------------------------------------------------------
def _conversation_size(ctx: Any, msgs: list[dict]) -> int | None:
    """How many messages the conversation of ``msgs`` has in the case (None: not known)."""
    sizes = {(ctx.positions or {}).get(m["artifact_id"], (None, None))[1] for m in msgs}
    return sizes.pop() if len(sizes) == 1 else None


def _count_words(selected: int, total: int | None) -> str:
    if total is None:
        return _plural(selected, "message")
    if selected < total:
        return f"{selected:,} of {total:,} messages (selected)"
    return f"all {_plural(total, 'message')} of the conversation"


def _chats(ctx: Any) -> dict:
    shown = ctx.messages[:MESSAGES_CAP]
    convs: dict[tuple, list] = {}
    for m in shown:
        c = m["fields"].get("conversation") or {}
        cid = None if c.get("id") is None else str(c.get("id"))
        convs.setdefault((m["item"], m["fields"].get("platform"), cid), []).append(m)
    out = []
    for (item, _platform, cid), msgs in convs.items():
        total = _conversation_size(ctx, msgs)
        at = {m["artifact_id"]: (ctx.positions or {})[m["artifact_id"]][0] for m in msgs} if total else {}
        msgs = sorted(msgs, key=lambda m: at[m["artifact_id"]]) if at else msgs
        selected = len({m["artifact_id"] for m in msgs})
        entries: list[dict] = []
        last = -1
        for m in msgs:
            pos = at.get(m["artifact_id"])
            if pos is not None and pos - last > 1:
                gap = pos - last - 1
                where = "earlier " if last < 0 else ""
                entries.append({"gap": f"\u2026 {_plural(gap, where + 'message')} not exported \u2026", "msg": None})
            if pos is not None:
                last = pos
            entries.append({"gap": None, "msg": _message(m)})
        if total and total - last > 1:
            later = _plural(total - last - 1, "later message")
            entries.append({"gap": f"\u2026 {later} not exported \u2026", "msg": None})
        title = (msgs[0]["fields"].get("conversation") or {}).get("title")
        people = sorted({p for m in msgs for p in (m["fields"].get("participants") or []) if isinstance(p, str)})
        out.append({
            "title": title or cid, "platform": platform_name(msgs[0]["fields"].get("platform")), "item": item,
            "participants": ", ".join(people) or None, "source": msgs[0]["source"],
            "count": _count_words(selected, total), "partial": total is not None and selected < total,
            "pending": sum(1 for m in msgs if uncommitted(m["fields"])),
            "recovered": sum(1 for m in msgs if recovered(m["fields"])), "n": len(msgs),
            "entries": entries,
        })
    return {"conversations": out, "uncommitted": sum(1 for m in ctx.messages if uncommitted(m["fields"])),
            "recovered": sum(1 for m in ctx.messages if recovered(m["fields"])),
            "capped": len(ctx.messages) > MESSAGES_CAP, "cap": f"{MESSAGES_CAP:,}", "empty": not ctx.messages}


def _message(m: dict) -> dict:
    f = m["fields"]
    atts = []
    for a in f.get("attachments") or []:
        name = a.get("name") or (f"name {WITHHELD}" if m["withheld"] else "no name")
        text = name + (f" (sha256 {a['sha256']})" if a.get("sha256") else "")
        if a.get("missing"):
            text += f" ({NOT_RECOVERABLE}: not found in the evidence)"
        atts.append(text)
    return {"uncommitted": uncommitted(f), "recovered": recovered(f),
            "sender": f.get("sender") or "(system)",
            "when": moment(f.get("sent_at"), f.get("sent_at_utc"), f.get("tz_known"))[1],     # says an unknown zone
            "flags": ", ".join(k for k in ("edited", "deleted", "system") if f.get(k)),
            "withheld": m["withheld"], "body": f.get("body") or "",
            "attachments": ", ".join(atts) if atts else None,
            "locator": m["source"]["locator"], "ref": m["source"]["ref"], "artifact_id": m["artifact_id"]}


# -- photos, videos, map ------------------------------------------------------------------------
def _gps(f: dict) -> dict | None:
    lat, lon = f.get("lat"), f.get("lon")
    if f.get("gps_valid") and isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        return {"lat": round(lat, 6), "lon": round(lon, 6), "alt": f.get("alt"), "osm": osm_link(lat, lon)}
    return None


def _gallery(ctx: Any) -> list[dict]:
    cards = []
    for p in ctx.photos:
        if p.get("hidden_known_good"):
            continue                    # in a known-good hash set: left out unless the export shows them
        f = p["fields"]
        cards.append({"key": [p["item"], p["locator"]], "withheld": p["withheld"], "path": p["path"],
                      "known_bad": never_pictured(p), "known_bad_category": p.get("known_bad_category"),
                      "how": how_had(p) if p.get("recovery") in ("carved", "embedded") else "",
                      "taken": moment(f.get("taken_at"), f.get("taken_at_utc"), f.get("tz_known"))[1]
                      if f.get("taken_at") or f.get("taken_at_utc") else None,
                      "tz_source": f.get("tz_source"),
                      "camera": " ".join(x for x in (f.get("make"), f.get("model")) if x) or None,
                      "serial": f.get("serial"), "gps": _gps(f), "width": f.get("width"), "height": f.get("height"),
                      "sha256": p["sha256"], "item": p["item"], "locator": p["locator"]})
    return cards


def _hits(ctx: Any) -> list[dict]:
    """The saved search hits selected (``forensic search --save``), in the order stored: what
    was found where; a withheld one (tagged sensitive) without its text."""
    out = []
    for h in getattr(ctx, "search_hits", None) or []:
        f = h["fields"]
        at = f.get("image_offset") if f.get("image_offset") is not None else f.get("file_offset")
        out.append({"id": h["artifact_id"], "item": h["item"], "locator": f.get("locator") or h.get("locator"),
                    "where": f.get("where"), "list": f.get("list"), "term": f.get("term"), "offset": at,
                    "offset_kind": "image" if f.get("image_offset") is not None else "file",
                    "context": f.get("context"), "withheld": h["withheld"]})
    return out


def _videos(ctx: Any) -> dict:
    cards = [{"key": [v["item"], v["locator"]], "path": v["path"], "item": v["item"], "locator": v["locator"],
              "known_bad": never_pictured(v), "known_bad_category": v.get("known_bad_category")}
             for v in ctx.videos if (not v["withheld"] or never_pictured(v)) and not v.get("hidden_known_good")]
    rows = []
    for v in ctx.videos:
        f = v["fields"]
        src = f.get("taken_at_source")
        device = " ".join(str(x) for x in (f.get("make"), f.get("model")) if x) or None
        if f.get("serial"):
            device = f"{device or ''} #{f['serial']}".strip()
        points = f.get("track_points") or 0
        how = how_had(v)
        rows.append({"item": v["item"], "locator": v["locator"], "sha256": v["sha256"], "taken": f.get("taken_at"),
                     "zone_unknown": bool(f.get("taken_at")) and not f.get("tz_known"), "tz_source": f.get("tz_source"),
                     "date_source": src.get("source") if isinstance(src, dict) else src, "device": device,
                     "gps": _gps(f),
                     "duration": f"{f['duration_s']:g} s" if isinstance(f.get("duration_s"), (int, float)) else None,
                     "track": (f"{points} point(s)" + (" (decimated in the record)" if f.get("track_decimated")
                                                       else "")) if points else "none",
                     "note": " ".join(x for x in (f"{WITHHELD} (sensitive)" if v["withheld"] else "", how) if x)})
    return {"cards": cards, "rows": rows}


def _map_rows(ctx: Any) -> list[dict]:
    pts = [r for r in ctx.geo if r.get("gps_valid") and r.get("lat") is not None and r.get("lon") is not None]
    rows = []
    for r in pts:
        chat = r.get("kind") == "chat_message"
        rows.append({"kind": r.get("kind"), "path": r.get("path"), "track_points": r.get("track_points") or 0,
                     "track": r.get("track"), "lat": r["lat"], "lon": r["lon"],
                     "location_name": r.get("location_name"), "platform": r.get("platform"),
                     "conversation": r.get("conversation"), "message_id": r.get("message_id"),
                     "artifact_id": r.get("artifact_id"), "item": r.get("item"), "locator": r.get("locator"),
                     "alt": r.get("alt"), "when": r.get("sent_at") if chat else r.get("taken_at"),
                     "who": r.get("sender") if chat else r.get("device"), "osm": osm_link(r["lat"], r["lon"])})
    return rows


def _map(rows: list[dict]) -> dict:
    """The map's SVG (the base map with the points, labelled by their row numbers in the table:
    no text from the evidence enters the SVG) and its table."""
    if not rows:
        return {"svg": None, "rows": []}
    from forensic.exporters.geo import track_coordinates
    from forensic.exporters.report.basemap import map_svg
    tracks = [[(c[1], c[0]) for c in track_coordinates(r)] for r in rows if r.get("track")]
    svg = Markup(map_svg([{"lat": r["lat"], "lon": r["lon"], "kind": r.get("kind"), "label": str(i + 1)}
                          for i, r in enumerate(rows)], tracks=[t for t in tracks if len(t) >= 2]))
    for i, r in enumerate(rows):
        r["n"] = i + 1
        r["lat"], r["lon"] = round(r["lat"], 6), round(r["lon"], 6)
        r.pop("track", None)
    return {"svg": svg, "rows": rows}


# -- listings -----------------------------------------------------------------------------------
def _timeline(ctx: Any) -> dict:
    rows = [{"when": ev["datetime"], "zone_unknown": not ev["tz_known"],
             "uncommitted": ev.get("db_state") == "uncommitted", "recovered": ev.get("recovered") == "deleted",
             "desc": ev["timestamp_desc"], "message": ev["message"], "item": ev["item"], "locator": ev["locator"]}
            for ev in ctx.timeline[:TIMELINE_ROWS_CAP]]
    return {"rows": rows, "total": f"{len(ctx.timeline):,}", "capped": len(ctx.timeline) > TIMELINE_ROWS_CAP,
            "cap": f"{TIMELINE_ROWS_CAP:,}"}


def _files(ctx: Any) -> dict:
    rows = []
    for f in ctx.files:
        tags = ", ".join(t["tag"] + (" (sensitive)" if t["sensitive"] else "") + (f": {t['note']}" if t.get("note")
                                                                                  else "")
                         for t in f.get("tags") or [])
        rows.append({"item": f["item"], "locator": f["locator"], "bag_path": f.get("bag_path"),
                     "status": file_status(f), "size": f"{f['size']:,}" if f["size"] is not None else None,
                     "sha256": f["sha256"], "mime": f.get("mime"), "modified": f.get("modified_at"),
                     "zone_unknown": bool(f.get("modified_at")) and not f["times_tz_known"], "how": how_had(f),
                     "tags": tags})
    return {"rows": rows, "name_map": [{"original": m["original"], "stored": m["stored"]} for m in ctx.name_map]}


def _items(ctx: Any) -> list[dict]:
    rows = []
    for it in ctx.info["items"]:
        acq = it.get("acquisition_hashes") or {}
        lv = it.get("last_verification")
        if not lv:
            verification = {"kind": "none"}
        elif lv.get("ok") is None:
            verification = {"kind": "nohash", "action": lv["action"], "at": lv["at"]}
        else:
            verification = {"kind": "ok" if lv["ok"] else "bad", "action": lv["action"], "at": lv["at"]}
        rows.append({"item": it["item"], "format": it["format"], "source_name": it["source_name"],
                     "description": it.get("description"), "size": f"{it['size']:,}", "sha256": it["sha256"],
                     "md5": it["md5"], "acquisition": ", ".join(f"{k}: {v}" for k, v in sorted(acq.items())) or None,
                     "acquisition_verified": it.get("acquisition_hash_verified"), "verification": verification,
                     "added_at": it.get("added_at"), "triaged_at": it.get("triaged_at")})
    return rows


def _case_details(ctx: Any) -> dict:
    info, case = ctx.info, ctx.info["case"]
    c = info["counts"]
    unc = sum(1 for m in ctx.messages if uncommitted(m["fields"]))
    rec = sum(1 for m in ctx.messages if recovered(m["fields"]))
    gone = sum(1 for f in ctx.files if file_status(f) != "exported")
    contents = (f"{c['files']} files exported, {gone} not exported (withheld or not recoverable); "
                f"{c['photos']} photos; " + (f"{c['videos']} videos; " if c.get("videos") else "")
                + f"{c['messages']} messages ({c['withheld_messages']} withheld"
                + (f", {unc} uncommitted" if unc else "") + (f", {rec} recovered deleted rows" if rec else "") + ")")
    return {"case_id": case["case_id"], "examiner": case["examiner"], "organisation": case.get("organisation"),
            "created_at": case.get("created_at"),
            "tool": f"{info['tool']['name']} {info['tool']['version']} ({info['format']})",
            "recipient": info.get("recipient"), "contents": contents, "uncommitted": unc, "recovered": rec}


def _selection(ctx: Any) -> dict:
    s = ctx.info["selection"]
    return {"tags": ", ".join(s["tags"]) or "(none: whole items)", "item_ids": ", ".join(s["items"]) or "all",
            "types": ", ".join(s["types"]) or "all", "from": s["from"], "to": s["to"],
            "sensitive": ("included (--include-sensitive)" if s["include_sensitive"]
                          else f"{WITHHELD}: listed with hashes and metadata only")}


# -- custody ------------------------------------------------------------------------------------
def _actor(entry: dict) -> tuple[str, str | None]:
    a = entry.get("actor")
    if isinstance(a, dict):
        return str(a.get("name") or "unnamed"), a.get("key_id")
    return str(a or "unnamed"), None


def _concerns(entry: dict) -> tuple[str, Any] | None:
    """What one entry is about: ('file', (item, locator)), ('message', id), ('conversation', ...),
    ('item', item) or ('case', id)."""
    s = entry.get("subject")
    if not isinstance(s, dict):
        return None
    details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
    if s.get("record_type") == "chat/message" and details.get("artifact_id") is not None:
        return "message", details.get("artifact_id")
    if s.get("message") is not None:
        return "message", str(s["message"])
    if s.get("conversation") is not None:
        return "conversation", (s.get("item"), s["conversation"])
    if s.get("locator") is not None:
        return "file", (s.get("item"), s["locator"])
    if s.get("item") is not None:
        return "item", s["item"]
    if s.get("case") is not None or s.get("type") == "case":
        return "case", s.get("case")
    return None


_CONCERN_WORDS = {"file": ("file", "files"), "message": ("message", "messages"),
                  "conversation": ("conversation", "conversations"), "item": ("evidence item", "evidence items"),
                  "case": ("the case", "the case")}


def _custody(ctx: Any) -> dict:
    ex = ctx.custody
    if ex is None or ex.checkpoint is None:
        return {"present": False}
    cp = ex.checkpoint
    v = ex.verify or {}
    everything = [e for e in ex.entries if isinstance(e, dict)]
    signers: dict[tuple[str, str | None], int] = {}
    for e in everything:
        who = _actor(e)
        signers[who] = signers.get(who, 0) + 1
    first, last = (everything[0], everything[-1]) if everything else ({}, {})
    groups: dict[str, dict] = {}
    for seq in ex.concerned:
        e = ex.entries[seq] if seq < len(ex.entries) else {}
        action = str(e.get("action"))
        g = groups.setdefault(action, {"action": action, "words": ACTIONS.get(action, action), "seqs": [],
                                       "about": {}, "by": set(), "first": None, "last": None, "tags": set()})
        g["seqs"].append(seq)
        about = _concerns(e)
        if about is not None:
            g["about"].setdefault(about[0], set()).add(json.dumps(about[1], sort_keys=True, default=str))
        g["by"].add(_actor(e)[0])
        at = e.get("at")
        if isinstance(at, str):
            g["first"] = at if g["first"] is None or at < g["first"] else g["first"]
            g["last"] = at if g["last"] is None or at > g["last"] else g["last"]
        if action.startswith("tag.") and isinstance(e.get("details"), dict) and e["details"].get("tag"):
            g["tags"].add(str(e["details"]["tag"]))
    actions = []
    for action in sorted(groups, key=lambda a: min(groups[a]["seqs"])):
        g = groups[action]
        about = ", ".join(_CONCERN_WORDS[k][1] if k == "case" else
                          _plural(len(ids), *_CONCERN_WORDS[k]) for k, ids in sorted(g["about"].items()))
        actions.append({"action": action, "words": g["words"] + (f" ({', '.join(sorted(g['tags']))})" if g["tags"]
                                                                   else ""),
                        "count": len(g["seqs"]), "about": about or None, "by": ", ".join(sorted(g["by"])),
                        "first": g["first"], "last": g["last"], "seqs": _ranges(g["seqs"])})
    from forensic.exporters.report import triage_runs
    return {
        "present": True, "tree_size": f"{cp.tree_size:,}", "root": cp.root, "at": cp.at,
        "signed": bool(cp.signature), "signer": cp.signer, "public_key": cp.public_key,
        "ok": bool(v.get("ok")), "problem": v.get("problem"), "in_bundle": f"{len(ex.concerned):,}",
        "signers": [{"name": n, "key_id": k, "entries": f"{c:,}"} for (n, k), c in
                    sorted(signers.items(), key=lambda x: (-x[1], x[0][0], x[0][1] or ""))],
        "first": {"at": first.get("at"), "action": first.get("action"),
                  "words": ACTIONS.get(str(first.get("action")), first.get("action")), "by": _actor(first)[0]}
        if first else None,
        "last": {"at": last.get("at"), "action": last.get("action"),
                 "words": ACTIONS.get(str(last.get("action")), last.get("action")), "by": _actor(last)[0]}
        if last else None,
        "actions": actions,
        "runs": triage_runs(ex.entries[seq] for seq in ex.concerned if seq < len(ex.entries)),
    }


# -- limitations --------------------------------------------------------------------------------
def _limitations(ctx: Any) -> dict:
    withheld = [{"locator": f["locator"], "sha256": f["sha256"], "reason": f.get("withheld_reason")}
                for f in ctx.files if file_status(f) == WITHHELD][:500]
    lost = [{"locator": f["locator"], "sha256": f["sha256"], "reason": f.get("withheld_reason")}
            for f in ctx.files if file_status(f) == NOT_RECOVERABLE][:500]
    wmsgs = [{"artifact_id": m["artifact_id"], "locator": m["source"]["locator"]}
             for m in ctx.messages if m["withheld"]][:500]
    return {
        "withheld_files": withheld, "withheld_messages": wmsgs, "not_recoverable": lost,
        "n_withheld_files": sum(1 for f in ctx.files if file_status(f) == WITHHELD),
        "n_withheld_messages": sum(1 for m in ctx.messages if m["withheld"]),
        "unknown_photos": sum(1 for p in ctx.photos if p["fields"].get("taken_at") and not p["fields"].get("tz_known")),
        "unknown_videos": sum(1 for v in ctx.videos if v["fields"].get("taken_at") and not v["fields"].get("tz_known")),
        "unknown_messages": sum(1 for m in ctx.messages
                                if m["fields"].get("sent_at") and not m["fields"].get("tz_known")),
        "unknown_files": sum(1 for f in ctx.files if not f["times_tz_known"]),
        "notes": list(ctx.info.get("notes") or []),
        "uncommitted": sum(1 for m in ctx.messages if uncommitted(m["fields"])),
        "recovered": sum(1 for m in ctx.messages if recovered(m["fields"])),
        "corrupted": (sum(1 for p in ctx.photos if p["corrupted"]) + sum(1 for v in ctx.videos if v["corrupted"])
                      + sum(1 for m in ctx.messages if m["corrupted"])),
        "custody_problem": (getattr(ctx.custody, "verify", None) or {}).get("problem")
        if not (getattr(ctx.custody, "verify", None) or {"ok": True}).get("ok") else None,
        "warnings": [{"item": r["item"], "locator": r["locator"], "stage": r["stage"], "message": r["message"]}
                     for r in ctx.warnings[:1000]],
        "n_warnings": len(ctx.warnings),
    }
