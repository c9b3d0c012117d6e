"""The carver: photos in unallocated space found by signature, kept only when they decode,
on real FAT/ext4/NTFS images compared with The Sleuth Kit's ``blkls``."""
from __future__ import annotations

import random
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from forensic.sources.carve import Extents, carve, subtract
from forensic.sources.unallocated import bitmap_runs, unallocated_runs
from forensic.training.jpeg import ExifSpec, dms, photo
from builders import disk_image, ext4_image, fat_image, need, ntfs_image, sha256

LAT, LON = 48.858370, 2.294481


def geo_jpeg(seed: int = 0) -> bytes:
    """A real baseline JPEG (decodes) with EXIF: make, time and a GPS position."""
    r = random.Random(seed)
    blocks = [[(r.randrange(256), r.randrange(256), r.randrange(256)) for _ in range(8)] for _ in range(6)]
    spec = ExifSpec("CarveCam", "C1", "fw 1.0", None, datetime(2023, 5, 6, 7, 8, 9), "+02:00",
                    lat=dms(LAT, "N", "S")[:2], lon=dms(LON, "E", "W")[:2], width=64, height=48)
    return photo(blocks, spec)


def junk_jpegs(seed: int = 1) -> bytes:
    """Things that start like photos and are none: FF D8 FF then random bytes; a JPEG header
    whose scan is cut before EOI; a PNG whose first chunk's CRC is wrong."""
    r = random.Random(seed)
    rnd = lambda n: bytes(r.randrange(256) for _ in range(n))  # noqa: E731
    good = geo_jpeg(5)
    cut = good[:len(good) - 40]
    png_bad = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + rnd(13) + b"\x00\x00\x00\x00"
    return (b"\xff\xd8\xff\xe0" + rnd(3000) + b"\xff\xd9" + rnd(500) + b"\xff\xd8\xff\xdb\x00\x43" + rnd(2000)
            + cut + rnd(300) + png_bad + rnd(300))


def _wipe_dir_entry(img: Path, short_name: bytes) -> None:
    """Zero the (deleted) directory entry of an 8.3 name, so no metadata points to its data."""
    data = bytearray(img.read_bytes())
    key = short_name[1:]                     # a deleted entry's first byte is 0xE5
    at = data.find(b"\xe5" + key)
    assert at >= 0 and at % 32 == 0
    data[at:at + 32] = bytes(32)
    img.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def card(tmp_path_factory) -> tuple[Path, bytes]:
    need("mkfs.vfat", "mcopy", "mdel")
    tmp = tmp_path_factory.mktemp("card")
    jpeg = geo_jpeg()
    img = fat_image(tmp, {"KEEP.TXT": b"kept\n" * 100, "PHOTO.JPG": jpeg, "JUNK.BIN": junk_jpegs(),
                          "LATER.JPG": geo_jpeg(9)},
                    deleted=("PHOTO.JPG", "JUNK.BIN", "LATER.JPG"), size_mib=34, name="card.raw")
    _wipe_dir_entry(img, b"PHOTO   JPG")
    _wipe_dir_entry(img, b"JUNK    BIN")
    return img, jpeg


def _blkls(img: Path) -> bytes:
    need("blkls")
    return subprocess.run(["blkls", str(img)], check=True, capture_output=True).stdout


def _runs_bytes(img: Path) -> bytes | None:
    import pytsk3

    from forensic.sources.tsk import FS_NAMES
    tsk = pytsk3.Img_Info(str(img))
    fs = pytsk3.FS_Info(tsk)
    runs = unallocated_runs(fs, FS_NAMES[fs.info.ftype], tsk.read, 0)
    return None if runs is None else b"".join(tsk.read(o, n) for o, n in runs)


@pytest.mark.parametrize("fat", [12, 16, 32])
def test_fat_unallocated_space_is_what_blkls_lists(tmp_path, fat):
    need("mkfs.vfat", "mcopy", "mdel")
    size = {12: 4, 16: 16, 32: 34}[fat]
    img = fat_image(tmp_path, {"A.BIN": b"a" * 70000, "B.BIN": b"b" * 3000}, deleted=("A.BIN",),
                    size_mib=size, fat=fat)
    assert _runs_bytes(img) == _blkls(img)


def test_ntfs_and_ext4_unallocated_space_is_what_blkls_lists(tmp_path):
    need("mkntfs", "mke2fs")
    ntfs = ntfs_image(tmp_path, {"a.bin": b"a" * 70000})
    assert _runs_bytes(ntfs) == _blkls(ntfs)
    # one block group (8 MiB of 1 KiB blocks): TSK and the group's bitmap agree byte for byte. (In
    # groups never initialised, BLOCK_UNINIT, TSK also lists the superblock backup and descriptor
    # blocks as unallocated; those are left out here.)
    ext = ext4_image(tmp_path, {"a.bin": b"a" * 70000})
    assert _runs_bytes(ext) == _blkls(ext)


def test_carved_photo_has_its_hash_exif_and_gps_and_junk_is_no_photo(card, forensic, tmp_path):
    img, jpeg = card
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "E")
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    forensic("triage", "--case", case, expect=None)
    files = forensic("files", "--case", case, "--json").jsonl()
    carved = [f for f in files if "(carved)" in f["locator"]]
    # PHOTO.JPG (its directory entry wiped) is carved; LATER.JPG, deleted with its entry kept, is
    # listed through its metadata and not carved again; the junk is nothing
    assert len(carved) == 1, [f["locator"] for f in carved]
    later = next(f for f in files if f["path"].endswith("ATER.JPG"))   # whole: no doubt cast on it
    assert (later["recovery"], later["recovery_confidence"]) == ("deleted-metadata", "high")
    got = carved[0]
    assert got["sha256"] == sha256(jpeg)
    assert got["locator"].startswith("card.raw › file system (fat32) › unallocated @ offset 0x")
    assert got["locator"].endswith(" (carved)")
    offset = int(got["locator"].split("@ offset ")[1].split()[0], 16)
    assert img.read_bytes()[offset:offset + len(jpeg)] == jpeg
    photos = {p["sha256"]: p for p in forensic("photos", "--case", case, "--json").jsonl()}
    p = photos[sha256(jpeg)]
    assert p["make"] == "CarveCam"
    assert abs(p["lat"] - LAT) < 1e-4 and abs(p["lon"] - LON) < 1e-4
    assert len(photos) == 2                 # the carved one and LATER.JPG: no junk
    assert (p["recovery"], p["recovery_confidence"]) == ("carved", "high")
    # flagged in the timeline too
    events = [e for e in forensic("timeline", "--case", case, "--json").jsonl() if e["sha256"] == sha256(jpeg)]
    assert events and all("(carved)" in e["message"] and e["recovery"] == "carved" for e in events)


def test_carver_rejects_signature_junk_and_finds_photos_across_chunks():
    jpeg = geo_jpeg(3)
    space = junk_jpegs(7) + jpeg + junk_jpegs(8) + jpeg
    found = list(carve(lambda o, n: space[o:o + n], len(space), 1 << 20, chunk=777))
    assert [(c.kind, c.size) for c in found] == [("jpeg", len(jpeg))] * 2
    for c in found:
        assert space[c.offset:c.offset + c.size] == jpeg


def test_png_and_heic_are_carved_by_structure():
    import struct
    import zlib

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + bytes([x * 9 % 256, 0, 0] * 4) for x in range(4))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    box = lambda t, d: struct.pack(">I", 8 + len(d)) + t + d  # noqa: E731

    def heif(extent_end_past: int = 0) -> bytes:
        ftyp = box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")
        # iloc version 0, 4-byte offsets and lengths: one item, one extent (the mdat's payload)
        def iloc(offset: int, length: int) -> bytes:
            return box(b"iloc", b"\x00" * 4 + bytes([0x44, 0x00]) + struct.pack(">HHHHII", 1, 1, 0, 1, offset, length))
        meta_len = len(box(b"meta", b"\x00" * 4 + box(b"hdlr", b"\x00" * 25) + iloc(0, 0)))
        payload = len(ftyp) + meta_len + 8
        meta = box(b"meta", b"\x00" * 4 + box(b"hdlr", b"\x00" * 25) + iloc(payload, 99 + extent_end_past))
        return ftyp + meta + box(b"mdat", b"\x01" * 99)
    heic, cut = heif(), heif(extent_end_past=1)        # cut: an item extent past the end
    space = b"\x00" * 100 + png + b"\x11" * 50 + heic + b"ftypheic" + b"\x22" * 64 + cut + b"\x00" * 30
    found = list(carve(lambda o, n: space[o:o + n], len(space), 1 << 20))
    assert [(c.kind, c.offset, c.size, c.decoded) for c in found] == \
        [("png", 100, len(png), True), ("heic", 150 + len(png), len(heic), False)]


def test_carved_across_a_gap_is_joined_in_disk_order_and_flagged():
    jpeg = geo_jpeg(4)
    disk = bytearray(b"\x00" * 8192)
    disk[1000:1000 + 300] = jpeg[:300]              # unallocated run 1 ends after 300 bytes
    disk[4000:4000 + len(jpeg) - 300] = jpeg[300:]  # run 2 (allocated bytes between)
    space = Extents([(0, 1300), (4000, 4192)], lambda o, n: bytes(disk[o:o + n]))
    found = list(carve(space.read_at, space.size, 1 << 20))
    assert len(found) == 1 and space.map(found[0].offset, found[0].size) == [(1000, 300), (4000, len(jpeg) - 300)]


def test_run_arithmetic():
    assert bitmap_runs(bytes([0b11110000, 0x00, 0xFF, 0b00000001]), 30) == [(0, 4), (8, 8), (25, 5)]
    assert subtract([(0, 100), (200, 50)], [(10, 10), (95, 110), (240, 100)]) == [(0, 10), (20, 75), (205, 35)]


def test_photo_in_the_space_outside_partitions_is_carved(tmp_path, forensic):
    need("mkfs.vfat", "mcopy", "sfdisk")
    part = fat_image(tmp_path, {"A.TXT": b"a"}, size_mib=34)
    disk = disk_image(tmp_path, [part], label="dos", name="disk.raw")
    jpeg = geo_jpeg(6)
    with open(disk, "r+b") as fh:               # in the gap before the first partition
        fh.seek(0x20000)
        fh.write(jpeg)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "E")
    forensic("evidence", "add", disk, "--case", case, "--id", "disk")
    forensic("triage", "--case", case, expect=None)
    carved = [f for f in forensic("files", "--case", case, "--json").jsonl() if "(carved)" in f["locator"]]
    assert [(f["locator"], f["sha256"]) for f in carved] == \
        [("disk.raw › unpartitioned @ offset 0x20000 (carved)", sha256(jpeg))]


def test_carved_entry_is_read_back_for_export_without_carving_again(card, forensic, tmp_path):
    """forensic.resolve (what an export reads through) finds a carved entry again where it
    starts, with the bytes triage hashed."""
    from forensic.case import Case
    from forensic.resolve import layer_key, resolve_entries
    from forensic.store import files as store_files
    img, jpeg = card
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "E")
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    forensic("triage", "--case", case, expect=None)
    rows = [r for r in store_files.listing(Case.open(case).db) if r.recovery == "carved"]
    assert len(rows) == 1
    key = layer_key(rows[0].layers)
    got = list(resolve_entries(img, "raw", [key]))
    assert [k for k, _ in got] == [key]
    with got[0][1].open() as fh:
        assert fh.read() == jpeg


def test_deleted_fat_photo_read_back_wrong_says_so(tmp_path, forensic):
    """A deleted FAT file is read from its first cluster on, the rest assumed to follow. When
    that is wrong (the file was fragmented: the next cluster is another's), the entry says so
    and its confidence is low, rather than the bytes passing for the photo."""
    need("mkfs.vfat", "mcopy", "mdel")
    jpeg = geo_jpeg(11)
    assert len(jpeg) > 512
    img = tmp_path / "frag.raw"
    with open(img, "wb") as fh:
        fh.truncate(34 << 20)
    from builders import run
    run("mkfs.vfat", "-F", "32", "-s", "1", img)             # 512-byte clusters: the photo spans two
    src = tmp_path / "PHOTO.JPG"
    src.write_bytes(jpeg)
    run("mcopy", "-i", img, src, "::/PHOTO.JPG")
    run("mdel", "-i", img, "::/PHOTO.JPG")
    data = bytearray(img.read_bytes())
    at = data.find(jpeg[:64])
    data[at + 512:at + 1024] = random.Random(2).randbytes(512)   # its second cluster: another file's now
    img.write_bytes(bytes(data))
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "E")
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    forensic("triage", "--case", case, expect=None)
    row = next(f for f in forensic("files", "--case", case, "--json").jsonl() if f["path"].endswith("HOTO.JPG"))
    assert row["deleted"] and row["recovery"] == "deleted-metadata" and row["recovery_confidence"] == "low"
    from forensic.case import Case
    from forensic.store import warnings as store_warnings
    said = [w.message for w in store_warnings.listing(Case.open(case).db, "card") if w.locator == row["locator"]]
    assert any("does not parse or decode to its end" in m for m in said), said


def test_damaged_allocation_maps_are_not_read():
    """Absurd boot sector or superblock values: no map (the walk warns), no huge read."""
    import struct

    from forensic.sources.unallocated import _ext, _fat
    asked: list[int] = []

    def read_of(data: bytes):
        def read(offset: int, n: int) -> bytes:
            asked.append(n)
            return data[offset:offset + n]
        return read
    sb = bytearray(2048)
    sb[1024 + 0x38:1024 + 0x3A] = b"\x53\xef"
    struct.pack_into("<I", sb, 1024 + 4, 0xFFFFFFFF)           # blocks
    struct.pack_into("<I", sb, 1024 + 0x20, 8)                 # blocks per group: 2^29 groups
    assert _ext(read_of(bytes(sb)), 0) is None
    boot = bytearray(512)
    struct.pack_into("<HBHBHH", boot, 11, 512, 1, 1, 2, 0, 0)
    struct.pack_into("<I", boot, 32, 0xFFFFFFFF)               # total sectors
    struct.pack_into("<I", boot, 36, 0xFFFFFF)                 # sectors per FAT
    assert _fat(read_of(bytes(boot)), 0) is None
    assert max(asked) <= 1024


@pytest.mark.corpus
def test_hfsplus_unallocated_space_is_what_blkls_lists(corpus):
    img = corpus / "disk-images" / "dfvfs" / "hfsplus.raw"
    if not img.exists():
        pytest.skip("hfsplus.raw not in the corpus")
    assert _runs_bytes(img) == _blkls(img)


@pytest.mark.corpus
def test_real_heic_photos_are_carved_whole(corpus):
    names = ["exif/exif-samples/heic/IMG_5195.HEIC", "exif/exif-py/heic/spring_1440x960.heic",
             "exif/exif-py/heic/samplefilehub.heif"]
    photos = [(corpus / n).read_bytes() for n in names if (corpus / n).exists()]
    if not photos:
        pytest.skip("no HEIC photos in the corpus")
    rnd = random.Random(9)
    space = b"".join(rnd.randbytes(777) + p for p in photos) + rnd.randbytes(999)
    found = list(carve(lambda o, n: space[o:o + n], len(space), 64 << 20))
    assert [space[c.offset:c.offset + c.size] for c in found] == photos


def test_photo_in_a_live_files_slack_is_carved(tmp_path, forensic):
    """The rest of a live file's last cluster (its slack) keeps what was there before: a small
    photo there is carved, within that one cluster."""
    need("mkfs.vfat", "mcopy")
    from builders import run
    img = tmp_path / "slack.raw"
    with open(img, "wb") as fh:
        fh.truncate(34 << 20)
    run("mkfs.vfat", "-F", "16", "-s", "8", img)               # 4 KiB clusters
    note = b"meeting at noon\n" * 6
    src = tmp_path / "NOTE.TXT"
    src.write_bytes(note)
    run("mcopy", "-i", img, src, "::/NOTE.TXT")
    jpeg = geo_jpeg(12)
    data = bytearray(img.read_bytes())
    at = data.find(note)
    slack = at + len(note) + 100
    data[slack:slack + len(jpeg)] = jpeg
    img.write_bytes(bytes(data))
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "E")
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    forensic("triage", "--case", case, expect=None)
    carved = [f for f in forensic("files", "--case", case, "--json").jsonl() if f["recovery"] == "carved"]
    assert [(f["locator"], f["sha256"]) for f in carved] == \
        [(f"slack.raw › file system (fat16) › slack @ offset 0x{slack:x} (carved)", sha256(jpeg))]
    from forensic.case import Case
    from forensic.resolve import layer_key, resolve_entries
    from forensic.store import files as store_files
    key = next(layer_key(r.layers) for r in store_files.listing(Case.open(case).db) if r.recovery == "carved")
    (_, entry), = resolve_entries(img, "raw", [key])
    with entry.open() as fh:
        assert fh.read() == jpeg


def test_slack_is_what_icat_shows_past_each_file(tmp_path):
    """slack_runs against ``icat -s`` (content and slack): the bytes past each file's end."""
    need("icat", "mkntfs")
    import pytsk3

    from forensic.sources.carve import slack_runs
    fat = fat_image(tmp_path, {"A.BIN": b"a" * 5000, "B.BIN": b"b" * 100}, size_mib=16, fat=16)
    ntfs = ntfs_image(tmp_path, {"a.bin": b"a" * 5000, "c.bin": b"c" * 70001})
    checked = 0
    for img in (fat, ntfs):
        tsk = pytsk3.Img_Info(str(img))
        fs = pytsk3.FS_Info(tsk)
        for d in fs.open_dir("/"):
            meta = d.info.meta
            if meta is None or meta.type != pytsk3.TSK_FS_META_TYPE_REG or d.info.name.name.startswith(b"$") \
                    or not meta.size:
                continue
            shown = subprocess.run(["icat", "-s", str(img), str(meta.addr)], check=True,
                                   capture_output=True).stdout[meta.size:]
            mine = b"".join(tsk.read(o, n) for o, n in slack_runs(fs, [(str(meta.addr), meta.size)]))
            assert mine == shown, (img.name, d.info.name.name)
            checked += 1
    assert checked >= 4


def test_exfat_unallocated_space_is_what_blkls_lists(tmp_path):
    """A fresh exFAT (no tool here writes files into one without mounting): its allocation
    bitmap already holds the bitmap, upcase table and root folder clusters."""
    need("mkfs.exfat")
    img = tmp_path / "exfat.img"
    with open(img, "wb") as fh:
        fh.truncate(64 << 20)
    subprocess.run(["mkfs.exfat", str(img)], check=True, capture_output=True)
    assert _runs_bytes(img) == _blkls(img)


def heif_bytes(payload: bytes) -> bytes:
    """A minimal HEIF file: ftyp, meta (hdlr, iloc: one item, the mdat's payload), mdat."""
    import struct
    box = lambda t, d: struct.pack(">I", 8 + len(d)) + t + d  # noqa: E731
    ftyp = box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")

    def meta(offset: int) -> bytes:
        iloc = box(b"iloc", b"\x00" * 4 + bytes([0x44, 0x00]) + struct.pack(">HHHHII", 1, 1, 0, 1, offset,
                                                                          len(payload)))
        return box(b"meta", b"\x00" * 4 + box(b"hdlr", b"\x00" * 25) + iloc)
    start = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(start) + box(b"mdat", payload)


def test_a_carved_photo_over_a_bad_e01_chunk_says_so(tmp_path, forensic):
    """Carved content read through libewf is checked against the E01's bad chunks like a
    file's: a HEIC (kept by structure, not decoded) whose data lies in one gets the warning."""
    need("mkfs.vfat", "mcopy", "mdel", "ewfacquire")
    from builders import e01_image
    from forensic.training.tools import e01_chunks, flip_bytes
    heic = heif_bytes(random.Random(4).randbytes(200_000))
    img = fat_image(tmp_path, {"IMG.HEI": heic}, deleted=("IMG.HEI",), size_mib=16, fat=16, name="card.raw")
    _wipe_dir_entry(img, b"IMG     HEI")
    raw = img.read_bytes()
    start = raw.find(heic)
    chunk = 32 << 10
    index = -(-(start + 4096) // chunk)                 # a chunk wholly inside the mdat's payload
    assert (index + 1) * chunk < start + len(heic)
    e01 = e01_image(tmp_path, img)
    seg, at, size, _ = e01_chunks(sorted(e01.parent.glob(e01.stem + ".E[0-9][0-9]")))[index]
    flip_bytes(seg, at + size // 2)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "E")
    forensic("evidence", "add", e01, "--case", case, "--id", "card", expect=4)
    forensic("triage", "--case", case, expect=None)
    carved = [f for f in forensic("files", "--case", case, "--json").jsonl() if f["recovery"] == "carved"]
    assert len(carved) == 1 and carved[0]["recovery_confidence"] == "low"
    said = [w["message"] for w in forensic("warnings", "--case", case, "--json").jsonl()
            if w["locator"] == carved[0]["locator"]]
    assert any("content in a bad E01 chunk" in m for m in said), said
    assert any("not decoded" in m for m in said), said


def test_a_carved_photo_exported_and_verified_says_how_it_was_had(card, forensic, tmp_path):
    """Tagged and exported, a carved photo leaves the case with the bytes triage hashed
    (re-read from the image), and the report says it was carved."""
    import zipfile
    img, jpeg = card
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "E")
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    forensic("triage", "--case", case, expect=None)
    loc = next(f["locator"] for f in forensic("files", "--case", case, "--json").jsonl() if f["recovery"] == "carved")
    forensic("tag", "add", "--case", case, "--tag", "court", loc)
    out = forensic("export", "--case", case, "--out", tmp_path / "b.zip", "--tag", "court", "--json").json()
    assert out["files"] == 1
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        data = {i.filename: zf.read(i) for i in zf.infolist()}
    assert jpeg in data.values()
    report = b"".join(v for k, v in data.items() if k.endswith(".html")).decode("utf-8")
    assert "carved from unallocated space" in report
    forensic("verify-bundle", tmp_path / "b.zip", expect=5)          # intact, unsigned
