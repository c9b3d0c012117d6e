"""A case whose photos were hashed by two versions of photo_hash (an old case re-triaged with a
new item): `forensic similar`, camera originals and the suspected known-bad check compare like
with like, and say once which items carry the older hashes and how to refresh them."""
from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Iterable

import pytest
from PIL import Image

from forensic.case import Case
from forensic.chain_of_custody.hooks import triage_session
from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.photo_hash import HASH_TYPE, HASH_VERSION, PhotoHashExtractor, draft_box
from forensic.extractors.records import ArtifactRecord
from forensic.pipeline import TriageOptions, triage_item
from forensic.serve.app import near_duplicate_files
from forensic.store import similar
from tests.extractors.photo_scenes import camera_jpeg, messenger_copy, scene
from tests.hashsets.test_import import hashdeep
from tests.serve.conftest import start_server, stop_server


class PhotoHashV1(Extractor):
    """photo_hash as version 1 hashed: imagehash's own Lanczos shrink of the whole drafted decode."""
    NAME = "photo_hash"
    VERSION = "1"
    RECORD_TYPES = (HASH_TYPE,)

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        return PhotoHashExtractor().accepts(path, mime, head)

    def extract(self, item: ExtractorInput) -> Iterable[ArtifactRecord]:
        import imagehash
        img = Image.open(io.BytesIO(bytes(item.data or b"")))
        width, height = img.size
        img.draft("RGB", draft_box(width, height))
        gray = img.convert("L")
        yield ArtifactRecord(HASH_TYPE, {"phash": str(imagehash.phash(gray)), "dhash": str(imagehash.dhash(gray)),
                                         "orientation": 1, "width": width, "height": height})


def _triage_v1(case: Path, item: str) -> None:
    c = Case.open(case)
    try:
        with triage_session(c, item, {}) as recorder:
            stats = triage_item(c, item, TriageOptions(extractors=[PhotoHashV1()], workers=1),
                                on_batch=recorder, on_committed=recorder.committed)
            recorder.finish(stats)
    finally:
        c.close()


@pytest.fixture
def mixed(tmp_path, forensic, monkeypatch):
    """Item ``old`` (a camera original, hashed by photo_hash version 1, a known-bad picture) and
    item ``new`` (its messenger copy, and a second copy: version 2)."""
    return _mixed_case(tmp_path, forensic, monkeypatch, known_bad=True)


def _mixed_case(tmp_path, forensic, monkeypatch, known_bad: bool) -> Path:
    original = camera_jpeg(scene(11, 1200, 900))
    copy = messenger_copy(original)
    second = messenger_copy(copy)
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "DCIM").mkdir(parents=True)
    (new / "WhatsApp").mkdir(parents=True)
    (old / "DCIM" / "IMG_0001.jpg").write_bytes(original)
    (new / "WhatsApp" / "IMG-WA0001.jpg").write_bytes(copy)
    (new / "WhatsApp" / "IMG-WA0002.jpg").write_bytes(second)
    monkeypatch.setenv("FORENSIC_HASHSETS", str(tmp_path / "library"))
    hashdeep(tmp_path / "bad.hashdeep", [original])
    forensic("hashset", "import", tmp_path / "bad.hashdeep", "--name", "bad",
             "--kind", "known-bad" if known_bad else "known-good")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "V-1", "--examiner", "E")
    forensic("evidence", "add", old, "--case", case, "--id", "old")
    forensic("evidence", "add", new, "--case", case, "--id", "new")
    _triage_v1(case, "old")
    forensic("triage", "--case", case)                     # new: photo_hash of this release
    forensic("hashset", "check", "--case", case)
    return case


def _versions(case: Path) -> dict[str, int]:
    c = Case.open(case)
    try:
        return {p.locator.rsplit("/", 1)[-1]: p.version for p in similar.photos(c.db)}
    finally:
        c.close()


def test_versions_compared_like_with_like_and_warned_once(mixed, forensic):
    current = HASH_VERSION
    assert _versions(mixed) == {"IMG_0001.jpg": 1, "IMG-WA0001.jpg": current, "IMG-WA0002.jpg": current}
    c = Case.open(mixed)
    try:
        found = {p.locator.rsplit("/", 1)[-1]: p for p in similar.photos(c.db)}
        # across versions the original and its copy ARE within 8 bits: only the version rule keeps them apart
        assert similar.distance(found["IMG_0001.jpg"].phash, found["IMG-WA0001.jpg"].phash) <= 8
        assert similar.suspected_known_bad(c.db) == {}              # the copy is v2, the known-bad photo v1
        # forensic serve's gallery filter: the two copies only
        assert near_duplicate_files(c.db) == {found["IMG-WA0001.jpg"].file_id, found["IMG-WA0002.jpg"].file_id}
        locator = found["IMG_0001.jpg"].locator
        older = similar.older_hashes(c.db)
        assert older is not None and (older.count, older.items, older.versions) == (1, ("old",), (1,))
    finally:
        c.close()
    out = forensic("similar", "--all", "--json", "--case", mixed)
    pairs = out.jsonl()
    assert [(p["a"]["item"], p["b"]["item"]) for p in pairs] == [("new", "new")]
    assert out.err.count("older version") == 1 and "forensic triage ITEM --force" in out.err
    assert "item(s) old" in out.err
    out = forensic("photos", "--json", "--case", mixed)
    assert out.jsonl() and all(r["suspected_known_bad"] is None for r in out.jsonl())     # the copies
    assert out.err.count("older version") == 1 and "suspected known-bad" in out.err
    out = forensic("similar", "--json", "--case", mixed, locator)
    assert out.jsonl() == [] and out.err.count("older version") == 1

    server = start_server(mixed, None)                   # forensic serve says it once at start too
    server.proc.terminate()
    server.proc.wait(10)
    err = server.proc.stderr.read()
    stop_server(server)
    assert err.count("older version") == 1 and "near duplicates" in err

    # refreshed: the old item triaged again by this release; its hashes are now comparable
    forensic("triage", "--case", mixed, "--force", "old")
    assert set(_versions(mixed).values()) == {current}
    out = forensic("similar", "--all", "--json", "--case", mixed)
    assert {(p["a"]["item"], p["b"]["item"]) for p in out.jsonl()} == {("old", "new"), ("new", "new")}
    assert "older version" not in out.err
    forensic("hashset", "check", "--case", mixed)
    c = Case.open(mixed)
    try:
        assert len(similar.suspected_known_bad(c.db)) == 2            # both copies, now of the same version
        # an export's selection of more files than SQLite's variable limit: the same two
        if hasattr(c.db, "setlimit"):                               # SQLite's limit (PostgreSQL has none)
            c.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 8)
        assert len(similar.suspected_known_bad(c.db, range(1, 1000))) == 2
        assert len(near_duplicate_files(c.db)) == 3
    finally:
        c.close()


def test_photos_says_nothing_of_versions_without_known_bad_photos(tmp_path, forensic, monkeypatch):
    """The older hashes matter to `forensic photos` only for the suspected known-bad check: with
    no known-bad photo in the case there is nothing to warn of."""
    case = _mixed_case(tmp_path, forensic, monkeypatch, known_bad=False)
    out = forensic("photos", "--json", "--case", case)
    assert len(out.jsonl()) == 2 and "older version" not in out.err      # the copies; the original known-good
    assert "older version" in forensic("similar", "--all", "--json", "--case", case).err


def test_records_carry_their_hash_version():
    data = messenger_copy(camera_jpeg(scene(3)))
    [rec] = [o for o in PhotoHashExtractor().extract(ExtractorInput("a.jpg", "a.jpg", "image/jpeg", len(data), data))
             if o.record_type == HASH_TYPE]
    assert rec.fields["hash_version"] == HASH_VERSION
    assert similar.record_hash_version("photo_hash@9", rec.fields["hash_version"]) == HASH_VERSION


def test_record_hash_version():
    assert similar.record_hash_version("photo_hash@1", None) == 1
    assert similar.record_hash_version("video_frames@2", None) == 2
    assert similar.record_hash_version("photo_hash@2", 3) == 3
    assert similar.record_hash_version("other@5", None) == 0
    assert similar.record_hash_version(None, True) == 0
