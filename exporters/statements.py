"""Every hash a bundle states, gathered from all its members, and where two disagree.

A bundle names a file's SHA-256 in many places: the payload manifest (the hash of the bytes it
holds), ``data/files.jsonl``, ``data/messages.jsonl`` (chat sources, attachments), the custody
entries that record the file, ``data/timeline.csv``, ``data/geotags.geojson`` and ``.kml``,
``data/case.jsonld`` and the report (files table, gallery, videos, conversations, limitations); an
evidence item's SHA-256 and MD5 stand in ``data/bundle.json``, its ``evidence.received`` custody
entry, ``data/case.jsonld`` and the report; a custody entry's own SHA-256 in the entry, the report's
custody table and ``data/bundle.json`` (the last verification). Each statement is kept under
what it is about -- a file (evidence item and locator), an item, a custody entry -- and its
algorithm; two different values under one key are a *disagreement*, and the bundle fails.

So a forger who changes a file and recomputes the manifests (and re-signs them with a key of
their own) must also rewrite every other member that names the file -- and cannot rewrite the
custody entries, which the Merkle proofs and the checkpoint's signature hold.

Also checked here: every evidence file in the bag is a row of ``files.jsonl`` and every row
stored in the bag is there with its size (and its MD5/SHA-1 where the row gives them); each
exported file is recorded by a custody entry in the bundle; the custody entries a row cites are
in the bundle; the report's picture of a photo is the photo itself, the thumbnail inside it, or
the thumbnail made at triage that the bundle holds as a member of its own (and no withheld file
has one); every hash the report shows is one the bundle states; and
``data/bundle.json`` cites the custody checkpoint of ``bag-info.txt``.
"""
from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from forensic.exporters.geo import xml_text
from forensic.exporters.report import e as html_text
from forensic.exporters.report import exif_thumbnail, thumbnail_member
from forensic.exporters.selection import bundle_note

FILES = "data/files.jsonl"
BUNDLE_JSON = "data/bundle.json"
MESSAGES = "data/messages.jsonl"
TIMELINE = "data/timeline.csv"
GEOJSON = "data/geotags.geojson"
KML = "data/geotags.kml"
CASE_UCO = "data/case.jsonld"
NAME_MAP = "data/name-map.jsonl"
REPORT = "data/report/index.html"
KEPT = frozenset((FILES, BUNDLE_JSON, MESSAGES, TIMELINE, GEOJSON, KML, CASE_UCO, NAME_MAP, REPORT))
REQUIRED = (FILES, BUNDLE_JSON, REPORT)          # every bundle holds them
MANIFEST_WHERE = "manifest-sha256.txt (the bytes in the bundle)"
BYTES_WHERE = "the bytes in the bundle"
EXTRA_DIGESTS = ("md5", "sha1")                  # checked where files.jsonl states them
_HEX_LEN = {"sha256": 64, "sha1": 40, "md5": 32}
_HEX = re.compile(r"[0-9a-fA-F]+\Z")
_NONE = html_text(None)                          # how the report shows a missing value
_FORMULA_START = frozenset("=+-@\t\r")            # a CSV cell guarded with a leading quote
SHOWN = 3                                        # places named per value, custody entries aside


@dataclass
class Wanted:
    """What the verifier computes while it streams one evidence file besides its SHA-256."""
    digests: tuple[str, ...] = ()
    images: list[bytes] = field(default_factory=list)   # what the report shows as its picture


_ALGO_NAMES = {"sha256": "SHA-256", "sha1": "SHA-1", "md5": "MD5"}
_ENTRY = "custody entry "


def _places(places) -> str:
    """The places that state one value, in words: the bytes and files.jsonl first, then the
    custody entries (as one group), then the others, up to :data:`SHOWN` besides the entries."""
    entries = [p[len(_ENTRY):] for p in places if p.startswith(_ENTRY)]
    first = [p for p in places if p in (MANIFEST_WHERE, BYTES_WHERE, FILES)]
    rest = [p for p in places if not p.startswith(_ENTRY) and p not in first]
    names = first + ([f"custody entr{'y' if len(entries) == 1 else 'ies'} " + ", ".join(entries)]
                     if entries else []) + rest
    limit = SHOWN + (1 if entries else 0)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _describe(subject: tuple) -> str:
    if subject[0] == "file":
        return f"{subject[2]} (item {subject[1]})"
    if subject[0] == "item":
        return f"evidence item {subject[1]}"
    return f"custody entry {subject[1]}"


class HashStatements:
    """Built from the generated members whose bytes match the manifest (``kept``); the
    verifier then reports each evidence file it streamed (:meth:`observe`) and the custody
    entries it proved (:meth:`finish`), and reads :attr:`problems` and :attr:`disagreements`."""

    def __init__(self, kept: dict[str, bytes], manifest: dict[str, str]) -> None:
        self.kept = kept
        self.manifest = manifest
        self.values: dict[tuple, dict[str, dict[str, None]]] = {}  # (subject, algo) -> value -> places
        self.problems: list[str] = []
        self.disagreements: list[dict] = []
        self.rows: dict[tuple[str, str], dict] = {}                 # (item, locator) -> files.jsonl row
        self.by_bag: dict[str, tuple[str, str]] = {}
        self.wanted: dict[str, Wanted] = {}
        self.sources: set[tuple[str, str]] = set()                  # files the messages cite
        self.unplaced: list[tuple[str, str]] = []                   # (value, where): must be known
        self.report_entries: list[tuple[int, str]] = []             # (seq, value) of the custody table
        self.report_hashes: list[str] = []
        self.bundle_info: dict = {}
        for name in REQUIRED:
            if manifest and name not in manifest:
                self.problems.append(f"the bag holds no {name} (every forensic bundle has one)")
        for name, parse in ((FILES, self._files), (NAME_MAP, self._name_map), (MESSAGES, self._messages),
                            (BUNDLE_JSON, self._bundle_json), (TIMELINE, self._timeline),
                            (GEOJSON, self._geojson), (KML, self._kml), (CASE_UCO, self._case_uco),
                            (REPORT, self._report)):
            data = kept.get(name)
            if data is None:
                continue
            try:
                parse(data)
            except (ValueError, TypeError, KeyError, AttributeError, csv.Error, RecursionError) as exc:
                self.problems.append(f"{name} cannot be read for its hashes: {exc}")

    # -- statements ------------------------------------------------------------------------
    def say(self, subject: tuple, algo: str, value: Any, where: str) -> None:
        if value is None:
            return
        if type(value) is not str or len(value) != _HEX_LEN[algo] or not _HEX.match(value):
            self.problems.append(f"{where} gives {_describe(subject)} a malformed {_ALGO_NAMES[algo]}: "
                                 f"{str(value)[:80]!r}")
            return
        self.values.setdefault((subject, algo), {}).setdefault(value.lower(), {})[where] = None

    def _file(self, item: Any, locator: Any) -> tuple | None:
        if type(item) is str and type(locator) is str:
            return ("file", item, locator)
        return None

    def _escaped(self, escape) -> dict[tuple[str, str], tuple[str, str]]:
        """(escaped item, escaped locator) -> (item, locator), for the files the bundle lists."""
        return {(escape(i), escape(loc)): (i, loc) for i, loc in (*self.rows, *self.sources)}

    @staticmethod
    def _lines(data: bytes, name: str):
        for n, line in enumerate(data.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise ValueError(f"line {n} is not JSON") from None
            if type(obj) is not dict:
                raise ValueError(f"line {n} is not a JSON object")
            yield n, obj

    # -- the members -----------------------------------------------------------------------
    def _files(self, data: bytes) -> None:
        for n, row in self._lines(data, FILES):
            subject = self._file(row.get("item"), row.get("locator"))
            if subject is None:
                self.problems.append(f"{FILES} line {n} names no item and locator")
                continue
            key = subject[1:]
            if key in self.rows:
                self.problems.append(f"{FILES} lists {_describe(subject)} twice")
            self.rows[key] = row
            for algo in ("sha256", *EXTRA_DIGESTS):
                self.say(subject, algo, row.get(algo), FILES)
            bag = row.get("bag_path")
            if bag is None:
                continue
            if type(bag) is not str or bag in self.by_bag:
                self.problems.append(f"{FILES} stores {_describe(subject)} as {bag!r}, "
                                     + ("another file's place" if bag in self.by_bag else "not a path"))
                continue
            self.by_bag[bag] = key
            if self.manifest and bag not in self.manifest:
                self.problems.append(f"{FILES} says {_describe(subject)} is stored as {bag}, which the bag "
                                     "does not hold")
                continue
            self.say(subject, "sha256", self.manifest.get(bag), MANIFEST_WHERE)
            digests = tuple(a for a in EXTRA_DIGESTS if row.get(a) is not None)
            if digests:
                self.wanted.setdefault(bag, Wanted()).digests = digests
        for name in self.manifest:
            if name.startswith("data/evidence/") and name not in self.by_bag:
                self.problems.append(f"{name} is in the bag, but {FILES} does not list it")

    def _name_map(self, data: bytes) -> None:
        for _, m in self._lines(data, NAME_MAP):
            key = (m.get("item"), m.get("locator"))
            row = self.rows.get(key)
            if row is not None and row.get("bag_path") != m.get("stored"):
                self.problems.append(f"{NAME_MAP} stores {key[1]} as {m.get('stored')}, "
                                     f"{FILES} as {row.get('bag_path')}")

    def _messages(self, data: bytes) -> None:
        for _, m in self._lines(data, MESSAGES):
            item = m.get("item")
            src = m.get("source")
            if type(src) is dict:
                subject = self._file(item, src.get("locator"))
                if subject is not None:
                    self.sources.add(subject[1:])
                    self.say(subject, "sha256", src.get("sha256"), MESSAGES)
                # the member holding its source file (bundle format of issue 17): the one files.jsonl stores it as
                member = src.get("member")
                if member is not None and (subject is None or self.by_bag.get(member) != subject[1:]):
                    self.problems.append(f"{MESSAGES} gives {str(member)[:120]!r} as the file message "
                                         f"{str(m.get('artifact_id'))[:20]} was read from, but {FILES} stores "
                                         "another file there, or none")
            fields = m.get("fields")
            for a in (fields.get("attachments") or []) if type(fields) is dict else []:
                subject = self._file(item, a.get("locator")) if type(a) is dict else None
                if subject is not None:
                    self.say(subject, "sha256", a.get("sha256"), f"{MESSAGES} (an attachment)")

    def _bundle_json(self, data: bytes) -> None:
        info = json.loads(data)
        if type(info) is not dict:
            raise ValueError("not a JSON object")
        self.bundle_info = info
        for it in info.get("items") or []:
            if type(it) is not dict or type(it.get("item")) is not str:
                continue
            subject = ("item", it["item"])
            self.say(subject, "sha256", it.get("sha256"), BUNDLE_JSON)
            self.say(subject, "md5", it.get("md5"), BUNDLE_JSON)
            lv = it.get("last_verification")
            if type(lv) is dict and type(lv.get("seq")) is int:
                self.say(("entry", lv["seq"]), "sha256", lv.get("sha256"), f"{BUNDLE_JSON} (last verification)")

    def _timeline(self, data: bytes) -> None:
        def unguard(value: str) -> str:
            return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA_START else value
        for row in csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")):
            sha = row.get("sha256")
            subject = self._file(unguard(row.get("item") or ""), unguard(row.get("locator") or ""))
            if sha and subject is not None and subject[2]:
                self.say(subject, "sha256", sha, TIMELINE)

    def _geojson(self, data: bytes) -> None:
        for feature in json.loads(data).get("features") or []:
            props = feature.get("properties") if type(feature) is dict else None
            if type(props) is dict:
                subject = self._file(props.get("item"), props.get("locator"))
                if subject is not None:
                    self.say(subject, "sha256", props.get("sha256"), GEOJSON)

    def _kml(self, data: bytes) -> None:
        escaped = self._escaped(xml_text)
        for block in data.decode("utf-8").split("<Placemark>")[1:]:
            item = re.search(r'<Data name="item"><value>([^<]*)</value>', block)
            loc = re.search(r'<Data name="locator"><value>([^<]*)</value>', block)
            shas = re.findall(r'<Data name="sha256"><value>([^<]*)</value>', block)
            shas += re.findall(r"^SHA-256: (\S*)$", block, re.M)
            if item is None or loc is None:
                self.unplaced += [(s, KML) for s in shas]
                continue
            key = escaped.get((item[1], loc[1]), (item[1], loc[1]))
            for sha in shas:
                self.say(("file", *key), "sha256", sha, KML)

    def _case_uco(self, data: bytes) -> None:
        described = {}
        for (item, loc), row in self.rows.items():
            described[loc + bundle_note(row)] = (item, loc)
            if row.get("withheld") or row.get("not_recoverable"):     # as bundles before the words were mended
                described.setdefault(loc + " (withheld from the bundle: sensitive)", (item, loc))
        for item, loc in self.sources:
            described.setdefault(f"{loc} (chat source; not exported as a file)", (item, loc))
        for node in json.loads(data).get("@graph") or []:
            if type(node) is not dict or node.get("@type") != "observable:File":
                continue
            nid = str(node.get("@id"))
            if nid.startswith("kb:EvidenceItem-") and type(node.get("core:name")) is str:
                subject = ("item", node["core:name"])
            else:
                key = described.get(node.get("core:description"))
                subject = ("file", *key) if key else None
            for facet in node.get("core:hasFacet") or []:
                hashes = facet.get("observable:hash") if type(facet) is dict else None
                for h in hashes or []:
                    algo = {"SHA256": "sha256", "MD5": "md5", "SHA1": "sha1"}.get(h.get("types:hashMethod"))
                    value = (h.get("types:hashValue") or {}).get("@value")
                    if algo is None or value is None:
                        continue
                    if subject is None:
                        self.unplaced.append((str(value).lower(), CASE_UCO))
                    else:
                        self.say(subject, algo, value, CASE_UCO)

    def _report(self, data: bytes) -> None:
        html = data.decode("utf-8")
        where = "the report"
        escaped = self._escaped(html_text)
        by_locator: dict[str, list[tuple[str, str]]] = {}
        for esc_key, key in escaped.items():
            by_locator.setdefault(esc_key[1], []).append(key)

        def say_file(item: str | None, loc: str, value: str, place: str) -> None:
            if value == _NONE:
                return
            if item is None:
                keys = by_locator.get(loc, [])
                if len(keys) != 1:
                    self.unplaced.append((value, f"{where} ({place})"))
                    return
                key = keys[0]
            else:
                key = escaped.get((item, loc), (item, loc))
            self.say(("file", *key), "sha256", value, f"{where} ({place})")

        def section(sid: str) -> str:
            m = re.search(rf'<section id="{sid}">(.*?)</section>', html, re.S)
            return m[1] if m else ""

        for m in re.finditer(r"<tr><td>([^<]*)</td>(?:<td>[^<]*</td>){4}<td><span class=\"hash\">([^<]*)</span>"
                             r"<br>MD5 <span class=\"hash\">([^<]*)</span>", section("items")):
            item = next((k[0] for e, k in escaped.items() if e[0] == m[1]), m[1])
            for algo, value in (("sha256", m[2]), ("md5", m[3])):
                if value != _NONE:
                    self.say(("item", item), algo, value, f"{where} (evidence items)")
        # the "Stored as" cell cannot run on past its own </td> (a lazy .* there is quadratic on
        # rows that never reach a hash)
        for m in re.finditer(r"<tr><td>([^<]*)</td><td><code>([^<]*)</code></td>"
                             r"<td>(?:<code>[^<]*</code>|[^<]*)</td><td>[^<]*</td>"
                             r"<td><span class=\"hash\">([^<]*)</span></td>", section("files")):
            say_file(m[1], m[2], m[3], "files")
        for m in re.finditer(r"<tr><td>([^<]*)</td><td><code>([^<]*)</code></td>"
                             r"<td><span class=\"hash\">([^<]*)</span></td>", section("videos")):
            say_file(m[1], m[2], m[3], "videos")
        for card in section("gallery").split('<div class="card">')[1:]:
            cite = re.search(r'<div class="cite">([^<]*) &#8250; <code>([^<]*)</code></div>', card)
            sha = re.search(r'SHA-256 <span class="hash">([^<]*)</span>', card)
            if cite is None:
                continue
            if sha is not None:
                say_file(cite[1], cite[2], sha[1], "gallery")
            img = re.search(r'<img src="data:[a-z/]+;base64,([A-Za-z0-9+/=]*)"', card)
            if img is not None:
                key = escaped.get((cite[1], cite[2]))
                bag = self.rows.get(key, {}).get("bag_path") if key else None
                if bag is None:
                    self.problems.append(f"the report shows a picture of {cite[2]}, which the bundle does not "
                                         "hold (withheld, or not listed)")
                    continue
                try:
                    picture = base64.b64decode(img[1], validate=True)
                except binascii.Error:
                    self.problems.append(f"the report's picture of {key[1]} is not readable")
                    continue
                if self.manifest.get(thumbnail_member(bag)) == hashlib.sha256(picture).hexdigest():
                    continue        # the thumbnail made at triage, a member of its own (in the manifest)
                self.wanted.setdefault(bag, Wanted()).images.append(picture)
        # a video's picture (its first key frame) can only be the thumbnail made at triage the bag holds
        for card in section("videos").split('<div class="card">')[1:]:
            cite = re.search(r'<div class="cite">([^<]*) &#8250; <code>([^<]*)</code></div>', card)
            img = re.search(r'<img src="data:[a-z/]+;base64,([A-Za-z0-9+/=]*)"', card)
            if cite is None or img is None:
                continue
            key = escaped.get((cite[1], cite[2]))
            bag = self.rows.get(key, {}).get("bag_path") if key else None
            try:
                picture = base64.b64decode(img[1], validate=True)
            except binascii.Error:
                picture = b""
            if bag is None or self.manifest.get(thumbnail_member(bag)) != hashlib.sha256(picture).hexdigest():
                self.problems.append(f"the report's picture of the video {cite[2]} is not the thumbnail made at "
                                     "triage that the bundle holds")
        for m in re.finditer(r"&#183; item ([^<]*?) &#183; participants: [^<]*<br>source: <code>([^<]*)</code> "
                             r"\(SHA-256 <span class=\"hash\">([^<]*)</span>\)", section("chats")):
            say_file(m[1], m[2], m[3], "conversations")
        for m in re.finditer(r"<li><code>([^<]*)</code> SHA-256 <span class=\"hash\">([^<]*)</span>",
                             section("limitations")):
            say_file(None, m[1], m[2], "limitations")
        for m in re.finditer(r"<tr><td>(\d+)</td>(?:<td>[^<]*</td>){3}<td><code>[^<]*</code></td>"
                             r"<td><span class=\"hash\">([^<]*)</span></td>", section("custody")):
            if m[2] != _NONE:
                self.report_entries.append((int(m[1]), m[2]))
        self.report_hashes = [v for v in re.findall(r'<span class="hash">([^<]*)</span>', html) if v != _NONE]

    # -- the evidence, as streamed -----------------------------------------------------------
    def wants(self, bag_path: str) -> Wanted | None:
        return self.wanted.get(bag_path)

    def observe(self, bag_path: str, size: int, digests: dict[str, str], head: bytes | None) -> None:
        """One evidence file streamed from the bag with its manifest hash: its size, its other
        digests, and the report's picture of it."""
        key = self.by_bag.get(bag_path)
        if key is None:
            return
        subject = ("file", *key)
        row = self.rows[key]
        if type(row.get("size")) is int and row["size"] != size:
            self.problems.append(f"{FILES} gives {_describe(subject)} {row['size']:,} bytes, the bundle holds "
                                 f"{size:,}")
        for algo, value in digests.items():
            if algo != "sha256":
                self.say(subject, algo, value, BYTES_WHERE)
        for picture in self.wanted.get(bag_path, Wanted()).images:
            if hashlib.sha256(picture).hexdigest() == digests.get("sha256"):
                continue
            if head is None or exif_thumbnail(head) != picture:
                self.problems.append(f"the report's picture of {key[1]} is neither that photo nor the thumbnail "
                                     "inside it")

    # -- the custody entries, then the verdict ------------------------------------------------
    def finish(self, custody: dict[int, bytes] | None, custody_head: str | None) -> None:
        """``custody``: the entries the bundle proves (seq -> line), None without an excerpt."""
        entries: dict[int, dict] = {}
        recorded: set[tuple[str, str]] = set()
        known_files = set(self.rows) | self.sources
        for seq, line in (custody or {}).items():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if type(e) is not dict:
                continue
            entries[seq] = e
            where = f"custody entry {seq} ({e.get('action')})"
            self.say(("entry", seq), "sha256", e.get("sha256"), where)
            s = e.get("subject")
            if type(s) is not dict:
                continue
            subject = self._file(s.get("item"), s.get("locator"))
            if subject is not None:
                if subject[1:] in known_files:
                    self.say(subject, "sha256", e.get("sha256"), where)
                    if e.get("sha256") is not None:
                        recorded.add(subject[1:])
            elif type(s.get("item")) is str and e.get("action") == "evidence.received":
                self.say(("item", s["item"]), "sha256", e.get("sha256"), where)
                details = e.get("details")
                if type(details) is dict:
                    self.say(("item", s["item"]), "md5", details.get("md5"), where)
        for key, row in self.rows.items():
            seqs = row.get("custody_seqs") or []
            for seq in seqs if type(seqs) is list else []:
                if type(seq) is not int:
                    self.problems.append(f"{FILES} cites custody entry {seq!r:.40} for {key[1]}, which is not "
                                         "a whole number")
                    continue
                e = entries.get(seq)
                if e is None:
                    if custody is not None:
                        self.problems.append(f"{FILES} cites custody entry {seq} for {key[1]}, which the bundle "
                                             "does not hold")
                    continue
                s = e.get("subject")
                if not (type(s) is dict and (s.get("item"), s.get("locator")) == key):
                    self.say(("file", *key), "sha256", e.get("sha256"), f"custody entry {seq} ({e.get('action')}), "
                                                                       f"cited by {FILES}")
            if custody is not None and row.get("bag_path") is not None and key not in recorded:
                self.problems.append(f"no custody entry in the bundle records {key[1]} (item {key[0]}) with its "
                                     "SHA-256")
        for seq, value in self.report_entries:
            if seq not in entries:
                self.problems.append(f"the report shows custody entry {seq}, which the bundle does not hold")
            else:
                self.say(("entry", seq), "sha256", value, "the report (chain of custody)")
        cited = self.bundle_info.get("custody") if type(self.bundle_info.get("custody")) is dict else None
        if cited is not None and cited.get("tree_size") is not None and custody_head is not None \
                and f"{cited.get('tree_size')} {cited.get('root')}" != custody_head:
            self.problems.append(f"{BUNDLE_JSON} cites another custody checkpoint than bag-info.txt's Custody-Head")
        known = {v for values in self.values.values() for v in values}
        for value, where in self.unplaced:
            if value.lower() not in known:
                self.problems.append(f"{where} states a hash no other part of the bundle states: {value[:80]}")
        for value in self.report_hashes:
            if value.lower() not in known:
                self.problems.append(f"the report shows a hash no other part of the bundle states: {value[:80]}")
        for (subject, algo), values in self.values.items():
            if len(values) < 2:
                continue
            parts = [f"{value[:16]}… in {_places(places)}" for value, places in values.items()]
            self.problems.append(f"the bundle states {len(values)} different {_ALGO_NAMES[algo]} values for "
                                 f"{_describe(subject)}: " + "; ".join(parts))
            record = {"about": _describe(subject), "algorithm": algo,
                      "values": {v: list(p) for v, p in values.items()}}
            if subject[0] == "file":
                record.update(item=subject[1], locator=subject[2])
            elif subject[0] == "item":
                record.update(item=subject[1])
            else:
                record.update(custody_seq=subject[1])
            self.disagreements.append(record)

    @property
    def checked(self) -> int:
        """Distinct (thing, algorithm) pairs whose statements were compared."""
        return len(self.values)
