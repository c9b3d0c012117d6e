"""Videos after a triage: an iPhone-like MOV and a GoPro-like MP4 (built atom by atom) appear in
`forensic photos --videos`, in `forensic geo` (the place as a Point, the GoPro track as a
LineString in GeoJSON and KML) and in `forensic timeline` (the time recorded, with its zone's
source); a damaged video is listed, flagged, and stops nothing."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from tests.extractors import video_builders as vb

KML = "{http://www.opengis.net/kml/2.2}"
UTC = timezone.utc


@pytest.fixture(scope="module")
def triaged(tmp_path_factory):
    from forensic.cli.main import main
    root = tmp_path_factory.mktemp("videos")
    dcim = root / "phone" / "DCIM"
    dcim.mkdir(parents=True)
    (dcim / "IMG_0001.MOV").write_bytes(vb.iphone_mov(datetime(2024, 6, 15, 12, 22, 5, tzinfo=UTC),
                                                      "2024-06-15T14:22:05+0200", "+48.8584+002.2945+035.000/"))
    s1 = vb.gpmf_sample("240615142205.000", [(46.5, 7.9, 2000.5, 3.2, 3.3), (46.50001, 7.90002, 2001.0, 3.4, 3.5)])
    s2 = vb.gpmf_sample("240615142206.000", [(46.50002, 7.90004, 2001.5, 3.6, 3.7)])
    (dcim / "GX010001.MP4").write_bytes(vb.gopro_mp4(datetime(2024, 6, 15, 16, 22, 5, tzinfo=UTC), [s1, s2]))
    (dcim / "broken.mov").write_bytes(b"\0\0\0\x14ftypqt  \0\0\0\0qt  \0\0\x10\0moov\0\0")
    case = root / "case"
    assert main(["case", "init", str(case), "--case-id", "VID-1", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(root / "phone"), "--case", str(case), "--id", "phone"]) == 0
    assert main(["triage", "--case", str(case)]) in (0, 3)
    return case


def test_photos_videos_lists_each_video(forensic, triaged):
    assert forensic("photos", "--case", triaged, "--json").jsonl() == []      # photos only by default
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in forensic("photos", "--case", triaged, "--videos",
                                                               "--json").jsonl()}
    assert set(rows) == {"IMG_0001.MOV", "GX010001.MP4", "broken.mov"}
    iphone, gopro, broken = rows["IMG_0001.MOV"], rows["GX010001.MP4"], rows["broken.mov"]
    assert iphone["kind"] == "video" and iphone["device"] == "Apple iPhone 12"
    assert (iphone["taken_at"], iphone["taken_at_utc"], iphone["tz_source"]) == (
        "2024-06-15T14:22:05+02:00", "2024-06-15T12:22:05Z", "offset_tag")
    assert iphone["taken_at_source"]["source"] == "quicktime:CreationDate"
    assert (iphone["lat"], iphone["lon"], iphone["alt"]) == (48.8584, 2.2945, 35.0)
    assert iphone["codecs"] == ["avc1"] and iphone["duration_s"] == 5.0
    assert gopro["device"] == "GoPro HERO7 Black (serial C3221324545448)" and gopro["track_points"] == 3
    assert (gopro["taken_at_utc"], gopro["tz_source"]) == ("2024-06-15T14:22:05Z", "gps")
    assert broken["corrupted"] and broken["warnings"]
    line = forensic("photos", "--case", triaged, "--videos").out.splitlines()
    assert any(x.startswith("--GV ") and "IMG_0001.MOV" in x for x in line)


def test_geo_point_and_track(forensic, triaged):
    doc = json.loads(forensic("geo", "--case", triaged).out)
    kinds = [f["properties"]["kind"] for f in doc["features"]]
    assert sorted(kinds) == ["video", "video", "video_track"]
    track = next(f for f in doc["features"] if f["properties"]["kind"] == "video_track")
    assert track["geometry"]["type"] == "LineString"
    assert track["geometry"]["coordinates"][0] == [7.9, 46.5, 2000.5] and len(track["geometry"]["coordinates"]) == 3
    assert track["properties"]["path"].endswith("GX010001.MP4")
    root = ET.fromstring(forensic("geo", "--case", triaged, "--format", "kml").out.encode())
    lines = list(root.iter(f"{KML}LineString"))
    assert len(lines) == 1 and lines[0].findtext(f"{KML}coordinates").startswith("7.9,46.5,2000.5 ")
    rows = forensic("geo", "--case", triaged, "--json").jsonl()
    assert {r["kind"] for r in rows} == {"video"} and len(rows) == 2


def test_timeline_has_the_recording_time(forensic, triaged):
    rows = forensic("timeline", "--case", triaged, "--json").jsonl()
    rec = [r for r in rows if r["record_type"] == "media/video" and r["timestamp_desc"] == "Video recorded"]
    by_file = {r["path"].rsplit("/", 1)[-1]: r for r in rec}
    assert by_file["IMG_0001.MOV"]["datetime"] == "2024-06-15T12:22:05+00:00"
    assert by_file["IMG_0001.MOV"]["tz_source"] == "offset_tag"
    assert "[Apple iPhone 12]" in by_file["IMG_0001.MOV"]["message"]
    assert by_file["GX010001.MP4"]["tz_source"] == "gps"
    assert any(r["timestamp_desc"] == "GPS fix (video)" for r in rows)
