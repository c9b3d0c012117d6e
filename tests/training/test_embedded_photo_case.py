"""Two GPS photos hidden inside other files of the phone: ``notes.bin`` (seeded random bytes, the
photo appended at 0x624) and ``turnos_semana.docx`` (a real OOXML document, the photo its
``word/media/image1.jpeg``). exiftool reads their positions from the bytes the generator wrote;
triage finds both in the phone and in its extraction (``recovery: embedded``, the place in the
file in the locator); ``training check`` grades them and, for an extraction where notes.bin has
no photo and the rota's picture lies beside it as a plain file, says what was missed and why."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile

import pytest

from conftest import require_tools
from forensic.training import formats
from forensic.training.answer_key import EMBEDDED_FEEDBACK, SEARCH_KINDS
from forensic.training.build import EXTRACTION_PREFIX, HIDDEN_FILE, HIDDEN_OFFSET, ROTA_DOCX, ROTA_PART, layout

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SEED = 23
LOOSE = EXTRACTION_PREFIX + "media/0/Pictures/image1.jpeg"    # the weaker extraction: the rota's picture alone


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def test_the_files_hold_the_photos_where_the_key_says(tmp_path):
    lay = layout(SEED)
    assert layout(SEED).phone == lay.phone                              # same seed, same bytes
    hidden, rota = lay.embedded
    notes = next(f for f in lay.phone if f.rel == HIDDEN_FILE).data
    assert len(notes) == HIDDEN_OFFSET + len(hidden.data) and notes[HIDDEN_OFFSET:] == hidden.data
    assert hidden.offset == HIDDEN_OFFSET == 0x624 and hidden.data[:3] == b"\xff\xd8\xff"
    docx = zipfile.ZipFile(io.BytesIO(next(f for f in lay.phone if f.rel == ROTA_DOCX).data))
    assert docx.namelist() == ["[Content_Types].xml", "_rels/.rels", "word/document.xml",
                               "word/_rels/document.xml.rels", ROTA_PART]
    assert docx.read(ROTA_PART) == rota.data and b'r:embed="rId1"' in docx.read("word/document.xml")
    assert (hidden.plan.lat, hidden.plan.lon) != (rota.plan.lat, rota.plan.lon)
    require_tools("exiftool")
    for e in (hidden, rota):
        (tmp_path / "photo.jpg").write_bytes(e.data)
        out = subprocess.run(["exiftool", "-n", "-j", "-GPSLatitude", "-GPSLongitude", tmp_path / "photo.jpg"],
                             check=True, capture_output=True, text=True).stdout
        tags = json.loads(out)[0]
        assert abs(tags["GPSLatitude"] - e.plan.lat) < 1e-6 and abs(tags["GPSLongitude"] - e.plan.lon) < 1e-6


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """The phone and its extraction triaged; and a weaker extraction (notes.bin without its photo,
    the rota without its picture, which lies beside it as a plain file), graded against the key
    with that extraction's hash."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("embedded")
    sample = root / "sample"
    assert _cli("sample-image", sample, "--seed", SEED, "--quiet") == 0
    case = root / "case"
    assert _cli("case", "init", case, "--case-id", "EM-23", "--examiner", "T", "--quiet") == 0
    for name in ("phone.raw", "extraction.zip"):
        assert _cli("evidence", "add", sample / name, "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)

    lay = layout(SEED)
    rota = lay.embedded[1]
    members = []
    for name, data, when in lay.extraction_members:
        if name == EXTRACTION_PREFIX + HIDDEN_FILE:
            data = data[:HIDDEN_OFFSET]
        elif name == EXTRACTION_PREFIX + ROTA_DOCX:
            docx = zipfile.ZipFile(io.BytesIO(data))
            data = formats.zip_bytes([(n, docx.read(n), None) for n in docx.namelist() if n != ROTA_PART])
            members.append((LOOSE, rota.data, when))
        members.append((name, data, when))
    weak = root / "extraction-weak.zip"
    weak.write_bytes(formats.zip_bytes(members))
    bare = root / "case-weak"
    assert _cli("case", "init", bare, "--case-id", "EM-23b", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", weak, "--case", bare, "--quiet") == 0
    assert _cli("triage", "--case", bare, "--quiet") in (0, 3)
    key = json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))
    key["items"]["extraction"]["sha256"] = hashlib.sha256(weak.read_bytes()).hexdigest()
    weak_key = root / "answer-key-weak.json"
    weak_key.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    return {"case": case, "bare": bare, "key": sample / "answer-key.json", "weak_key": weak_key}


def test_triage_finds_them_and_the_check_grades_them(forensic, cases):
    hidden, rota = layout(SEED).embedded
    photos = [p for p in forensic("photos", "--case", cases["case"], "--json").jsonl() if p["recovery"] == "embedded"]
    by_sha = {}
    for p in photos:
        by_sha.setdefault(p["sha256"], []).append(p)
    assert sorted(by_sha) == sorted([hidden.sha256, rota.sha256])
    for e, tail in ((hidden, f"{HIDDEN_FILE} › JPEG @ offset 0x624 (embedded)"), (rota, f"{ROTA_DOCX} › {ROTA_PART}")):
        assert sorted(p["item"] for p in by_sha[e.sha256]) == ["extraction.zip", "phone.raw"]
        for p in by_sha[e.sha256]:
            assert p["locator"].endswith(tail)
            assert abs(p["lat"] - e.plan.lat) < 1e-5 and abs(p["lon"] - e.plan.lon) < 1e-5
    report = forensic("training", "check", cases["key"], "--case", cases["case"], "--json", expect=None).json()
    key = json.loads(cases["key"].read_text(encoding="utf-8"))
    facts = [f for f in key["facts"] if f["kind"] == "embedded_photo"]
    assert sorted((f["item"], f["expected"]["container"], f["expected"]["where"]) for f in facts) == sorted(
        [("phone", "/" + HIDDEN_FILE, "JPEG @ offset 0x624"), ("phone", "/" + ROTA_DOCX, ROTA_PART),
         ("extraction", "/" + EXTRACTION_PREFIX + HIDDEN_FILE, "JPEG @ offset 0x624"),
         ("extraction", "/" + EXTRACTION_PREFIX + ROTA_DOCX, ROTA_PART)])
    assert all(f["expected"]["recovery"] == "embedded" and f["feedback"] == EMBEDDED_FEEDBACK for f in facts)
    assert [x for x in report["missed"] + report["wrong"] if x["item"] != "card"      # the card not added
            and x["kind"] not in ("report_finding", "pseudonymised_export", "bundle_sources", "place_export",
                                  "known_bad_file", "known_good_count", *SEARCH_KINDS)] == []  # no export, set, search


def test_an_extraction_without_them_is_told_what_it_missed(forensic, cases):
    report = forensic("training", "check", cases["weak_key"], "--case", cases["bare"], "--json", expect=None).json()
    bad = [x for x in report["missed"] + report["wrong"] if x["item"] == "extraction"
           and x["kind"] not in ("known_bad_file", "known_good_count", *SEARCH_KINDS)]   # no sets nor searches
    assert [x["id"] for x in bad if x["kind"] == "file_count"] == ["file_count-03"]   # the loose picture: one more
    bad = [x for x in bad if x["kind"] != "file_count"]
    assert sorted((x["kind"], x["status"]) for x in bad) == [("embedded_photo", "missed"), ("embedded_photo", "wrong")]
    missed = next(x for x in bad if x["status"] == "missed")
    assert "notes.bin" in missed["detail"]
    wrong = next(x for x in bad if x["status"] == "wrong")
    # the case lists the Dump/ tree under device paths (Dump/data/x as /data/x)
    assert f"listed as /{LOOSE.removeprefix('Dump/')}" in wrong["detail"] and "not as embedded" in wrong["detail"]
    assert all(x["detail"].endswith(" — " + EMBEDDED_FEEDBACK) for x in bad)
