"""Thumbnails made at triage in the bundle's report: each selected photo's and video's (its
first key frame) shown as a data: URI, held as a member of its own under
data/report/thumbnails/ (in the manifest), so verify-bundle checks the picture; a photo or
video tagged sensitive shows none and its thumbnail is nowhere in the bundle."""
from __future__ import annotations

import base64
import re
import zipfile

import pytest

from forensic.cli.main import main
from tests.extractors.photo_scenes import camera_jpeg, scene
from tests.extractors.test_video_frames import make_video

ROOT = "TH-1-bundle/"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle-thumbs")
    dcim = root / "phone" / "DCIM"
    dcim.mkdir(parents=True)
    (dcim / "IMG_0001.jpg").write_bytes(camera_jpeg(scene(1, 640, 480)))
    (dcim / "IMG_0002.jpg").write_bytes(camera_jpeg(scene(2, 640, 480)))      # tagged sensitive
    (dcim / "VID_0001.mp4").write_bytes(make_video("mp4", "mpeg4"))
    (dcim / "VID_0002.mp4").write_bytes(make_video("matroska", "mpeg4", frames=20, first=6))   # tagged sensitive
    case = root / "case"
    assert main(["case", "init", str(case), "--case-id", "TH-1", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(root / "phone"), "--case", str(case), "--id", "phone"]) == 0
    assert main(["triage", "--case", str(case)]) in (0, 3)
    for name in ("IMG_0001.jpg", "VID_0001.mp4"):
        assert main(["tag", "add", "--case", str(case), "--tag", "court", f"phone \u203a /DCIM/{name}"]) == 0
    for name in ("IMG_0002.jpg", "VID_0002.mp4"):
        assert main(["tag", "add", "--case", str(case), "--tag", "court", f"phone \u203a /DCIM/{name}",
                     "--sensitive"]) == 0
    bundle = root / "bundle.zip"
    assert main(["export", "--case", str(case), "--out", str(bundle), "--tag", "court"]) == 0
    with zipfile.ZipFile(bundle) as zf:
        members = {i.filename[len(ROOT):]: zf.read(i) for i in zf.infolist()}
    return {"bundle": bundle, "case": case, "members": members}


def _stored_thumbnails(case) -> dict[str, bytes]:
    """The thumbnails made at triage, by file name, read from the case the toolkit's way."""
    from forensic.case import Case
    from forensic.store import similar
    c = Case.open(case)
    try:
        names = {p.file_id: p.locator.rsplit("/", 1)[-1] for p in similar.photos(c.db)}
        return {names[i]: base64.b64decode(jpeg) for i, jpeg in similar.thumbnails(c.db, names).items()}
    finally:
        c.close()


def test_report_shows_triage_thumbnails_and_bundle_verifies(exported, forensic):
    members, stored = exported["members"], _stored_thumbnails(exported["case"])
    assert set(stored) == {"IMG_0001.jpg", "IMG_0002.jpg", "VID_0001.mp4", "VID_0002.mp4"}
    thumbs = {k: v for k, v in members.items() if k.startswith("data/report/thumbnails/")}
    assert sorted(k.rsplit("/", 1)[-1] for k in thumbs) == ["IMG_0001.jpg.jpg", "VID_0001.mp4.jpg"]
    manifest = members["manifest-sha256.txt"].decode()
    for name in thumbs:
        assert name in manifest
    report = members["data/report/index.html"].decode()
    shown = [base64.b64decode(u) for u in re.findall(r'<img src="data:image/jpeg;base64,([A-Za-z0-9+/=]*)"', report)]
    assert stored["IMG_0001.jpg"] in shown and stored["VID_0001.mp4"] in shown
    assert "default-src 'none'; img-src data:" in report
    res = forensic("verify-bundle", exported["bundle"], expect=5)      # 5: intact, not signed
    assert res.out.startswith("INTACT, UNSIGNED: ")


def test_sensitive_thumbnails_never_in_the_bundle(exported):
    stored = _stored_thumbnails(exported["case"])
    blob = b"".join(exported["members"].values())
    for name in ("IMG_0002.jpg", "VID_0002.mp4"):
        jpeg = stored[name]
        assert jpeg not in blob and base64.b64encode(jpeg) not in blob
    report = exported["members"]["data/report/index.html"].decode()
    assert report.count("withheld (sensitive)") >= 2


@pytest.mark.parametrize(("shown", "swapped_for"), [("IMG_0001.jpg", "IMG_0002.jpg"),
                                                    ("VID_0001.mp4", "VID_0002.mp4")])
def test_a_swapped_thumbnail_is_caught(exported, tmp_path, forensic, shown, swapped_for):
    """The report's picture of a photo or video replaced by another picture (and the report's
    manifest line re-hashed): verify-bundle says the picture is not that file's."""
    import hashlib
    members = dict(exported["members"])
    stored = _stored_thumbnails(exported["case"])
    report = members["data/report/index.html"]
    old, new = base64.b64encode(stored[shown]), base64.b64encode(stored[swapped_for])
    assert old in report
    members["data/report/index.html"] = report.replace(old, new)
    manifest = members["manifest-sha256.txt"].decode().replace(
        hashlib.sha256(report).hexdigest(), hashlib.sha256(members["data/report/index.html"]).hexdigest())
    members["manifest-sha256.txt"] = manifest.encode()
    tag = members["tagmanifest-sha256.txt"].decode().replace(
        hashlib.sha256(exported["members"]["manifest-sha256.txt"]).hexdigest(),
        hashlib.sha256(members["manifest-sha256.txt"]).hexdigest())
    members["tagmanifest-sha256.txt"] = tag.encode()
    out = tmp_path / "swapped.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(ROOT + name, data)
    res = forensic("verify-bundle", out, expect=None)
    assert res.code == 4 and "the report's picture of" in res.out and shown in res.out
