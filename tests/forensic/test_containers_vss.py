"""Volume Shadow Copies of an NTFS volume, walked as extra layers.

No Linux tool makes a shadow copy, so ``vss_volume`` writes one by hand, as the VSS format
is documented (libyal/libvshadow, "Volume Shadow Snapshot (VSS) format"): a volume header at
byte 0x1e00 of the NTFS volume, one catalog block (a store's entries of type 2 and 3), the
store's header, block list, block range list and bitmap, and the 16 KiB blocks the file
system held when the snapshot was taken. The volume is made by mkntfs/ntfscp with a file's
first version, then that file is overwritten: the snapshot gives the first version back,
the volume the second. libvshadow reads it (the test checks that first)."""
from __future__ import annotations

import shutil
import struct
import uuid

import pytest

from builders import disk_image, need, run, sha256, sha256_file

VSS_ID = bytes.fromhex("6b87083876c1484eb7ae04046e6cc752")    # 3808876b-c176-4e48-b7ae-04046e6cc752
BLOCK = 0x4000
OLD = b"version 1: pay 500 to the account ending 1234\n" * 100
NEW = b"version 2: nothing to see here, all is well.\n\n" * 100
SAME = b"unchanged since the snapshot\n"
TAKEN = 1_700_000_000                     # 2023-11-14T22:13:20Z


def _ntfs(tmp, name, files, size=16 << 20):
    need("mkntfs", "ntfscp")
    img = tmp / name
    with open(img, "wb") as fh:
        fh.truncate(size)
    run("mkntfs", "-q", "-F", "-f", img)
    for i, (fname, data) in enumerate(files.items()):
        src = tmp / f"{name}.{i}"
        src.write_bytes(data)
        run("ntfscp", "-q", "-f", img, src, fname)
    return img


def _block_header(record_type, relative, current, next_=0, info_size=0):
    return VSS_ID + struct.pack("<IIQQQQ", 1, record_type, relative, current, next_, info_size) + bytes(72)


def vss_volume(tmp, name="vss.img", catalog_ok=True):
    before = _ntfs(tmp, "before.img", {"report.txt": OLD, "same.txt": SAME})
    now = tmp / name
    shutil.copy(before, now)
    (tmp / "new").write_bytes(NEW)
    run("ntfscp", "-q", "-f", now, tmp / "new", "report.txt")
    old, cur = before.read_bytes(), bytearray(now.read_bytes())
    changed = [o for o in range(0, len(old), BLOCK) if old[o:o + BLOCK] != cur[o:o + BLOCK]]
    assert changed, "overwriting the file changed no block"
    size = len(cur)
    area = size - (1 << 20)                  # the store's blocks, in space the file system leaves unused
    assert not any(cur[area:size - BLOCK])
    catalog, header, blocks, ranges, bitmap, data = (area + i * BLOCK for i in range(6))
    store_id = uuid.UUID("1e4f06d2-6b0a-4a3c-9f39-2b1d4a8c7e55").bytes_le
    filetime = (TAKEN + 11_644_473_600) * 10_000_000
    volume_header = VSS_ID + struct.pack("<IIQQQQQ", 1, 1, 0x1e00, 0x1e00, 0,
                                         catalog if catalog_ok else size * 4, 0) + bytes(32)
    cur[0x1e00:0x1e00 + len(volume_header)] = volume_header
    block = bytearray(BLOCK)
    block[:128] = _block_header(2, 0, catalog)
    block[128:184] = struct.pack("<QQ16sQQQ", 2, size, store_id, 1, 0x40, filetime)
    block[256:336] = struct.pack("<QQ16sQQQQQQ", 3, blocks, store_id, header, ranges, bitmap, 0,
                                 (5 + len(changed)) * BLOCK, 0)
    cur[catalog:catalog + BLOCK] = block
    info = (uuid.uuid4().bytes_le * 3) + struct.pack("<IIIIHH", 0x0d, 1, 0x4d, 0, 0, 0)
    block = bytearray(BLOCK)
    block[:128] = _block_header(4, 0, header, 0, len(info))
    block[128:128 + len(info)] = info
    cur[header:header + BLOCK] = block
    block = bytearray(BLOCK)
    block[:128] = _block_header(3, BLOCK, blocks)
    for i, original in enumerate(changed):        # each changed block: where its old content is kept
        kept = data + i * BLOCK
        cur[kept:kept + BLOCK] = old[original:original + BLOCK]
        block[128 + 32 * i:160 + 32 * i] = struct.pack("<QQQII", original, kept - area, kept, 0, 0)
    cur[blocks:blocks + BLOCK] = block
    block = bytearray(BLOCK)
    block[:128] = _block_header(5, 2 * BLOCK, ranges)
    block[128:152] = struct.pack("<QQQ", area, 0, (5 + len(changed)) * BLOCK)
    cur[ranges:ranges + BLOCK] = block
    block = bytearray(BLOCK)
    block[:128] = _block_header(6, 3 * BLOCK, bitmap)
    cur[bitmap:bitmap + BLOCK] = block
    assert len(cur) == size
    now.write_bytes(bytes(cur))
    return now


def _case(forensic, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "Ann")
    return case


@pytest.fixture
def volume(tmp_path):
    img = vss_volume(tmp_path)
    import pyvshadow
    handle = pyvshadow.volume()
    handle.open(str(img))
    try:   # the hand-made snapshot is one libvshadow reads, holding the first version
        assert handle.number_of_stores == 1
        store = handle.get_store(0)
        assert OLD in store.read_buffer_at_offset(store.volume_size, 0)
    finally:
        handle.close()
    return img


def test_shadow_copy_files_listed_under_the_snapshot(forensic, tmp_path, volume):
    before = sha256_file(volume)
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", volume, "--case", case, "--id", "pc")
    summary = forensic("triage", "--case", case, "--json", expect=None).json()
    files = {r["locator"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    live = "vss.img › file system (ntfs) › "
    snap = "vss.img › file system (ntfs) › shadow copy 1 (2023-11-14T22:13:20Z) › file system (ntfs) › "
    assert files[live + "/report.txt"]["sha256"] == sha256(NEW)
    assert files[snap + "/report.txt"]["sha256"] == sha256(OLD)       # the version the snapshot kept
    # a file unchanged since: listed in both, one hash (the store finds every copy by it)
    same = forensic("files", "--case", case, "--json", "--sha256", sha256(SAME)).jsonl()
    assert sorted(r["locator"] for r in same) == [live + "/same.txt", snap + "/same.txt"]
    assert summary["files"] == len(files)
    warnings = forensic("warnings", "--case", case, "--json", expect=None).jsonl()
    assert not [w for w in warnings if "shadow" in w["message"]]
    assert sha256_file(volume) == before


def test_shadow_copies_of_an_ntfs_partition(forensic, tmp_path, volume):
    disk = disk_image(tmp_path, [volume], name="pc.img")
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", disk, "--case", case)
    forensic("triage", "--case", case, "--json", expect=None)
    files = {r["locator"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    key = "pc.img › partition 1 (ntfs) › shadow copy 1 (2023-11-14T22:13:20Z) › file system (ntfs) › /report.txt"
    assert files[key]["sha256"] == sha256(OLD)


def test_damaged_shadow_copy_catalog_is_a_warning_and_the_volume_is_walked(forensic, tmp_path):
    img = vss_volume(tmp_path, "bad.img", catalog_ok=False)
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", img, "--case", case, "--json").json()
    assert any("shadow copies cannot be read" in w for w in added.get("source_warnings", []))
    forensic("triage", "--case", case, "--json", expect=None)
    files = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    assert files["/report.txt"]["sha256"] == sha256(NEW)
