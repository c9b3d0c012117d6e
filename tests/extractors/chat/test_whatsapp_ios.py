"""WhatsApp iOS ChatStorage.sqlite: a database built here with the app's CREATE TABLE statements
(the columns of WhatsApp 2.2x on iOS 15), read directly and through a triage (media linked by
path and SHA-256); an unknown schema and a missing table; and iLEAPP's test slice of Josh
Hickman's iOS 15 image from the corpus, message by message against sqlite3 running iLEAPP's
query (and iLEAPP's own result rows when the corpus holds them)."""
from __future__ import annotations

import fnmatch
import json
import shutil
import sqlite3
import subprocess
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from whatsapp_ios_db import (ANA, APPLE, BOB, CARL, MEDIA, OWNER_JID, PHOTO, PHOTO_SHA, T0,
                             build_chatstorage)

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.whatsapp_ios import WhatsAppIosExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

EX = WhatsAppIosExtractor()
def extract(path: Path, name: str = "ChatStorage.sqlite"):
    data = path.read_bytes()
    item = ExtractorInput(path=f"AppGroup/G/{name}", name=name, mime="application/vnd.sqlite3", size=len(data),
                          data=data)
    assert EX.accepts(item.path, item.mime, data[:8192])
    out = list(EX.extract(item))
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def test_messages_chats_groups_media_locations(tmp_path):
    recs, warnings = extract(build_chatstorage(tmp_path / "ChatStorage.sqlite"))
    assert warnings == [] and all(not r.warnings and not r.corrupted for r in recs)
    by = {r.fields["source"]["row_id"]: r.fields for r in recs}
    assert sorted(by) == list(range(1, 10))
    first = by[1]
    assert first["conversation"] == {"id": BOB, "title": "Bob Marín", "group": False}
    assert (first["sender"], first["sender_name"], first["direction"]) == (BOB, "Bob Marín", "incoming")
    assert first["sent_at_utc"] == (APPLE + timedelta(seconds=T0)).isoformat().replace("+00:00", "Z")
    assert first["body"] == "hola, ¿dónde estás?" and first["tz_known"] and first["tz_source"] == "utc"
    assert by[2]["sender"] == "(device owner)" and by[2]["direction"] == "outgoing"
    assert by[2]["recipients"] == [BOB]
    # the image: caption as body, path under Message/, WhatsApp's SHA-256 kept; no location from its size
    img = by[3]
    assert img["message_type"] == "image" and img["body"] == "la puerta" and "location" not in img
    att, = img["attachments"]
    assert att["path"] == "Message/" + MEDIA and att["mime_type"] == "image/jpeg"
    assert att["media_sha256"] == PHOTO_SHA and att["size"] == len(PHOTO)
    assert by[4]["location"] == {"latitude": 40.4168, "longitude": -3.7038, "name": "Puerta del Sol",
                                 "source": by[4]["location"]["source"]}
    assert "ZLATITUDE" in by[4]["location"]["source"]
    # the group: members from ZWAGROUPMEMBER (the owner's own jid left out), sender by ZGROUPMEMBER
    assert by[5]["system"] and by[5]["sender"] is None and by[5]["conversation"]["group"]
    assert by[6]["participants"] == ["(device owner)", ANA, CARL]
    assert (by[6]["sender"], by[6]["sender_name"]) == (ANA, "Ana Ruiz")
    assert by[6]["recipients"] == ["(device owner)", CARL]
    assert (by[7]["sender"], by[7]["sender_name"]) == (CARL, "Carl")
    assert by[8]["deleted"] and by[8]["message_type"] == "deleted" and by[8]["sender"] == ANA
    assert by[9]["vcard"] == {"name": "Dana", "vcard": "BEGIN:VCARD\nFN:Dana\nEND:VCARD"}
    assert not by[9]["attachments"]
    assert all(f["owner_jid"] == OWNER_JID for f in by.values())


def test_unknown_schema_is_a_warning_naming_the_app(tmp_path):
    path = tmp_path / "ChatStorage.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE ZWACHATSESSION (Z_PK INTEGER PRIMARY KEY, ZCONTACTJID VARCHAR);"
                     "CREATE TABLE ZSOMETHINGELSE (Z_PK INTEGER PRIMARY KEY, ZTEXT VARCHAR);")
    db.close()
    recs, warnings = extract(path)
    assert recs == []
    assert len(warnings) == 1 and "WhatsApp iOS" in warnings[0] and "ZWAMESSAGE is missing" in warnings[0]


def test_missing_side_table_reads_the_messages_and_says_what_is_lost(tmp_path):
    recs, warnings = extract(build_chatstorage(tmp_path / "ChatStorage.sqlite", drop=("ZWAGROUPMEMBER",)))
    assert len(recs) == 9
    assert warnings == ["WhatsApp iOS: AppGroup/G/ChatStorage.sqlite: table ZWAGROUPMEMBER is missing; messages "
                        "read without group members"]
    assert {r.fields["sender"] for r in recs if r.fields["source"]["row_id"] in (6, 7)} == {None}


def test_hostile_values_are_kept_not_fatal(tmp_path):
    path = build_chatstorage(tmp_path / "ChatStorage.sqlite")
    db = sqlite3.connect(path)
    db.execute("UPDATE ZWACHATSESSION SET ZCONTACTJID = 12345, ZPARTNERNAME = x'ff00' WHERE Z_PK = 1")
    db.execute("UPDATE ZWAMESSAGE SET ZMESSAGEDATE = 'yesterday', ZTEXT = x'c3' WHERE Z_PK = 1")
    db.execute("UPDATE ZWAMEDIAITEM SET ZMEDIALOCALPATH = 42, ZLATITUDE = 'north' WHERE Z_PK IN (1, 2)")
    db.execute("UPDATE ZWAMEDIAITEM SET ZLATITUDE = 91.5 WHERE Z_PK = 2")
    db.commit()
    db.close()
    recs, warnings = extract(path)
    assert warnings == [] and len(recs) == 9
    by = {r.source_ref: r for r in recs}
    bad = by["ZWAMESSAGE:1"]
    assert bad.corrupted and bad.fields["sent_at"] is None and "not a Core Data time" in bad.warnings[0]
    assert bad.fields["conversation"]["id"] == "12345" and bad.fields["body"] == "\ufffd"
    assert by["ZWAMESSAGE:3"].fields["attachments"][0]["path"] == "Message/42"
    assert "location" not in by["ZWAMESSAGE:4"].fields          # latitude out of range: no position


def test_damaged_database_keeps_the_rest(tmp_path):
    path = build_chatstorage(tmp_path / "ChatStorage.sqlite")
    data = bytearray(path.read_bytes())
    data[100:] = b"\x00" * (len(data) - 100)        # every page past the header gone
    path.write_bytes(bytes(data))
    recs, warnings = extract(path)
    assert recs == [] and warnings                   # reported, never raised


def test_media_linked_by_path_and_sha256_through_triage(forensic, tmp_path):
    group = tmp_path / "ev" / "private/var/mobile/Containers/Shared/AppGroup/6A1B"
    group.mkdir(parents=True)
    build_chatstorage(group / "ChatStorage.sqlite")
    media = group / "Message" / MEDIA
    media.parent.mkdir(parents=True)
    media.write_bytes(PHOTO)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", tmp_path / "ev", "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    msgs = {m["source"]["row_id"]: m for m in forensic("messages", "--case", case, "--json").jsonl()}
    assert len(msgs) == 9
    att, = msgs[3]["attachments"]
    assert att["sha256"] == PHOTO_SHA and att["missing"] is False and att["sha256_matches"] is True
    assert att["locator"].endswith("Message/" + MEDIA)
    convs = forensic("conversations", "--case", case, "--json").jsonl()
    assert sorted(c["title"] for c in convs) == ["Bob Marín", "Obra Calle Mayor"]
    assert forensic("warnings", "--case", case, "--json", expect=None).jsonl() == []


def test_messages_only_in_the_wal_are_read(forensic, tmp_path):
    """ChatStorage.sqlite runs in WAL mode: the newest messages are in ChatStorage.sqlite-wal
    until a checkpoint. They are read (from a private copy), the evidence left as found."""
    group = tmp_path / "ev" / "AppGroup/6A1B"
    group.mkdir(parents=True)
    db_path = build_chatstorage(group / "ChatStorage.sqlite")
    writer = sqlite3.connect(db_path)
    writer.executescript("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
    writer.execute("INSERT INTO ZWAMESSAGE (Z_PK, ZCHATSESSION, ZISFROMME, ZMESSAGETYPE, ZMESSAGEDATE, ZTEXT, "
                   "ZFROMJID) VALUES (10, 1, 0, 0, ?, 'only in the log', ?)", (T0 + 999, BOB))
    writer.commit()
    evidence = {p.name: p.read_bytes() for p in group.iterdir()}     # copied while the writer holds the log
    writer.close()
    copy = tmp_path / "seized" / "AppGroup/6A1B"
    copy.mkdir(parents=True)
    for name, data in evidence.items():
        (copy / name).write_bytes(data)
    assert (copy / "ChatStorage.sqlite-wal").stat().st_size > 0
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", tmp_path / "seized", "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    msgs = {m["source"]["row_id"]: m for m in forensic("messages", "--case", case, "--json").jsonl()}
    assert len(msgs) == 10 and msgs[10]["body"] == "only in the log"
    assert {n: (copy / n).read_bytes() for n in evidence} == evidence


def test_media_found_by_sha256_when_its_path_is_elsewhere(forensic, tmp_path):
    group = tmp_path / "ev" / "AppGroup/6A1B"
    group.mkdir(parents=True)
    build_chatstorage(group / "ChatStorage.sqlite")
    moved = group / "Message" / "Media" / "restored" / "IMG_0001.jpg"
    moved.parent.mkdir(parents=True)
    moved.write_bytes(PHOTO)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", tmp_path / "ev", "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    msgs = {m["source"]["row_id"]: m for m in forensic("messages", "--case", case, "--json").jsonl()}
    att, = msgs[3]["attachments"]
    assert (att["sha256"], att["linked_by"], att["missing"]) == (PHOTO_SHA, "sha256", False)
    assert att["locator"].endswith("IMG_0001.jpg")
    assert forensic("warnings", "--case", case, "--json", expect=None).jsonl() == []


# -- the corpus: iLEAPP's test slice of Josh Hickman's iOS 15 image ---------------------------------

ILEAPP = "chats/iLEAPP"
SLICE = "testdata.whatsApp.whatsAppMessages.josh_ios15_ffs.zip"
# iLEAPP's whatsAppMessages query (scripts/artifacts/whatsApp.py), run by the sqlite3 shell
ILEAPP_QUERY = ("SELECT ZWAMESSAGE.Z_PK, ZMESSAGEDATE, ZISFROMME, ZPARTNERNAME, ZTEXT, ZMEDIALOCALPATH, "
                "ZMESSAGETYPE, ZLATITUDE, ZLONGITUDE, ZWACHATSESSION.ZCONTACTJID FROM ZWAMESSAGE "
                "LEFT JOIN ZWAMEDIAITEM ON ZWAMESSAGE.Z_PK = ZWAMEDIAITEM.ZMESSAGE "
                "LEFT JOIN ZWACHATSESSION ON ZWACHATSESSION.Z_PK = ZWAMESSAGE.ZCHATSESSION")


def _expected(corpus: Path, tmp_path: Path) -> dict[int, dict]:
    """Z_PK -> what iLEAPP reports of each message, from sqlite3 running its query on a copy."""
    if shutil.which("sqlite3") is None:
        pytest.skip("sqlite3 shell not installed")
    with zipfile.ZipFile(corpus / ILEAPP / SLICE) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/ChatStorage.sqlite"))
        copy = tmp_path / "ChatStorage.sqlite"
        copy.write_bytes(zf.read(name))
    out = subprocess.run(["sqlite3", "-readonly", "-json", str(copy), ILEAPP_QUERY], capture_output=True,
                         text=True, check=True).stdout
    rows = {}
    for r in json.loads(out):
        rows[r["Z_PK"]] = {
            "utc": (APPLE + timedelta(seconds=r["ZMESSAGEDATE"])).isoformat().replace("+00:00", "Z"),
            "direction": "Outgoing" if r["ZISFROMME"] == 1 else "Incoming",
            "sender": "Local User" if r["ZISFROMME"] == 1 else r["ZPARTNERNAME"],
            "text": r["ZTEXT"], "attachment": r["ZMEDIALOCALPATH"].rsplit("/", 1)[-1] if r["ZMEDIALOCALPATH"] else "",
            "lat": r["ZLATITUDE"] if r["ZMESSAGETYPE"] == 5 else None,
            "lon": r["ZLONGITUDE"] if r["ZMESSAGETYPE"] == 5 else None, "chat": r["ZCONTACTJID"]}
    return rows


@pytest.mark.corpus
def test_ileapp_slice_32_messages_in_5_chats(corpus, forensic, tmp_path):
    sample = corpus / ILEAPP / SLICE
    if not sample.is_file():
        pytest.skip(f"{SLICE} not in the corpus")
    manifest = json.loads((corpus / ILEAPP / "testdata.whatsApp.json").read_text(encoding="utf-8"))
    case_spec = manifest["josh_ios15_ffs"]["artifacts"]["whatsAppMessages"]
    with zipfile.ZipFile(sample) as zf:
        names = zf.namelist()
    assert case_spec["file_count"] == len(names) == 3
    assert all(fnmatch.fnmatch(n, case_spec["search_patterns"][0]) for n in names)
    expected = _expected(corpus, tmp_path)
    assert len(expected) == 32

    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", sample, "--case", case, "--id", "josh")
    forensic("triage", "--case", case, expect=None)
    msgs = forensic("messages", "--case", case, "--json").jsonl()
    convs = forensic("conversations", "--case", case, "--json").jsonl()
    assert len(msgs) == 32 and len(convs) == 5
    assert {c["conversation"] for c in convs} == {e["chat"] for e in expected.values()}
    ours = {m["source"]["row_id"]: m for m in msgs}
    assert set(ours) == set(expected)
    for pk, want in expected.items():
        m = ours[pk]
        assert m["sent_at_utc"] == want["utc"], pk
        assert m["direction"] == want["direction"].lower(), pk
        assert (m["body"] or None) == want["text"], pk
        # iLEAPP names every incoming message after the chat (ZPARTNERNAME); the sender's own
        # name where the chat is one person
        if want["direction"] == "Outgoing":
            assert m["sender"] == "(device owner)", pk
        else:
            assert m["conversation"]["title"] == want["sender"], pk
            if not m["conversation"]["group"] and not m["system"]:
                assert m["sender_name"] == want["sender"], pk
        assert [a["name"] for a in m["attachments"]] == ([want["attachment"]] if want["attachment"] else []), pk
        loc = m.get("location")
        assert (loc["latitude"], loc["longitude"]) == (want["lat"], want["lon"]) if loc else want["lat"] is None, pk
    # iLEAPP's own output rows, where the corpus holds its results file (its manifest's rows are empty)
    for results in sorted((corpus / ILEAPP).glob("whatsApp.whatsAppMessages.josh_ios15_ffs*.json")):
        rows = json.loads(results.read_text(encoding="utf-8"))["data"]
        mine = sorted((int(datetime.fromisoformat(m["sent_at_utc"].replace("Z", "+00:00")).timestamp()),
                       m["body"] or None) for m in msgs)
        assert sorted((r[0], r[5]) for r in rows) == mine
