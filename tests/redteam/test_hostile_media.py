"""Red team: photos and videos written by a hostile device owner (GPMF tracks, XMP
packets); each test is one attack, see docs/threat-model.md."""
from __future__ import annotations

import struct
import time
import tracemalloc
from datetime import datetime, timezone

from forensic.extractors import video_meta
from forensic.extractors.base import ExtractorInput
from forensic.extractors.records import ArtifactRecord
from tests.extractors import video_builders as vb


def _gopro_with_one_sample_named(times: int, points: int) -> bytes:
    """A GoPro-like MP4 (as tests/extractors/video_builders.gopro_mp4 lays one out) whose
    gpmd sample table names its one sample ``times`` times (every chunk at the same offset):
    a small file whose GPS track claims ``times * points`` points."""
    sample = vb.gpmf_sample("240615142205.000", [(46.5 + i * 1e-6, 7.9, 2000.0, 3.0, 3.0) for i in range(points)])
    ftyp = vb.atom(b"ftyp", b"mp41", b"\0\0\0\0", b"mp41")
    mdat = vb.atom(b"mdat", sample)
    offset = len(ftyp) + 8
    tkhd = vb.atom(b"tkhd", b"\0" * 84)
    mdhd = vb.atom(b"mdhd", struct.pack(">B3xIIIIHH", 0, 0, 0, 1000, 1000 * times, 0, 0))
    hdlr = vb.atom(b"hdlr", b"\0\0\0\0mhlrmeta", b"\0" * 12, b"\0")
    stsd = vb.atom(b"stsd", struct.pack(">II", 0, 1), vb.atom(b"gpmd", b"\0" * 8))
    stts = vb.atom(b"stts", struct.pack(">III", 0, 1, times), struct.pack(">I", 1000))
    stsc = vb.atom(b"stsc", struct.pack(">IIIII", 0, 1, 1, 1, 1))
    stsz = vb.atom(b"stsz", struct.pack(">III", 0, len(sample), times))
    stco = vb.atom(b"stco", struct.pack(">II", 0, times), struct.pack(">I", offset) * times)
    stbl = vb.atom(b"stbl", stsd, stts, stsc, stsz, stco)
    trak = vb.atom(b"trak", tkhd, vb.atom(b"mdia", mdhd, hdlr, vb.atom(b"minf", stbl)))
    created = datetime(2024, 6, 15, 16, 22, 5, tzinfo=timezone.utc)
    moov = vb.atom(b"moov", vb.mvhd(created, created, 1000, 1000 * times), trak)
    return ftyp + mdat + moov


def test_a_gpmf_sample_named_many_times_is_no_memory_bomb():
    """A 300 KB GoPro clip whose sample table names its one 60 KB GPS sample 2,000 times:
    each read gave 3,000 points, so 6 million point dicts (GBs with 50,000 names) before the
    track was decimated. A sample that overlaps one already read is refused, and the points
    read per file are bounded."""
    data = _gopro_with_one_sample_named(2000, 3000)
    assert len(data) < 400_000
    tracemalloc.start()
    began = time.perf_counter()
    out = list(video_meta.VideoMetaExtractor().extract(ExtractorInput("GX.MP4", "GX.MP4", "video/mp4", len(data),
                                                                      data)))
    elapsed = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rec = next(r for r in out if isinstance(r, ArtifactRecord))
    assert rec.fields["track_points"] <= 3000
    assert elapsed < 5 and peak < 200 << 20, (elapsed, peak)
    assert any("overlap" in getattr(w, "message", "") for w in out)


def test_a_utf16_xmp_sidecar_cannot_slip_a_doctype_past_the_check():
    """An XMP sidecar in UTF-16 (XMP allows it) with a DOCTYPE and nested entities and no
    ``x:xmpmeta`` wrapper: the byte test for ``<!DOCTYPE`` saw nothing, and expat expanded the
    entities into the creator (10,000 bytes here, up to expat's own amplification limit).
    The packet is now refused whatever its encoding."""
    from forensic.extractors import xmp
    entities = "".join(f'<!ENTITY a{i + 1} "{(f"&a{i};" if i else "&a;") * 10}">' for i in range(2))
    doc = (f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "{"A" * 100}">{entities}]>'
           '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
           'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>&a2;</dc:creator></rdf:Description></rdf:RDF>')
    data = doc.encode("utf-16")
    got = xmp.parse(xmp.find_packet(data) or data)
    assert got.props == {} and any("DOCTYPE" in p for p in got.problems)


def test_a_video_whose_place_tag_and_gps_track_disagree_says_so():
    """A GoPro clip given a ``©xyz`` place (Paris; any tag editor writes one) while its GPS
    track was recorded in the Alps: the record showed Paris as the clip's place and nothing
    said that the track, kept beside it, is 400 km away. Both are kept, and a warning names
    the distance."""
    sample = vb.gpmf_sample("240615142205.000", [(46.5, 7.9, 2000.0, 3.0, 3.0), (46.50001, 7.90002, 2001.0, 3.0, 3.0)])
    data = bytearray(vb.gopro_mp4(datetime(2024, 6, 15, 16, 22, 5, tzinfo=timezone.utc), [sample]))
    udta = data.rindex(b"udta") - 4
    xyz = vb.text_atom(b"\xa9xyz", "+48.8584+002.2945/")
    struct.pack_into(">I", data, udta, struct.unpack_from(">I", data, udta)[0] + len(xyz))
    moov = data.index(b"moov") - 4
    struct.pack_into(">I", data, moov, struct.unpack_from(">I", data, moov)[0] + len(xyz))
    end = udta + struct.unpack_from(">I", data, udta)[0] - len(xyz)
    data[end:end] = xyz
    out = list(video_meta.VideoMetaExtractor().extract(ExtractorInput("GX.MP4", "GX.MP4", "video/mp4", len(data),
                                                                      bytes(data))))
    rec = next(r for r in out if isinstance(r, ArtifactRecord))
    assert (round(rec.fields["lat"], 4), rec.fields["gps"]["source"]) == (48.8584, "quicktime:\u00a9xyz")
    assert rec.fields["track"][0]["latitude"] == 46.5
    said = [w.message for w in out if not isinstance(w, ArtifactRecord)]
    assert any("km from the GPS track" in m for m in said), said


def test_a_ciff_heap_that_contains_itself_is_bounded():
    """A Canon CRW whose heap's 1,000 records are each a sub-heap pointing back at the heap
    itself (a cycle, and a fan-out of 1,000 at each level): already defended (at most 8
    nested heaps and 2,000 records in all, then a problem is said)."""
    from forensic.extractors import ciff
    header = b"II" + struct.pack("<I", 14) + b"HEAPCCDR"
    count = 1000
    table = struct.pack("<H", count)
    size = 2 + 10 * count + 4
    table += struct.pack("<HII", 0x2800, size, 0) * count      # kind 5 (a sub-heap), in the heap, at 0
    data = header + table + struct.pack("<I", 0)                # the table sits at the heap's start
    began = time.perf_counter()
    got, problems = ciff.parse(data, 0)
    assert time.perf_counter() - began < 1
    assert any("more than 2000 records" in p for p in problems), problems
