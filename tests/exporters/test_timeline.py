"""forensic.exporters.timeline on a case triaged from real images (ext4 + FAT): order, Timesketch
fields, zoneless times, bounds, rendering zone, CSV."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from forensic.exporters import timeline as T
from forensic.case import Case
from forensic.errors import UsageError
from tests.exporters.photo_case import TAKEN_US, build_case, cli

TIMESKETCH = ("message", "datetime", "timestamp_desc", "timestamp")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = build_case(cli, tmp_path_factory.mktemp("timeline"))
    c = Case.open(root)
    yield c
    c.close()


def _events(case, **kw):
    tz = kw.pop("tz", None)
    return list(T.events(case.db, T.TimelineFilter(**kw), tz))


def _place(e) -> int:
    """Where the documented rule puts an event: its instant, or its wall clock read as UTC."""
    if e["tz_known"]:
        return e["timestamp"]
    return T.to_us(datetime.fromisoformat(e["datetime"]))


def _find(events, name, desc):
    found = [e for e in events if (e["path"] or "").endswith(name) and e["timestamp_desc"] == desc]
    assert len(found) == 1, (name, desc, found)
    return found[0]


def test_every_source_present_and_sorted(case):
    events = _events(case)
    places = [_place(e) for e in events]
    assert places == sorted(places)
    descs = {e["timestamp_desc"] for e in events}
    assert {"File modified", "File accessed", "Metadata changed", "File created", "Photo taken",
            "Photo digitized", "GPS fix"} <= descs
    for e in events:
        assert list(e)[:4] == list(TIMESKETCH)
        assert set(T.FIELDS) == set(e)
    # one file-system row per stored time, one artifact row per stored timestamp: nothing dropped
    n_fs = sum(case.db.execute(f"SELECT COUNT({c}) FROM files").fetchone()[0] for c, _ in T.FILE_TIMES)
    n_ts = case.db.execute("SELECT COUNT(*) FROM timestamps").fetchone()[0]
    assert len(events) == n_fs + n_ts


def test_known_instants_are_exact(case):
    events = _events(case)
    taken = [e for e in events if e["timestamp_desc"] == "Photo taken" and e["path"].endswith("/offset_gps.jpg")][0]
    assert taken["timestamp"] == TAKEN_US
    assert taken["datetime"] == "2021-06-01T12:30:15.250000+00:00"
    assert taken["local_datetime"] == "2021-06-01T14:30:15.250000+02:00"
    assert taken["tz_source"] == "offset_tag" and taken["record_type"] == "photo/exif"
    assert len(taken["sha256"]) == 64 and taken["item"] == "phone"
    gps = _find(events, "/gps_time_only.jpg", "GPS fix")
    assert gps["tz_source"] == "utc" and gps["datetime"] == "2021-07-04T07:00:00+00:00"
    assert "40.41666" in gps["message"] and "-3.7" in gps["message"]
    assert _find(events, "/gps_time_only.jpg", "Photo taken")["tz_source"] == "gps"
    for e in events:           # datetime and timestamp always agree for a known zone
        if e["tz_known"]:
            assert T.to_us(datetime.fromisoformat(e["datetime"])) == e["timestamp"]


def test_zoneless_times_are_flagged_never_utc(case):
    events = _events(case)
    fat = [e for e in events if e["item"] == "card" and e["record_type"].startswith("fs/")]
    assert fat and all(not e["tz_known"] and e["tz_source"] == "unknown" for e in fat)
    ext = [e for e in events if e["item"] == "phone" and e["record_type"].startswith("fs/")]
    assert ext and all(e["tz_known"] and e["tz_source"] == "utc" for e in ext)
    unknown = [e for e in events if not e["tz_known"]]
    assert {e["path"] for e in unknown} >= {"/DCIM/Camera/no_zone.jpg", "/readme.txt"}
    for e in unknown:
        assert e["timestamp"] is None
        assert datetime.fromisoformat(e["datetime"]).tzinfo is None     # no offset, no Z
    taken = _find(events, "/no_zone.jpg", "Photo taken")
    assert taken["datetime"] == "2021-08-10T23:45:00" and taken["tz_source"] == "unknown"
    assert all(e["tz_known"] for e in _events(case, known_only=True))


def test_chat_messages_on_the_timeline(case):
    sent = [e for e in _events(case) if e["timestamp_desc"] == "Message sent"]
    assert [e["datetime"] for e in sent] == ["2021-06-25T14:35:00", "2021-06-25T14:36:00"]
    assert all(e["record_type"] == "chat/message" and not e["tz_known"] and e["timestamp"] is None for e in sent)
    assert sent[0]["message"] == "Message sent in Luis by Ana: Hola, ¿dónde estás?"
    assert sent[1]["path"] == "/WhatsApp/WhatsApp Chat with Luis.txt" and len(sent[1]["sha256"]) == 64


def test_bounds_for_known_instants(case):
    start = T.parse_bound("2021-06-01T12:30:15.250000Z")
    inside = _events(case, start_us=start, end_us=start)
    assert {e["timestamp_desc"] for e in inside if e["tz_known"]} == {"Photo taken"}
    assert all(e["timestamp"] == TAKEN_US for e in inside if e["tz_known"])
    after = _events(case, start_us=start + 1, end_us=T.parse_bound("2021-06-30", end=True))
    known = [e for e in after if e["tz_known"]]
    assert known and all(TAKEN_US < e["timestamp"] <= T.parse_bound("2021-06-30T23:59:59.999999") for e in known)
    assert not any(e["timestamp_desc"] == "Photo taken" and e["path"].endswith("offset_gps.jpg") for e in after)
    june = _events(case, start_us=T.parse_bound("2021-06-01"), end_us=T.parse_bound("2021-06-30", end=True))
    assert not any(e["path"].endswith("gps_time_only.jpg") and e["timestamp_desc"] == "Photo taken" for e in june)
    # the file-system times are years later; the zoneless chat of 06-25 could be in June
    assert {e["record_type"] for e in june} == {"photo/exif", "chat/message"}


def test_bounds_keep_zoneless_times_that_could_be_inside(case):
    # no_zone.jpg was digitized at 2021-06-30 20:00 wall clock, zone unknown: its instant is
    # somewhere in [06-30 06:00Z, 07-01 08:00Z] (offsets -12:00 .. +14:00)
    def digitized(**kw):
        return [e for e in _events(case, **kw)
                if e["path"].endswith("no_zone.jpg") and e["timestamp_desc"] == "Photo digitized"]
    assert digitized(end_us=T.parse_bound("2021-06-30T06:00:00"))            # could be at 06:00Z
    assert not digitized(end_us=T.parse_bound("2021-06-30T05:59:59"))
    assert digitized(start_us=T.parse_bound("2021-07-01T08:00:00+00:00"))   # could be at 08:00Z
    assert not digitized(start_us=T.parse_bound("2021-07-01T08:00:01Z"))
    [e] = digitized(start_us=T.parse_bound("2021-07-01"), end_us=T.parse_bound("2021-07-01", end=True))
    assert e["tz_known"] is False and e["timestamp"] is None and e["datetime"] == "2021-06-30T20:00:00"


def test_render_zone(case):
    tokyo = T.zone("Asia/Tokyo")
    events = _events(case, tz=tokyo)
    taken = [e for e in events if e["timestamp_desc"] == "Photo taken" and e["path"].endswith("/offset_gps.jpg")][0]
    assert taken["datetime"] == "2021-06-01T21:30:15.250000+09:00" and taken["timestamp"] == TAKEN_US
    assert _find(events, "/no_zone.jpg", "Photo taken")["datetime"] == "2021-08-10T23:45:00"
    assert [_place(e) for e in events] == sorted(_place(e) for e in events)
    with pytest.raises(UsageError):
        T.zone("Mars/Olympus_Mons")


def test_writers(case):
    rows = _events(case, item="phone")
    assert rows and all(e["item"] == "phone" for e in rows)
    buf = io.StringIO()
    assert T.write_csv(iter(rows), buf) == len(rows)
    table = list(csv.reader(io.StringIO(buf.getvalue())))
    assert table[0] == list(T.FIELDS) and len(table) == len(rows) + 1
    first = dict(zip(table[0], table[1], strict=True))
    assert first["timestamp"] == str(rows[0]["timestamp"] if rows[0]["timestamp"] is not None else "")
    buf = io.StringIO()
    assert T.write_jsonl(iter(rows), buf) == len(rows)
    assert [json.loads(line) for line in buf.getvalue().splitlines()] == rows


def test_parse_bound():
    assert T.parse_bound("1970-01-01") == 0
    assert T.parse_bound("1970-01-01", end=True) == 86_400_000_000 - 1
    assert T.parse_bound("1970-01-01T02:00:00+02:00") == 0
    assert T.parse_bound("1970-01-01 00:00:01") == 1_000_000           # naive: UTC
    with pytest.raises(UsageError):
        T.parse_bound("yesterday")


def test_sort_key_reads_stored_forms():
    assert T.sort_key("2021-06-01T12:30:15.250000Z") == TAKEN_US
    assert T.sort_key("2021-06-01T12:30:15.25") == TAKEN_US            # naive: read as UTC, flagged elsewhere
    assert T.sort_key("not a time") is None and T.sort_key(None) is None
    assert datetime.fromtimestamp(TAKEN_US / 1e6, timezone.utc).isoformat().startswith("2021-06-01T12:30:15.25")
