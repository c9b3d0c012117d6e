"""photo_exif: fields of a good photo, time-zone provenance, every defect, fuzzing."""
from __future__ import annotations

import io
import json
import math
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensic.extractors.base import ExtractorInput
from forensic.extractors.photo_exif import FIELDS, PhotoExifExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.extractors.registry import all_extractors
from tests.extractors import fixtures_photo as F
from workcount import counted

# Work is bounded, not wall time. The tests' extractor has no clock bound (a loaded machine
# must not change a record) and an I/O-call bound above the largest legitimate structure of
# the fixtures (the 65535-entry IFD takes about 262,000 read/seek calls); every file must
# then be done within STEPS Python-level calls (about 2.6 per I/O call when the bound is
# reached; a good photo takes about 2,200).
IO_CALLS = 300_000
STEPS = 4 * IO_CALLS


def extractor_for_tests(**bounds) -> PhotoExifExtractor:
    extractor = PhotoExifExtractor()
    extractor.time_limit = math.inf
    extractor.max_io_calls = IO_CALLS
    for name, value in bounds.items():
        setattr(extractor, name, value)
    return extractor


def run(data: bytes, name: str = "photo.jpg", mime: str = "image/jpeg", extractor=None,
        reopen: bool = False, **options) -> tuple[ArtifactRecord, list[ExtractionWarning]]:
    extractor = extractor or extractor_for_tests()
    item = ExtractorInput(name, name, mime, len(data), None if reopen else data,
                          reopen=(lambda: io.BytesIO(data)) if reopen else None,
                          options=options or None)
    out, steps = counted(lambda: list(extractor.extract(item)))
    assert steps <= STEPS, f"{steps} Python calls for one {len(data)}-byte file"
    records = [o for o in out if isinstance(o, ArtifactRecord)]
    warnings = [o for o in out if isinstance(o, ExtractionWarning)]
    assert len(records) == 1
    record = records[0]
    assert record.record_type == "photo/exif"
    assert list(record.fields) == list(FIELDS)
    json.dumps(record.fields)
    assert [w.message for w in warnings] == list(record.warnings)
    assert all(w.extractor == "photo_exif" for w in warnings)
    return record, warnings


def _input(data: bytes, name: str = "photo.jpg", mime: str = "image/jpeg") -> ExtractorInput:
    return ExtractorInput(name, name, mime, len(data), data)


def stamps(record: ArtifactRecord) -> dict:
    return {t.label: t for t in record.timestamps}


# -- registry and selection -------------------------------------------------------------
def test_registered_and_available() -> None:
    info = {i.name: i for i in all_extractors()}["photo_exif"]
    assert info.available and info.record_types == ("photo/exif", "photo/xmp-sidecar")


@pytest.mark.parametrize("path,mime,head", [
    ("a.bin", "image/jpeg", b""), ("a.bin", "image/heic", b""), ("a.bin", "image/x-canon-cr2", b""),
    ("a.bin", "image/x-nikon-nef", b""), ("a.bin", "image/webp", b""), ("IMG_1.CR3", "application/octet-stream", b""),
    ("x.DNG", "", b""), ("noext", "application/octet-stream", b"\xff\xd8\xff\xe1"),
    ("noext", "application/octet-stream", b"\x00\x00\x00\x18ftypheic"),
    ("noext", "application/octet-stream", b"II*\x00\x08\x00\x00\x00"),
])
def test_accepts_photos(path: str, mime: str, head: bytes) -> None:
    assert PhotoExifExtractor().accepts(path, mime, head)


@pytest.mark.parametrize("path,mime,head", [
    ("notes.txt", "text/plain", b"hello"), ("clip.mp4", "video/mp4", b"\x00\x00\x00\x18ftypisom"),
    ("a.gif", "image/gif", b"GIF89a"), ("chat.db", "application/x-sqlite3", b"SQLite format 3\x00"),
])
def test_rejects_others(path: str, mime: str, head: bytes) -> None:
    assert not PhotoExifExtractor().accepts(path, mime, head)


# -- good input ---------------------------------------------------------------------------
def test_good_jpeg_fields_and_no_warnings() -> None:
    record, warnings = run(F.good_jpeg())
    assert warnings == [] and not record.corrupted
    f = record.fields
    assert f["has_exif"] and f["exif_source"] == "jpeg-app1"
    assert (f["make"], f["model"]) == ("Canon", "Canon EOS 5D Mark IV")
    assert (f["serial"], f["serial_source"]) == ("012345678901", "BodySerialNumber")
    assert (f["lens_model"], f["lens_serial"]) == ("EF24-70mm f/2.8L II USM", "0000c1234a")
    assert f["software"] == "Firmware Version 1.0.4"
    assert f["taken_at"] == "2021-06-01T14:30:15.250000+02:00"
    assert f["taken_at_utc"] == "2021-06-01T12:30:15.250000Z"
    assert f["taken_at_raw"] == "2021:06:01 14:30:15" and f["subsec"] == "25"
    assert (f["tz_known"], f["tz_source"], f["tz_offset_minutes"]) == (True, "offset_tag", 120)
    assert f["offset_time_original"] == "+02:00"
    assert f["digitized_at"] == "2021-06-01T14:30:15+02:00" and f["digitized_tz_source"] == "offset_tag"
    # DateTime has no OffsetTime: its zone comes from the GPS inference, and says so
    assert f["modified_at"] == "2021-06-01T14:31:00+02:00" and f["modified_tz_source"] == "gps"
    assert f["lat"] == pytest.approx(48 + 51 / 60 + 24.3 / 3600, abs=1e-9)
    assert f["lon"] == pytest.approx(2 + 17 / 60 + 40.2 / 3600, abs=1e-9)
    assert f["alt"] == pytest.approx(-3.5)                       # GPSAltitudeRef 1: below sea level
    assert f["gps_valid"] is True and f["gps_raw"] is None
    assert f["gps_at"] == "2021-06-01T12:30:15Z"
    assert (f["direction"], f["direction_ref"], f["speed"], f["speed_ref"]) == (180.5, "T", 12.5, "K")
    assert (f["width"], f["height"], f["orientation"], f["has_thumbnail"]) == (640, 480, 6, True)
    s = stamps(record)
    assert set(s) == {"taken", "digitized", "modified", "gps"}
    assert s["gps"].tz_source == "utc" and s["gps"].utc.isoformat() == "2021-06-01T12:30:15+00:00"
    assert s["taken"].raw == "2021:06:01 14:30:15"


@pytest.mark.parametrize("name,data,mime,source", [
    ("photo.tif", F.good_tiff_file(), "image/tiff", "tiff"),
    ("photo.tif", F.good_tiff_file(big_endian=True), "image/tiff", "tiff"),
    ("photo.png", F.png(F.good_tiff_block()[0]), "image/png", "png-exif"),
    ("photo.webp", F.webp(F.good_tiff_block()[0]), "image/webp", "webp-exif"),
])
def test_good_other_containers(name: str, data: bytes, mime: str, source: str) -> None:
    record, warnings = run(data, name, mime)
    assert warnings == [] and not record.corrupted
    assert record.fields["exif_source"] == source
    assert record.fields["model"] == "Canon EOS 5D Mark IV"
    assert record.fields["taken_at"] == "2021-06-01T14:30:15.250000+02:00"
    assert record.fields["lat"] == pytest.approx(48.85675)


def test_image_without_exif_is_listed_without_warning() -> None:
    record, warnings = run(F.png(None), "plain.png", "image/png")
    assert warnings == [] and not record.corrupted
    assert record.fields["has_exif"] is False and record.fields["make"] is None
    assert (record.fields["width"], record.fields["height"]) == (64, 48)   # from the PNG header
    assert record.timestamps == ()


def test_content_read_through_reopen() -> None:
    record, warnings = run(F.good_jpeg(), reopen=True)
    assert warnings == [] and record.fields["make"] == "Canon"


def test_read_cap_is_reported_not_called_damage() -> None:
    data = F.good_jpeg()
    extractor = extractor_for_tests(max_read=data.index(b"Canon\x00") - 4)   # the values lie beyond the cap
    record, warnings = run(data, extractor=extractor)
    assert not record.corrupted
    assert warnings[0].message.startswith(f"only the first {extractor.max_read} of {len(data)} bytes")


# -- time-zone provenance ------------------------------------------------------------------
def _photo(offset: str | None = None, gps: bool = True, gps_time=((12, 1), (30, 1), (15, 1))) -> bytes:
    block, _ = F.good_tiff_block(exif=F.good_exif(offset=offset),
                                 gps=F.good_gps(time=gps_time) if gps else None)
    return F.jpeg(block)


def test_tz_from_offset_tag() -> None:
    record, _ = run(_photo(offset="-05:30"))
    f = record.fields
    assert f["tz_source"] == "offset_tag" and f["tz_known"] is True
    assert f["taken_at"] == "2021-06-01T14:30:15.250000-05:30"
    assert f["taken_at_utc"] == "2021-06-01T20:00:15.250000Z"


def test_tz_inferred_from_gps_time() -> None:
    record, warnings = run(_photo(offset=None))
    f = record.fields
    assert warnings == []
    assert (f["tz_source"], f["tz_offset_minutes"]) == ("gps", 120)
    assert f["taken_at"] == "2021-06-01T14:30:15.250000+02:00"
    assert f["taken_at_utc"] == "2021-06-01T12:30:15.250000Z"
    assert stamps(record)["taken"].tz_source == "gps"


def test_tz_gps_inference_rounds_to_quarter_hours() -> None:
    # GPS fix 7 minutes older than the shutter: +2:07 rounds to +2:00
    record, _ = run(_photo(offset=None, gps_time=((12, 1), (23, 1), (15, 1))))
    assert (record.fields["tz_source"], record.fields["tz_offset_minutes"]) == ("gps", 120)


def test_tz_not_inferred_from_a_gps_time_too_far_off() -> None:
    record, _ = run(_photo(offset=None, gps_time=((0, 1), (0, 1), (0, 1))), )
    # 14:30 local vs 00:00 UTC the same day = +14:30: beyond any zone, so not an offset
    # (the photo's position still gives its zone where timezonefinder is installed)
    assert record.fields["tz_source"] in ("location", "unknown")


def test_tz_assumed_by_examiner() -> None:
    record, warnings = run(_photo(offset=None, gps=False), assume_tz="America/New_York")
    f = record.fields
    assert warnings == []
    assert (f["tz_source"], f["tz_known"], f["tz_offset_minutes"]) == ("assumed", True, -240)
    assert f["taken_at"] == "2021-06-01T14:30:15.250000-04:00"
    assert f["taken_at_utc"] == "2021-06-01T18:30:15.250000Z"


def test_tz_unknown_is_never_utc() -> None:
    record, warnings = run(_photo(offset=None, gps=False))
    f = record.fields
    assert warnings == []
    assert (f["tz_source"], f["tz_known"], f["taken_at_utc"]) == ("unknown", False, None)
    assert f["taken_at"] == "2021-06-01T14:30:15.250000"            # naive: no offset
    taken = stamps(record)["taken"]
    assert taken.utc is None and taken.local.tzinfo is None and not taken.tz_known


def test_tz_bad_assumed_zone_is_a_warning_not_damage() -> None:
    record, warnings = run(_photo(offset=None, gps=False), assume_tz="Mars/Olympus_Mons")
    assert not record.corrupted and record.fields["tz_source"] == "unknown"
    assert [w.message for w in warnings] == ["--assume-tz 'Mars/Olympus_Mons' is not a known time zone: ignored"]


def test_tz_garbage_offset_tag() -> None:
    record, warnings = run(_photo(offset="+99:xx", gps=False))
    assert record.corrupted and record.fields["offset_time_original"] == "+99:xx"
    assert record.fields["tz_source"] == "unknown"
    assert "OffsetTimeOriginal '+99:xx' is not a UTC offset (+HH:MM)" in record.warnings


def test_tz_from_location_when_timezonefinder_installed() -> None:
    pytest.importorskip("timezonefinder")
    record, _ = run(_photo(offset=None, gps_time=None))
    assert (record.fields["tz_source"], record.fields["tz_offset_minutes"]) == ("location", 120)  # Paris, June


# -- bad input ----------------------------------------------------------------------------
# fixture -> (a phrase its warning must hold, a field the partial read must still give)
EXPECTED = {
    "exif_truncated_ifd": ("declares 7 entries but only 3 fit", ("orientation", 6)),
    "exif_ifd_loop": ("IFD loop", ("model", "Canon EOS 5D Mark IV")),
    "exif_self_pointing_ifd": ("IFD1 next-IFD pointer points to IFD1 itself", ("make", "Canon")),
    "exif_subifd_points_to_parent": ("Exif IFD pointer in IFD0 points to IFD0 itself", ("make", "Canon")),
    "exif_huge_tag_count": ("value of 2147483632 bytes", ("taken_at", "2021-06-01T14:30:15.250000+02:00")),
    "exif_huge_entry_count": ("declares 65535 entries", ("model", "Canon EOS 5D Mark IV")),
    "exif_offset_past_end": ("tag 0x0110: value of 21 bytes at offset 2147418112 runs past the end",
                             ("make", "Canon")),
    "exif_unknown_field_type": ("tag 0x0112 has unknown field type 99", ("make", "Canon")),
    "gps_zero_denominator": ("GPSLatitude '48/0 51/1 243/10 N' has a zero denominator",
                             ("gps_raw", {"lat": "48/0 51/1 243/10 N", "lon": "2/1 17/1 201/5 E"})),
    "gps_out_of_range": ("GPSLatitude 123.0 is out of range", ("gps_valid", False)),
    "gps_null_island": ("GPS position is 0/0", ("gps_raw", {"lat": "0/1 0/1 0/1 N", "lon": "0/1 0/1 0/1 E"})),
    "gps_altitude_zero_denominator": ("GPSAltitude has a zero denominator (350/0)", ("alt", None)),
    "date_all_zeros": ("DateTimeOriginal is all zeros", ("taken_at_raw", "0000:00:00 00:00:00")),
    "date_garbage": ("'2021:13:45 99:99:99' is not a valid date-time", ("taken_at", None)),
    "garbage_strings": ("Make is not valid text", ("software", "Éditeur ünïcode")),
    "random_bytes_named_jpg": ("content is not a recognisable image", ("has_exif", False)),
    "png_huge_dimensions": ("100000x100000 (10000000000 pixels) are a decompression bomb", ("width", 100000)),
    "jpeg_huge_dimensions": ("decompression bomb", ("make", "Canon")),
    "jpeg_truncated_scan": ("no end-of-image marker", ("make", "Canon")),
}


def test_every_defect_fixture_has_an_expectation() -> None:
    assert set(EXPECTED) == set(F.ALL_DEFECTS)


@pytest.mark.parametrize("name", sorted(F.ALL_DEFECTS))
def test_defect_flagged_and_partial_tags_kept(name: str) -> None:
    data = F.ALL_DEFECTS[name]()
    mime = "image/png" if name.startswith("png") else "image/jpeg"
    record, warnings = run(data, f"{name}.{'png' if name.startswith('png') else 'jpg'}", mime)
    phrase, (field, value) = EXPECTED[name]
    assert record.corrupted
    assert any(phrase in w.message for w in warnings), [w.message for w in warnings]
    assert record.fields[field] == value


def test_gps_invalid_position_is_kept_raw_not_plotted() -> None:
    record, _ = run(F.gps_zero_denominator())
    f = record.fields
    assert (f["lat"], f["lon"], f["gps_valid"]) == (None, None, False)
    assert f["gps_raw"]["lat"].startswith("48/0")


def test_garbage_strings_are_escaped_and_flagged() -> None:
    record, _ = run(F.garbage_strings())
    assert record.fields["make"] == "\\xff\\xfeCa\\x9fnon"
    assert record.fields["model"] == "EOS\x07\x1b[31m 5D"        # kept verbatim; flagged
    assert any("Model holds control characters" in w for w in record.warnings)
    assert not any("Software" in w for w in record.warnings)      # valid UTF-8 is fine


def test_time_bound_stops_parsing_and_keeps_the_photo() -> None:
    extractor = extractor_for_tests(time_limit=-1.0)        # past at the first look at the clock
    record, warnings = run(F.good_jpeg(), extractor=extractor)
    assert record.corrupted
    assert any("per-file bound: time bound reached" in w.message for w in warnings)


def test_io_bound_stops_a_looping_parser() -> None:
    extractor = extractor_for_tests(max_io_calls=50)
    record, warnings = run(F.good_jpeg(), extractor=extractor)
    assert record.corrupted
    assert any("I/O-call bound reached" in w.message for w in warnings)
    # stopped there: far less work than the whole parse (about 370 I/O calls)
    _, whole = counted(lambda: list(extractor_for_tests().extract(_input(F.good_jpeg()))))
    _, cut = counted(lambda: list(extractor.extract(_input(F.good_jpeg()))))
    assert cut < whole / 2, (cut, whole)


@pytest.mark.parametrize("bomb,plain,mime", [
    (F.png_huge_dimensions, lambda: F.png(None), "image/png"),
    (F.jpeg_huge_dimensions, lambda: F.jpeg(F.good_tiff_block()[0]), "image/jpeg"),
])
def test_bomb_headers_cost_no_more_than_the_same_file_with_small_dimensions(bomb, plain, mime) -> None:
    """10 gigapixels declared: no pixel is decoded or allocated. The work (Python calls) and
    the memory are those of the same file declaring small dimensions."""
    extractor = extractor_for_tests()
    list(extractor.extract(_input(plain(), "warm", mime)))      # lazy imports, caches: done once
    measured = []
    for build in (plain, bomb):
        data = build()
        tracemalloc.start()
        try:
            out, steps = counted(lambda data=data: list(extractor.extract(_input(data, "photo", mime))))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        measured.append((steps, peak, out[0]))
    (plain_steps, plain_peak, _), (bomb_steps, bomb_peak, record) = measured
    assert any("decompression bomb" in w for w in record.warnings)            # the bomb was seen
    assert bomb_steps <= plain_steps + 100, (plain_steps, bomb_steps)
    assert bomb_peak <= plain_peak + (64 << 10), (plain_peak, bomb_peak)      # not 10 GB of pixels


# -- fuzzing ------------------------------------------------------------------------------
_SEEDS = [F.good_jpeg(), F.good_tiff_file(), F.png(F.good_tiff_block()[0]), F.webp(F.good_tiff_block()[0])]
_mutation = st.tuples(st.sampled_from(["flip", "insert", "truncate", "overwrite", "zero_den"]),
                      st.integers(min_value=0, max_value=2 ** 16), st.binary(min_size=1, max_size=8))


def _mutate(data: bytes, mutations) -> bytes:
    out = bytearray(data)
    for kind, pos, blob in mutations:
        if not out:
            break
        pos %= len(out)
        if kind == "flip":
            out[pos] ^= 1 << (blob[0] % 8)
        elif kind == "insert":
            out[pos:pos] = blob
        elif kind == "truncate":
            del out[pos:]
        elif kind == "overwrite":
            out[pos:pos + len(blob)] = blob
        else:                                   # a 4-byte run of 0x00 / 0xFF: zero denominators, huge counts
            out[pos:pos + 4] = (b"\x00" if blob[0] % 2 else b"\xff") * 4
    return bytes(out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(_SEEDS))), mutations=st.lists(_mutation, min_size=1, max_size=6))
def test_fuzz_mutated_photos_never_raise_and_stay_bounded(seed: int, mutations) -> None:
    data = _mutate(_SEEDS[seed], mutations)
    record, warnings = run(data)                 # asserts: one record, bounded work, JSON fields
    if warnings:
        assert record.warnings
