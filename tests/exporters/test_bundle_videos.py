"""Videos in evidence bundles: an iPhone-like MOV (ISO 6709 place) and a GoPro-like MP4 (GPMF
GPS track), built atom by atom, tagged and exported with a signature. The bundle verifies with
the examiner's key; its geotags (GeoJSON, KML) hold each video's place as a Point of kind
``video`` and the GoPro track as a LineString; the report lists both videos (time with its
provenance, device, place, duration, track points) and draws the track; CASE/UCO gives each
video a Location as it gives a photo."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import zipfile
from datetime import datetime, timezone

import pytest

from forensic.chain_of_custody.signing import Signer, write_keypair
from tests.extractors import video_builders as vb

KML = "{http://www.opengis.net/kml/2.2}"
UTC = timezone.utc
ROOT = "VID-9-bundle/"


def cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle-videos")
    dcim = root / "phone" / "DCIM"
    dcim.mkdir(parents=True)
    (dcim / "IMG_0001.MOV").write_bytes(vb.iphone_mov(datetime(2024, 6, 15, 12, 22, 5, tzinfo=UTC),
                                                      "2024-06-15T14:22:05+0200", "+48.8584+002.2945+035.000/"))
    s1 = vb.gpmf_sample("240615142205.000", [(46.5, 7.9, 2000.5, 3.2, 3.3), (46.50001, 7.90002, 2001.0, 3.4, 3.5)])
    s2 = vb.gpmf_sample("240615142206.000", [(46.50002, 7.90004, 2001.5, 3.6, 3.7)])
    (dcim / "GX010001.MP4").write_bytes(vb.gopro_mp4(datetime(2024, 6, 15, 16, 22, 5, tzinfo=UTC), [s1, s2]))
    (dcim / "broken.mov").write_bytes(b"\0\0\0\x14ftypqt  \0\0\0\0qt  \0\0\x10\0moov\0\0")
    (root / "phone" / "notes.txt").write_bytes(b"not a video\n")
    case = root / "case"
    with pytest.MonkeyPatch.context():
        assert cli("case", "init", case, "--case-id", "VID-9", "--examiner", "E") == 0
        assert cli("evidence", "add", root / "phone", "--case", case, "--id", "phone") == 0
        assert cli("triage", "--case", case) in (0, 3)
        signer = Signer.generate("E")
        key, pub = write_keypair(signer, root / "keys")
        bundle = root / "bundle.zip"
        # --type photos takes the videos too (and leaves notes.txt out)
        assert cli("export", "--case", case, "--out", bundle, "--item", "phone", "--type", "photos",
                   "--key", key) == 0
    with zipfile.ZipFile(bundle) as zf:
        got = {i.filename[len(ROOT):]: zf.read(i) for i in zf.infolist()}
    return {"bundle": bundle, "pub": pub, "key": key, "case": case, "members": got}


def test_the_bundle_verifies(exported, forensic):
    res = forensic("verify-bundle", exported["bundle"], "--pubkey", exported["pub"])
    assert res.out.startswith("VERIFIED: ")


def test_geotags_hold_the_videos_and_the_track(exported):
    m = exported["members"]
    doc = json.loads(m["data/geotags.geojson"])
    by_kind: dict[str, list] = {}
    for f in doc["features"]:
        by_kind.setdefault(f["properties"]["kind"], []).append(f)
    assert sorted(by_kind) == ["video", "video_track"]
    places = {f["properties"]["path"].rsplit("/", 1)[-1]: f for f in by_kind["video"]}
    assert set(places) == {"IMG_0001.MOV", "GX010001.MP4"}
    assert places["IMG_0001.MOV"]["geometry"]["coordinates"] == [2.2945, 48.8584, 35.0]
    assert places["IMG_0001.MOV"]["properties"]["taken_at_utc"] == "2024-06-15T12:22:05Z"
    track, = by_kind["video_track"]
    assert track["geometry"]["type"] == "LineString" and len(track["geometry"]["coordinates"]) == 3
    assert track["geometry"]["coordinates"][0] == [7.9, 46.5, 2000.5]
    assert track["properties"]["track_points"] == 3
    kml = ET.fromstring(m["data/geotags.kml"])
    names = [p.findtext(f"{KML}name") for p in kml.iter(f"{KML}Placemark")]
    assert sorted(names) == ["GX010001.MP4", "GX010001.MP4 (GPS track)", "IMG_0001.MOV"]
    line, = kml.iter(f"{KML}LineString")
    assert line.findtext(f"{KML}coordinates").startswith("7.9,46.5,2000.5 ")


def test_report_lists_and_maps_the_videos(exported):
    m = exported["members"]
    html = m["data/report/index.html"].decode()
    videos = re.search(r'<section id="videos">(.*?)</section>', html, re.S)[1]
    rows = re.findall(r"<tr><td>.*?</tr>", videos, re.S)
    assert len(rows) == 3                                          # the damaged one is listed too
    iphone = next(r for r in rows if "IMG_0001.MOV" in r)
    assert "2024-06-15T14:22:05+02:00" in iphone and "offset_tag" in iphone
    assert "quicktime:CreationDate" in iphone and "Apple iPhone 12" in iphone
    assert "48.8584, 2.2945" in iphone and "5 s" in iphone
    gopro = next(r for r in rows if "GX010001.MP4" in r)
    assert "3 point(s)" in gopro and "[gps" in gopro and "C3221324545448" in gopro
    files = json.loads("[" + ",".join(m["data/files.jsonl"].decode().splitlines()) + "]")
    assert {f["name"] for f in files} == {"IMG_0001.MOV", "GX010001.MP4", "broken.mov"}
    assert json.loads(m["data/bundle.json"])["counts"]["videos"] == 3
    mapped = re.search(r'<section id="map">(.*?)</section>', html, re.S)[1]
    assert "<polyline" in mapped and "GPS track of 3 points" in mapped


def test_case_uco_locates_the_videos(exported):
    graph = json.loads(exported["members"]["data/case.jsonld"])["@graph"]
    locations = [n for n in graph if n.get("@type") == "location:Location"]
    assert len(locations) == 2
    gopro = next(n for n in locations if "GX010001.MP4" in n["core:description"])
    assert "3 points" in gopro["core:description"]
    facet, = gopro["core:hasFacet"]
    assert float(facet["location:latitude"]["@value"]) == 46.5
    located = [n for n in graph if (n.get("core:kindOfRelationship") or {}).get("@value") == "Located_At"]
    assert len(located) == 2


def test_a_video_hash_changed_in_the_report_is_a_disagreement(exported, tmp_path):
    """The verifier reads the report's videos table: a row naming another file's SHA-256 for a
    video (manifests recomputed, as a careful forger would) is caught."""
    import hashlib

    from forensic.exporters import bagit
    from forensic.exporters.verify import verify_bundle
    m = dict(exported["members"])
    files = {json.loads(x)["name"]: json.loads(x) for x in m["data/files.jsonl"].decode().splitlines()}
    mov, mp4 = files["IMG_0001.MOV"]["sha256"], files["GX010001.MP4"]["sha256"]
    report = m["data/report/index.html"].decode()
    assert report.count(f'<span class="hash">{mp4}</span>') >= 1
    m["data/report/index.html"] = report.replace(f'<td><span class="hash">{mp4}</span></td>',
                                                 f'<td><span class="hash">{mov}</span></td>').encode()
    man = bagit.parse_manifest(m["manifest-sha256.txt"])
    man["data/report/index.html"] = hashlib.sha256(m["data/report/index.html"]).hexdigest()
    m["manifest-sha256.txt"] = bagit.manifest_text(man.items())
    tm = bagit.parse_manifest(m["tagmanifest-sha256.txt"])
    tm["manifest-sha256.txt"] = hashlib.sha256(m["manifest-sha256.txt"]).hexdigest()
    m["tagmanifest-sha256.txt"] = bagit.manifest_text(tm.items())
    m.pop("tagmanifest-sha256.txt.minisig", None)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in m.items():
            zf.writestr(zipfile.ZipInfo(ROOT + name, (1980, 1, 1, 0, 0, 0)), data)
    rep = verify_bundle(bad, None, None)
    assert not rep.intact
    assert any("GX010001.MP4" in str(d) for d in rep.disagreements), rep.disagreements


def test_timeline_holds_the_recording_times(exported):
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(exported["members"]["data/timeline.csv"].decode())))
    recorded = {r["path"].rsplit("/", 1)[-1]: r for r in rows if r["timestamp_desc"] == "Video recorded"}
    assert recorded["IMG_0001.MOV"]["datetime"] == "2024-06-15T12:22:05+00:00"
    assert recorded["GX010001.MP4"]["tz_source"] == "gps"


def test_geotagged_tags_take_the_geotagged_videos(forensic, exported, monkeypatch):
    case = exported["case"]
    monkeypatch.setenv("FORENSIC_KEY", str(exported["key"]))      # the export signed the case's log
    forensic("tag", "add", "--case", case, "--tag", "placed", "--geotagged")
    tagged = {t["ref"].rsplit("/", 1)[-1] for t in forensic("tag", "list", "--case", case, "--json").jsonl()
              if t["tag"] == "placed"}
    assert tagged == {"IMG_0001.MOV", "GX010001.MP4"}          # the damaged one has no place
