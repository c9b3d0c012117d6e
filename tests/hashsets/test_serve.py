"""``forensic serve`` never shows a known-bad photo as a picture: not in the gallery, not on its
photo page, not at its thumbnail address, nor the same content under another name; the
ordinary photo beside it is shown (so the test can fail). The real server, over plain HTTP."""
from __future__ import annotations

import base64
import re

import pytest

from tests import casestore
from tests.extractors.photo_scenes import camera_jpeg, scene
from tests.hashsets.test_triage_marks import _thumb_jpeg, _triage_thumbnail, known_bad_phone_case, with_exif_thumbnail
from tests.serve.conftest import start_server, stop_server
from tests.serve.test_security import request


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    pytest.importorskip("starlette")
    root = tmp_path_factory.mktemp("serve-known-bad")
    work = root / "work"
    work.mkdir()
    bad_thumb = _thumb_jpeg(61)
    bad = with_exif_thumbnail(work, camera_jpeg(scene(60, 480, 360)), bad_thumb)
    plain = camera_jpeg(scene(62, 320, 240))
    case = known_bad_phone_case(root, {"IMG_0001.jpg": plain, "IMG_0002.jpg": bad, "copy.jpg": bad}, [bad], "SRV-1")
    db = casestore.connect(case)
    ids = {path: fid for fid, path in db.execute("SELECT id, path FROM files WHERE kind = 'file'")}
    db.close()
    server = start_server(case, None)
    try:
        r = request(server, "GET", f"/?token={server.token}")
        cookie = r.getheader("Set-Cookie").split(";", 1)[0]
        yield {"server": server, "cookie": cookie, "ids": ids, "bad": bad, "bad_thumb": bad_thumb,
               "triage_thumb": _triage_thumbnail(case, "/DCIM/IMG_0002.jpg"), "case": case}
    finally:
        stop_server(server)


def _get(s, path: str):
    return request(s["server"], "GET", path, cookie=s["cookie"])


def test_known_bad_is_never_a_picture_in_serve(served):
    from forensic.exporters.report.thumbnails import exif_thumbnail
    ids = served["ids"]
    gallery = _get(served, "/gallery")
    assert gallery.status == 200
    pages = [gallery.body]
    for artifact in sorted(set(re.findall(rb'href="/photo/(\d+)"', gallery.body))):
        page = _get(served, f"/photo/{artifact.decode()}")
        assert page.status == 200
        pages.append(page.body)
    assert len(pages) == 4                      # the gallery and the three photos' pages
    shown = set()
    for body in pages:
        shown |= {int(x) for x in re.findall(rb"/thumb/(\d+)\.jpg", body)}
    assert ids["/DCIM/IMG_0001.jpg"] in shown                   # the ordinary photo is shown
    assert not shown & {ids["/DCIM/IMG_0002.jpg"], ids["/DCIM/copy.jpg"]}
    for name in ("/DCIM/IMG_0002.jpg", "/DCIM/copy.jpg"):
        assert _get(served, f"/thumb/{ids[name]}.jpg").status == 404
    plain = _get(served, f"/thumb/{ids['/DCIM/IMG_0001.jpg']}.jpg")
    assert plain.status == 200 and plain.body.startswith(b"\xff\xd8")
    blob = b"".join(pages) + plain.body
    for secret in (served["bad"], served["bad_thumb"], exif_thumbnail(served["bad"]), served["triage_thumb"]):
        assert secret not in blob and base64.b64encode(secret) not in blob
