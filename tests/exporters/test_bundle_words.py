"""Words (issue 17): "withheld" is only what the examiner held back; a selected file whose
content could not be read at triage is "not recoverable", in every member that speaks of it.

The evidence is real: a ZIP of three JPEG photos made with Pillow, one tagged sensitive, one
whose deflated bytes were zeroed after it was written (triage cannot read it: no SHA-256),
triaged and exported by the CLI, and the bundle checked by ``verify-bundle``.
"""
from __future__ import annotations

import html
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

SENSITIVE, BROKEN, KEPT = "ev.zip \u203a private.jpg", "ev.zip \u203a broken.jpg", "ev.zip \u203a ok.jpg"


def _jpeg(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, "JPEG")
    return out.getvalue()


def _evidence(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, colour in (("private.jpg", "red"), ("broken.jpg", "blue"), ("ok.jpg", "green")):
            zf.writestr(name, _jpeg(colour))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("broken.jpg")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 20:start + info.compress_size - 10] = bytes(info.compress_size - 30)   # its blocks zeroed
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from forensic.cli.main import main

    def cli(*args) -> int:
        return main([str(a) for a in args])

    tmp = tmp_path_factory.mktemp("words")
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", "WORDS-1", "--examiner", "Ada") == 0
    assert cli("evidence", "add", _evidence(tmp / "ev.zip"), "--case", case, "--id", "z") == 0
    assert cli("triage", "--case", case) in (0, 3)
    assert cli("tag", "add", "--case", case, "--tag", "court", BROKEN, KEPT) == 0
    assert cli("tag", "add", "--case", case, "--tag", "court", "--sensitive", SENSITIVE) == 0
    return {"case": case, "out": tmp / "b.zip"}


@pytest.fixture(scope="module")
def made(bundle):
    # the installed command, so that its stderr line (the counts said in words) is read as a user sees it
    forensic = Path(sys.executable).with_name("forensic")
    res = subprocess.run([str(forensic), "export", "--case", str(bundle["case"]), "--out", str(bundle["out"]),
                          "--tag", "court", "--no-pdf", "--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    with zipfile.ZipFile(bundle["out"]) as zf:
        members = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    return {"summary": summary, "members": members, "stderr": res.stderr, "path": bundle["out"]}


def test_the_broken_photo_really_is_unreadable(made):
    rows = {r["locator"]: r for r in map(json.loads, made["members"]["data/files.jsonl"].splitlines())}
    assert rows[BROKEN]["sha256"] is None and rows[KEPT]["sha256"] and rows[SENSITIVE]["sha256"]


def test_summary_and_bag_info_count_withheld_and_not_recoverable_apart(made):
    s = made["summary"]
    assert (s["files"], s["withheld"], s["not_recoverable"]) == (1, 1, 1)
    bag = made["members"]["bag-info.txt"].decode()
    assert "Withheld-Items: 1\n" in bag and "Not-Recoverable-Items: 1\n" in bag
    assert "1 withheld, 1 not recoverable" in made["stderr"]


def test_files_jsonl_says_which_is_which(made):
    rows = {r["locator"]: r for r in map(json.loads, made["members"]["data/files.jsonl"].splitlines())}
    held, lost, kept = rows[SENSITIVE], rows[BROKEN], rows[KEPT]
    assert held["withheld"] is True and held["withheld_reason"].startswith("tagged sensitive")
    assert not held.get("not_recoverable")
    assert lost["withheld"] is False and "withheld_reason" not in lost
    assert lost["not_recoverable"] is True
    assert lost["not_recoverable_reason"].startswith("content could not be read completely at triage")
    assert held["bag_path"] is None and lost["bag_path"] is None and kept["bag_path"] == "data/evidence/z/ok.jpg"
    assert kept["withheld"] is False and not kept.get("not_recoverable")
    assert list(made["members"]) and not any(n.endswith(("private.jpg", "broken.jpg")) for n in made["members"])


def test_case_uco_describes_each_in_its_words(made):
    graph = json.loads(made["members"]["data/case.jsonld"])["@graph"]
    desc = {n["core:name"]: n["core:description"] for n in graph
            if n.get("@type") == "observable:File" and n.get("core:name", "").endswith(".jpg")}
    assert desc["private.jpg"] == SENSITIVE + " (withheld from the bundle by the examiner: sensitive)"
    assert desc["broken.jpg"] == BROKEN + " (not recoverable: its content could not be read completely at triage)"
    assert desc["ok.jpg"] == KEPT + " stored as data/evidence/z/ok.jpg"
    export = next(n for n in graph if n.get("core:name") == "export.created" and "this bundle" in
                  n.get("core:description", ""))
    by_id = {n["@id"]: n for n in graph}
    assert [by_id[o["@id"]]["core:name"] for o in export["action:object"]] == ["ok.jpg"]


def test_statements_and_verify_agree_with_the_words(made, forensic):
    out = forensic("verify-bundle", made["path"], "--json", expect=None).json()
    assert out["intact"] is True and out["custody"] == "valid"
    assert out["disagreements"] == [] and out["problems"] == []
    # the hash statements read case.jsonld's descriptions: all three files' hashes compared
    assert out["hashes_compared"] >= 3


def test_report_says_withheld_and_not_recoverable(made):
    page = made["members"]["data/report/index.html"].decode()
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    summary = text[:text.index("Case details")] if "Case details" in text else text
    assert "1 file and 0 messages withheld by the examiner" in summary
    assert "1 selected file not recoverable" in summary
    assert "1 files exported, 2 not exported (withheld or not recoverable)" in text
    assert re.search(r"ev\.zip › broken\.jpg not recoverable", text)
    assert re.search(r"ev\.zip › private\.jpg withheld", text)
    assert "broken.jpg (693 bytes): withheld" not in text and not re.search(r"broken\.jpg[^.]{0,40}withheld", text)
