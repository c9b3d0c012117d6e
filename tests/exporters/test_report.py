"""The bundle's report as its readers see it: a real case (ext4 image made by mke2fs, a WhatsApp
export of 30 messages, photos), tagged with notes that carry hostile markup, exported; the report
opened by headless Chromium without network.

Checked: the summary and the integrity verdict at the top, the findings (the tag's note as the
narrative, its items in time order), a conversation exported in part ("2 of 30 messages
(selected)" and the gaps marked), the custody summary, the words (withheld / not recoverable),
and that evidence strings (``<script>``, quotes) stay text.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from builders import ext4_image, tiny_jpeg
from forensic.chain_of_custody.signing import Signer, write_keypair
from tests.extractors import fixtures_photo as FP

CASE_ID = "CASE-R1"
HOSTILE_NOTE = 'Recruiter\'s offer <script>alert("note")</script> & "quoted" <img src=x onerror=alert(2)>'
LINES = ["01/03/2021, 09:00 - Messages and calls are end-to-end encrypted."]
for i in range(1, 30):
    who = "Recruiter" if i % 2 else "Maria"
    text = f"message number {i}"
    if i == 7:
        text = 'Come to <script>alert("chat")</script> the "office" & sign'
    LINES.append(f"01/03/2021, {9 + i // 60:02d}:{i % 60:02d} - {who}: {text}")
CHAT = "\n".join(LINES) + "\n"
CHAT_PATH = "/WhatsApp/Chat with Recruiter.txt"
FILES = {
    "/DCIM/Camera/IMG_0001.jpg": FP.good_jpeg(),
    "/DCIM/Camera/plain.jpg": tiny_jpeg(),
    CHAT_PATH: CHAT.encode(),
    "/docs/private.txt": b"very private words\n",
}
PREFIX = "ext4.img \u203a file system (ext4) \u203a "
ROOT = f"{CASE_ID}-bundle/"


def cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    img = ext4_image(tmp, FILES)
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", CASE_ID, "--examiner", "Ada <Examiner>",
               "--organisation", "Lab \"North\"") == 0
    assert cli("evidence", "add", img, "--id", "PHONE1", "--case", case) == 0
    assert cli("triage", "--case", case) in (0, 3)
    from forensic.case import Case
    from forensic.store import selection as store_selection
    rows = store_selection.chat_messages(Case.open(case).db, "PHONE1")
    by_body = {r.fields.get("body"): r.id for r in rows}
    seventh, twentieth = by_body[LINES[7].split(": ", 1)[1]], by_body["message number 20"]
    signer = Signer.generate("Ada <Examiner>")
    key, pub = write_keypair(signer, tmp / "keys")
    assert cli("tag", "add", "--case", case, "--tag", "offer", "--note", HOSTILE_NOTE,
               f"message:{seventh}", f"message:{twentieth}", PREFIX + "/DCIM/Camera/IMG_0001.jpg") == 0
    assert cli("tag", "add", "--case", case, "--tag", "offer", "--sensitive", PREFIX + "/docs/private.txt") == 0
    bundle = tmp / "bundle.zip"
    assert cli("export", "--case", case, "--out", bundle, "--tag", "offer", "--key", key,
               "--recipient", "Prosecutor <P>") == 0
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(tmp / "x")
    report = tmp / "x" / ROOT / "data" / "report" / "index.html"
    return {"tmp": tmp, "case": case, "bundle": bundle, "pub": pub, "report": report,
            "html": report.read_text("utf-8"), "ids": (seventh, twentieth)}


def section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', html, re.S)
    assert m, sid
    return m[1]


def text(fragment: str) -> str:
    """What a reader sees: tags dropped, entities of the report's own text read."""
    out = re.sub(r"<[^>]+>", " ", fragment)
    for a, b in (("&#8212;", "\u2014"), ("&#183;", "\u00b7"), ("&#8250;", "\u203a"), ("&#8220;", "\u201c"),
                 ("&#8221;", "\u201d"), ("&#8230;", "\u2026")):
        out = out.replace(a, b)
    return re.sub(r"\s+", " ", out)


def test_summary_and_verdict_come_first(made):
    html = made["html"]
    sections = re.findall(r'<section id="([a-z]+)">', html)
    assert sections[:2] == ["summary", "findings"]
    summary = text(section(html, "summary"))
    assert f"evidence bundle of case {CASE_ID}" in summary
    assert "Prosecutor &lt;P&gt;" in section(html, "summary")          # who it is for, escaped
    assert "Integrity at export: VERIFIED" in summary
    assert "forensic verify-bundle BUNDLE.zip --pubkey EXAMINER.pub" in summary
    assert "verify_custody.py data/custody" in summary
    assert "1 file and 0 messages withheld by the examiner" in summary
    signer_fp = re.search(r"fingerprint ([0-9a-f]{64})", summary)
    assert signer_fp, "the verdict names the key to compare"


def test_findings_tell_the_note_and_the_items_in_time_order(made):
    findings = section(made["html"], "findings")
    # the note is the narrative, once, escaped
    assert findings.count('<p class="note">') == 1
    assert ("Recruiter&#x27;s offer &lt;script&gt;alert(&quot;note&quot;)&lt;/script&gt; &amp; "
            "&quot;quoted&quot; &lt;img src=x onerror=alert(2)&gt;") in findings
    items = re.findall(r"<li>(.*?)</li>", findings, re.S)
    seen = [text(i) for i in items]
    assert len(seen) == 4           # the photo, two messages, the withheld file
    chats = [s for s in seen if "WhatsApp message from" in s]
    assert "message from Recruiter" in chats[0] and "Come to &lt;script&gt;" in chats[0]
    assert "message number 20" in chats[1]
    assert seen.index(chats[0]) < seen.index(chats[1])        # time order
    assert any("private.txt" in s and "withheld (tagged sensitive)" in s for s in seen)


def test_a_conversation_exported_in_part_says_so(made):
    chats = text(section(made["html"], "chats"))
    assert "2 of 30 messages (selected)" in chats
    chats = chats[chats.index("2 of 30 messages (selected)"):]
    assert "\u2026 7 earlier messages not exported \u2026" in chats     # messages 0..6
    assert "\u2026 12 messages not exported \u2026" in chats            # 8..19
    assert "\u2026 9 later messages not exported \u2026" in chats       # 21..29
    assert chats.index("earlier messages") < chats.index("Come to") < chats.index("12 messages not") \
        < chats.index("message number 20") < chats.index("later messages")


def test_custody_is_a_summary_not_every_entry(made):
    custody = text(section(made["html"], "custody"))
    assert "Entries in the log" in custody and "Signed by" in custody and "First action" in custody
    assert "case opened (case.created)" in custody
    assert "tagged by the examiner (offer) (tag.added)" in custody
    rows = re.findall(r"<tr>", section(made["html"], "custody"))
    assert len(rows) < 30               # grouped by action, not a row per entry


def test_the_report_still_verifies(made):
    from forensic.chain_of_custody.signing import PublicKey
    from forensic.exporters.verify import verify_bundle
    rep = verify_bundle(made["bundle"], None, PublicKey.load(made["pub"]))
    assert rep.ok and not rep.problems and not rep.disagreements


def test_summary_findings_and_partial_selection_in_chromium(made, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (run scripts/setup.sh)")
    report: Path = made["report"]
    netlog = tmp_path / "net.json"
    res = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
                          "--disable-default-apps", "--no-pings", f"--user-data-dir={tmp_path / 'profile'}",
                          f"--log-net-log={netlog}", "--net-log-capture-mode=Default",
                          "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    dom = res.stdout
    assert res.returncode == 0 and dom, res.stderr[-2000:]
    for sid in ("summary", "findings", "chats", "map", "custody"):
        assert f'<section id="{sid}">' in dom, sid
    assert "Integrity at export: VERIFIED" in dom
    map_section = dom[dom.index('<section id="map">'):]
    assert "<svg" in map_section[:map_section.index("</section>")]     # the offline map, drawn in the page
    assert "2 of 30 messages (selected)" in dom and "12 messages not exported" in dom
    # the hostile note and message are text in the DOM: no element was made of them
    assert "<script" not in dom and "onerror" not in re.sub(r"&lt;img[^<]*", "", dom)
    assert 'alert("note")' in dom and 'Come to &lt;script&gt;alert("chat")&lt;/script&gt;' in dom
    log = netlog.read_text("utf-8", "replace") if netlog.exists() else ""
    requested = set(re.findall(r'"url":"([^"]+)"', log))
    assert not [u for u in requested if u.startswith("file:") and u != report.as_uri()]


def test_words_withheld_and_not_recoverable():
    from forensic.exporters.report.view import NOT_RECOVERABLE, WITHHELD, file_status
    assert file_status({"withheld": False, "sha256": "a" * 64}) == "exported"
    assert file_status({"withheld": True, "sha256": "a" * 64,
                        "withheld_reason": "tagged sensitive (export without --include-sensitive)"}) == WITHHELD
    assert file_status({"withheld": True, "sha256": None,
                        "withheld_reason": "content could not be read completely at triage (no SHA-256)"}) \
        == NOT_RECOVERABLE == "not recoverable"


def test_the_verdict_of_an_unsigned_encrypted_bundle():
    """Unsigned: verify-bundle says INTACT, UNSIGNED, and checking it with a key would fail, so
    the command given has no --pubkey; encrypted: it needs the password file."""
    from types import SimpleNamespace

    from forensic.exporters.report.view import _verdict
    v = _verdict(SimpleNamespace(packaging={"signed": False, "encrypted": True}, custody=None))
    assert v["label"] == "INTACT, UNSIGNED" and not v["signed"]
    assert v["commands"] == ["forensic verify-bundle BUNDLE.zip --password-file PASSWORD"]
    assert any("no custody checkpoint" in p for p in v["points"])
    v = _verdict(SimpleNamespace(packaging={"signed": True, "key_id": "K", "fingerprint": "F"}, custody=None))
    assert v["label"] == "VERIFIED" and "fingerprint F" in v["text"]
    assert v["commands"] == ["forensic verify-bundle BUNDLE.zip --pubkey EXAMINER.pub"]


def test_the_verdict_says_when_the_custody_log_failed_at_export():
    """verify-bundle checks the excerpt a bundle carries, not the whole log as it stood at export:
    when that log failed, the label itself says so, not only a point further down."""
    from types import SimpleNamespace

    from forensic.exporters.report.view import _verdict
    failed = SimpleNamespace(checkpoint=SimpleNamespace(tree_size=9, signature=None, signer=None), concerned=[],
                             verify={"ok": False, "problem": "entry 4: hash chain broken"})
    v = _verdict(SimpleNamespace(packaging={"signed": True, "key_id": "K", "fingerprint": "F"}, custody=failed))
    assert v["bad"] and "FAILED AT EXPORT" in v["label"]
    assert any("hash chain broken" in p for p in v["points"])
    failed.verify = {"ok": True, "problem": None}
    v = _verdict(SimpleNamespace(packaging={"signed": True, "key_id": "K", "fingerprint": "F"}, custody=failed))
    assert not v["bad"] and v["label"] == "VERIFIED"


def _context(**kw):
    """A report context made by hand: one conversation of 60 messages in the case, of which
    messages 10 and 40 (ids 110 and 140) are selected and tagged with a note naming Maria."""
    from forensic.exporters.report import ReportContext
    conv = {"id": "chat-1", "title": "Maria <M>"}
    msgs = [{"artifact_id": 100 + i, "item": "PHONE", "withheld": False, "corrupted": False,
             "tags": [{"tag": "threat", "note": "Maria is told to pay", "sensitive": False}],
             "source": {"locator": "PHONE \u203a chat.txt", "sha256": "a" * 64, "ref": f"line {i}"},
             "fields": {"conversation": conv, "platform": "whatsapp", "sender": "Maria",
                        "participants": ["Maria", "Boss"], "body": f"pay now, Maria ({i})",
                        "sent_at": f"2021-03-01T10:{i:02d}:00", "tz_known": False}}
            for i in (40, 10)]                  # stored out of time order
    info = {"case": {"case_id": "C-1", "examiner": "E", "organisation": None, "created_at": None},
            "tool": {"name": "forensic", "version": "0"}, "format": "forensic-bundle/1", "recipient": None,
            "counts": {"files": 0, "withheld_files": 0, "photos": 0, "videos": 0, "messages": 2,
                       "withheld_messages": 0},
            "selection": {"tags": ["threat"], "items": [], "types": [], "from": None, "to": None,
                          "include_sensitive": False}, "items": [], "notes": []}
    return ReportContext(info=info, files=[], photos=[], messages=msgs, timeline=[], geo=[], custody=None,
                         positions={110: (10, 60), 140: (40, 60)}, **kw)


def test_gaps_and_counts_from_the_positions_alone():
    from forensic.exporters.report import render
    html = render(_context()).decode()
    chats = text(section(html, "chats"))
    chats = chats[chats.index("2 of 60 messages (selected)"):]
    assert chats.index("10 earlier messages not exported") < chats.index("pay now, Maria (10)") \
        < chats.index("29 messages not exported") < chats.index("pay now, Maria (40)") \
        < chats.index("19 later messages not exported")
    assert "Maria &lt;M&gt;" in html and "<M>" not in html


def test_shown_rewrites_every_string_the_report_shows():
    """The hook pseudonyms use: no string of the view escapes it, the tag's note included."""
    from forensic.exporters.report import render
    html = render(_context(shown=lambda s: s.replace("Maria", "Victim-A"))).decode()
    assert "Maria" not in html
    assert "Victim-A is told to pay" in section(html, "findings") and "pay now, Victim-A (40)" in html
