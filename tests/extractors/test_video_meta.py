"""media/video: time, device, place and GPMF track of MOV/MP4 files built atom by atom here,
compared with exiftool's reading of the same files; hostile files never stop it."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from forensic.extractors import video_meta
from forensic.extractors.base import ExtractorInput
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from tests.extractors import video_builders as vb

UTC = timezone.utc
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")


def run(data: bytes, name: str = "clip.mov", mime: str = "video/quicktime") -> tuple[ArtifactRecord, list[str]]:
    out = list(video_meta.VideoMetaExtractor().extract(ExtractorInput(name, name, mime, len(data), data)))
    records = [r for r in out if isinstance(r, ArtifactRecord)]
    assert len(records) == 1
    return records[0], [w.message for w in out if isinstance(w, ExtractionWarning)]


def exiftool(path: Path, *args: str) -> dict:
    out = subprocess.run(["exiftool", "-j", "-n", *args, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def iphone() -> bytes:
    return vb.iphone_mov(datetime(2024, 6, 15, 12, 22, 5, tzinfo=UTC), "2024-06-15T14:22:05+0200",
                         "+48.8584+002.2945+035.000/")


def gopro() -> bytes:
    s1 = vb.gpmf_sample("240615142205.000", [(46.5, 7.9, 2000.5, 3.2, 3.3), (46.50001, 7.90002, 2001.0, 3.4, 3.5)])
    s2 = vb.gpmf_sample("240615142206.000", [(46.50002, 7.90004, 2001.5, 3.6, 3.7),
                                             (46.50003, 7.90006, 2002.0, 3.8, 3.9)])
    # the camera's clock: local time (UTC+2) written into mvhd
    return vb.gopro_mp4(datetime(2024, 6, 15, 16, 22, 5, tzinfo=UTC), [s1, s2])


def test_accepts_videos_not_heic_or_audio() -> None:
    x = video_meta.VideoMetaExtractor()
    assert x.accepts("a.mov", "video/quicktime", b"")
    assert x.accepts("a.bin", "application/octet-stream", b"\0\0\0\x18ftypmp42")
    assert not x.accepts("a.heic", "image/heic", b"\0\0\0\x18ftypheic")
    assert not x.accepts("a.m4a", "audio/mp4", b"\0\0\0\x18ftypM4A ")
    assert not x.accepts("a.jpg", "image/jpeg", b"\xff\xd8\xff")


@needs_exiftool
def test_iphone_mov_agrees_with_exiftool(tmp_path: Path) -> None:
    data = iphone()
    (tmp_path / "IMG_0001.MOV").write_bytes(data)
    ref = exiftool(tmp_path / "IMG_0001.MOV")
    rec, warnings = run(data, "IMG_0001.MOV")
    f = rec.fields
    assert warnings == [] and not rec.corrupted
    assert (f["make"], f["model"], f["software"]) == (ref["Make"], ref["Model"], str(ref["Software"]))
    assert (f["lat"], f["lon"], f["alt"]) == (ref["GPSLatitude"], ref["GPSLongitude"], ref["GPSAltitude"])
    assert f["gps_valid"] and f["gps"]["source"] == "quicktime:com.apple.quicktime.location.ISO6709"
    assert ref["CreationDate"] == "2024:06:15 14:22:05+02:00"
    assert f["taken_at"] == "2024-06-15T14:22:05+02:00" and f["taken_at_utc"] == "2024-06-15T12:22:05Z"
    assert (f["tz_source"], f["tz_offset_minutes"]) == ("offset_tag", 120)
    assert f["taken_at_source"]["source"] == "quicktime:CreationDate"
    # mvhd kept beside it, UTC for a phone that writes its own keys, and it agrees
    mvhd = next(d for d in f["dates"] if d["source"] == "quicktime:CreateDate")
    assert ref["CreateDate"] == "2024:06:15 12:22:05"
    assert (mvhd["utc"], mvhd["tz_source"]) == ("2024-06-15T12:22:05Z", "utc")
    assert (f["width"], f["height"]) == (ref["ImageWidth"], ref["ImageHeight"])
    assert f["frame_rate"] == ref["VideoFrameRate"] and f["duration_s"] == ref["Duration"]
    assert f["codecs"] == ["avc1"]
    assert [t.label for t in rec.timestamps] == ["taken", "modified"]


@needs_exiftool
def test_android_mp4_xyz_and_utc_mvhd(tmp_path: Path) -> None:
    data = vb.android_mp4(datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC), "+37.3349-122.0090/")
    (tmp_path / "VID.mp4").write_bytes(data)
    ref = exiftool(tmp_path / "VID.mp4")
    rec, warnings = run(data, "VID.mp4", "video/mp4")
    f = rec.fields
    assert warnings == []
    assert (f["lat"], f["lon"]) == (ref["GPSLatitude"], ref["GPSLongitude"])
    assert f["gps"]["source"] == "quicktime:\u00a9xyz"
    assert (f["taken_at_utc"], f["tz_source"], f["software"]) == ("2023-01-02T03:04:05Z", "utc", "13")
    assert f["container"] == "MP4" and f["brand"] == "mp42" and f["codecs"] == ["hvc1"]


@needs_exiftool
def test_gopro_gpmf_track_agrees_with_exiftool(tmp_path: Path) -> None:
    data = gopro()
    (tmp_path / "GX010001.MP4").write_bytes(data)
    ref = exiftool(tmp_path / "GX010001.MP4", "-ee", "-G3")
    assert ref["Doc1:GPSDateTime"] == "2024:06:15 14:22:05.000"
    # exiftool -j keeps one value of a tag repeated in a Doc: the points are read with -a -s
    listing = subprocess.run(["exiftool", "-ee", "-n", "-a", "-G3", "-s", "-GPSLatitude", "-GPSLongitude",
                              "-GPSAltitude", "-GPSSpeed", str(tmp_path / "GX010001.MP4")],
                             capture_output=True, text=True, check=True).stdout.splitlines()
    values: dict[str, list[float]] = {"GPSLatitude": [], "GPSLongitude": [], "GPSAltitude": [], "GPSSpeed": []}
    for line in listing:
        group, rest = line.split(None, 1)
        tag, value = (s.strip() for s in rest.split(":", 1))
        if group.startswith("[Doc"):
            values[tag].append(float(value))
    want = list(zip(values["GPSLatitude"], values["GPSLongitude"], values["GPSAltitude"], values["GPSSpeed"],
                    strict=True))
    rec, warnings = run(data, "GX010001.MP4", "video/mp4")
    f = rec.fields
    assert warnings == []
    got = [(p["latitude"], p["longitude"], p["altitude"], p["speed"]) for p in f["track"]]
    assert [v for p in got for v in p] == pytest.approx([v for p in want for v in p])
    assert len(got) == 4 and f["track_points"] == 4
    assert f["track"][0]["time"] == "2024-06-15T14:22:05Z" and f["track"][2]["time"] == "2024-06-15T14:22:06Z"
    assert f["track"][1]["time"] == "2024-06-15T14:22:05.500000Z"     # evenly spread over its sample
    assert (f["serial"], f["model"], f["software"]) == (
        ref["Main:CameraSerialNumber"], ref["Main:Model"], ref["Main:FirmwareVersion"])
    assert f["make"] == "GoPro"
    # mvhd is the camera's local clock: its offset comes from the GPS time in the file
    assert ref["Main:CreateDate"] == "2024:06:15 16:22:05"
    assert (f["taken_at"], f["taken_at_utc"], f["tz_source"]) == (
        "2024-06-15T16:22:05+02:00", "2024-06-15T14:22:05Z", "gps")
    assert (f["lat"], f["lon"], f["gps_at"]) == (46.5, 7.9, "2024-06-15T14:22:05Z")
    assert (f["speed"], f["speed_ref"]) == (pytest.approx(3.2 * 3.6), "K")      # km/h, as photos give it
    assert "gpmd" in f["codecs"]


def test_gopro_gps9_points_carry_their_own_time() -> None:
    # 2024-06-15 is day 8932 since 2000-01-01; 14:22:05.5 is 51725.5 s of the day
    sample = vb.gpmf_gps9_sample([(46.5, 7.9, 2000.5, 3.2, 3.3, 8932, 51725.5),
                                  (46.6, 7.8, 1999.0, 3.0, 3.1, 8932, 51725.6)])
    rec, warnings = run(vb.gopro_mp4(datetime(2024, 6, 15, 16, 22, 5, tzinfo=UTC), [sample]), "GX.MP4")
    f = rec.fields
    assert warnings == []
    assert [(p["time"], p["latitude"], p["longitude"], p["altitude"]) for p in f["track"]] == [
        ("2024-06-15T14:22:05.500000Z", 46.5, 7.9, 2000.5), ("2024-06-15T14:22:05.600000Z", 46.6, 7.8, 1999.0)]
    assert (f["tz_source"], f["taken_at"]) == ("gps", "2024-06-15T16:22:05+02:00")


@needs_exiftool
def test_novatek_dashcam_track_agrees_with_exiftool(tmp_path: Path) -> None:
    blocks = [vb.freegps_block(datetime(2024, 3, 1, 8, 0, s, tzinfo=UTC), 40.4168 + s * 1e-4, -3.7038 - s * 1e-4,
                               20.0 + s, 650.0 + s) for s in range(3)]
    blocks.append(vb.freegps_block(datetime(2024, 3, 1, 8, 0, 3, tzinfo=UTC), 0, 0, 0, status=b"V"))   # no fix
    data = vb.novatek_mp4(datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC), blocks)     # the dashcam's local clock
    (tmp_path / "dash.mp4").write_bytes(data)
    ref = subprocess.run(["exiftool", "-ee", "-n", "-a", "-G3", "-s", "-GPSDateTime", "-GPSLatitude", "-GPSLongitude",
                          "-GPSAltitude", "-GPSSpeed", str(tmp_path / "dash.mp4")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    want: dict[str, list[str]] = {}
    for line in ref:
        group, rest = line.split(None, 1)
        tag, value = (x.strip() for x in rest.split(":", 1))
        want.setdefault(tag, []).append(value)
    rec, warnings = run(data, "dash.mp4", "video/mp4")
    f = rec.fields
    assert warnings == []
    assert [p["time"] for p in f["track"]] == [
        v.replace(":", "-", 2).replace(" ", "T") for v in want["GPSDateTime"]]
    assert [p["latitude"] for p in f["track"]] == pytest.approx([float(v) for v in want["GPSLatitude"]])
    assert [p["longitude"] for p in f["track"]] == pytest.approx([float(v) for v in want["GPSLongitude"]])
    assert [p["altitude"] for p in f["track"]] == pytest.approx([float(v) for v in want["GPSAltitude"]])
    # exiftool gives km/h; the track keeps m/s
    assert [p["speed"] * 3.6 for p in f["track"]] == pytest.approx([float(v) for v in want["GPSSpeed"]], rel=1e-5)
    assert f["gps"]["source"] == "novatek:freeGPS" and f["make"] is None
    assert (f["taken_at"], f["tz_source"]) == ("2024-03-01T09:00:00+01:00", "gps")


def test_corpus_quicktime_mov_agrees_with_reference(corpus: Path) -> None:
    path = corpus / "exif" / "exiftool" / "QuickTime.mov"
    ref_path = corpus / "exif" / "REFERENCE.exiftool.json"
    if not path.exists() or not ref_path.exists():
        pytest.skip("corpus QuickTime.mov absent")
    ref = next(e for e in json.loads(ref_path.read_text()) if e["SourceFile"].endswith("QuickTime.mov"))
    rec, warnings = run(path.read_bytes(), "QuickTime.mov")
    f = rec.fields
    assert warnings == []
    assert ref["QuickTime:CreateDate"] == "2005:08:11 14:03:54"
    # a Pentax camera wrote it: mvhd kept naive, zone unknown, never taken as UTC
    assert (f["taken_at"], f["taken_at_utc"], f["tz_source"]) == ("2005-08-11T14:03:54", None, "unknown")
    modified = next(d for d in f["dates"] if d["source"] == "quicktime:ModifyDate")
    assert modified["value"] == ref["QuickTime:ModifyDate"].replace(":", "-", 2).replace(" ", "T")
    assert (f["width"], f["height"]) == (ref["QuickTime:ImageWidth"], ref["QuickTime:ImageHeight"])
    assert f["make"] == ref["MakerNotes:Make"]                                   # Pentax TAGS atom
    xmp = next(d for d in f["dates"] if d["source"] == "xmp:xmp:MetadataDate")  # udta XMP_ packet
    assert ref["XMP:MetadataDate"] == "2008:09:12 11:17:39-04:00"
    assert (xmp["value"], xmp["utc"], xmp["tz_source"]) == ("2008-09-12T11:17:39-04:00", "2008-09-12T15:17:39Z",
                                                            "offset_tag")
    assert f["frame_rate"] == ref["QuickTime:VideoFrameRate"]
    assert f["duration_s"] == pytest.approx(ref["QuickTime:Duration"], abs=1e-4)


def test_disagreeing_dates_are_kept_and_named() -> None:
    # the phone's creation date says 12:22:05Z, mvhd 10 s later: both kept, taken_at says why
    data = vb.iphone_mov(datetime(2024, 6, 15, 12, 22, 15, tzinfo=UTC), "2024-06-15T14:22:05+02:00", "+48.8+002.3/")
    rec, warnings = run(data)
    f = rec.fields
    assert warnings == [] and f["taken_at_utc"] == "2024-06-15T12:22:05Z"
    assert f["taken_at_source"]["source"] == "quicktime:CreationDate"
    assert f["taken_at_source"]["reason"].endswith("disagrees: quicktime:CreateDate by +10 s")
    assert [d["source"] for d in f["dates"]] == ["quicktime:CreationDate", "quicktime:CreateDate",
                                                 "quicktime:ModifyDate"]


@needs_exiftool
def test_mp4_xmp_uuid_box_dates_are_listed(tmp_path: Path) -> None:
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreateDate="2023-01-02T05:04:05+02:00"/>'
              b'</rdf:RDF></x:xmpmeta>')
    uuid = vb.atom(b"uuid", bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC"), packet)
    data = vb.android_mp4(datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC), "+37.3349-122.0090/") + uuid
    (tmp_path / "VID.mp4").write_bytes(data)
    ref = exiftool(tmp_path / "VID.mp4", "-G")
    assert (ref["QuickTime:CreateDate"], ref["XMP:CreateDate"]) == ("2023:01:02 03:04:05", "2023:01:02 05:04:05+02:00")
    rec, warnings = run(data, "VID.mp4", "video/mp4")
    f = rec.fields
    xmp = next(d for d in f["dates"] if d["source"] == "xmp:xmp:CreateDate")
    assert warnings == [] and xmp["utc"] == "2023-01-02T03:04:05Z"        # the same instant: no disagreement
    assert "disagrees" not in f["taken_at_source"]["reason"]


# -- hostile input ----------------------------------------------------------------------------

def test_every_truncation_gives_a_record_never_a_crash() -> None:
    data = gopro()
    for cut in range(0, len(data), 7):
        rec, _ = run(data[:cut], "GX.MP4", "video/mp4")
        assert rec.record_type == "media/video"
    rec, warnings = run(data[: len(data) - 40], "GX.MP4", "video/mp4")
    assert rec.corrupted and any("past the end" in w for w in warnings)


def test_atom_size_past_the_end_is_cut_and_said() -> None:
    data = bytearray(iphone())
    moov = data.index(b"moov") - 4
    struct.pack_into(">I", data, moov, 0x7FFFFFF0)
    rec, warnings = run(bytes(data))
    assert rec.corrupted and any("runs past the end" in w for w in warnings)
    assert rec.fields["make"] == "Apple"          # what could be read is kept


def test_huge_sample_tables_are_bounded() -> None:
    data = bytearray(gopro())
    stsz = data.index(b"stsz")
    struct.pack_into(">I", data, stsz + 12, 0xFFFFFFFF)    # count: four billion samples
    stco = data.index(b"stco")
    struct.pack_into(">I", data, stco + 8, 0xFFFFFFFF)
    rec, _ = run(bytes(data), "GX.MP4", "video/mp4")
    assert rec.fields["track_points"] == 4          # the entries present, not the count claimed


def test_long_chunk_and_run_tables_stay_fast() -> None:
    # 200,000 chunks and 200,000 sample-to-chunk runs, all empty: one pass, not their product
    n = 200_000
    stbl = vb.atom(b"stbl", vb.atom(b"stsd", struct.pack(">II", 0, 1), vb.atom(b"gpmd", b"\0" * 8)),
                   vb.atom(b"stsz", struct.pack(">III", 0, 0, 1), struct.pack(">I", 4)),
                   vb.atom(b"stco", struct.pack(">II", 0, n), b"\0" * 4 * n),
                   vb.atom(b"stsc", struct.pack(">II", 0, n), b"".join(struct.pack(">III", i + 2, 0, 1)
                                                                      for i in range(n))))
    trak = vb.atom(b"trak", vb.atom(b"mdia", vb.atom(b"minf", stbl)))
    data = vb.atom(b"ftyp", b"mp41", b"\0" * 4) + vb.atom(b"moov", trak)
    start = time.perf_counter()
    rec, _ = run(data, "GX.MP4", "video/mp4")
    assert time.perf_counter() - start < 5 and rec.fields["track_points"] == 0


def test_zero_and_tiny_sizes_and_deep_nesting() -> None:
    deep = vb.atom(b"moov", *([b""]))
    for _ in range(40):
        deep = vb.atom(b"udta", deep)
    data = vb.atom(b"ftyp", b"qt  ", b"\0" * 4) + vb.atom(b"moov", deep) + struct.pack(">I4s", 3, b"free")
    rec, warnings = run(data)
    assert rec.corrupted and any("nested deeper" in w for w in warnings)
    assert any("below its header" in w for w in warnings)


def test_out_of_range_gps_points_are_left_out() -> None:
    sample = vb.gpmf_sample("240615142205.000", [(95.0, 7.9, 0.0, 0.0, 0.0), (46.5, 7.9, 10.0, 1.0, 1.0)])
    rec, warnings = run(vb.gopro_mp4(datetime(2024, 6, 15, 16, 22, 5, tzinfo=UTC), [sample]), "GX.MP4")
    assert any("out of range" in w for w in warnings) and rec.corrupted
    assert [p["latitude"] for p in rec.fields["track"]] == [46.5] and rec.fields["lat"] == 46.5


def test_not_a_video_is_a_corrupted_record() -> None:
    rec, warnings = run(b"this is not a movie at all" * 10, "holiday.mov")
    assert rec.corrupted and warnings and "not a QuickTime" in warnings[0]


def test_bad_iso6709_and_bad_creationdate_are_warned() -> None:
    data = vb.iphone_mov(datetime(2024, 1, 1, tzinfo=UTC), "yesterday", "somewhere")
    rec, warnings = run(data)
    assert rec.fields["lat"] is None and any("ISO 6709" in w for w in warnings)
    assert any("creationdate unreadable" in w for w in warnings)
    assert rec.fields["taken_at_source"]["source"] == "quicktime:CreateDate"      # the next source is used


def test_track_is_decimated_past_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video_meta, "MAX_TRACK_POINTS", 3)
    rec, _ = run(gopro(), "GX.MP4", "video/mp4")
    f = rec.fields
    assert (f["track_points"], len(f["track"]), f["track_decimated"]) == (4, 3, True)
    assert f["track"][-1]["latitude"] == 46.50003                     # the last point kept


def test_iso6709_forms() -> None:
    assert video_meta._iso6709("+37.3349-122.0090+010.000/") == (37.3349, -122.009, 10.0)
    lat, lon, alt = video_meta._iso6709("+4852.5+00217.7/")
    assert (round(lat, 4), round(lon, 4), alt) == (48.875, 2.2950, None)
    assert video_meta._iso6709("+95.0+000.0/") is None
