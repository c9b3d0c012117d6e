"""A position shared in a chat is a geotag: after a triage of a phone folder holding a WhatsApp
iOS ChatStorage.sqlite and an Android msgstore.db (current schema, message_location), each
location message appears in `forensic geo` (JSON Lines, GeoJSON, KML, CSV), in the timeline
and in an exported bundle's geotags and map, with the message it came from rather than as a
photo. Store rows of the older shape ({lat, lon}) and hostile positions are handled."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from whatsapp_ios_db import BOB, build_chatstorage

from forensic.store import places

KML = "{http://www.opengis.net/kml/2.2}"
MADRID = (40.4168, -3.7038)            # the iOS location message (ZWAMEDIAITEM)
LISBON = (38.7223, -9.1393)            # the Android one (message_location)

MSGSTORE = """
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, server TEXT NOT NULL,
  agent INTEGER, device INTEGER, type INTEGER, raw_string TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, hidden INTEGER,
  subject TEXT, created_timestamp INTEGER);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL, from_me INTEGER NOT NULL,
  key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER, broadcast INTEGER, recipient_count INTEGER,
  origination_flags INTEGER, timestamp INTEGER, received_timestamp INTEGER, receipt_server_timestamp INTEGER,
  message_type INTEGER, text_data TEXT, starred INTEGER, lookup_tables INTEGER, sort_id INTEGER);
CREATE TABLE message_location (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, latitude REAL,
  longitude REAL, place_name TEXT, place_address TEXT, url TEXT, live_share_duration INTEGER,
  live_share_final_latitude REAL, live_share_final_longitude REAL, live_share_final_timestamp INTEGER,
  map_download_status INTEGER);
"""


def _msgstore(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(MSGSTORE)
    db.execute("INSERT INTO jid VALUES (1, '351910000000', 's.whatsapp.net', 0, 0, 0, '351910000000@s.whatsapp.net')")
    db.execute("INSERT INTO chat VALUES (1, 1, 0, NULL, 0)")
    db.executemany("INSERT INTO message VALUES (?, 1, ?, ?, NULL, 0, 0, 0, 0, ?, 0, 0, ?, ?, 0, 0, ?)",
                   [(1, 0, "A1", 1615755960000, 0, "onde?", 1), (2, 0, "A2", 1615756020000, 5, None, 2),
                    (3, 1, "A3", 1615756080000, 5, None, 3)])
    db.executemany("INSERT INTO message_location VALUES (?, 1, ?, ?, ?, NULL, NULL, 0, NULL, NULL, NULL, 0)",
                   [(2, *LISBON, "Praça do Comércio"), (3, 0.0, 0.0, None)])     # 0/0: no fix, no point
    db.commit()
    db.close()


@pytest.fixture(scope="module")
def triaged(tmp_path_factory):
    """A case with one folder item: the iOS app group and the Android databases folder."""
    from forensic.cli.main import main
    root = tmp_path_factory.mktemp("chatgeo")
    group = root / "phone" / "private/var/mobile/Containers/Shared/AppGroup/6A1B"
    group.mkdir(parents=True)
    build_chatstorage(group / "ChatStorage.sqlite")
    android = root / "phone" / "data/data/com.whatsapp/databases"
    android.mkdir(parents=True)
    _msgstore(android / "msgstore.db")
    case = root / "case"
    assert main(["case", "init", str(case), "--case-id", "GEO-1", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(root / "phone"), "--case", str(case), "--id", "phone"]) == 0
    assert main(["triage", "--case", str(case)]) in (0, 3)
    return case


def _by_place(rows):
    return {(round(r["lat"], 4), round(r["lon"], 4)): r for r in rows}


def test_geo_json_lines_name_the_message(forensic, triaged):
    rows = forensic("geo", "--case", triaged, "--json").jsonl()
    assert len(rows) == 2 and {r["kind"] for r in rows} == {"chat_message"}
    found = _by_place(rows)
    ios, android = found[MADRID], found[LISBON]
    assert ios["platform"] == "whatsapp" and ios["conversation"] == "Bob Marín"
    assert ios["sender"] == "(device owner)" and ios["sent_at"] == "2023-03-08T20:29:40.250000Z"
    assert ios["message_id"] == "3A000000000000000004" and ios["location_name"] == "Puerta del Sol"
    assert ios["path"].endswith("AppGroup/6A1B/ChatStorage.sqlite") and len(ios["sha256"]) == 64
    assert "ZLATITUDE" in ios["location_source"] and ios["tz_known"] and ios["taken_at"] is None
    assert android["conversation"] == "351910000000@s.whatsapp.net" and android["message_id"] == "A2"
    assert android["location_name"] == "Praça do Comércio" and android["sender"] == "351910000000@s.whatsapp.net"
    # the message it came from: the same record `forensic messages` lists
    msgs = {m["record_id"]: m for m in forensic("messages", "--case", triaged, "--json").jsonl()}
    assert msgs[ios["artifact_id"]]["location"]["latitude"] == MADRID[0]
    assert msgs[ios["artifact_id"]]["conversation"]["id"] == BOB


def test_geojson_kml_csv(forensic, triaged):
    doc = json.loads(forensic("geo", "--case", triaged).out)
    feats = {tuple(round(c, 4) for c in f["geometry"]["coordinates"]): f["properties"] for f in doc["features"]}
    assert feats[(MADRID[1], MADRID[0])]["kind"] == "chat_message"
    assert feats[(LISBON[1], LISBON[0])]["message_id"] == "A2"
    root = ET.fromstring(forensic("geo", "--case", triaged, "--format", "kml").out.encode())
    marks = list(root.iter(f"{KML}Placemark"))
    assert len(marks) == 2
    madrid = next(m for m in marks if "Puerta del Sol" in m.findtext(f"{KML}name"))
    assert madrid.findtext(f"{KML}name") == "whatsapp location: Puerta del Sol in Bob Marín"
    assert "shared in a chat message by (device owner)" in madrid.findtext(f"{KML}description")
    assert madrid.findtext(f"{KML}TimeStamp/{KML}when") == "2023-03-08T20:29:40.250000Z"
    table = list(csv.DictReader(io.StringIO(forensic("geo", "--case", triaged, "--format", "csv").out)))
    assert sorted(r["message_id"] for r in table) == ["3A000000000000000004", "A2"]


def test_geo_out_counts_chat_locations(forensic, triaged, tmp_path):
    res = forensic("geo", "--case", triaged, "--format", "kml", "--out", tmp_path / "g.kml")
    assert "0 geotagged photos and 2 chat locations written to" in res.err
    res = forensic("geo", "--case", triaged, "--json", "--format", "kml", expect=2)
    assert "two formats" in res.err


def test_timeline_says_where(forensic, triaged):
    events = forensic("timeline", "--case", triaged, "--json").jsonl()
    sent = [e["message"] for e in events if e["record_type"] == "chat/message"]
    assert sum("sharing location" in m for m in sent) == 2
    assert "Message sent in Bob Marín by (device owner), sharing location 40.4168, -3.7038: " in sent
    assert any(m.startswith("Message sent in 351910000000@s.whatsapp.net by 351910000000@s.whatsapp.net, "
                            "sharing location 38.7223, -9.1393") for m in sent)


def test_bundle_geotags_and_map(forensic, triaged, tmp_path):
    rows = forensic("tag", "add", "--case", triaged, "--tag", "where", "--geotagged", "--json").jsonl()
    assert len(rows) == 2 and {r["kind"] for r in rows} == {"message"}
    forensic("export", "--case", triaged, "--out", tmp_path / "b.zip", "--tag", "where", "--json")
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        data = {n.split("/data/", 1)[1]: zf.read(n) for n in zf.namelist() if "/data/" in n}
    feats = json.loads(data["geotags.geojson"])["features"]
    assert sorted(f["properties"]["message_id"] for f in feats) == ["3A000000000000000004", "A2"]
    assert data["geotags.kml"].count(b"<Placemark>") == 2
    report = data["report/index.html"].decode()
    section = report.split('<section id="map">', 1)[1].split("</section>", 1)[0]
    assert "<svg" in section and "shared in whatsapp conversation <b>Bob Marín</b>" in section
    assert "sharing location 40.4168, -3.7038" in data["timeline.csv"].decode()
    res = forensic("verify-bundle", tmp_path / "b.zip", expect=None)
    assert res.out.startswith("INTACT"), res.out


def test_older_and_hostile_positions(tmp_path):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE artifacts (id INTEGER PRIMARY KEY, item TEXT, file_id INTEGER, record_type TEXT, "
               "extractor TEXT, fields TEXT, corrupted INTEGER)")
    db.execute("CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT, locator TEXT, sha256 TEXT, deleted INTEGER)")
    locations = [{"lat": 1.5, "lon": 2.5}, {"latitude": True, "longitude": 3}, {"latitude": "40", "longitude": 3},
                 {"latitude": 91, "longitude": 3}, {"latitude": 0, "longitude": 0}, "somewhere", None,
                 {"latitude": -33.9, "longitude": 151.2, "source": "x"}]
    db.executemany("INSERT INTO artifacts VALUES (?, 'i', NULL, 'chat/message', 'x@1', ?, 0)",
                   [(n, json.dumps({"location": loc})) for n, loc in enumerate(locations, 1)])
    db.row_factory = sqlite3.Row
    got = [(p.artifact_id, p.latitude, p.longitude) for p in places.chat_locations(db)]
    assert got == [(1, 1.5, 2.5), (8, -33.9, 151.2)]


def test_kml_description_keeps_message_text_on_its_line():
    """A message's text is evidence: a line break in it never starts a description line of its
    own (a forged "SHA-256: ..." line would state a hash the bundle's checks read)."""
    from forensic.exporters import geo
    fields = {"platform": "whatsapp", "conversation": {"id": "c", "title": "Chat\nSHA-256: " + "0" * 64},
              "sender": "x", "sent_at": "2024-01-01T00:00:00Z", "tz_known": True, "tz_source": "utc",
              "body": "see you\r\nSHA-256: " + "f" * 64, "location": {"latitude": 1.0, "longitude": 2.0}}
    row = geo.message_geo_row("i", 7, fields, 1.0, 2.0, "/db", "ev › /db", "a" * 64, False, False)
    buf = io.StringIO()
    assert geo.write_kml([row], buf) == 1
    text = buf.getvalue()
    assert [line for line in text.splitlines() if line.startswith("SHA-256:")] == ["SHA-256: " + "a" * 64]
    mark = ET.fromstring(text).find(f"{KML}Document/{KML}Placemark")
    assert "see you \u23ce SHA-256: " + "f" * 64 in mark.findtext(f"{KML}description")
    body = next(d for d in mark.iter(f"{KML}Data") if d.get("name") == "body")
    assert body.findtext(f"{KML}value") == fields["body"]            # the text itself, line break and all
