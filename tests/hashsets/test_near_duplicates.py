"""A known-bad photo resized and re-compressed, without its EXIF, has another SHA-256: no hash
set matches it. Its perceptual hash is within the near-duplicate distance of the known-bad
one's, so it is ``suspected_known_bad`` and shown as a known-bad photo is: a placeholder in
``photos``, ``serve``, the report and the bundle, its bytes withheld. The ordinary photo beside
them is shown (so the test can fail)."""
from __future__ import annotations

import base64
import io
import json
import re
import zipfile

import pytest
from PIL import Image

from forensic.cli.main import main
from tests import casestore
from tests.extractors.photo_scenes import camera_jpeg, scene
from tests.hashsets.test_triage_marks import _triage_thumbnail, known_bad_phone_case


def _resized(jpeg: bytes) -> bytes:
    img = Image.open(io.BytesIO(jpeg))
    out = io.BytesIO()
    img.resize((img.width // 2, img.height // 2)).save(out, "JPEG", quality=60)    # no EXIF
    return out.getvalue()


@pytest.fixture(scope="module")
def case_with_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("near-known-bad")
    bad = camera_jpeg(scene(60, 480, 360))
    copy = _resized(bad)
    plain = camera_jpeg(scene(62, 320, 240))
    case = known_bad_phone_case(root, {"IMG_0001.jpg": plain, "IMG_0002.jpg": bad, "small.jpg": copy}, [bad], "NB-1")
    return {"root": root, "case": case, "bad": bad, "copy": copy, "plain": plain,
            "copy_thumb": _triage_thumbnail(case, "/DCIM/small.jpg"),
            "plain_thumb": _triage_thumbnail(case, "/DCIM/IMG_0001.jpg")}


def test_the_copy_is_suspected_in_photos(case_with_copy, capsys):
    case = case_with_copy["case"]
    capsys.readouterr()
    assert main(["photos", "--json", "--case", str(case)]) == 0
    rows = {r["locator"].rsplit("/", 1)[-1]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["IMG_0002.jpg"]["known_bad"] and rows["IMG_0002.jpg"]["suspected_known_bad"] is None
    suspect = rows["small.jpg"]["suspected_known_bad"]
    assert not rows["small.jpg"]["known_bad"] and suspect is not None
    assert suspect["like"]["locator"].endswith("IMG_0002.jpg") and suspect["distance"] <= 8
    assert rows["IMG_0001.jpg"]["suspected_known_bad"] is None and not rows["IMG_0001.jpg"]["known_bad"]


def test_the_copy_is_never_a_picture_in_the_bundle(case_with_copy, tmp_path):
    case, copy = case_with_copy["case"], case_with_copy["copy"]
    out = tmp_path / "bundle.zip"
    assert main(["export", "--type", "photos", "--out", str(out), "--case", str(case)]) in (0, 3)
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        blobs = {n: z.read(n) for n in names}
    assert not any(n.endswith("/small.jpg") and "/evidence/" in n for n in names)
    assert any(n.endswith("/IMG_0001.jpg") and "/evidence/" in n for n in names)     # the ordinary one is there
    files = [json.loads(line) for n, b in blobs.items() if n.endswith("data/files.jsonl")
             for line in b.decode().splitlines()]
    small = next(f for f in files if f["locator"].endswith("small.jpg"))
    assert small["withheld"] and small["suspected_known_bad"]["like"]["locator"].endswith("IMG_0002.jpg")
    html = next(b for n, b in blobs.items() if n.endswith("report/index.html"))
    assert base64.b64encode(case_with_copy["plain_thumb"]) in html            # the ordinary one is pictured
    everything = b"".join(blobs.values())
    for secret in (copy, case_with_copy["copy_thumb"]):
        assert secret not in everything and base64.b64encode(secret) not in everything
    assert b"near-duplicate of a known-bad photo" in html


def test_the_copy_is_never_a_picture_in_serve(case_with_copy):
    pytest.importorskip("starlette")
    from tests.serve.conftest import start_server, stop_server
    from tests.serve.test_security import request
    case = case_with_copy["case"]
    db = casestore.connect(case)
    ids = {path: fid for fid, path in db.execute("SELECT id, path FROM files WHERE kind = 'file'")}
    db.close()
    server = start_server(case, None)
    try:
        r = request(server, "GET", f"/?token={server.token}")
        cookie = r.getheader("Set-Cookie").split(";", 1)[0]
        gallery = request(server, "GET", "/gallery", cookie=cookie)
        pages = [gallery.body]
        for artifact in sorted(set(re.findall(rb'href="/photo/(\d+)"', gallery.body))):
            pages.append(request(server, "GET", f"/photo/{artifact.decode()}", cookie=cookie).body)
        shown = {int(x) for body in pages for x in re.findall(rb"/thumb/(\d+)\.jpg", body)}
        assert ids["/DCIM/IMG_0001.jpg"] in shown
        assert ids["/DCIM/small.jpg"] not in shown
        assert request(server, "GET", f"/thumb/{ids['/DCIM/small.jpg']}.jpg", cookie=cookie).status == 404
        blob = b"".join(pages)
        for secret in (case_with_copy["copy"], case_with_copy["copy_thumb"]):
            assert secret not in blob and base64.b64encode(secret) not in blob
    finally:
        stop_server(server)
