"""Device location caches built with their apps' tables (Core Data columns as iOS routined
creates them, Google Maps' sync_item as ALEAPP reads it): fixes, visits, learned places and saved
places become location/point records; a row without a valid position is reported; a deleted fix
is recovered; another app's Cache.sqlite is not claimed."""
from __future__ import annotations

from appdb import build, delete_rows, recovered, run, sqlite3_cli
from forensic.extractors.locations.apple_routined import AppleRoutinedExtractor
from forensic.extractors.locations.google_maps import GoogleMapsExtractor

ROUTINED = AppleRoutinedExtractor()
GMAPS = GoogleMapsExtractor()
CACHE = """
CREATE TABLE ZRTCLLOCATIONMO ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZALTITUDE FLOAT,
  ZCOURSE FLOAT, ZHORIZONTALACCURACY FLOAT, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZSPEED FLOAT, ZTIMESTAMP TIMESTAMP,
  ZVERTICALACCURACY FLOAT );
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
"""
LOCAL = """
CREATE TABLE ZRTLEARNEDLOCATIONOFINTERESTMO ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZPLACECREATIONDATE TIMESTAMP, ZLOCATIONHORIZONTALUNCERTAINTY FLOAT, ZLOCATIONLATITUDE FLOAT,
  ZLOCATIONLONGITUDE FLOAT, ZIDENTIFIER BLOB );
CREATE TABLE ZRTLEARNEDLOCATIONOFINTERESTVISITMO ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZLOCATIONOFINTEREST INTEGER, ZCONFIDENCE FLOAT, ZENTRYDATE TIMESTAMP, ZEXITDATE TIMESTAMP,
  ZLOCATIONHORIZONTALUNCERTAINTY FLOAT, ZLOCATIONLATITUDE FLOAT, ZLOCATIONLONGITUDE FLOAT, ZIDENTIFIER BLOB );
"""
MYPLACES = """
CREATE TABLE sync_item (corpus INTEGER NOT NULL, key_string TEXT NOT NULL, timestamp INTEGER, merge_key INTEGER,
  feature_fprint TEXT, latitude INTEGER, longitude INTEGER, is_local INTEGER, sync_item BLOB,
  PRIMARY KEY (corpus, key_string));
"""
T = 701_700_000.5          # Core Data seconds: 2023-03-28T12:40:00.5Z


def test_routined_cache_fixes(tmp_path):
    rows = [(1, 5, 1, 34.0, 90.0, 5.0, 52.520008, 13.404954, 1.5, T, 3.0),
            (2, 5, 1, -1.0, -1.0, 65.0, 52.5211, 13.4111, -1.0, T + 60, -1.0),
            (3, 5, 1, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, T + 120, 0.0),              # no fix: reported
            (4, 5, 1, 0.0, 0.0, 10.0, 48.1, 11.5, 0.0, T + 180, 0.0)]
    path = tmp_path / "Cache.sqlite"
    build(path, CACHE, {"ZRTCLLOCATIONMO": rows})
    data = delete_rows(path, "DELETE FROM ZRTCLLOCATIONMO WHERE Z_PK = 4")
    recs, warns = run(ROUTINED, data, "/private/var/mobile/Library/Caches/com.apple.routined/Cache.sqlite")
    live = [r.fields for r in recs if "recovered" not in r.fields]
    ref = sqlite3_cli(path, "SELECT ZLATITUDE, ZLONGITUDE, strftime('%Y-%m-%dT%H:%M:%SZ', ZTIMESTAMP + 978307200, "
                            "'unixepoch') AS t FROM ZRTCLLOCATIONMO WHERE ZLATITUDE != 0 ORDER BY Z_PK")
    assert [(f["latitude"], f["longitude"], f["at"][:19] + "Z") for f in live] == \
        [(r["ZLATITUDE"], r["ZLONGITUDE"], r["t"]) for r in ref]
    a = live[0]
    assert a["at"] == "2023-03-28T12:40:00.500000Z" and a["at_raw"] == str(T) and a["accuracy_m"] == 5.0
    assert a["altitude"] == 34.0 and a["app"] == "com.apple.routined" and a["kind"] == "location_fix"
    assert a["source"]["table"] == "ZRTCLLOCATIONMO" and a["source"]["row_id"] == 1
    assert live[1]["speed_mps"] is None and live[1]["course"] is None
    assert any("row 3 has no valid position" in w for w in warns)
    assert [(f["latitude"], f["recovered"]) for f in recovered(recs)] == [(48.1, "deleted")]
    assert all(r.timestamps and r.timestamps[0].tz_known for r in recs)


def test_routined_local_visits_and_places(tmp_path):
    data = build(tmp_path / "Local.sqlite", LOCAL, {
        "ZRTLEARNEDLOCATIONOFINTERESTMO": [(1, 3, 1, T - 86400, 50.0, 52.5, 13.4, b"x")],
        "ZRTLEARNEDLOCATIONOFINTERESTVISITMO": [(1, 4, 1, 1, 0.9, T, T + 3600, 40.0, 52.5001, 13.4001, b"y"),
                                                (2, 4, 1, 1, 0.9, "garbage", None, 40.0, "n/a", 13.4, b"z")]})
    recs, warns = run(ROUTINED, data, "/private/var/mobile/Library/Caches/com.apple.routined/Local.sqlite")
    kinds = {r.fields["kind"]: r.fields for r in recs}
    assert set(kinds) == {"visit", "learned_place"} and len(recs) == 2
    v = kinds["visit"]
    assert v["at"] == "2023-03-28T12:40:00.500000Z" and v["exit_at"] == "2023-03-28T13:40:00.500000Z"
    assert v["accuracy_m"] == 40.0 and v["place_id"] == 1
    assert kinds["learned_place"]["at"] == "2023-03-27T12:40:00.500000Z"
    assert any("row 2" in w for w in warns)


def test_other_cache_sqlite_not_claimed(tmp_path):
    data = build(tmp_path / "Cache.sqlite", "CREATE TABLE cfurl_cache_response (entry_ID INTEGER PRIMARY KEY);")
    assert not ROUTINED.accepts("/var/mobile/Containers/Data/Application/X/Library/Caches/Cache.sqlite",
                                "application/vnd.sqlite3", data[:8192])


def test_google_maps_saved_places(tmp_path):
    path = tmp_path / "gmm_myplaces.db"
    data = build(path, MYPLACES, {"sync_item": [
        (14, "0x47a84e373f2fa8e1:0x123", 1680000000000, 7, None, 52520008, 13404954, 0, b"\x0a\x03Bar"),
        (14, "bad", 1680000000000, 8, None, None, None, 0, b""),
        (14, "0x1:0x2", None, 9, None, -33868820, 151209290, 0, b"")]})
    recs, warns = run(GMAPS, data, "/data/data/com.google.android.apps.maps/databases/gmm_myplaces.db")
    ref = sqlite3_cli(path, "SELECT round(latitude*.000001, 6) AS lat, round(longitude*.000001, 6) AS lon "
                            "FROM sync_item WHERE latitude IS NOT NULL ORDER BY rowid")
    assert [(r.fields["latitude"], r.fields["longitude"]) for r in recs] == [(x["lat"], x["lon"]) for x in ref]
    a, b = (r.fields for r in recs)
    assert a["at"] == "2023-03-28T10:40:00Z" and a["kind"] == "saved_place" and a["key"].startswith("0x47a8")
    assert b["at"] is None and recs[1].timestamps == ()
    assert any("row 2" in w and "left out" in w for w in warns)
