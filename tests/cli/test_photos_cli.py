"""forensic photos / geo / timeline / extractors, end to end on real ext4 and FAT images."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from tests.casestore import copy_case
from tests.exporters.photo_case import (GEOTAGGED, HOSTILE_MAKE, PHOTO_COUNT, TAKEN_US, build_case, cli)

PHOTO_FIELDS = ["item", "path", "locator", "sha256", "make", "model", "serial", "software", "taken_at",
                "taken_at_utc", "tz_known", "tz_source", "lat", "lon", "alt", "gps_at", "width", "height",
                "deleted", "corrupted", "warnings"]
TIMELINE_FIELDS = ["message", "datetime", "timestamp_desc", "timestamp", "item", "path", "sha256", "record_type",
                   "tz_known", "tz_source"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_case(cli, tmp_path_factory.mktemp("photos_cli"))


@pytest.fixture
def case(built, tmp_path):
    """A private copy of the built case, its store too (some tests re-triage it); the images
    stay shared."""
    return copy_case(built, tmp_path / "case")


def _photos(forensic, case, *extra):
    return {r["path"].rsplit("/", 1)[-1]: r for r in forensic("photos", "--case", case, "--json", *extra).jsonl()}


def test_photos_json_fields_and_tz_provenance(forensic, case):
    rows = forensic("photos", "--case", case, "--json").jsonl()
    assert len(rows) == PHOTO_COUNT
    for r in rows:
        assert list(r)[:len(PHOTO_FIELDS)] == PHOTO_FIELDS
    p = {r["path"].rsplit("/", 1)[-1]: r for r in rows if r["item"] == "phone"}
    a = p["offset_gps.jpg"]
    assert (a["taken_at"], a["taken_at_utc"], a["tz_known"], a["tz_source"]) == \
        ("2021-06-01T14:30:15.250000+02:00", "2021-06-01T12:30:15.250000Z", True, "offset_tag")
    assert (a["make"], a["model"], a["serial"], a["width"], a["height"]) == ("Canon", "Canon EOS 5D Mark IV",
                                                                             "012345678901", 640, 480)
    assert a["gps_at"] == "2021-06-01T12:30:15Z" and a["warnings"] == [] and a["corrupted"] is False
    b = p["gps_time_only.jpg"]
    assert (b["tz_source"], b["taken_at"], b["taken_at_utc"]) == ("gps", "2021-07-04T09:00:00.250000+02:00",
                                                                  "2021-07-04T07:00:00.250000Z")
    assert b["make"] == HOSTILE_MAKE
    c = p["no_zone.jpg"]
    assert (c["tz_known"], c["tz_source"], c["taken_at"], c["taken_at_utc"]) == \
        (False, "unknown", "2021-08-10T23:45:00", None)
    d = p["gps_null_island.jpg"]
    assert d["lat"] is None and d["lon"] is None and d["gps_valid"] is False and d["gps_raw"]
    assert d["warnings"] == ["GPS position is 0/0 (no fix recorded as zeros)"]


def test_photos_filters(forensic, case):
    tagged = forensic("photos", "--case", case, "--json", "--geotagged").jsonl()
    assert {(r["item"], r["path"]) for r in tagged} == GEOTAGGED
    card = forensic("photos", "--case", case, "--json", "--item", "card").jsonl()
    assert [r["path"] for r in card] == ["/DCIM/100CANON/card.jpg"]
    res = forensic("photos", "--case", case, "--item", "nope", expect=1)
    assert "no evidence item 'nope'" in res.err


def test_photos_plain_output_is_terminal_safe(forensic, case):
    out = forensic("photos", "--case", case).out
    lines = out.splitlines()
    assert len(lines) == PHOTO_COUNT
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[31m" in out
    null = next(line for line in lines if "gps_null_island" in line)
    assert null.startswith("-C!") and " w1 " in null
    assert next(line for line in lines if "no_zone" in line).split()[2] == "unknown"


def test_assume_tz_is_recorded_as_an_assumption(forensic, case):
    forensic("triage", "--case", case, "--force", "--assume-tz", "Europe/Madrid", expect=3)
    p = _photos(forensic, case, "--item", "phone")
    c = p["no_zone.jpg"]
    assert (c["tz_known"], c["tz_source"], c["taken_at"], c["taken_at_utc"]) == \
        (True, "assumed", "2021-08-10T23:45:00+02:00", "2021-08-10T21:45:00Z")
    # a stored offset and a GPS-inferred one are evidence: the assumption does not override them
    assert p["offset_gps.jpg"]["tz_source"] == "offset_tag" and p["gps_time_only.jpg"]["tz_source"] == "gps"
    events = forensic("timeline", "--case", case, "--item", "phone").jsonl()
    taken = next(e for e in events if e["path"].endswith("no_zone.jpg") and e["timestamp_desc"] == "Photo taken")
    assert (taken["tz_known"], taken["tz_source"], taken["datetime"]) == (True, "assumed", "2021-08-10T21:45:00+00:00")
    sent = [e for e in events if e["timestamp_desc"] == "Message sent"]
    assert [(e["tz_source"], e["datetime"], e["timestamp"] is not None) for e in sent] == \
        [("assumed", "2021-06-25T12:35:00+00:00", True), ("assumed", "2021-06-25T12:36:00+00:00", True)]
    started = [e for e in forensic("custody", "log", "--case", case, "--json").jsonl()
               if e["action"] == "triage.started"]
    assert started[-1]["details"]["assume_tz"] == "Europe/Madrid"
    res = forensic("triage", "--case", case, "--force", "--assume-tz", "Mars/Base", expect=2)
    assert "unknown time zone" in res.err


def test_geo_formats_on_stdout(forensic, case):
    doc = json.loads(forensic("geo", "--case", case).out)
    assert len(doc["features"]) == len(GEOTAGGED)
    madrid = next(f for f in doc["features"] if f["properties"]["path"].endswith("gps_time_only.jpg"))
    assert madrid["geometry"]["coordinates"][:2] == pytest.approx([-3.7, 40 + 25 / 60])
    kml = forensic("geo", "--case", case, "--format", "kml").out
    root = ET.fromstring(kml.encode())
    ns = "{http://www.opengis.net/kml/2.2}"
    whens = [w.text for w in root.iter(f"{ns}when")]
    assert "2021-06-01T14:30:15.250000+02:00" in whens and len(whens) == len(GEOTAGGED)
    assert "<script>" not in kml and HOSTILE_MAKE in [d.findtext(f"{ns}value") for d in root.iter(f"{ns}Data")]
    table = list(csv.reader(io.StringIO(forensic("geo", "--case", case, "--format", "csv").out)))
    assert table[0][:4] == ["item", "path", "locator", "sha256"] and len(table) == len(GEOTAGGED) + 1


def test_geo_out_is_atomic_with_a_summary(forensic, case, tmp_path):
    dest = tmp_path / "exports" / "photos.kml"
    res = forensic("geo", "--case", case, "--format", "kml", "--out", dest, expect=2)   # folder missing
    assert "does not exist" in res.err and not dest.exists()
    dest.parent.mkdir()
    dest.write_text("old content")
    res = forensic("geo", "--case", case, "--format", "kml", "--out", dest)
    assert res.out == ""
    assert f"{len(GEOTAGGED)} geotagged photos written to" in res.err
    ET.parse(dest)
    assert [p.name for p in dest.parent.iterdir()] == ["photos.kml"]     # no temporary left behind
    assert "written" not in forensic("--quiet", "geo", "--case", case, "--out", dest).err
    # each file written is an export in the custody log, with its SHA-256
    import hashlib
    log = forensic("custody", "log", "--case", case, "--json").jsonl()
    exports = [e for e in log if e["action"] == "export.created"]
    assert len(exports) == 2 and exports[-1]["subject"] == {"export": "geo", "file": "photos.kml"}
    assert exports[-1]["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert exports[-1]["details"]["count"] == len(GEOTAGGED)
    forensic("custody", "verify", "--case", case)


def test_timeline_cli(forensic, case, tmp_path):
    events = forensic("timeline", "--case", case).jsonl()
    assert all(list(e)[:len(TIMELINE_FIELDS)] == TIMELINE_FIELDS for e in events)
    assert any(e["item"] == "card" and not e["tz_known"] and e["timestamp"] is None for e in events)
    known = [e["timestamp"] for e in events if e["tz_known"]]
    assert known == sorted(known)
    window = forensic("timeline", "--case", case, "--from", "2021-06-01T12:30:15.25Z",
                      "--to", "2021-06-01T12:30:15.25Z", "--tz", "Europe/Madrid").jsonl()
    assert window and all(e["timestamp"] == TAKEN_US for e in window if e["tz_known"])
    assert {e["datetime"] for e in window if e["tz_known"]} == {"2021-06-01T14:30:15.250000+02:00"}
    out = tmp_path / "timeline.csv"
    res = forensic("timeline", "--case", case, "--format", "csv", "--known-only", "--out", out)
    assert "timeline events written to" in res.err
    with open(out, newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0][:len(TIMELINE_FIELDS)] == TIMELINE_FIELDS
    assert len(table) - 1 == len([e for e in events if e["tz_known"]])
    assert forensic("timeline", "--case", case, "--tz", "Nowhere/Land", expect=2).code == 2
    assert "ISO 8601" in forensic("timeline", "--case", case, "--from", "last week", expect=2).err
    assert "after" in forensic("timeline", "--case", case, "--from", "2022-01-01", "--to", "2021-01-01",
                               expect=2).err


def test_extractors_lists_every_extractor(forensic):
    from forensic.extractors import registry
    rows = forensic("extractors", "--json").jsonl()
    assert [r["name"] for r in rows] == [i.name for i in registry.all_extractors()]
    assert len(rows) == len(registry._BUILTIN)
    assert {"photo_exif", "whatsapp_txt", "telegram_json"} <= {r["name"] for r in rows}
    for r in rows:
        assert set(r) >= {"name", "version", "record_types", "available", "reason"}
        assert r["available"] is (r["reason"] is None)
    photo = next(r for r in rows if r["name"] == "photo_exif")
    assert photo["record_types"] == ["photo/exif", "photo/xmp-sidecar"] and photo["available"] is True
    plain = forensic("extractors").out
    assert "photo_exif@1" in plain and len(plain.splitlines()) == len(rows)
