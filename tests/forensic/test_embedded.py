"""Photos hidden inside other files: appended data, OLE2 (.doc), OOXML (.docx) and PDF,
each found as an entry of its own with recovery 'embedded', its hash and its EXIF."""
from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import pytest

from forensic.entry import FileEntry
from forensic.limits import Limits
from forensic.locator import Locator
from forensic.sources.embedded import MAX_CANDIDATES, EmbeddedSource, SignatureScan
from forensic.training.jpeg import ExifSpec, dms, photo
from builders import sha256

LAT, LON = -33.856784, 151.215297


def geo_jpeg(seed: int, make: str = "HiddenCam") -> bytes:
    r = random.Random(seed)
    blocks = [[(r.randrange(256), r.randrange(256), r.randrange(256)) for _ in range(8)] for _ in range(4)]
    spec = ExifSpec(make, "H1", "fw", None, datetime(2022, 2, 3, 4, 5, 6), "+11:00",
                    lat=dms(LAT, "N", "S")[:2], lon=dms(LON, "E", "W")[:2], width=64, height=32)
    return photo(blocks, spec)


# -- a minimal OLE2 (Compound File Binary, version 3) writer ------------------------------
def ole2(streams: dict[str, bytes]) -> bytes:
    """A real OLE2 file with the given streams in its root storage. Each stream is padded to
    4,096 bytes or more, so all live in regular sectors (no mini stream)."""
    free, end, fatsect = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    names = list(streams)
    dir_entries = 1 + len(names)
    dir_sectors = (dir_entries + 3) // 4
    padded = {n: streams[n] + b"\x00" * max(0, 4096 - len(streams[n])) for n in names}
    sectors: list[bytes] = []
    fat: list[int] = [fatsect]                       # sector 0: the FAT
    first_dir = 1
    for i in range(dir_sectors):
        fat.append(first_dir + i + 1 if i + 1 < dir_sectors else end)
    starts = {}
    for n in names:
        data = padded[n]
        count = (len(data) + 511) // 512
        starts[n] = len(fat)
        for i in range(count):
            fat.append(len(fat) + 1 if i + 1 < count else end)
    assert len(fat) <= 128
    fat += [free] * (128 - len(fat))
    sectors.append(struct.pack("<128I", *fat))

    def entry(name: str, typ: int, right: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00"
        return (raw.ljust(64, b"\x00") + struct.pack("<HBBIII", len(raw), typ, 1, free, right, child)
                + b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16 + struct.pack("<IQ", start, size))
    ents = [entry("Root Entry", 5, free, 1 if names else free, end, 0)]
    for k, n in enumerate(names):
        ents.append(entry(n, 2, k + 2 if k + 1 < len(names) else free, free, starts[n], len(padded[n])))
    blob = b"".join(ents).ljust(dir_sectors * 512, b"\x00")
    sectors += [blob[i:i + 512] for i in range(0, len(blob), 512)]
    for n in names:
        data = padded[n].ljust(((len(padded[n]) + 511) // 512) * 512, b"\x00")
        sectors += [data[i:i + 512] for i in range(0, len(data), 512)]
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\x00" * 6 + struct.pack("<IIIIIIIII", 0, 1, first_dir, 0, 4096, end, 0, end, 0)
              + struct.pack("<109I", 0, *([free] * 108)))
    assert len(header) == 512
    return header + b"".join(sectors)


def ole10native(name: str, content: bytes) -> bytes:
    body = (struct.pack("<H", 2) + name.encode() + b"\x00" + b"C:\\Users\\x\\" + name.encode() + b"\x00"
            + struct.pack("<II", 0x30000, 0) + b"C:\\Temp\\" + name.encode() + b"\x00"
            + struct.pack("<I", len(content)) + content)
    return struct.pack("<I", len(body)) + body


def pdf(images: list[tuple[bytes, str]]) -> bytes:
    """A small valid PDF: one page drawing each image XObject (filters: 'DCT' or 'Flate+DCT')."""
    objs: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    xobjects = " ".join(f"/Im{i} {4 + i} 0 R" for i in range(len(images)))
    objs.append(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << /XObject << {xobjects} "
                ">> >> >>".encode())
    for data, how in images:
        if how == "DCT":
            stream, filt = data, b"/DCTDecode"
        else:
            stream, filt = zlib.compress(data), b"[/FlateDecode /DCTDecode]"
        objs.append(b"<< /Type /XObject /Subtype /Image /Width 64 /Height 32 /ColorSpace /DeviceRGB "
                    b"/BitsPerComponent 8 /Filter " + filt + b" /Length " + str(len(stream)).encode()
                    + b" >>\nstream\n" + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def docx(image: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"><Default Extension="jpeg" ContentType="image/jpeg"/></Types>')
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("word/media/image1.jpeg", image)
    return buf.getvalue()


PHOTOS = {k: geo_jpeg(i, f"Cam{k}") for i, k in enumerate(["appended", "doc", "packaged", "docx", "pdf", "flate",
                                                           "second", "first"])}


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("embedded") / "seized"
    d.mkdir()
    rnd = random.Random(1572)
    (d / "notes.bin").write_bytes(bytes(rnd.randrange(256) for _ in range(1572)) + PHOTOS["appended"])
    (d / "report.doc").write_bytes(ole2({"WordDocument": b"\xec\xa5" + b"\x00" * 600,
                                         "Data": bytes(rnd.randrange(256) for _ in range(68)) + PHOTOS["doc"],
                                         "\x01Ole10Native": ole10native("secret.jpg", PHOTOS["packaged"])}))
    (d / "letter.docx").write_bytes(docx(PHOTOS["docx"]))
    (d / "scan.pdf").write_bytes(pdf([(PHOTOS["pdf"], "DCT"), (PHOTOS["flate"], "Flate+DCT")]))
    (d / "holiday.jpg").write_bytes(PHOTOS["first"] + PHOTOS["second"])     # copy /b a.jpg + b.jpg
    # an ordinary photo with another JPEG inside its APP segments (like an EXIF thumbnail): nothing hidden
    inner = geo_jpeg(99)
    thumb = PHOTOS["first"][:2] + b"\xff\xe2" + struct.pack(">H", len(inner) + 2) + inner + PHOTOS["first"][2:]
    (d / "thumb.jpg").write_bytes(thumb)
    return d


@pytest.fixture(scope="module")
def triaged(evidence, tmp_path_factory):
    from forensic.cli.main import main
    case = tmp_path_factory.mktemp("case") / "case"
    for args in (["case", "init", str(case), "--case-id", "C-1", "--examiner", "E"],
                 ["evidence", "add", str(evidence), "--case", str(case), "--id", "seized"],
                 ["triage", "--case", str(case)]):
        assert main(args) in (0, 3)
    return case


def test_hidden_photos_are_embedded_entries_with_hash_and_exif(triaged, forensic):
    files = forensic("files", "--case", triaged, "--json").jsonl()
    embedded = {f["sha256"]: f for f in files if f.get("recovery") == "embedded"}
    for key, data in PHOTOS.items():
        if key == "first":
            continue
        assert sha256(data) in embedded, f"{key}: not found as an embedded entry"
    loc = {k: embedded[sha256(PHOTOS[k])]["locator"] for k in PHOTOS if k != "first"}
    assert loc["appended"] == "seized › /notes.bin › JPEG @ offset 0x624 (embedded)"
    assert loc["doc"] == "seized › /report.doc › stream Data @ offset 0x44 (embedded)"
    assert loc["packaged"] == "seized › /report.doc › stream \\x01Ole10Native: packaged secret.jpg (embedded)"
    assert loc["docx"] == "seized › /letter.docx › word/media/image1.jpeg"
    assert loc["pdf"].startswith("seized › /scan.pdf › PDF object 4 (image) @ offset 0x")
    assert loc["flate"].startswith("seized › /scan.pdf › PDF object 5 (image) @ offset 0x")
    assert loc["second"] == f"seized › /holiday.jpg › JPEG @ offset 0x{len(PHOTOS['first']):x} (embedded)"
    # the docx's other parts are embedded too; nothing inside thumb.jpg, and nothing else
    assert {f["path"] for f in files if f.get("recovery") == "embedded"} == {
        "/notes.bin/embedded-0x624.jpg", "/report.doc/Data-0x44.jpg", "/report.doc/secret.jpg",
        "[Content_Types].xml", "word/document.xml", "word/media/image1.jpeg",
        "/scan.pdf/pdf-object-4.jpg", "/scan.pdf/pdf-object-5.jpg",
        f"/holiday.jpg/embedded-0x{len(PHOTOS['first']):x}.jpg"}
    photos = {p["sha256"]: p for p in forensic("photos", "--case", triaged, "--json").jsonl()}
    for key, data in PHOTOS.items():
        p = photos[sha256(data if key != "first" else data + PHOTOS["second"])]     # holiday.jpg itself
        assert p["make"] == f"Cam{key}"
        assert p["recovery"] == (None if key == "first" else "embedded")
        assert abs(p["lat"] - LAT) < 1e-4 and abs(p["lon"] - LON) < 1e-4


def _source(data: bytes, limits: Limits | None = None, name: str = "x.bin") -> EmbeddedSource:
    entry = FileEntry(Locator.root(name), "/" + name, name, "file", len(data))
    entry.opener = lambda: io.BytesIO(data)
    scan = SignatureScan(data[:8192])
    for i in range(0, len(data), 1000):
        scan.feed(data[i:i + 1000])
    return EmbeddedSource(entry, data[:8192], scan.found, limits or Limits())


def test_signature_junk_inside_a_file_is_nothing_and_checks_are_capped():
    rnd = random.Random(3)
    junk = b"".join(b"\xff\xd8\xff" + bytes(rnd.randrange(256) for _ in range(40)) for _ in range(MAX_CANDIDATES + 50))
    src = _source(b"MZ" + junk + PHOTOS["appended"])
    assert list(src.entries()) == []
    assert any("the rest not checked" in w for w in src.warnings)


def test_limits_bound_the_objects_and_the_pdf_parse():
    small = Limits(extractor_bytes=400)
    assert list(_source(b"\x00" * 10 + PHOTOS["appended"], small).entries()) == []
    big_pdf = pdf([(PHOTOS["pdf"], "Flate+DCT")])
    src = _source(big_pdf, small, "big.pdf")
    assert list(src.entries()) == []
    assert any("PDF larger than 400 bytes" in w for w in src.warnings)


def test_damaged_ole2_and_pdf_give_warnings_not_crashes():
    doc = ole2({"Data": PHOTOS["doc"]})
    src = _source(doc[:700], name="cut.doc")               # the directory sector is cut off
    assert list(src.entries()) == []
    assert any("OLE2 structure unreadable" in w for w in src.warnings)
    broken = pdf([(PHOTOS["pdf"][:200], "DCT")])
    src = _source(broken, name="broken.pdf")
    assert list(src.entries()) == []
    assert any("DCTDecode image is no valid JPEG" in w for w in src.warnings)


def test_embedded_entries_are_read_back_for_export(triaged, evidence):
    """forensic.resolve (what an export reads through) opens every embedded object again,
    with the bytes triage hashed."""
    from forensic.case import Case
    from forensic.resolve import layer_key, resolve_entries
    from forensic.store import files as store_files
    rows = [r for r in store_files.listing(Case.open(triaged).db) if r.recovery == "embedded"]
    want = {layer_key(r.layers): r.sha256 for r in rows}
    got = {}
    for key, entry in resolve_entries(evidence, "directory", list(want)):
        with entry.open() as fh:
            got[key] = sha256(fh.read())
    assert got == want


def test_a_large_file_is_searched_at_its_two_ends():
    from forensic.sources.embedded import EDGE
    size = 2 * EDGE + (4 << 20)
    scan = SignatureScan(b"\x00" * 16, size)
    chunk = 1 << 20
    marks = {100: "head", EDGE + (2 << 20): "middle", size - 2000: "tail"}
    for pos in range(0, size, chunk):
        data = bytearray(chunk)
        for at in marks:
            if pos <= at < pos + chunk:
                data[at - pos:at - pos + 3] = b"\xff\xd8\xff"
        scan.feed(bytes(data))
    assert [offset for _, offset in scan.found] == [100, size - 2000]


def test_hostile_pdf_and_ole2_are_bounded_and_warned_about():
    # thousands of image dictionaries that never close: each read at most DICT_MAX bytes, and
    # only the first MAX_CANDIDATES of them
    rows = b"".join(b"%d 0 obj\n<< /Subtype /Image /Filter /DCTDecode /Length 9 " % i for i in range(3000))
    src = _source(b"%PDF-1.4\n" + rows, name="hostile.pdf")
    assert list(src.entries()) == []
    assert any("more than 256 image dictionaries" in w for w in src.warnings)
    # a packaged file claiming more bytes than its stream holds, beside a photo: the photo is found
    bad_native = struct.pack("<IH", 99, 2) + b"a.jpg\x00b\x00" + b"\x00" * 8 + b"c\x00" + struct.pack("<I", 1 << 30)
    doc = ole2({"\x01Ole10Native": bad_native + PHOTOS["packaged"]})
    got = list(_source(doc, name="odd.doc").entries())
    assert [e.size for e in got] == [len(PHOTOS["packaged"])]
    # an OLE2 header over random sectors
    junk = ole2({"Data": b"x"})[:512] + random.Random(5).randbytes(4096)
    src = _source(junk, name="junk.doc")
    assert list(src.entries()) == []
    assert src.warnings


def test_good_documents_give_no_warnings(evidence):
    for name in ("report.doc", "scan.pdf", "notes.bin", "holiday.jpg", "thumb.jpg"):
        src = _source((evidence / name).read_bytes(), name=name)
        assert list(src.entries()) is not None and src.warnings == [], (name, src.warnings)
