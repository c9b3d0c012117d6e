"""Cross-checks of a bundle with the real, independent tools (skipped when a tool is missing):
``bagit.py --validate`` (Library of Congress bagit), ``minisign -V``, ``case_validate``
(case-utils), the stand-alone custody verifier (docs/verify_custody.py), and the report
rendered by headless Chromium with no network request."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.exporters.test_bundle import CASE_ID, built, cli  # noqa: F401  (module fixture)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
    if path is None:
        pytest.skip(f"{name} is not installed (run scripts/setup.sh)")
    return path


@pytest.fixture(scope="module")
def bag(built, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(built["bundle"]) as zf:
        zf.extractall(out)
    return out / f"{CASE_ID}-bundle"


def test_bagit_validates(bag):
    res = subprocess.run([tool("bagit.py"), "--validate", str(bag)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "is valid" in res.stderr


def test_bagit_catches_an_altered_file(bag, tmp_path):
    copy = tmp_path / "bag"
    shutil.copytree(bag, copy)
    target = next((copy / "data" / "evidence").rglob("IMG_0001.jpg"))
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    res = subprocess.run([tool("bagit.py"), "--validate", str(copy)], capture_output=True, text=True)
    assert res.returncode != 0 and "IMG_0001.jpg" in res.stderr


def test_minisign_verifies_the_tag_manifest(bag, built):  # noqa: F811
    minisign = tool("minisign")
    for pub in (bag / "examiner.pub", built["pub"]):
        res = subprocess.run([minisign, "-V", "-p", str(pub), "-m", str(bag / "tagmanifest-sha256.txt"),
                              "-x", str(bag / "tagmanifest-sha256.txt.minisig")], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        assert "tagmanifest-sha256=" in res.stdout


def test_minisign_rejects_an_edited_tag_manifest(bag, tmp_path):
    edited = tmp_path / "tagmanifest-sha256.txt"
    edited.write_bytes((bag / "tagmanifest-sha256.txt").read_bytes().replace(b"bagit.txt", b"bagit.tx_"))
    res = subprocess.run([tool("minisign"), "-V", "-p", str(bag / "examiner.pub"), "-m", str(edited),
                          "-x", str(bag / "tagmanifest-sha256.txt.minisig")], capture_output=True, text=True)
    assert res.returncode != 0


def test_full_custody_verifies_with_the_stand_alone_verifier(built, tmp_path):  # noqa: F811
    out = tmp_path / "full.zip"
    assert cli("export", "--case", built["case"], "--out", out, "--tag", "court", "--full-custody") == 0
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path / "x")
    custody = tmp_path / "x" / f"{CASE_ID}-bundle" / "data" / "custody"
    res = subprocess.run([sys.executable, str(REPO / "docs" / "verify_custody.py"), str(custody)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    got = json.loads(res.stdout)
    assert got["ok"] is True and got["entries"] > 10
    from forensic.exporters.verify import verify_bundle
    rep = verify_bundle(out)
    assert rep.intact and rep.custody == "valid" and rep.custody_entries == got["entries"]


def test_case_uco_content(bag):
    from tests.exporters.test_bundle import FILES, sha
    doc = json.loads((bag / "data" / "case.jsonld").read_text("utf-8"))
    types = {}
    for n in doc["@graph"]:
        types.setdefault(n["@type"], []).append(n)
    for t in ("observable:File", "observable:Message", "observable:MessageThread", "location:Location",
              "investigation:InvestigativeAction", "investigation:ProvenanceRecord", "investigation:Investigation"):
        assert t in types, t
    text = json.dumps(doc)
    assert sha(FILES["/DCIM/Camera/IMG_0001.jpg"]).upper() in text
    assert "observable:EXIFFacet" in text and "location:LatLongCoordinatesFacet" in text
    assert sha(FILES["/docs/private.txt"]).upper() in text and "very private" not in text
    assert {a["core:name"] for a in types["investigation:InvestigativeAction"]} >= {"file.recorded", "export.created"}


def test_case_uco_validates(bag):
    res = subprocess.run([tool("case_validate"), str(bag / "data" / "case.jsonld")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "Conforms: True" in res.stdout


SECTIONS = ("case", "items", "selection", "files", "gallery", "map", "chats", "timeline", "custody", "limitations")


def test_report_is_self_contained(bag):
    html = (bag / "data" / "report" / "index.html").read_text("utf-8")
    assert not re.search(r"<script", html, re.I)
    assert not re.search(r"<(link|iframe|object|embed|video|audio|source|base)\b", html, re.I)
    sources = re.findall(r"\bsrc\s*=\s*(\S{0,6})", html, re.I)
    assert sources and all(s.startswith('"data:') for s in sources), "only data: URIs may be loaded"
    assert not re.search(r"url\(", html, re.I) and "@import" not in html
    links = re.findall(r"<a\b[^>]*href=\"([^\"]+)\"", html)
    external = [x for x in links if x.startswith("http")]
    assert external and all(x.startswith("https://www.openstreetmap.org/?mlat=") for x in external)
    # evidence strings are escaped: the chat's <script> is text, not markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Lab &lt;North&gt;" in html


def test_report_renders_offline_in_chromium(bag, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (run scripts/setup.sh)")
    report = bag / "data" / "report" / "index.html"
    netlog = tmp_path / "net.json"
    res = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
                          "--disable-default-apps", "--no-pings", f"--user-data-dir={tmp_path / 'profile'}",
                          f"--log-net-log={netlog}", "--net-log-capture-mode=Default",
                          "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    dom = res.stdout
    assert res.returncode == 0 and dom, res.stderr[-2000:]
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in dom, sid
    assert "IMG_0001.jpg" in dom and "Recruiter" in dom and "withheld" in dom
    assert '<img src="data:image/jpeg;base64,' in dom            # the gallery's thumbnail
    assert "<svg" in dom and "<circle" in dom                    # the offline map
    assert "<script>alert(1)" not in dom
    # the browser's own background traffic aside, nothing the report names was requested
    log = netlog.read_text("utf-8", "replace") if netlog.exists() else ""
    requested = set(re.findall(r'"url":"([^"]+)"', log))
    html = report.read_text("utf-8")
    assert not [u for u in requested if u.startswith("http") and (u in html or "openstreetmap" in u)]
    assert not [u for u in requested if u.startswith("file:") and u != report.as_uri()]
