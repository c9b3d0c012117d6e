"""The bundle's content in CASE/UCO 1.x JSON-LD (CASE 1.5.0 / UCO 1.4.0), for tools that read it.

What is described (every node has an IRI; ids are UUIDv5 of the case and the thing, so the same
bundle content always gives the same graph):

* the investigation (``investigation:Investigation``), the examiner and the organisation
  (``identity:Identity`` / ``identity:Organization``), the tool (``tool:Tool``); one
  ``identity:Identity`` per person who acted in the custody excerpt (by name), never one per action;
* each evidence item as an ``observable:File`` with its intake hashes, and a
  ``investigation:ProvenanceRecord`` (exhibit number = item id) naming it and its exported files;
* each selected file as an ``observable:File``: ``FileFacet`` (name, path, size, times whose zone
  is known), ``ContentDataFacet`` (SHA-256/MD5 as ``types:Hash``, ``xsd:hexBinary``; MIME type),
  for photos an ``EXIFFacet`` (the extracted fields as a ``types:ControlledDictionary``) and a
  ``location:Location`` with a ``LatLongCoordinatesFacet``; for videos the same ``Location`` (its
  first GPS fix, or the place its metadata names; the description counts its GPS track's
  points, which ``data/geotags.*`` carry as a line); each is ``Contained_Within`` its item;
* messages as ``observable:Message`` (``MessageFacet``: text unless withheld, sender and
  recipients, sent time when its zone is known) grouped in ``observable:MessageThread`` threads
  (``types:Thread`` of ``types:ThreadItem``), each ``Contained_Within`` its source file; each
  participant is one node per person: per identity the case's contacts resolve a name, number or
  jid to (:mod:`forensic.store.people`), else per name;
* each custody entry in the bundle as an ``investigation:InvestigativeAction`` (name = the
  action, start time, performer, the tool, the object), and the export itself.
"""
from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any, Callable

from forensic.exporters.selection import bundle_note

CONTEXT = {
    "kb": "http://example.org/kb/",
    "action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "co": "http://purl.org/co/",
    "core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "investigation": "https://ontology.caseontology.org/case/investigation/",
    "location": "https://ontology.unifiedcyberontology.org/uco/location/",
    "observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "vocabulary": "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_NS = uuid.UUID("6f1c2d1e-9a52-4c55-9f0e-0f6c1b9a6c21")
_EXIF_KEYS = ("make", "model", "serial", "lens_make", "lens_model", "software", "taken_at", "taken_at_utc",
              "tz_source", "offset_time_original", "lat", "lon", "alt", "gps_at", "width", "height", "orientation")



# Said of a message found only in a phone database's unfinished transaction (db_state), so
# that no reader of the graph takes it for an ordinary message.
UNCOMMITTED_NOTE = (" (uncommitted: found only in a phone database's unfinished transaction, "
                    "not in the database as committed)")

def _dt(value: str | None) -> dict | None:
    return {"@type": "xsd:dateTime", "@value": value} if value else None


def _int(value: int | None) -> dict | None:
    return {"@type": "xsd:integer", "@value": int(value)} if value is not None else None


def _dec(value: float | None) -> dict | None:
    return {"@type": "xsd:decimal", "@value": str(Decimal(repr(float(value))))} if value is not None else None


def _clean(node: dict) -> dict:
    return {k: v for k, v in node.items() if v is not None and v != []}


# one encoder each, built once (json.dumps with options builds one per call)
_KEY_JSON = json.JSONEncoder(ensure_ascii=False).encode
_NODE_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


class _Graph:
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.nodes: list[dict] = []

    def iri(self, kind: str, *parts: Any) -> str:
        """A node's IRI: ``kb:<kind>-<uuid5>`` of the case, the kind and the parts that make it
        unique, so the same thing gets the same IRI in every export of the case."""
        return f"kb:{kind}-{uuid.uuid5(_NS, _KEY_JSON([self.case_id, kind, *parts]))}"

    def add(self, node: dict) -> str:
        self.nodes.append(_clean(node))
        return node["@id"]

    def hashes(self, owner: str, sha256: str | None, md5: str | None = None) -> list[dict]:
        out = []
        for method, value in (("SHA256", sha256), ("MD5", md5)):
            if value:
                out.append({"@id": self.iri("Hash", owner, method), "@type": "types:Hash",
                            "types:hashMethod": method,
                            "types:hashValue": {"@type": "xsd:hexBinary", "@value": value.upper()}})
        return out

    def relationship(self, source: str, target: str, kind: str, observable: bool = True) -> None:
        self.add({"@id": self.iri("Relationship", source, target, kind),
                  "@type": "observable:ObservableRelationship" if observable else "core:Relationship",
                  "core:source": {"@id": source}, "core:target": {"@id": target},
                  "core:kindOfRelationship": {"@type": "xsd:string", "@value": kind},
                  "core:isDirectional": {"@type": "xsd:boolean", "@value": True}})


def render(info: dict, files: list[dict], photos: list[dict], messages: list[dict], custody,
           videos: list[dict] | None = None,
           resolve_person: Callable[[str, str], dict | None] | None = None) -> bytes:
    """The graph (see the module doc). ``resolve_person(item, value)``: the identity a name,
    number or jid found in ``item`` belongs to (:meth:`forensic.store.people.People.resolve`),
    so that one person named two ways in the messages is one participant."""
    case = info["case"]
    g = _Graph(case["case_id"])
    examiner = g.add({"@id": g.iri("Identity", case["examiner"]), "@type": "identity:Identity",
                      "core:name": case["examiner"], "core:description": "examiner"})
    identities: dict[str, str] = {case["examiner"]: examiner}     # one node per person, not per action

    def identity(name: str) -> str:
        if name not in identities:
            identities[name] = g.add({"@id": g.iri("Identity", name), "@type": "identity:Identity",
                                      "core:name": name})
        return identities[name]
    if case.get("organisation"):
        g.add({"@id": g.iri("Organization", case["organisation"]), "@type": "identity:Organization",
               "core:name": case["organisation"]})
    tool = g.add({"@id": g.iri("Tool", info["tool"]["version"]), "@type": "tool:Tool",
                  "core:name": info["tool"]["name"], "tool:version": info["tool"]["version"],
                  "tool:toolType": "digital forensics triage"})
    people: dict[str, str] = {}          # name, or resolved identity -> the participant's IRI

    def person(item: str, name: str, *also: Any) -> str:
        """The participant ``name`` (or ``also``: a sender's id) is: one node per resolved
        identity (named as first met; its IRI numbered in order of appearance, never made of
        a number or address), else one per name."""
        key, iri = name, g.iri("Participant", name)
        if resolve_person is not None:
            for value in (name, *also):
                found = resolve_person(item, value) if isinstance(value, str) and value else None
                if found is not None and found.get("id"):
                    key = f"identity {found['id']}"
                    iri = g.iri("Person", sum(k.startswith("identity ") for k in people))
                    break
        if key not in people:
            people[key] = g.add({"@id": iri, "@type": "observable:ObservableObject", "core:name": name,
                                 "core:description": "chat participant as named in the export"})
        return people[key]

    item_ids: dict[str, str] = {}
    for it in info["items"]:
        oid = g.iri("EvidenceItem", it["item"])
        facets = [
            {"@id": g.iri("FileFacet", oid), "@type": "observable:FileFacet", "observable:fileName": it["source_name"],
             "observable:sizeInBytes": _int(it["size"])},
            {"@id": g.iri("ContentDataFacet", oid), "@type": "observable:ContentDataFacet",
             "observable:sizeInBytes": _int(it["size"]), "observable:hash": g.hashes(oid, it["sha256"], it["md5"])},
        ]
        g.add({"@id": oid, "@type": "observable:File", "core:name": it["item"],
               "core:description": f"evidence item {it['item']} ({it['format']})"
                                   + (f": {it['description']}" if it.get("description") else ""),
               "core:hasFacet": facets})
        item_ids[it["item"]] = oid

    file_ids: dict[tuple[str, str], str] = {}
    photo_by_key = {(p["item"], p["locator"]): p for p in photos}
    video_by_key = {(v["item"], v["locator"]): v for v in videos or ()}
    for f in files:
        oid = g.iri("File", f["item"], f["locator"])
        file_ids[(f["item"], f["locator"])] = oid
        known = f["times_tz_known"]
        facets = [
            {"@id": g.iri("FileFacet", oid), "@type": "observable:FileFacet", "observable:fileName": f["name"],
             "observable:filePath": f["path"], "observable:sizeInBytes": _int(f["size"]),
             "observable:modifiedTime": _dt(f.get("modified_at")) if known else None,
             "observable:accessedTime": _dt(f.get("accessed_at")) if known else None,
             "observable:metadataChangeTime": _dt(f.get("changed_at")) if known else None,
             "observable:observableCreatedTime": _dt(f.get("born_at")) if known else None,
             "observable:allocationStatus": "deleted" if f["deleted"] else "allocated"},
            {"@id": g.iri("ContentDataFacet", oid), "@type": "observable:ContentDataFacet",
             "observable:sizeInBytes": _int(f["size"]), "observable:mimeType": f.get("mime"),
             "observable:hash": g.hashes(oid, f["sha256"], f.get("md5"))},
        ]
        p = photo_by_key.get((f["item"], f["locator"]))
        if p is not None:
            entries = []
            for k in _EXIF_KEYS:
                v = p["fields"].get(k)
                if v is not None and not isinstance(v, (dict, list)):
                    entries.append({"@id": g.iri("ExifEntry", oid, k), "@type": "types:ControlledDictionaryEntry",
                                    "types:key": k, "types:value": str(v)})
            facets.append({"@id": g.iri("EXIFFacet", oid), "@type": "observable:EXIFFacet",
                           "observable:exifData": {"@id": g.iri("ExifData", oid), "@type": "types:ControlledDictionary",
                                                   "types:entry": entries}})
        desc = f"{f['locator']}" + bundle_note(f)
        g.add({"@id": oid, "@type": "observable:File", "core:name": f["name"], "core:description": desc,
               "core:tag": [t["tag"] for t in f.get("tags") or []] or None, "core:hasFacet": facets})
        g.relationship(oid, item_ids[f["item"]], "Contained_Within")
        if p is not None:
            pf = p["fields"]
            if pf.get("gps_valid") and pf.get("lat") is not None and pf.get("lon") is not None:
                loc = g.add({"@id": g.iri("Location", oid), "@type": "location:Location",
                             "core:description": f"GPS position in the EXIF of {f['path']}",
                             "core:hasFacet": [{"@id": g.iri("LatLong", oid),
                                                "@type": "location:LatLongCoordinatesFacet",
                                                "location:latitude": _dec(pf["lat"]),
                                                "location:longitude": _dec(pf["lon"]),
                                                "location:altitude": _dec(pf.get("alt"))}]})
                g.relationship(oid, loc, "Located_At", observable=False)
        v = video_by_key.get((f["item"], f["locator"]))
        vf = v["fields"] if v is not None else {}
        if v is not None and vf.get("gps_valid") and vf.get("lat") is not None and vf.get("lon") is not None:
            points = vf.get("track_points") or 0
            loc = g.add({"@id": g.iri("Location", oid), "@type": "location:Location",
                         "core:description": f"GPS position (first fix) in the video metadata of {f['path']}"
                                             + (f"; its GPS track holds {points} points" if points else ""),
                         "core:hasFacet": [{"@id": g.iri("LatLong", oid),
                                            "@type": "location:LatLongCoordinatesFacet",
                                            "location:latitude": _dec(vf["lat"]),
                                            "location:longitude": _dec(vf["lon"]),
                                            "location:altitude": _dec(vf.get("alt"))}]})
            g.relationship(oid, loc, "Located_At", observable=False)

    threads: dict[tuple, list] = {}
    for m in messages:
        f = m["fields"]
        mid = g.iri("Message", m["item"], m["artifact_id"])
        sender = f.get("sender")
        recipients = [r for r in f.get("recipients") or [] if isinstance(r, str)]
        text = None if m["withheld"] else f.get("body")
        g.add({"@id": mid, "@type": "observable:Message",
               "core:description": f"{m['source']['locator']} {m['source']['ref'] or ''}".strip()
                                   + (" (text withheld: sensitive)" if m["withheld"] else "")
                                   + (UNCOMMITTED_NOTE if f.get("db_state") == "uncommitted" else ""),
               "core:hasFacet": [{"@id": g.iri("MessageFacet", mid), "@type": "observable:MessageFacet",
                                  "observable:messageText": text,
                                  "observable:sentTime": _dt(f.get("sent_at_utc")),
                                  "observable:messageID": str(f.get("message_id") if f.get("message_id") is not None
                                                              else m["artifact_id"]),
                                  "observable:messageType": "system" if f.get("system") else None,
                                  "observable:from": {"@id": person(m["item"], sender, f.get("sender_id"))}
                                  if sender else None,
                                  "observable:to": [{"@id": person(m["item"], r)} for r in recipients] or None}]})
        src = m["source"]
        if src.get("locator"):
            src_id = file_ids.get((m["item"], src["locator"]))
            if src_id is None:
                src_id = g.iri("File", m["item"], src["locator"])
                file_ids[(m["item"], src["locator"])] = src_id
                g.add({"@id": src_id, "@type": "observable:File",
                       "core:name": (src.get("path") or "").rsplit("/", 1)[-1],
                       "core:description": f"{src['locator']} (chat source; not exported as a file)",
                       "core:hasFacet": [{"@id": g.iri("FileFacet", src_id), "@type": "observable:FileFacet",
                                          "observable:filePath": src.get("path")},
                                         {"@id": g.iri("ContentDataFacet", src_id),
                                          "@type": "observable:ContentDataFacet",
                                          "observable:hash": g.hashes(src_id, src.get("sha256"))}]})
                if m["item"] in item_ids:
                    g.relationship(src_id, item_ids[m["item"]], "Contained_Within")
            g.relationship(mid, src_id, "Contained_Within")
        conv = f.get("conversation") or {}
        threads.setdefault((m["item"], f.get("platform"), conv.get("id"), conv.get("title")), []).append(
            (mid, f.get("participants") or []))
    for (item, platform, cid, title), msgs in threads.items():
        tid = g.iri("Thread", item, cid)
        parts = sorted({p for _, ps in msgs for p in ps if isinstance(p, str)})
        items = [{"@id": g.iri("ThreadItem", tid, i), "@type": "types:ThreadItem",
                  "co:itemContent": {"@id": mid}} for i, (mid, _) in enumerate(msgs)]
        g.add({"@id": tid, "@type": "observable:MessageThread", "core:name": title or cid,
               "core:description": f"{platform} conversation in item {item}",
               "core:hasFacet": [{"@id": g.iri("MessageThreadFacet", tid), "@type": "observable:MessageThreadFacet",
                                  "observable:participant": [{"@id": i} for i in dict.fromkeys(
                                      person(item, p) for p in parts)] or None,
                                  "observable:messageThread": {"@id": g.iri("ThreadList", tid),
                                                               "@type": "types:Thread", "co:item": items}}]})

    # custody entries -> investigative actions
    actions = []
    if custody is not None and custody.checkpoint is not None:
        for seq in custody.concerned:
            e = custody.entries[seq]
            subject = e.get("subject")
            objects = []
            if isinstance(subject, dict):
                item = subject.get("item") or (subject.get("id") if subject.get("type") in ("evidence", "item")
                                               else None)
                if item and subject.get("locator") and (item, subject["locator"]) in file_ids:
                    objects.append({"@id": file_ids[(item, subject["locator"])]})
                elif item in item_ids:
                    objects.append({"@id": item_ids[item]})
            actor = e.get("actor") if isinstance(e.get("actor"), dict) else {}
            who = actor.get("name")
            performer = identity(who) if isinstance(who, str) and who else examiner
            aid = g.add({"@id": g.iri("InvestigativeAction", seq, e.get("hash")),
                         "@type": "investigation:InvestigativeAction",
                         "core:name": e.get("action"),
                         "core:description": f"custody log entry {seq} (hash {e.get('hash')})"
                                             + (f"; reason: {e['reason']}" if e.get("reason") else ""),
                         "action:startTime": _dt(e.get("at")), "action:performer": {"@id": performer},
                         "action:instrument": {"@id": tool}, "action:object": objects or None})
            actions.append(aid)
    exported = [{"@id": file_ids[(f["item"], f["locator"])]} for f in files
                if not f["withheld"] and not f.get("not_recoverable")]
    g.add({"@id": g.iri("InvestigativeAction", "export", json.dumps(info["selection"], sort_keys=True)),
           "@type": "investigation:InvestigativeAction", "core:name": "export.created",
           "core:description": "this bundle: the selection " + json.dumps(info["selection"], sort_keys=True),
           "action:performer": {"@id": examiner}, "action:instrument": {"@id": tool},
           "action:object": exported or None})
    for item, oid in item_ids.items():
        objs = [{"@id": oid}] + [{"@id": file_ids[(f["item"], f["locator"])]} for f in files if f["item"] == item]
        g.add({"@id": g.iri("ProvenanceRecord", item), "@type": "investigation:ProvenanceRecord",
               "investigation:exhibitNumber": item, "core:description": f"evidence item {item} and the files of it in "
                                                                       "this bundle", "core:object": objs})
    g.add({"@id": g.iri("Investigation"), "@type": "investigation:Investigation", "core:name": case["case_id"],
           "core:description": f"case {case['case_id']}, examiner {case['examiner']}",
           "core:object": [{"@id": oid} for oid in item_ids.values()] + [{"@id": a} for a in actions] or None})
    # One graph node per line: readable, diff-able, and written by the C encoder (an indented
    # dump goes through json's pure-Python encoder: seconds for a large export).
    dump = _NODE_JSON
    nodes = ",\n".join(dump(n) for n in g.nodes)
    return f'{{"@context":{dump(CONTEXT)},\n"@graph":[\n{nodes}\n]}}\n'.encode("utf-8")
