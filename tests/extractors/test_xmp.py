"""XMP: embedded packets and .xmp sidecars, parsed into the photo record (dates with their
zone, which date taken_at is and why, camera, lens, GPS); hostile packets give warnings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensic.extractors import xmp as xmplib
from forensic.extractors.base import ExtractorInput
from forensic.extractors.photo_exif import PhotoExifExtractor
from forensic.extractors.records import ArtifactRecord
from tests.extractors.fixtures_photo import good_exif, good_ifd0, build_tiff, jpeg

PACKET = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:e="http://ns.adobe.com/exif/1.0/" xmlns:t="http://ns.adobe.com/tiff/1.0/"
  xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"
  e:DateTimeOriginal="2020-05-01T10:00:00+02:00" xmp:CreateDate="2020-05-01T10:00:00"
  t:Make="Nikon" aux:SerialNumber="3001234" aux:Lens="24-70mm f/2.8"
  e:GPSLatitude="48,51.405N" e:GPSLongitude="2,17.67E" e:GPSAltitude="355/10">
 <t:Model>D750</t:Model>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def _app1_xmp(packet: bytes) -> bytes:
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _jpeg_with_xmp(tiff: bytes | None, packet: bytes) -> bytes:
    data = jpeg(tiff)
    return data[:2] + _app1_xmp(packet) + data[2:]


def _record(data: bytes, name: str = "x.jpg") -> ArtifactRecord:
    inp = ExtractorInput(name, name, "image/jpeg", len(data), data, None, {})
    return next(r for r in PhotoExifExtractor().extract(inp) if isinstance(r, ArtifactRecord))


def test_parse_dates_zones_and_coordinates() -> None:
    d = xmplib.parse_date("2013:07:05 03:18:27Z")
    assert d is not None and (d.local.isoformat(), d.offset_minutes) == ("2013-07-05T03:18:27", 0)
    d = xmplib.parse_date("2020-05-01T10:00:00.5-03:30")
    assert d is not None and d.offset_minutes == -210 and d.local.microsecond == 500000
    d = xmplib.parse_date("2020-05-01T10:00")
    assert d is not None and d.offset_minutes is None
    assert xmplib.parse_date("2020-05-01").local is None            # a date only
    assert xmplib.parse_date("yesterday") is None
    assert xmplib.parse_coordinate("48,51.405N") == pytest.approx(48.85675)
    assert xmplib.parse_coordinate("2,17,40.2W") == pytest.approx(-2.29450, abs=1e-5)
    assert xmplib.parse_rational("355/10") == 35.5 and xmplib.parse_rational("1/0") is None


def test_embedded_xmp_only_gives_taken_at_with_zone() -> None:
    rec = _record(_jpeg_with_xmp(None, PACKET))
    f = rec.fields
    assert (f["taken_at"], f["taken_at_utc"], f["tz_source"]) == ("2020-05-01T10:00:00+02:00",
                                                                   "2020-05-01T08:00:00Z", "offset_tag")
    assert f["taken_at_source"]["source"] == "xmp:exif:DateTimeOriginal"
    assert (f["make"], f["model"], f["serial"], f["serial_source"], f["lens"]) == \
        ("Nikon", "D750", "3001234", "xmp:aux:SerialNumber", "24-70mm f/2.8")
    assert f["xmp_source"] == "embedded"
    create = next(d for d in f["dates"] if d["source"] == "xmp:xmp:CreateDate")
    assert (create["value"], create["utc"], create["tz_source"]) == ("2020-05-01T10:00:00", None, "unknown")
    assert f["gps"]["source"] == "xmp" and f["gps"]["latitude"] == pytest.approx(48.85675)
    assert f["gps"]["altitude"] == 35.5 and f["gps_valid"] is True
    assert not rec.warnings


def test_exif_wins_and_disagreement_is_said() -> None:
    tiff, _ = build_tiff(good_ifd0(), good_exif(offset=None, taken="2020:05:01 11:00:00"))
    rec = _record(_jpeg_with_xmp(tiff, PACKET))
    f = rec.fields
    assert f["taken_at"].startswith("2020-05-01T11:00:00") and f["make"] != "Nikon"
    assert f["taken_at_source"]["source"] == "exif:DateTimeOriginal"
    assert "xmp:xmp:CreateDate by -3600 s" in f["taken_at_source"]["reason"]
    sources = [d["source"] for d in f["dates"]]
    assert sources[0] == "exif:DateTimeOriginal" and "xmp:exif:DateTimeOriginal" in sources


@pytest.mark.parametrize("packet, message", [
    (b'<x:xmpmeta><!DOCTYPE x [<!ENTITY a "aaaa">]><rdf:RDF/></x:xmpmeta>', "DOCTYPE"),
    (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF', "not well-formed"),
    (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
     b'<rdf:Description xmlns:e="http://ns.adobe.com/exif/1.0/" e:DateTimeOriginal="soon"'
     b' e:GPSLatitude="99,0N" e:GPSLongitude="1,0E"/></rdf:RDF></x:xmpmeta>', "not a date"),
])
def test_hostile_packets_warn_and_go_on(packet: bytes, message: str) -> None:
    rec = _record(_jpeg_with_xmp(None, packet))
    assert any(message in w for w in rec.warnings), rec.warnings
    assert rec.fields["taken_at"] is None and rec.fields["gps"] is None


def test_corpus_xmp_datetimeoriginal(corpus: Path) -> None:
    """Issue 16: 30-type_error.jpg holds XMP DateTimeOriginal 2013:07:05 03:18:27Z only."""
    rec = _record((corpus / "exif/exif-py/jpg/tests/30-type_error.jpg").read_bytes())
    assert rec.fields["taken_at_utc"] == "2013-07-05T03:18:27Z"
    assert rec.fields["taken_at_source"]["source"] == "xmp:exif:DateTimeOriginal"


SIDECAR = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
 xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" photoshop:DateCreated="2019-12-24T18:30:00-05:00"
 aux:SerialNumber="SIDE-42"/></rdf:RDF></x:xmpmeta>"""


def test_sidecar_merged_into_its_photo(forensic, tmp_path: Path) -> None:
    evidence = tmp_path / "card"
    (evidence / "DCIM").mkdir(parents=True)
    (evidence / "DCIM" / "IMG_0001.JPG").write_bytes(jpeg(None))
    (evidence / "DCIM" / "IMG_0001.xmp").write_bytes(SIDECAR)
    (evidence / "DCIM" / "IMG_0002.JPG").write_bytes(jpeg(None))        # no sidecar: left as it is
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-X", "--examiner", "Ann")
    forensic("evidence", "add", evidence, "--case", case, "--id", "card")
    forensic("triage", "--case", case, expect=None)
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in forensic("photos", "--case", case, "--json").jsonl()}
    assert set(rows) == {"IMG_0001.JPG", "IMG_0002.JPG"}             # the sidecar is no photo
    one = rows["IMG_0001.JPG"]
    assert (one["taken_at"], one["taken_at_utc"], one["serial"], one["xmp_source"]) == \
        ("2019-12-24T18:30:00-05:00", "2019-12-24T23:30:00Z", "SIDE-42", "sidecar")
    assert one["taken_at_source"]["source"] == "xmp-sidecar:photoshop:DateCreated"
    assert rows["IMG_0002.JPG"]["xmp_source"] is None and rows["IMG_0002.JPG"]["taken_at"] is None
    json.dumps(one)


def _jpeg_with_ciff(heap: bytes) -> bytes:
    data = jpeg(None)
    payload = b"II\x1a\x00\x00\x00HEAPJPGM" + heap
    return data[:2] + b"\xff\xe0" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


def test_hostile_ciff_heaps_warn_and_go_on() -> None:
    import struct
    bad_table = b"\x00" * 16 + struct.pack("<I", 0xFFFFFF00)
    rec = _record(_jpeg_with_ciff(bad_table))
    assert any("CIFF table offset" in w for w in rec.warnings) and rec.fields["make"] is None
    # a sub-heap (type 5) that is the heap itself: walked MAX_DEPTH times at most, no hang
    table = struct.pack("<H", 1) + struct.pack("<HII", 0x2800 | 0x000A, 16, 0)
    loop = table + b"\x00" * 2 + struct.pack("<I", 0)
    rec = _record(_jpeg_with_ciff(loop))
    assert rec.fields["make"] is None
