"""Near-duplicate photos across items and conversations: the same picture on another device.

Reads the ``photo/phash`` records (:mod:`forensic.extractors.photo_hash`; a video's key frames,
:mod:`forensic.extractors.video_frames`, each a record with its ``frame_time_s``) with their files, and
pairs photos whose 64-bit perceptual hashes differ in at most ``max_distance`` bits (Hamming
distance). A camera original and a messenger's resized, re-compressed, EXIF-stripped copy of
it differ in a few bits; two different pictures in many more.

``--all`` does not compare every pair (100,000 photos would be 5·10⁹ pairs): the 64 bits are
cut into ``max_distance + 1`` bands (multi-index hashing). Two hashes within ``max_distance``
bits of each other differ in at most ``max_distance`` bands, so at least one band is the same
in both (pigeonhole): only photos sharing a band value are candidates, each then checked by
its full distance. Every pair within the distance is found, none is guessed.

Each side of a pair says whether its photo is a camera original (a ``photo/exif`` record with
a make or model: ``camera``) and which chat messages carry it as an attachment (by content
SHA-256: ``messages``); a pair of a chat attachment and a camera original is the link from the
attachment to the photo it was made from (:func:`camera_originals`). Joined when asked, never
stored: a photo triaged later (another item) links without changing the records logged.

Hash versions: a change in how the picture is shrunk before hashing changes its hashes by a
bit or two (``photo_hash`` version 1 → 2), so a case whose items were triaged by different
releases holds hashes of two versions. They are compared like with like only (every function
here: pairs, a FILE's neighbours, camera originals, suspected known-bad photos), and
:func:`older_hashes` says which items carry an older version, for the caller to warn once
(refreshed by triaging the item again: ``forensic triage ITEM --force``). A record's version
is its ``hash_version`` field, else its extractor's version (``photo_hash@1``; ``video_frames``
kept the same numbers: :func:`record_hash_version`).
"""
from __future__ import annotations

import functools
import heapq
import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from forensic.store.db import dialect
from forensic.store.hashsets import known_bad_sha256

ALGORITHMS = ("phash", "dhash")
DEFAULT_MAX_DISTANCE = 8
MAX_MESSAGES = 20            # message ids given per side of a pair


@dataclass(frozen=True, slots=True)
class HashedPhoto:
    """A photo with its perceptual hashes, its file, and what the case says of it."""
    item: str
    locator: str
    sha256: str | None
    file_id: int
    phash: int
    dhash: int
    camera: str | None = None                           # EXIF make and model, when it has them
    messages: tuple[int, ...] = field(default=())       # chat messages carrying it (artifact ids)
    frame_time_s: float | None = None                   # a video's key frame: its time in the video
    version: int = 0                                    # the hash version (record_hash_version)

    def side(self) -> dict:
        return {"item": self.item, "locator": self.locator, "sha256": self.sha256, "camera": self.camera,
                "messages": list(self.messages), "frame_time_s": self.frame_time_s}


@dataclass(frozen=True, slots=True)
class SimilarPair:
    """Two photos within the distance: ``a`` the camera original where one side is one."""
    a: HashedPhoto
    b: HashedPhoto
    distance: int
    algorithm: str

    def to_json(self) -> dict:
        return {"a": self.a.side(), "b": self.b.side(), "distance": self.distance, "algorithm": self.algorithm}


def json_value(db: sqlite3.Connection, column: str, path: str) -> str:
    """SQL of the value at ``path`` (a constant, ``'$.name'`` or ``'$.a.b'``) of the JSON text
    in ``column``, its type kept as SQLite's ``json_extract`` keeps it (a number comes back a
    number, where PostgreSQL's json_extract gives text): there as ``json``, which psycopg reads
    as the Python value, each text cut at a NUL as SQLite cuts it (PostgreSQL's text holds none:
    a hostile camera make would stop the query; schema.PG_SEARCH's json_nul_cut). Read it
    through :func:`sqlite_value`."""
    if dialect(db) == "postgresql":
        keys = path.removeprefix("$.").split(".")
        if not path.startswith("$.") or not all(k.isidentifier() for k in keys):
            raise ValueError(f"not a path json_value reads: {path!r}")
        doc = f"CASE WHEN strpos({column}, '\\u0000') > 0 THEN json_nul_cut({column}) ELSE {column} END"
        return f"(({doc})::json #> '{{{','.join(keys)}}}')"
    return f"json_extract({column}, '{path}')"


def sqlite_value(value: object) -> object:
    """A value of :func:`json_value` as SQLite gives it: true and false as 1 and 0, an object
    or array as its JSON text, a text up to its first NUL (where SQLite's json_extract ends it)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return value.split("\0", 1)[0]
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def unindexed(db: sqlite3.Connection, column: str) -> str:
    """``column`` in a WHERE term SQLite must not answer by its index (``+column``: SQLite's
    way to say so, an error on PostgreSQL, whose planner weighs the indexes by their statistics)."""
    return f"+{column}" if dialect(db) == "sqlite" else column


def parse_hash(text: object) -> int | None:
    """A 64-bit hash from its 16 hex digits; None for anything else (a damaged record)."""
    if not isinstance(text, str) or len(text) != 16:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def distance(x: int, y: int) -> int:
    return (x ^ y).bit_count()


HASH_EXTRACTORS = ("photo_hash", "video_frames")


def record_hash_version(extractor: object, declared: object) -> int:
    """The version of a ``photo/phash`` record's hashes: its ``hash_version`` field where it
    has one (records made since the field was added), else the version of the extractor that
    made it (``photo_hash@2``; ``video_frames`` hashed frames with ``photo_hash``'s code, its
    versions 1 and 2 the same); 0 when neither says."""
    if isinstance(declared, int) and not isinstance(declared, bool) and declared > 0:
        return declared
    name, _, version = str(extractor or "").partition("@")
    return int(version) if name in HASH_EXTRACTORS and version.isdigit() else 0


@dataclass(frozen=True, slots=True)
class OlderHashes:
    """Photos whose hashes are older than the newest version in the case: not compared with
    the others (:func:`older_hashes`)."""
    newest: int
    count: int                           # photo/phash records (a video: one per key frame)
    items: tuple[str, ...]
    versions: tuple[int, ...]

    def message(self) -> str:
        items = ", ".join(self.items[:5]) + (f" and {len(self.items) - 5} more" if len(self.items) > 5 else "")
        older = "/".join(f"v{v}" for v in self.versions)
        return (f"{self.count} photo hash(es) of item(s) {items} are of an older version ({older}) than the "
                f"case's newest (v{self.newest}): they are compared only with hashes of their own version. "
                f"Refresh them by triaging the item again: forensic triage ITEM --force")


def older_hashes(db: sqlite3.Connection, newest: int | None = None) -> OlderHashes | None:
    """Which items carry perceptual hashes older than the newest version found in the case (or
    than ``newest``, a photo's outside it, where that is newer), or None when none is older."""
    declared = grouped = json_value(db, "a.fields", "$.hash_version")
    if dialect(db) == "postgresql":            # a json value has no equality: grouped by its text
        grouped = f"CAST({declared} AS TEXT)"
        declared = f"CAST({grouped} AS json)"
    rows = db.execute(f"SELECT a.item, a.extractor, {declared}, COUNT(*) "
                      "FROM artifacts a WHERE a.record_type = 'photo/phash' "
                      f"GROUP BY a.item, a.extractor, {grouped}").fetchall()
    by_version: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for it, extractor, declared, n in rows:
        by_version[record_hash_version(extractor, sqlite_value(declared))][it] += n
    if not by_version:
        return None
    top = max(by_version) if newest is None else max(newest, max(by_version))
    old = {v: items for v, items in by_version.items() if v < top}
    if not old:
        return None
    items = sorted({it for per in old.values() for it in per})
    return OlderHashes(top, sum(n for per in old.values() for n in per.values()), tuple(items), tuple(sorted(old)))


def photos(db: sqlite3.Connection, item: str | None = None) -> list[HashedPhoto]:
    """Every hashed photo of the case (of ``item``), with its camera and chat messages."""
    where, args = "a.record_type = 'photo/phash'", []
    if item is not None:
        where += " AND a.item = ?"
        args.append(item)
    field = functools.partial(json_value, db, "a.fields")
    rows = db.execute(
        f"SELECT a.item, f.locator, f.sha256, f.id, {field('$.phash')}, {field('$.dhash')}, "
        f"{field('$.frame_time_s')}, a.extractor, {field('$.hash_version')} "
        f"FROM artifacts a JOIN files f ON f.id = a.file_id WHERE {where} "
        "ORDER BY a.item, f.locator, a.id", args).fetchall()
    cameras: dict[int, str] = {}
    for file_id, make, model in db.execute(
            f"SELECT a.file_id, {field('$.make')}, {field('$.model')} FROM artifacts a "
            "WHERE a.record_type = 'photo/exif' AND a.file_id IS NOT NULL ORDER BY a.id"):
        words = [str(w).strip() for w in map(sqlite_value, (make, model)) if w is not None and str(w).strip()]
        if words:
            cameras[file_id] = " ".join(words)
    carried: dict[str, list[int]] = defaultdict(list)
    for artifact_id, sha in db.execute(
            "SELECT a.id, json_extract(j.value, '$.sha256') FROM artifacts a, json_each(a.fields, '$.attachments') j "
            "WHERE a.record_type = 'chat/message' AND json_array_length(a.fields, '$.attachments') > 0 "
            "ORDER BY a.id"):
        if isinstance(sha, str) and len(carried[sha]) < MAX_MESSAGES:
            carried[sha].append(artifact_id)
    out = []
    for it, locator, sha, file_id, ph, dh, frame_time, extractor, declared in rows:
        p, d = parse_hash(sqlite_value(ph)), parse_hash(sqlite_value(dh))
        frame_time, declared = sqlite_value(frame_time), sqlite_value(declared)
        if p is None or d is None:
            continue
        out.append(HashedPhoto(it, locator, sha, file_id, p, d, cameras.get(file_id),
                               tuple(carried.get(sha, ())) if sha else (),
                               float(frame_time) if isinstance(frame_time, (int, float)) else None,
                               record_hash_version(extractor, declared)))
    return out


@dataclass(frozen=True, slots=True)
class PhashRecord:
    """A ``photo/phash`` record's pHash (16 hex digits, as stored), its file and its hash
    version: what ``forensic serve`` indexes for its near-duplicate views."""
    file_id: int
    item: str
    locator: str
    phash: str | None
    version: int


def phash_records(db: sqlite3.Connection) -> list[PhashRecord]:
    """Every ``photo/phash`` record's pHash with its file and version, by file id."""
    return [PhashRecord(r[0], r[1], r[2], ph if isinstance(ph := sqlite_value(r[3]), str) else None,
                        record_hash_version(r[4], sqlite_value(r[5])))
            for r in db.execute(
                f"SELECT f.id, a.item, f.locator, {json_value(db, 'a.fields', '$.phash')}, a.extractor, "
                f"{json_value(db, 'a.fields', '$.hash_version')} FROM artifacts a JOIN files f ON f.id = a.file_id "
                "WHERE a.record_type = 'photo/phash' ORDER BY f.id, a.id")]


def bands(max_distance: int) -> list[tuple[int, int]]:
    """(shift, mask) of ``max_distance + 1`` bands covering the 64 bits, as even as can be."""
    n = max(1, min(64, max_distance + 1))
    out, start = [], 0
    for i in range(n):
        width = 64 // n + (1 if i < 64 % n else 0)
        out.append((start, (1 << width) - 1))
        start += width
    return out


def _ordered(x: HashedPhoto, y: HashedPhoto) -> tuple[HashedPhoto, HashedPhoto]:
    """The camera original first; else a chat attachment second; else by item and locator."""
    def rank(p: HashedPhoto) -> tuple:
        return (p.camera is None, bool(p.messages), p.item, p.locator)
    return (x, y) if rank(x) <= rank(y) else (y, x)


def all_pairs(found: list[HashedPhoto], max_distance: int = DEFAULT_MAX_DISTANCE, algorithm: str = "phash",
              item: str | None = None) -> Iterator[SimilarPair]:
    """Every pair of ``found`` within ``max_distance`` bits (``item``: one side in it), each once,
    nearest first. Two copies of one content (same SHA-256) are no pair: they are duplicates,
    which a file listing shows by hash. Photos of one hash value are compared once (many
    blank pictures hash alike: their distances are not computed again for each). Photos of
    different hash versions are not compared: each version's pairs, merged nearest first."""
    versions = {p.version for p in found}
    if len(versions) > 1:
        yield from heapq.merge(*(_pairs([p for p in found if p.version == v], max_distance, algorithm, item)
                                 for v in sorted(versions)), key=lambda s: s.distance)
        return
    yield from _pairs(found, max_distance, algorithm, item)


def _pairs(found: list[HashedPhoto], max_distance: int, algorithm: str, item: str | None) -> Iterator[SimilarPair]:
    groups: dict[int, list[int]] = defaultdict(list)
    for n, p in enumerate(found):
        groups[getattr(p, algorithm)].append(n)
    values = list(groups)
    close: list[tuple[int, int, int]] = [(0, v, v) for v in values if len(groups[v]) > 1]
    seen: set[tuple[int, int]] = set()
    for shift, mask in bands(max_distance):
        buckets: dict[int, list[int]] = defaultdict(list)
        for v in values:
            buckets[(v >> shift) & mask].append(v)
        for members in buckets.values():
            for x, v in enumerate(members):
                for w in members[x + 1:]:
                    if (v, w) in seen:
                        continue
                    seen.add((v, w))
                    d = distance(v, w)
                    if d <= max_distance:
                        close.append((d, v, w))
    close.sort()
    for d, v, w in close:
        same = v == w
        for x, i in enumerate(groups[v]):
            for j in (groups[v][x + 1:] if same else groups[w]):
                pi, pj = found[i], found[j]
                if pi.sha256 is not None and pi.sha256 == pj.sha256:
                    continue
                if item is not None and item not in (pi.item, pj.item):
                    continue
                a, b = _ordered(pi, pj)
                yield SimilarPair(a, b, d, algorithm)


def near(found: Iterable[HashedPhoto], target: HashedPhoto, max_distance: int = DEFAULT_MAX_DISTANCE,
         algorithm: str = "phash") -> list[SimilarPair]:
    """The photos within ``max_distance`` bits of ``target`` (itself, same file, left out; those
    of another hash version too), nearest first; ``target`` is side ``a``."""
    value = getattr(target, algorithm)
    out = []
    for p in found:
        if (p.item == target.item and p.locator == target.locator) or p.version != target.version:
            continue
        d = distance(value, getattr(p, algorithm))
        if d <= max_distance:
            out.append(SimilarPair(target, p, d, algorithm))
    out.sort(key=lambda s: (s.distance, s.b.item, s.b.locator))
    return out


def camera_originals(found: list[HashedPhoto], max_distance: int = DEFAULT_MAX_DISTANCE,
                     algorithm: str = "phash") -> dict[str, list[SimilarPair]]:
    """For each chat attachment's content SHA-256 (a photo carried by a message, itself no
    camera original): the camera originals within ``max_distance`` (pairs with the original as
    ``a``), nearest first. Only the camera originals are indexed (bands), then each attachment
    looked up: no pair of two other photos is compared, nor two of different hash versions."""
    cameras = [p for p in found if p.camera is not None]
    spans = bands(max_distance)
    index: list[dict[int, list[int]]] = [defaultdict(list) for _ in spans]
    for n, p in enumerate(cameras):
        v = getattr(p, algorithm)
        for (shift, mask), bucket in zip(spans, index, strict=True):
            bucket[(v >> shift) & mask].append(n)
    out: dict[str, list[SimilarPair]] = {}
    for p in found:
        if not p.messages or p.camera is not None or not p.sha256 or p.sha256 in out:
            continue
        v = getattr(p, algorithm)
        near_ones: dict[int, int] = {}
        for (shift, mask), bucket in zip(spans, index, strict=True):
            for n in bucket.get((v >> shift) & mask, ()):
                if n not in near_ones and cameras[n].version == p.version:
                    near_ones[n] = distance(v, getattr(cameras[n], algorithm))
        pairs = sorted((d, cameras[n].item, cameras[n].locator, n) for n, d in near_ones.items() if d <= max_distance)
        if pairs:
            out[p.sha256] = [SimilarPair(cameras[n], p, d, algorithm) for d, _, _, n in pairs]
    return out


def original_of(pairs: list[SimilarPair]) -> dict:
    """What a chat attachment says of the camera original it was made from (``camera_original``),
    given its pairs nearest first (:func:`camera_originals`): the nearest, and in
    ``other_originals`` the other camera originals within the distance (at most
    :data:`MAX_MESSAGES`). A planted picture as near as the real original (a re-saved copy
    with forged EXIF) must not hide it: the nearest is a hint, not the answer."""
    pair = pairs[0]
    out: dict = {"item": pair.a.item, "locator": pair.a.locator, "sha256": pair.a.sha256, "camera": pair.a.camera,
                 "distance": pair.distance, "algorithm": pair.algorithm}
    out["other_originals"] = [{"item": o.a.item, "locator": o.a.locator, "sha256": o.a.sha256,
                               "camera": o.a.camera, "distance": o.distance}
                              for o in pairs[1:MAX_MESSAGES + 1]]
    return out


THUMB_TYPE = "photo/thumbnail"


def thumbnails(db: sqlite3.Connection, file_ids: Iterable[int]) -> dict[int, str]:
    """The thumbnail made at triage (``photo/thumbnail``: a photo's, or a video's first key
    frame's) of each of ``file_ids`` that has one: its base64 JPEG, the first stored per file."""
    ids = sorted({int(i) for i in file_ids})
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for file_id, jpeg in db.execute(
                f"SELECT file_id, {json_value(db, 'fields', '$.jpeg_base64')} FROM artifacts "
                f"WHERE record_type = ? AND file_id IN ({marks}) ORDER BY id", [THUMB_TYPE, *chunk]):
            jpeg = sqlite_value(jpeg)
            if isinstance(jpeg, str) and file_id not in out:
                out[file_id] = jpeg
    return out


# -- known-bad near-duplicates -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Suspect:
    """A photo (or video key frame's file) within the near-duplicate distance of a photo a
    known-bad hash set matched: another SHA-256 (resized, re-compressed, EXIF stripped), the
    same picture. Shown as a known-bad one is: never as a picture."""
    file_id: int
    like_item: str
    like_locator: str
    like_sha256: str | None
    distance: int
    category: str | None

    def to_json(self) -> dict:
        return {"like": {"item": self.like_item, "locator": self.like_locator, "sha256": self.like_sha256},
                "distance": self.distance, "category": self.category}


def suspect_label(s: Suspect) -> str:
    """What a placeholder says of a suspected known-bad photo (a known-bad one: its category)."""
    return (f"suspected: {s.distance}-bit near-duplicate of a known-bad photo"
            + (f" ({s.category})" if s.category else ""))


_BAD_CONTENT = ("SELECT f2.sha256 FROM hashset_hits h JOIN files f2 ON f2.id = h.file_id "
                "WHERE h.kind = 'known-bad' AND f2.sha256 IS NOT NULL")


def suspected_known_bad(db: sqlite3.Connection, file_ids: Iterable[int] | None = None,
                        max_distance: int = DEFAULT_MAX_DISTANCE) -> dict[int, Suspect]:
    """file id -> :class:`Suspect` of every hashed photo (of ``file_ids``) whose pHash is within
    ``max_distance`` bits of a known-bad photo's, itself in no known-bad set (those are
    known-bad already): the nearest known-bad photo it resembles. The one decision every view
    (``photos``, ``serve``, the report, the bundle) takes for "never show it as a picture"
    besides the hash sets. Like with like: a photo is compared with the known-bad photos whose
    hashes are of its version (:func:`older_hashes` tells the caller to warn of the others)."""
    category = known_bad_sha256(db)
    if not category:
        return {}
    field = functools.partial(json_value, db, "a.fields")
    found = [(it, loc, sha, parse_hash(sqlite_value(ph)), record_hash_version(ex, sqlite_value(hv)))
             for it, loc, sha, ph, ex, hv in db.execute(
        f"SELECT a.item, f.locator, f.sha256, {field('$.phash')}, a.extractor, "
        f"{field('$.hash_version')} FROM artifacts a "
        # by files_sha256 then artifacts_file ('+' keeps SQLite off the type index: every photo's hash)
        f"JOIN files f ON f.id = a.file_id WHERE {unindexed(db, 'a.record_type')} = 'photo/phash' "
        f"AND f.sha256 IN ({_BAD_CONTENT}) "
        "ORDER BY a.item, f.locator, a.id")]
    bad = [(it, loc, sha, h, v) for it, loc, sha, h, v in found if h is not None]
    if not bad:
        return {}
    where, args, kind = "", (), "a.record_type"    # type: tuple[str, tuple, str]
    if file_ids is not None:
        wanted = sorted(set(file_ids))
        if not wanted:
            return {}
        # one JSON parameter, not one per id: an export's selection may be more files than
        # SQLite's variable limit (32,766 in many builds)
        where, args = " AND f.id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))", (json.dumps(wanted),)
        # by the files given, not every photo's hash (3 s a gallery page at 100k)
        kind = unindexed(db, "a.record_type")
    out: dict[int, Suspect] = {}
    for file_id, ph, extractor, declared in db.execute(
            f"SELECT f.id, {field('$.phash')}, a.extractor, {field('$.hash_version')} "
            "FROM artifacts a JOIN files f ON f.id = a.file_id "
            f"WHERE {kind} = 'photo/phash' AND (f.sha256 IS NULL OR f.sha256 NOT IN ({_BAD_CONTENT})){where} "
            "ORDER BY a.id", args):
        value = parse_hash(sqlite_value(ph))
        if value is None:
            continue
        version = record_hash_version(extractor, sqlite_value(declared))
        for it, loc, sha, bad_hash, bad_version in bad:
            if bad_version != version:
                continue
            d = distance(value, bad_hash)
            if d <= max_distance and (file_id not in out or d < out[file_id].distance):
                out[file_id] = Suspect(file_id, it, loc, sha, d, category.get(sha))
    return out
