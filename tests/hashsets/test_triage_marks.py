"""Triage marks every file with the hash sets it is in (``hashsets``, ``known_good``,
``known_bad``); ``files`` filters by them; ``photos`` and the report leave known-good photos
out by default; a known-bad photo is never a picture anywhere: not in ``photos``, not in the
report, not in the bundle (its bytes, their base64, its EXIF thumbnail, the thumbnail made at
triage), only its hash, metadata and a grey placeholder naming its category. Hashes are
computed here from the bytes written."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from forensic.cli.main import main
from tests import casestore
from tests.builders import need
from tests.extractors.photo_scenes import camera_jpeg, scene
from tests.extractors.test_video_frames import make_video
from tests.hashsets.test_import import hashdeep, nsrl_rds_v3, vics

ROOT = "HS-1-bundle/"


def _thumb_jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    scene(seed, 160, 120).save(out, "JPEG", quality=80)
    return out.getvalue()


def with_exif_thumbnail(tmp: Path, photo: bytes, thumb: bytes) -> bytes:
    """``photo`` with ``thumb`` as its EXIF (IFD1) thumbnail, written by exiftool."""
    need("exiftool")
    (tmp / "p.jpg").write_bytes(photo)
    (tmp / "t.jpg").write_bytes(thumb)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-ThumbnailImage<=" + str(tmp / "t.jpg"),
                    str(tmp / "p.jpg")], check=True)
    return (tmp / "p.jpg").read_bytes()


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("hashsets")
    work = root / "work"
    work.mkdir()
    bad_thumb = _thumb_jpeg(91)
    bad = with_exif_thumbnail(work, camera_jpeg(scene(90, 640, 480)), bad_thumb)
    good = camera_jpeg(scene(80, 320, 240), make="Apple", model="iPhone wallpaper")
    plain = camera_jpeg(scene(70, 320, 240))
    system = b"#!/bin/sh\necho system file\n"
    lab = b"a file the lab flags\n"
    phone = root / "phone"
    (phone / "DCIM").mkdir(parents=True)
    (phone / "DCIM" / "IMG_0001.jpg").write_bytes(plain)
    (phone / "DCIM" / "IMG_0002.jpg").write_bytes(bad)
    video = make_video("mp4", "mpeg4")
    (phone / "DCIM" / "VID_0001.mp4").write_bytes(video)
    (phone / "Download").mkdir()
    (phone / "Download" / "invoice.jpg").write_bytes(bad)                  # the same picture again
    (phone / "system").mkdir()
    (phone / "system" / "wallpaper.jpg").write_bytes(good)
    (phone / "system" / "init.sh").write_bytes(system)
    (phone / "notes.txt").write_bytes(lab)
    sets = root / "sets"
    sets.mkdir()
    nsrl_rds_v3(sets / "RDS_2026.03.1_modern_minimal.db", [good, system, b"unrelated"])
    vics(sets / "vics.json", [bad, video], "2.0", category=1)
    hashdeep(sets / "lab.hashdeep", [lab])
    library = root / "library"
    c = root / "case"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORENSIC_HASHSETS", str(library))
        assert main(["hashset", "import", str(sets / "RDS_2026.03.1_modern_minimal.db"), "--name", "nsrl",
                     "--kind", "known-good"]) == 0
        assert main(["hashset", "import", str(sets / "vics.json"), "--name", "vic", "--kind", "known-bad"]) == 0
        assert main(["case", "init", str(c), "--case-id", "HS-1", "--examiner", "E"]) == 0
        assert main(["evidence", "add", str(phone), "--case", str(c), "--id", "phone"]) == 0
        assert main(["triage", "--case", str(c)]) == 0      # MD5/SHA-1 added for the VICS set
        yield {"case": c, "root": root, "sets": sets, "library": library, "mp": mp, "bad": bad,
               "bad_thumb": bad_thumb, "good": good, "plain": plain, "lab": lab}


def _files(forensic, c, *args) -> dict[str, dict]:
    return {r["path"]: r for r in forensic("files", "--case", c, "--json", "--kind", "file", *args).jsonl()}


def test_triage_marks_every_file(case, forensic):
    rows = _files(forensic, case["case"])
    assert set(rows) == {"/DCIM/IMG_0001.jpg", "/DCIM/IMG_0002.jpg", "/DCIM/VID_0001.mp4", "/Download/invoice.jpg",
                         "/system/wallpaper.jpg", "/system/init.sh", "/notes.txt"}
    for r in rows.values():
        assert {"hashsets", "known_good", "known_bad"} <= set(r)
    assert rows["/DCIM/IMG_0002.jpg"]["sha256"] == hashlib.sha256(case["bad"]).hexdigest()
    marks = {p: (r["hashsets"], r["known_good"], r["known_bad"]) for p, r in rows.items()}
    # notes.txt is in no set at triage; a test of this module that runs earlier in random order may
    # have checked the case against an alert set "lab" holding it (alert: neither good nor bad)
    notes = marks.pop("/notes.txt")
    assert notes[0] in ([], ["lab"]) and notes[1:] == (False, False)
    assert marks == {"/DCIM/IMG_0001.jpg": ([], False, False),
                     "/DCIM/IMG_0002.jpg": (["vic"], False, True),        # by MD5/SHA-1 (VICS has no SHA-256)
                     "/Download/invoice.jpg": (["vic"], False, True),
                     "/DCIM/VID_0001.mp4": (["vic"], False, True),
                     "/system/wallpaper.jpg": (["nsrl"], True, False),
                     "/system/init.sh": (["nsrl"], True, False)}
    assert rows["/DCIM/IMG_0002.jpg"]["known_bad_category"] == "1"


def test_files_filters(case, forensic):
    c = case["case"]
    assert set(_files(forensic, c, "--known-good")) == {"/system/wallpaper.jpg", "/system/init.sh"}
    assert set(_files(forensic, c, "--known-bad")) == {"/DCIM/IMG_0002.jpg", "/Download/invoice.jpg",
                                                       "/DCIM/VID_0001.mp4"}
    assert set(_files(forensic, c, "--no-known-good")) == {"/DCIM/IMG_0001.jpg", "/DCIM/IMG_0002.jpg",
                                                            "/DCIM/VID_0001.mp4", "/Download/invoice.jpg",
                                                            "/notes.txt"}


def test_photos_hide_known_good_and_never_show_known_bad(case, forensic):
    c = case["case"]
    shown = {r["path"]: r for r in forensic("photos", "--case", c, "--json").jsonl()}
    assert "/system/wallpaper.jpg" not in shown
    assert shown["/DCIM/IMG_0002.jpg"]["known_bad"] is True and shown["/DCIM/IMG_0001.jpg"]["known_bad"] is False
    videos = {r["path"]: r for r in forensic("photos", "--case", c, "--json", "--videos").jsonl()}
    assert videos["/DCIM/VID_0001.mp4"]["known_bad"] is True and "/system/wallpaper.jpg" not in videos
    every = {r["path"] for r in forensic("photos", "--case", c, "--json", "--known-good").jsonl()}
    assert "/system/wallpaper.jpg" in every
    res = forensic("photos", "--case", c)
    for out in (res.out, json.dumps(list(shown.values()))):
        for blob in (case["bad"], case["bad_thumb"]):
            assert base64.b64encode(blob).decode() not in out and base64.b64encode(blob[:48]).decode() not in out


def test_check_again_records_the_sets(case, forensic):
    c, mp = case["case"], case["mp"]
    mp.setenv("FORENSIC_HASHSETS", str(case["library"]))
    assert forensic("hashset", "import", case["sets"] / "lab.hashdeep", "--name", "lab", "--kind", "alert").code == 0
    listed = {r["name"]: r for r in forensic("hashset", "list", "--json").jsonl()}
    assert {n: r["kind"] for n, r in listed.items()} == {"lab": "alert", "nsrl": "known-good", "vic": "known-bad"}
    out = forensic("hashset", "check", "--case", c, "--json").json()
    got = {x["hashset"]: (x["hits"], x["files_checked"], x["source_sha256"]) for x in out["checks"]}
    src = hashlib.sha256((case["sets"] / "lab.hashdeep").read_bytes()).hexdigest()
    assert got["lab"] == (1, 7, src) and got["vic"][0] == 3 and got["nsrl"][0] == 2
    assert _files(forensic, c)["/notes.txt"]["hashsets"] == ["lab"]
    [entry] = forensic("custody", "log", "--case", c, "--json", "--action", "hashset.checked").jsonl()
    assert {x["hashset"] for x in entry["details"]["checks"]} == {"lab", "nsrl", "vic"}
    db = casestore.connect(c)
    assert {r[0] for r in db.execute("SELECT hashset FROM hashset_checks")} == {"lab", "nsrl", "vic"}
    db.close()
    recorded = forensic("hashset", "list", "--case", c, "--json").jsonl()
    assert [r["hashset"] for r in recorded] == ["nsrl", "vic", "lab", "nsrl", "vic"]   # at triage, then again
    assert recorded[-1]["records"] == 2 and recorded[-1]["hits"] == 3     # 2 media; the photo twice + video
    forensic("custody", "verify", "--case", c)


def test_known_bad_never_in_the_report_or_bundle(case, forensic):
    c = case["case"]
    for path in ("/DCIM/IMG_0001.jpg", "/DCIM/IMG_0002.jpg", "/Download/invoice.jpg", "/system/wallpaper.jpg",
                 "/DCIM/VID_0001.mp4"):
        forensic("tag", "add", "--case", c, "--tag", "court", f"phone \u203a {path}")
    bundle = case["root"] / "bundle.zip"
    forensic("export", "--case", c, "--out", bundle, "--tag", "court", "--no-pdf")
    with zipfile.ZipFile(bundle) as zf:
        members = {i.filename[len(ROOT):]: zf.read(i) for i in zf.infolist()}
    report = members["data/report/index.html"].decode()
    assert report.count("known-bad: 1") == 3                     # a grey placeholder with the category
    # with --include-sensitive the bytes go into the bundle, but never a picture of them
    full = case["root"] / "full.zip"
    forensic("export", "--case", c, "--out", full, "--tag", "court", "--no-pdf", "--include-sensitive")
    with zipfile.ZipFile(full) as zf:
        full_report = zf.read(ROOT + "data/report/index.html").decode()
        full_members = {i.filename[len(ROOT):]: zf.read(i) for i in zf.infolist()}
    assert full_report.count("known-bad: 1") == 3                # both photos and the video
    assert any(v == case["bad"] for k, v in full_members.items() if k.startswith("data/evidence/"))
    video_thumb = _triage_thumbnail(c, "/DCIM/VID_0001.mp4")
    shown_full = [base64.b64decode(u) for u in re.findall(r'src="data:image/[a-z]+;base64,([A-Za-z0-9+/=]*)"',
                                                          full_report)]
    thumbs = b"".join(v for k, v in full_members.items() if k.startswith("data/report/"))
    for secret in (case["bad_thumb"], _triage_thumbnail(c, "/DCIM/IMG_0002.jpg"), video_thumb):
        assert secret not in shown_full and secret not in thumbs and base64.b64encode(secret) not in thumbs
    assert hashlib.sha256(case["bad"]).hexdigest() in report     # its hash and metadata are there
    shown = [base64.b64decode(u) for u in re.findall(r'src="data:image/[a-z]+;base64,([A-Za-z0-9+/=]*)"', report)]
    assert shown, "the ordinary photo is still shown"
    blob = b"".join(members.values())
    from forensic.exporters.report.thumbnails import exif_thumbnail
    assert exif_thumbnail(case["bad"]) is not None
    triage_thumbs = _triage_thumbnail(c, "/DCIM/IMG_0002.jpg")
    for secret in (case["bad"], case["bad_thumb"], exif_thumbnail(case["bad"]), triage_thumbs):
        assert secret not in blob and base64.b64encode(secret) not in blob
        assert all(secret != s for s in shown)
    # known-good photos are left out of the gallery by default
    assert "wallpaper.jpg</code>" not in _gallery(report)
    assert "IMG_0001.jpg" in _gallery(report)
    assert "1 photo(s) in a known-good hash set not shown" in _gallery(report)
    shown_good = case["root"] / "good.zip"
    forensic("export", "--case", c, "--out", shown_good, "--tag", "court", "--no-pdf", "--show-known-good")
    with zipfile.ZipFile(shown_good) as zf:
        assert "wallpaper.jpg</code>" in _gallery(zf.read(ROOT + "data/report/index.html").decode())
    forensic("verify-bundle", bundle, expect=5)


def _gallery(report: str) -> str:
    start = report.index('<section id="gallery">')
    return report[start:report.index("</section>", start)]


def known_bad_phone_case(root: Path, dcim: dict[str, bytes], bad: list[bytes], case_id: str) -> Path:
    """The triaged case (``root/case``) of a phone folder whose DCIM holds ``dcim`` (name ->
    bytes), ``bad`` imported first as the VICS known-bad set ``vic`` of a library in ``root``."""
    phone = root / "phone" / "DCIM"
    phone.mkdir(parents=True)
    for name, data in dcim.items():
        (phone / name).write_bytes(data)
    vics(root / "vics.json", bad, "1.3", category=2)
    case = root / "case"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORENSIC_HASHSETS", str(root / "library"))
        assert main(["hashset", "import", str(root / "vics.json"), "--name", "vic", "--kind", "known-bad"]) == 0
        assert main(["case", "init", str(case), "--case-id", case_id, "--examiner", "E"]) == 0
        assert main(["evidence", "add", str(root / "phone"), "--case", str(case), "--id", "phone"]) == 0
        assert main(["triage", "--case", str(case)]) == 0
    return case


def _triage_thumbnail(c: Path, path: str) -> bytes:
    from forensic.case import Case
    from forensic.store import similar
    case = Case.open(c)
    try:
        ids = {p.file_id for p in similar.photos(case.db) if p.locator.endswith(path)}
        [b64] = similar.thumbnails(case.db, ids).values()
        return base64.b64decode(b64)
    finally:
        case.close()


def test_viewing_known_bad_content_is_explicit_and_logged(case, forensic, tmp_path):
    c = case["case"]
    out = tmp_path / "view"
    forensic("files", "--case", c, "--known-bad", "--show-known-bad", out, "--reason", "categorise for court")
    sha = hashlib.sha256(case["bad"]).hexdigest()
    video = hashlib.sha256((case["root"] / "phone" / "DCIM" / "VID_0001.mp4").read_bytes()).hexdigest()
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{sha}.jpg", f"{video}.mp4"])   # each content once
    assert (out / f"{sha}.jpg").read_bytes() == case["bad"]
    [entry] = forensic("custody", "log", "--case", c, "--json", "--action", "file.viewed").jsonl()
    assert entry["details"]["reason"] == "categorise for court"
    viewed = {f["locator"].rsplit("/", 1)[-1] for f in entry["details"]["files"]}
    assert viewed == {"IMG_0002.jpg", "invoice.jpg", "VID_0001.mp4"}
    assert forensic("files", "--case", c, "--reason", "x", expect=2).code == 2
    res = forensic("files", "--case", c, "--known-good", "--show-known-bad", tmp_path / "v2", expect=2)
    assert "no known-bad file" in res.err and not (tmp_path / "v2").exists()
    forensic("custody", "verify", "--case", c)
