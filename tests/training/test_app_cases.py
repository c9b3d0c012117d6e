"""The app cases of the sample: an iOS WhatsApp text that starts with U+200E, a minimal Telegram
export with a shared position, a call the log stores by number only (contacts and WhatsApp name
the caller), a Viber group with a shared position and WeChat's encrypted database. The files
are checked with the reference tool (sqlite3) and by their bytes; triage must find every fact;
``training check`` grades them and, when a case lacks them, says what was missed and why."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import require_tools
from forensic.training.build import (CALLLOG_DB, CONTACTS_DB, EXTRACTION_PREFIX, TELEGRAM_BACKUP, VIBER_DB, WA_DB,
                                     layout, wechat_db)

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SEED = 11
KINDS = ("ios_attribution", "minimal_export_message", "chat_geotag", "call_identified", "group_message",
         "encrypted_database")


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def _sqlite(tmp: Path, name: str, data: bytes, sql: str) -> list[list[str]]:
    require_tools("sqlite3")
    path = tmp / name
    path.write_bytes(data)
    out = subprocess.run(["sqlite3", "-separator", "\t", "-nullvalue", "NULL", str(path), sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def test_the_files_as_the_reference_tool_reads_them(tmp_path):
    lay = layout(SEED)
    s = lay.story
    files = {f.rel: f.data for f in lay.phone}
    # iOS: the header names the transporter, the text starts with U+200E
    ios_zip = next(rel for chat, rel, style in lay.chat_files if style == "whatsapp-ios-en").split("!")[0]
    chat = zipfile.ZipFile(io.BytesIO(files[ios_zip])).read("_chat.txt").decode("utf-8")
    assert f"] {s.transporter}: \u200eI'll pick you up at the station\r\n" in chat
    # Telegram: no top-level field but the messages; each message only time, sender, text
    doc = json.loads(files[TELEGRAM_BACKUP])
    assert list(doc) == ["messages"]
    keys = [sorted(m) for m in doc["messages"]]
    assert keys.count(["date_unixtime", "from", "text"]) == 2
    assert ["date_unixtime", "from", "location_information", "text"] in keys
    assert isinstance(doc["messages"][0]["text"], list)                    # rich text: strings and entities
    shared = next(m for m in doc["messages"] if "location_information" in m)
    assert shared["location_information"] == {"latitude": s.telegram_place.lat, "longitude": s.telegram_place.lon}
    # the call log: the number only, national, no name; the contacts and WhatsApp name the person
    c = s.caller
    calls = _sqlite(tmp_path, "calllog.db", files[CALLLOG_DB], "SELECT number, date, duration, type, name, countryiso "
                    "FROM calls")
    assert calls == [[c.national.replace(" ", ""), str(int(c.call_utc.timestamp()) * 1000), str(c.duration), "1",
                      "NULL", "ES"]]
    assert c.e164.startswith("+3465501") and len(c.e164) == 12                 # a Spanish mobile, 55-01 range
    phones = _sqlite(tmp_path, "contacts2.db", files[CONTACTS_DB], "SELECT r.display_name, d.data1 FROM data d "
                     "JOIN raw_contacts r ON r._id = d.raw_contact_id WHERE d.mimetype_id = 2")
    assert phones == [[s.handler, c.national]]
    assert _sqlite(tmp_path, "wa.db", files[WA_DB], "SELECT jid, display_name FROM wa_contacts") == \
        [[c.e164[1:] + "@s.whatsapp.net", s.handler]]
    # Viber: the group, the sender, the position in micro-degrees
    rows = _sqlite(tmp_path, "viber_messages", files[VIBER_DB], "SELECT g.group_name, p.display_name, m.body, "
                   "m.location_lat, m.location_lng FROM messages m JOIN participants pa ON pa._id = m.participant_id "
                   "JOIN participants_info p ON p._id = pa.participant_info_id JOIN conversations g "
                   "ON g._id = m.conversation_id WHERE m.location_lat != 0")
    assert rows == [[s.viber.title, s.handler, "Address for tonight", str(round(s.viber_place.lat * 1e6)),
                     str(round(s.viber_place.lon * 1e6))]]
    # WeChat: SQLCipher, random from the first byte; the same seed gives the same bytes
    wechat = files[wechat_db(SEED)]
    assert not wechat.startswith(b"SQLite format 3\0") and len(wechat) % 4096 == 0
    assert wechat == {f.rel: f.data for f in layout(SEED).phone}[wechat_db(SEED)]
    assert wechat_db(SEED) != wechat_db(SEED + 1)


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory):
    """The sample (seed 11) with its phone triaged; and a case of an extraction that lost the
    app cases as a weaker tool would: the iOS line read without its author, the Telegram
    position dropped, the contacts and WeChat's database not extracted."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("app-cases")
    sample, case = root / "sample", root / "case"
    assert _cli("sample-image", sample, "--seed", SEED, "--quiet") == 0
    assert _cli("case", "init", case, "--case-id", "AC-11", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", sample / "phone.raw", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)

    lay = layout(SEED)
    ios_zip = EXTRACTION_PREFIX + next(rel for _, rel, st in lay.chat_files if st == "whatsapp-ios-en").split("!")[0]
    drop = {EXTRACTION_PREFIX + CONTACTS_DB, EXTRACTION_PREFIX + wechat_db(SEED)}
    weaker = root / "extraction-weaker.zip"
    with zipfile.ZipFile(sample / "extraction.zip") as src, zipfile.ZipFile(weaker, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename in drop:
                continue
            if info.filename == ios_zip:
                inner = zipfile.ZipFile(io.BytesIO(data))
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as out:
                    for member in inner.infolist():
                        body = inner.read(member)
                        if member.filename == "_chat.txt":
                            body = body.replace(f"{lay.story.transporter}: \u200eI'll".encode(), "\u200eI'll".encode())
                        out.writestr(member, body)
                data = buf.getvalue()
            elif info.filename == EXTRACTION_PREFIX + TELEGRAM_BACKUP:
                doc = json.loads(data)
                for m in doc["messages"]:
                    m.pop("location_information", None)
                data = json.dumps(doc).encode()
            dst.writestr(info, data)
    bare = root / "case-weaker"
    assert _cli("case", "init", bare, "--case-id", "AC-11b", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", weaker, "--case", bare, "--quiet") == 0
    assert _cli("triage", "--case", bare, "--quiet") in (0, 3)
    key = json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))
    key["items"]["extraction"]["sha256"] = hashlib.sha256(weaker.read_bytes()).hexdigest()
    bare_key = root / "answer-key-weaker.json"
    bare_key.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    return {"sample": sample, "case": case, "bare": bare, "bare_key": bare_key}


def test_triage_finds_every_app_fact_of_the_phone(forensic, sample_case):
    report = forensic("training", "check", sample_case["sample"] / "answer-key.json", "--case", sample_case["case"],
                      "--json", expect=None).json()
    bad = [f for f in report["missed"] + report["wrong"] if f["kind"] in KINDS and f["item"] == "phone"]
    assert bad == []
    key = json.loads((sample_case["sample"] / "answer-key.json").read_text(encoding="utf-8"))
    mine = [f for f in key["facts"] if f["kind"] in KINDS and f["item"] == "phone"]
    assert sorted({f["kind"] for f in mine}) == sorted(KINDS) and len(mine) == 8
    # what the examiner sees: the call named from the contacts, the positions in geo
    lay = layout(SEED)
    call = forensic("calls", "--case", sample_case["case"], "--json").jsonl()
    assert [(c["number"], c["name"], c["name_source"]) for c in call] == \
        [(lay.story.caller.national.replace(" ", ""), lay.story.handler, "contacts")]
    geo = [g for g in forensic("geo", "--case", sample_case["case"], "--json").jsonl() if g["kind"] == "chat_message"]
    assert sorted((g["platform"], g["lat"], g["lon"]) for g in geo) == sorted(
        [("telegram", lay.story.telegram_place.lat, lay.story.telegram_place.lon),
         ("viber", lay.story.viber_place.lat, lay.story.viber_place.lon)])


def test_check_says_what_a_weaker_extraction_missed_and_why(forensic, sample_case):
    report = forensic("training", "check", sample_case["bare_key"], "--case", sample_case["bare"], "--json",
                      expect=None).json()
    bad = {(f["kind"], f["status"]): f["detail"] for f in report["missed"] + report["wrong"]
           if f["item"] == "extraction" and f["kind"] in KINDS}
    lay = layout(SEED)
    who = lay.story.transporter
    assert set(bad) == {("ios_attribution", "wrong"), ("chat_geotag", "wrong"), ("call_identified", "wrong"),
                        ("encrypted_database", "missed")}
    assert bad[("ios_attribution", "wrong")].startswith("read as a system line")
    assert f"a tool that reads such a line as a system message loses its author. The header names {who}: the " \
        "message is theirs." in bad[("ios_attribution", "wrong")]
    assert bad[("chat_geotag", "wrong")].startswith("the message is listed but without its position (no geotag) — "
                                                    "Telegram "
                                                    "exports are recognised by their messages")
    assert bad[("call_identified", "wrong")].startswith(f"named {lay.story.handler} from whatsapp only: the address "
                                                        "book (contacts2.db) was not read — The call log stores "
                                                        "only the number.")
    assert "marked (c) / name_source: contacts" in bad[("call_identified", "wrong")]
    assert bad[("encrypted_database", "missed")].startswith("no warning about /Dump/data/data/com.tencent.mm/")
    assert "request the device IMEI" in bad[("encrypted_database", "missed")]
    # what the weaker extraction still holds is found: the Telegram texts, the Viber group
    found = {f["kind"] for f in report["missed"] + report["wrong"] if f["item"] == "extraction"}
    assert "minimal_export_message" not in found and "group_message" not in found
