"""Positions a phone recorded itself are geotags: after a triage of a phone folder holding an iOS
routined Cache.sqlite and an Android Google Maps gmm_myplaces.db, each fix and saved place appears
in `forensic geo` (JSON Lines, GeoJSON, KML) as kind 'device_location' and in the timeline with
its position, naming the database row it came from."""
from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET

import pytest

KML = "{http://www.opengis.net/kml/2.2}"
CACHE = """CREATE TABLE ZRTCLLOCATIONMO ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZALTITUDE FLOAT,
  ZCOURSE FLOAT, ZHORIZONTALACCURACY FLOAT, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZSPEED FLOAT, ZTIMESTAMP TIMESTAMP,
  ZVERTICALACCURACY FLOAT );"""
MYPLACES = """CREATE TABLE sync_item (corpus INTEGER NOT NULL, key_string TEXT NOT NULL, timestamp INTEGER,
  merge_key INTEGER, feature_fprint TEXT, latitude INTEGER, longitude INTEGER, is_local INTEGER, sync_item BLOB,
  PRIMARY KEY (corpus, key_string));"""


@pytest.fixture(scope="module")
def triaged(tmp_path_factory):
    from forensic.cli.main import main
    root = tmp_path_factory.mktemp("devgeo")
    ios = root / "phone" / "private/var/mobile/Library/Caches/com.apple.routined"
    ios.mkdir(parents=True)
    db = sqlite3.connect(ios / "Cache.sqlite")
    db.executescript(CACHE)
    db.execute("INSERT INTO ZRTCLLOCATIONMO VALUES (1, 5, 1, 34.0, -1, 8.0, 52.520008, 13.404954, -1, 701700000, 3)")
    db.commit()
    db.close()
    android = root / "phone" / "data/data/com.google.android.apps.maps/databases"
    android.mkdir(parents=True)
    db = sqlite3.connect(android / "gmm_myplaces.db")
    db.executescript(MYPLACES)
    db.execute("INSERT INTO sync_item VALUES (14, '0x1:0x2', 1680000000000, 1, NULL, 48856613, 2352222, 0, x'00')")
    db.commit()
    db.close()
    case = root / "case"
    assert main(["case", "init", str(case), "--case-id", "GEO-2", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(root / "phone"), "--case", str(case), "--id", "phone"]) == 0
    assert main(["triage", "--case", str(case)]) in (0, 3)
    return case


def test_geo_lists_device_locations(forensic, triaged):
    rows = forensic("geo", "--case", triaged, "--json").jsonl()
    by = {r["location_kind"]: r for r in rows}
    assert {r["kind"] for r in rows} == {"device_location"} and set(by) == {"location_fix", "saved_place"}
    fix = by["location_fix"]
    assert (fix["lat"], fix["lon"], fix["alt"], fix["accuracy_m"]) == (52.520008, 13.404954, 34.0, 8.0)
    assert fix["gps_at"] == "2023-03-28T12:40:00Z" and fix["app"] == "com.apple.routined"
    assert fix["message_id"] == "ZRTCLLOCATIONMO:1" and fix["path"].endswith("Cache.sqlite")
    assert len(fix["sha256"]) == 64
    saved = by["saved_place"]
    assert (saved["lat"], saved["lon"]) == (48.856613, 2.352222) and saved["gps_at"] == "2023-03-28T10:40:00Z"
    doc = json.loads(forensic("geo", "--case", triaged).out)
    assert sorted(f["geometry"]["coordinates"][:2] for f in doc["features"]) == \
        [[2.352222, 48.856613], [13.404954, 52.520008]]
    kml = ET.fromstring(forensic("geo", "--case", triaged, "--format", "kml").out.encode())
    names = [p.findtext(f"{KML}name") for p in kml.iter(f"{KML}Placemark")]
    assert "location_fix (com.apple.routined)" in names
    assert "2023-03-28T12:40:00Z" in [w.text for w in kml.iter(f"{KML}when")]


def test_timeline_says_where(forensic, triaged):
    events = forensic("timeline", "--case", triaged, "--json").jsonl()
    mine = [e for e in events if e["record_type"] == "location/point"]
    assert {e["message"].split(":")[0] for e in mine} == {"Device location fix at 52.520008, 13.404954",
                                                          "Place saved (maps) at 48.856613, 2.352222"}
    assert all(e["tz_known"] for e in mine)


def test_geo_csv_and_out_summary(forensic, triaged, tmp_path):
    import csv
    import io
    table = list(csv.DictReader(io.StringIO(forensic("geo", "--case", triaged, "--format", "csv").out)))
    assert {r["location_kind"] for r in table} == {"location_fix", "saved_place"}
    assert {r["accuracy_m"] for r in table} == {"8.0", ""}
    res = forensic("geo", "--case", triaged, "--format", "kml", "--out", tmp_path / "g.kml")
    assert "0 geotagged photos and 2 device locations written to" in res.err
