"""forensic.exporters.geo on a case triaged from real images: GeoJSON (RFC 7946), KML 2.2, CSV."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from forensic.exporters import geo
from forensic.case import Case
from tests.exporters.photo_case import (GEOTAGGED, HOSTILE_MAKE, PHOTO_COUNT, build_case, cli)

KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = build_case(cli, tmp_path_factory.mktemp("geo"))
    c = Case.open(root)
    yield c
    c.close()


def _by_path(rows):
    return {r["path"].rsplit("/", 1)[-1]: r for r in rows}


def test_photo_rows_every_photo_and_geotagged_subset(case):
    rows = list(geo.photo_rows(case.db))
    assert len(rows) == PHOTO_COUNT
    tagged = list(geo.photo_rows(case.db, geotagged=True))
    assert {(r["item"], r["path"]) for r in tagged} == GEOTAGGED
    null = _by_path(rows)["gps_null_island.jpg"]
    assert null["gps_valid"] is False and null["lat"] is None and null["gps_raw"]
    assert not geo.is_geotagged(null)
    assert [r["item"] for r in geo.photo_rows(case.db, item="card")] == ["card"]


def test_geojson_is_rfc7946_lon_lat(case):
    buf = io.StringIO()
    n = geo.write_geojson(geo.photo_rows(case.db), buf)      # all rows in: invalid ones left out
    doc = json.loads(buf.getvalue())
    assert n == len(GEOTAGGED) == len(doc["features"])
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    feats = {f["properties"]["path"].rsplit("/", 1)[-1]: f
             for f in doc["features"] if f["properties"]["item"] == "phone"}
    madrid = feats["gps_time_only.jpg"]["geometry"]
    assert madrid["type"] == "Point"
    lon, lat, alt = madrid["coordinates"]
    assert lon == pytest.approx(-3.7) and lat == pytest.approx(40 + 25 / 60) and alt == pytest.approx(-3.5)
    paris = feats["offset_gps.jpg"]
    assert paris["geometry"]["coordinates"][:2] == pytest.approx([2 + 17 / 60 + 40.2 / 3600,
                                                                  48 + 51 / 60 + 24.3 / 3600])
    props = paris["properties"]
    assert props["taken_at"] == "2021-06-01T14:30:15.250000+02:00" and props["tz_source"] == "offset_tag"
    assert len(props["sha256"]) == 64 and "phone.img" in props["locator"]
    assert props["device"] == "Canon EOS 5D Mark IV (serial 012345678901)"


def test_kml_parses_with_when_and_escaped_evidence(case):
    buf = io.StringIO()
    n = geo.write_kml(geo.photo_rows(case.db), buf)
    text = buf.getvalue()
    root = ET.fromstring(text.encode("utf-8"))
    marks = root.findall(f"{KML}Document/{KML}Placemark")
    assert n == len(marks) == len(GEOTAGGED)
    whens = {m.findtext(f"{KML}name"): m.findtext(f"{KML}TimeStamp/{KML}when") for m in marks}
    assert whens["offset_gps.jpg"] == "2021-06-01T14:30:15.250000+02:00"
    assert whens["gps_time_only.jpg"] == "2021-07-04T09:00:00.250000+02:00"
    coords = {m.findtext(f"{KML}name"): m.findtext(f"{KML}Point/{KML}coordinates") for m in marks}
    lon, lat, _ = (float(x) for x in coords["gps_time_only.jpg"].split(","))
    assert (lon, lat) == pytest.approx((-3.7, 40 + 25 / 60))
    # the hostile Make comes back verbatim through the XML parser: it was escaped, not executed
    data = {m.findtext(f"{KML}name"): {d.get("name"): d.findtext(f"{KML}value")
                                       for d in m.findall(f"{KML}ExtendedData/{KML}Data")} for m in marks}
    assert data["gps_time_only.jpg"]["make"] == HOSTILE_MAKE
    assert "<script>" not in text and "&lt;script&gt;&amp;Evil" in text
    # BEL/ESC cannot be carried by XML 1.0: written as \xNN, the document still parses
    assert data["garbage_strings.jpg"]["model"] == "EOS\\x07\\x1b[31m 5D"


def test_kml_no_when_for_a_zoneless_time():
    row = {"item": "x", "path": "/a.jpg", "lat": 1.5, "lon": 2.5, "alt": None, "gps_valid": True,
           "taken_at": "2021-08-10T23:45:00", "tz_known": False, "tz_source": "unknown", "gps_at": None}
    buf = io.StringIO()
    geo.write_kml([row], buf)
    mark = ET.fromstring(buf.getvalue()).find(f"{KML}Document/{KML}Placemark")
    assert mark.find(f"{KML}TimeStamp") is None
    assert "zone unknown" in mark.findtext(f"{KML}description")
    assert mark.findtext(f"{KML}Point/{KML}coordinates") == "2.5,1.5"


def test_csv_header_rows_and_formula_defused(case):
    buf = io.StringIO()
    n = geo.write_csv(geo.photo_rows(case.db), buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == list(geo.GEO_FIELDS)
    assert n == len(rows) - 1 == len(GEOTAGGED)
    recs = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    madrid = next(r for r in recs if r["path"].endswith("gps_time_only.jpg"))
    assert madrid["make"] == HOSTILE_MAKE and madrid["lon"] == "-3.7" and madrid["tz_known"] == "true"
    assert geo.csv_cell("make", "=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert geo.csv_cell("lon", -3.7) == -3.7
    assert geo.csv_cell("alt", None) == ""


def test_device_name():
    assert geo.device("Canon", "Canon EOS 5D", "12") == "Canon EOS 5D (serial 12)"
    assert geo.device("Apple", "iPhone 12") == "Apple iPhone 12"
    assert geo.device(None, None) is None
