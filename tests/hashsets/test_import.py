"""Importing hash sets into the library: NSRL RDS v3 (its SQLite, built here in its layout),
Project VIC / CAID VICS JSON 1.x and 2.0, hashdeep, md5deep/sha256sum lists and CSV; every
digest found again by lookup, none that is not there; bad input refused with a reason."""
from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from forensic import hashsets
from forensic.errors import UsageError
from forensic.hashsets.index import DigestIndex, build

CONTENTS = [f"file number {i}\n".encode() for i in range(50)]


def _digests(data: bytes) -> dict[str, str]:
    return {alg: hashlib.new(alg, data).hexdigest() for alg in ("sha256", "sha1", "md5")}


def nsrl_rds_v3(path: Path, contents: list[bytes], *, indexed: bool = True) -> Path:
    """An RDS v3 'minimal'-style database: FILE keyed by sha256 (WITHOUT ROWID, so its
    primary key is its index), sha1 and md5 indexed, PKG/OS/MFG beside it; hex in upper
    case, as NIST writes it. ``indexed`` False: a FILE with no index at all."""
    db = sqlite3.connect(path)
    key = ", PRIMARY KEY (sha256, package_id, file_name, file_size)) WITHOUT ROWID" if indexed else ")"
    db.executescript(f"""
        CREATE TABLE VERSION (version TEXT, build_set TEXT, build_date TEXT, release_date TEXT, description TEXT);
        CREATE TABLE MFG (manufacturer_id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE OS (operating_system_id INTEGER PRIMARY KEY, name TEXT, version TEXT, manufacturer_id INTEGER);
        CREATE TABLE PKG (package_id INTEGER PRIMARY KEY, name TEXT, version TEXT, operating_system_id INTEGER,
                          manufacturer_id INTEGER, language TEXT, application_type TEXT);
        CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
                           crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
                           package_id INTEGER NOT NULL{key};
    """)
    if indexed:
        db.execute("CREATE INDEX FILE_sha1 ON FILE(sha1)")
        db.execute("CREATE INDEX FILE_md5 ON FILE(md5)")
    db.execute("INSERT INTO VERSION VALUES ('2026.03.1', 'minimal', '2026-03-01', '2026-03-15', 'test')")
    db.execute("INSERT INTO PKG VALUES (1, 'Test OS', '1.0', 1, 1, 'English', 'Operating System')")
    for i, data in enumerate(contents):
        d = {k: v.upper() for k, v in _digests(data).items()}
        db.execute("INSERT INTO FILE VALUES (?,?,?,?,?,?,?)",
                   (d["sha256"], d["sha1"], d["md5"], "00000000", f"f{i}.txt", len(data), 1))
    db.commit()
    db.close()
    return path


def vics(path: Path, contents: list[bytes], version: str = "2.0", category: int = 1) -> Path:
    media = [{"MediaID": i + 1, "Category": category, "MD5": _digests(c)["md5"].upper(),
              "SHA1": _digests(c)["sha1"].upper(), "MediaSize": len(c), "IsPrecategorized": True,
              "MediaFiles": [{"MD5": _digests(c)["md5"].upper(), "FileName": f"img{i}.jpg"}]}
             for i, c in enumerate(contents)]
    if version == "2.0":
        doc = {"@odata.context": "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/CASE/$metadata#Cases",
               "value": [{"CaseID": "1", "CaseNumber": "T-1", "Media": media}]}
    else:
        doc = {"odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml/#Media", "value": media}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def hashdeep(path: Path, contents: list[bytes]) -> Path:
    lines = ["%%%% HASHDEEP-1.0", "%%%% size,md5,sha256,filename", "## Invoked from: /evidence", "## "]
    lines += [f"{len(c)},{_digests(c)['md5']},{_digests(c)['sha256']},/evidence/f{i}.txt"
              for i, c in enumerate(contents)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def library(tmp_path) -> Path:
    return tmp_path / "library"


@pytest.mark.parametrize("indexed", [True, False])
def test_nsrl_rds_v3(tmp_path, library, indexed):
    src = nsrl_rds_v3(tmp_path / "RDS_minimal.db", CONTENTS[:30], indexed=indexed)
    before = src.read_bytes()
    hs = hashsets.import_set(src, "nsrl", "known-good", library=library)
    assert src.read_bytes() == before                     # read only
    assert hs.format == "nsrl" and hs.records == 30 and set(hs.digests) == {"sha256", "sha1", "md5"}
    assert hs.source_sha256 == hashlib.sha256(before).hexdigest()
    # where the database indexes a digest it is searched in place; else an index is built
    assert sorted(hs.in_place) == (["md5", "sha1", "sha256"] if indexed else [])
    assert (library / "nsrl" / "sha256.idx").exists() != indexed
    [opened], problems = hashsets.open_sets(library=library)
    assert problems == []
    for data in CONTENTS:
        for alg, value in _digests(data).items():
            assert opened.match(alg, value)[0] == (data in CONTENTS[:30]), (alg, data)
    opened.close()


@pytest.mark.parametrize("version", ["1.3", "2.0"])
def test_vics_with_categories(tmp_path, library, version):
    src = vics(tmp_path / "vics.json", CONTENTS[:10], version, category=1)
    hs = hashsets.import_set(src, "vic", "known-bad", library=library)
    assert hs.format == "vics" and set(hs.digests) == {"md5", "sha1"} and hs.records == 10
    [opened], _ = hashsets.open_sets(library=library)
    assert opened.match("md5", _digests(CONTENTS[3])["md5"]) == (True, "1")
    assert opened.match("sha1", _digests(CONTENTS[3])["sha1"]) == (True, "1")
    assert opened.match("md5", _digests(CONTENTS[30])["md5"]) == (False, None)
    opened.close()


def test_hashdeep_sha256sum_md5deep_and_csv(tmp_path, library):
    hashdeep(tmp_path / "lab.hashdeep", CONTENTS[:5])
    (tmp_path / "list.sha256").write_text("".join(f"{_digests(c)['sha256']}  f{i}.txt\n"
                                                  for i, c in enumerate(CONTENTS[5:10])))
    (tmp_path / "list.md5").write_text("".join(f"{_digests(c)['md5']}  /case/f{i}.txt\n"
                                               for i, c in enumerate(CONTENTS[10:15])))
    (tmp_path / "lab.csv").write_text("Name,SHA-256,Category\n" + "".join(
        f"f{i}.txt,{_digests(c)['sha256'].upper()},drugs\n" for i, c in enumerate(CONTENTS[15:20])))
    made = {n: hashsets.import_set(tmp_path / f, n, "alert", library=library)
            for n, f in (("hd", "lab.hashdeep"), ("s", "list.sha256"), ("m", "list.md5"), ("c", "lab.csv"))}
    assert {n: h.format for n, h in made.items()} == {"hd": "hashdeep", "s": "hashlist", "m": "hashlist", "c": "csv"}
    assert set(made["hd"].digests) == {"md5", "sha256"} and set(made["m"].digests) == {"md5"}
    sets = {s.meta.name: s for s in hashsets.open_sets(library=library)[0]}
    assert sets["hd"].match("md5", _digests(CONTENTS[2])["md5"])[0]
    assert sets["s"].match("sha256", _digests(CONTENTS[7])["sha256"])[0]
    assert not sets["s"].match("sha256", _digests(CONTENTS[2])["sha256"])[0]
    assert sets["m"].match("md5", _digests(CONTENTS[14])["md5"])[0]
    assert sets["c"].match("sha256", _digests(CONTENTS[16])["sha256"]) == (True, "drugs")
    for s in sets.values():
        s.close()
    assert [s.name for s in hashsets.listing(library)] == ["c", "hd", "m", "s"]


def test_bad_input_is_refused_with_a_reason(tmp_path, library):
    (tmp_path / "notes.txt").write_text("these are my notes\nnothing here\n")
    with pytest.raises(UsageError, match="not a hash set"):
        hashsets.import_set(tmp_path / "notes.txt", "x", "known-bad", library=library)
    import zipfile
    with zipfile.ZipFile(tmp_path / "RDS.zip", "w") as zf:
        zf.writestr("RDS.db", b"SQLite format 3\x00")
    with pytest.raises(UsageError, match="ZIP archive"):
        hashsets.import_set(tmp_path / "RDS.zip", "x", "known-good", library=library)
    (tmp_path / "bad.json").write_text('{"value": [')
    with pytest.raises(UsageError, match="not valid JSON"):
        hashsets.import_set(tmp_path / "bad.json", "x", "known-bad", library=library)
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (a)")
    other.commit()
    other.close()
    with pytest.raises(UsageError, match="FILE table"):
        hashsets.import_set(tmp_path / "other.db", "x", "known-good", library=library)
    with pytest.raises(UsageError, match="cannot name"):
        hashsets.import_set(tmp_path / "notes.txt", "../up", "known-bad", library=library)
    good = tmp_path / "l.sha256"
    good.write_text(f"{_digests(b'a')['sha256']}  a\nnot a digest line\n")
    hs = hashsets.import_set(good, "x", "known-bad", library=library)
    assert hs.records == 1 and hs.skipped == 1
    with pytest.raises(UsageError, match="already has"):
        hashsets.import_set(good, "x", "known-bad", library=library)
    assert hashsets.import_set(good, "x", "alert", replace=True, library=library).kind == "alert"
    assert [p.name for p in library.iterdir()] == ["x"]      # nothing half-imported left behind


def test_index_finds_every_digest_and_nothing_else(tmp_path):
    r = random.Random(20)
    present = {r.randbytes(32) for _ in range(5000)}
    absent = {r.randbytes(32) for _ in range(5000)} - present
    edge = [b"\x00" * 32, b"\xff" * 32, b"\x00\x00" + b"\xff" * 30]
    present |= set(edge)
    crowded = {b"\x12\x34" + r.randbytes(30) for _ in range(3000)}    # one bucket of 3,000: halved first
    present |= crowded
    absent |= {b"\x12\x34" + r.randbytes(30) for _ in range(3000)} - present
    assert build(tmp_path, "sha256", ((d, i % 7) for i, d in enumerate(sorted(present)))) == len(present)
    index = DigestIndex(tmp_path, "sha256")
    cats = {d: i % 7 for i, d in enumerate(sorted(present))}
    assert all(index.get(d) == cats[d] for d in present)
    assert not any(index.get(d) is not None for d in absent)
    assert index.get(b"short") is None
    index.close()
    with open(tmp_path / "sha256.idx", "r+b") as fh:          # a truncated index is refused, not misread
        fh.truncate(os.path.getsize(tmp_path / "sha256.idx") - 1)
    with pytest.raises(ValueError, match="not the"):
        DigestIndex(tmp_path, "sha256")
