"""Conformance of the photo EXIF extractor with ExifTool on the third-party corpus.

``$FORENSIC_CORPUS/exif/REFERENCE.exiftool.json`` is ``exiftool -json -n -G`` output for every
file there. For every file, each of these fields that ExifTool reports is compared with what
the extractor gives for it:

=====================  ==========================================  ========================
field                  ExifTool (-n -G)                            extractor
=====================  ==========================================  ========================
make / model           ``EXIF:Make`` / ``EXIF:Model``              ``make`` / ``model``
DateTimeOriginal       ``EXIF:DateTimeOriginal``                   ``taken_at`` (wall clock)
OffsetTimeOriginal     ``EXIF:OffsetTimeOriginal``                 ``offset_time_original``
GPS latitude           ``EXIF:GPSLatitude`` signed by ``…Ref``     ``lat`` (within 1e-6°)
GPS longitude          ``EXIF:GPSLongitude`` signed by ``…Ref``    ``lon`` (within 1e-6°)
GPS altitude           ``EXIF:GPSAltitude``, ``…Ref`` 1 = below    ``alt`` (within 0.01 m)
=====================  ==========================================  ========================

With ``-n`` the EXIF-group GPS values are unsigned (the hemisphere is in the Ref tag); the
signed ``Composite:`` values are checked to agree with our reading of the EXIF group. A field
ExifTool has and we lack counts as a disagreement; a file the extractor does not accept
counts all its fields as disagreements. Where ExifTool's value is not a value (an empty
string for a 0/0 rational, ``undef``), agreement means we give null too.
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path

import pytest

from forensic.extractors.base import ExtractorInput
from forensic.extractors.photo_exif import PhotoExifExtractor
from forensic.extractors.records import ArtifactRecord
from workcount import counted

pytestmark = pytest.mark.corpus

AGREEMENT_REQUIRED = 0.99
_DATE = re.compile(r"^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}$")


def _mime(data: bytes) -> str:
    try:
        import magic
        return magic.from_buffer(data[:65536], mime=True)
    except Exception:           # libmagic missing: the extractor still decides by name/bytes
        return "application/octet-stream"


def _expected(ref: dict) -> dict[str, object]:
    """The compared fields ExifTool reports for one file (absent keys: not reported)."""
    out: dict[str, object] = {}
    for key, name in (("EXIF:Make", "make"), ("EXIF:Model", "model"),
                      ("EXIF:DateTimeOriginal", "date_time_original"),
                      ("EXIF:OffsetTimeOriginal", "offset_time_original")):
        if key in ref:
            out[name] = str(ref[key]).strip()
    for axis, name, neg in (("Latitude", "lat", "S"), ("Longitude", "lon", "W")):
        key = f"EXIF:GPS{axis}"
        if key in ref:
            value = ref[key]
            if isinstance(value, (int, float)):
                value = -float(value) if ref.get(f"{key}Ref") == neg else float(value)
                composite = ref.get(f"Composite:GPS{axis}")
                if isinstance(composite, (int, float)):
                    assert math.isclose(composite, value, abs_tol=1e-9), (ref["SourceFile"], axis)
            else:
                value = None
            out[name] = value
    if "EXIF:GPSAltitude" in ref:
        value = ref["EXIF:GPSAltitude"]
        if isinstance(value, (int, float)):
            value = -float(value) if ref.get("EXIF:GPSAltitudeRef") == 1 else float(value)
        else:
            value = None
        out["alt"] = value
    return out


def _ours(fields: dict | None) -> dict[str, object]:
    if fields is None:
        return {}
    taken = None
    if fields.get("taken_at"):
        taken = datetime.fromisoformat(fields["taken_at"]).strftime("%Y:%m:%d %H:%M:%S")
    return {
        "make": fields.get("make"), "model": fields.get("model"),
        "date_time_original": taken, "date_time_original_raw": fields.get("taken_at_raw"),
        "offset_time_original": fields.get("offset_time_original"),
        "lat": fields.get("lat"), "lon": fields.get("lon"), "alt": fields.get("alt"),
    }


def _agrees(name: str, expected: object, ours: dict[str, object]) -> bool:
    got = ours.get(name)
    if expected is None:
        return got is None
    if name in ("lat", "lon"):
        return isinstance(got, float) and abs(got - expected) <= 1e-6
    if name == "alt":
        return isinstance(got, float) and abs(got - expected) <= 0.01
    if name == "date_time_original" and not _DATE.match(str(expected)):
        return ours.get("date_time_original_raw") == expected     # not a date: compare raw
    return got == expected


def test_exif_conformance_with_exiftool(corpus: Path, tmp_path: Path) -> None:
    root = corpus / "exif"
    reference = json.loads((root / "REFERENCE.exiftool.json").read_text(encoding="utf-8"))
    extractor = PhotoExifExtractor()
    extractor.time_limit = math.inf        # work is bounded by the I/O-call bound, not the clock
    per_field: dict[str, list[int]] = {}
    disagreements: list[tuple[str, str, object, object]] = []
    heaviest = (0, "")                           # Python-level calls of the file that took most
    stopped: list[str] = []
    for ref in reference:
        expected = _expected(ref)
        path = root / ref["SourceFile"]
        data = path.read_bytes()
        mime = _mime(data)
        fields = None
        if extractor.accepts(str(path), mime, data[:64]):
            item = ExtractorInput(str(path), path.name, mime, len(data), data)
            out, steps = counted(lambda item=item: list(extractor.extract(item)))
            heaviest = max(heaviest, (steps, ref["SourceFile"]))
            records = [o for o in out if isinstance(o, ArtifactRecord)]
            assert len(records) == 1, ref["SourceFile"]
            if any("per-file bound" in w for w in records[0].warnings):
                stopped.append(ref["SourceFile"])
            fields = records[0].fields
            json.dumps(fields)                   # JSON-serialisable
        ours = _ours(fields)
        for name, value in expected.items():
            ok = _agrees(name, value, ours)
            counts = per_field.setdefault(name, [0, 0])
            counts[0] += ok
            counts[1] += 1
            if not ok:
                disagreements.append((ref["SourceFile"], name, value,
                                      ours.get(name) if fields is not None else "(not accepted)"))
    agreed = sum(c[0] for c in per_field.values())
    total = sum(c[1] for c in per_field.values())
    lines = ["# photo_exif vs ExifTool 12.57 (`-json -n -G`)", "",
             "| field | ExifTool reports | agree | % |", "|---|---:|---:|---:|"]
    for name, (ok, n) in per_field.items():
        lines.append(f"| {name} | {n} | {ok} | {100 * ok / n:.1f} |")
    lines.append(f"| **all** | {total} | {agreed} | {100 * agreed / total:.2f} |")
    lines += ["", f"files: {len(reference)}; most work: {heaviest[0]} Python calls ({heaviest[1]})",
              "", "## Disagreements", ""]
    lines += [f"- `{f}` {n}: ExifTool {e!r}, ours {o!r}" for f, n, e, o in disagreements] or ["none"]
    table = "\n".join(lines)
    (tmp_path / "photo_exif_conformance.md").write_text(table + "\n", encoding="utf-8")
    print("\n" + table)
    assert total > 300
    assert agreed / total >= AGREEMENT_REQUIRED, table
    assert stopped == [], "real photos stopped at the per-file I/O-call bound"


@pytest.mark.parametrize("name,source", [
    ("exiftool/CanonRaw.cr3", "cr3-cmt1"), ("exiftool/Minolta.mrw", "mrw-ttw"),
    ("exiftool/FujiFilm.raf", "embedded-exif"), ("exiftool/SigmaDP2.x3f", "embedded-exif"),
    ("exif-samples/heic/IMG_5195.HEIC", "heif-exif"), ("exiftool/DNG.dng", "tiff"),
])
def test_containers_beyond_exifread_are_read(corpus: Path, name: str, source: str) -> None:
    data = (corpus / "exif" / name).read_bytes()
    records = [o for o in PhotoExifExtractor().extract(ExtractorInput(name, name, _mime(data), len(data), data))
               if isinstance(o, ArtifactRecord)]
    assert records[0].fields["exif_source"] == source and records[0].fields["make"]


def test_heif_brand_exifread_does_not_list(corpus: Path) -> None:
    data = bytearray((corpus / "exif" / "exif-samples/heic/IMG_5195.HEIC").read_bytes())
    data[8:12] = b"heix"                        # a real brand (10-bit HEVC) exifread does not try
    record = next(iter(PhotoExifExtractor().extract(
        ExtractorInput("a.heic", "a.heic", "image/heic", len(data), bytes(data)))))
    assert record.fields["model"] == "iPhone 11 Pro Max" and not record.warnings
    assert record.fields["taken_at"] == "2021-04-11T15:47:53.054000-05:00"
