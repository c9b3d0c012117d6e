"""Broken and hostile images: clear errors naming the item and place; nothing lost; evidence unchanged."""
from __future__ import annotations

import os

import pytest

from builders import disk_image, e01_image, ext4_image, fat_image, sha256, sha256_file


def _case(forensic, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "Ann")
    return case


def _no_items(forensic, case):
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []


def test_nonexistent_source(forensic, tmp_path):
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", tmp_path / "nope.E01", "--case", case, expect=1)
    assert "not found" in res.err and "nope.E01" in res.err
    _no_items(forensic, case)


def test_random_bytes_are_unsupported(forensic, tmp_path):
    blob = tmp_path / "mystery.img"
    blob.write_bytes(os.urandom(1 << 20))
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", blob, "--case", case, expect=1)
    assert "mystery.img" in res.err and "not a format this tool reads" in res.err
    assert "hint" in res.err
    _no_items(forensic, case)


def test_empty_file(forensic, tmp_path):
    (tmp_path / "empty.dd").write_bytes(b"")
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", tmp_path / "empty.dd", "--case", case, expect=1)
    assert "empty" in res.err


def test_zeroed_superblock(forensic, tmp_path):
    img = ext4_image(tmp_path, {"/a.txt": b"a"})
    data = bytearray(img.read_bytes())
    data[1024:2048] = bytes(1024)                # the ext superblock
    img.write_bytes(bytes(data))
    before = sha256_file(img)
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", img, "--case", case, expect=1)
    assert "ext4.img" in res.err and "no partition table or file system" in res.err
    _no_items(forensic, case)
    assert sha256_file(img) == before


def test_partition_past_the_end_is_a_warning_and_the_rest_is_walked(forensic, tmp_path):
    p1 = fat_image(tmp_path, {"/ok.txt": b"fine"}, name="p1.img", fat=16, size_mib=16)
    p2 = ext4_image(tmp_path, {"/lost.txt": b"x"}, name="p2.img", size_mib=8)
    disk = disk_image(tmp_path, [p1, p2], label="dos")
    data = disk.read_bytes()
    cut = tmp_path / "cut.img"
    cut.write_bytes(data[: (2048 * 512) + p1.stat().st_size + 2048 * 512 + 4096])   # keeps p1, cuts p2
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", cut, "--case", case, "--id", "cut", "--json").json()
    assert any("past the end of the image" in w for w in added["source_warnings"])
    res = forensic("triage", "--case", case, "--json", expect=3)
    rows = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    assert rows["/ok.txt"]["sha256"] == sha256(b"fine")
    warns = [w["message"] for w in forensic("warnings", "--case", case, "--json").jsonl()]
    assert any("partition 2" in w for w in warns)
    assert res.json()["warnings"] >= 1


def test_truncated_e01_segment(forensic, tmp_path):
    raw = ext4_image(tmp_path, {"/a.bin": os.urandom(3 << 20)}, size_mib=6)
    e01 = e01_image(tmp_path, raw, segment="1MiB")
    last = sorted(tmp_path.glob("phone.E0*"))[-1]
    last.write_bytes(last.read_bytes()[:-5000])
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", e01, "--case", case, expect=None)
    assert res.code in (1, 4)
    assert "phone.E01" in res.err
    if res.code == 1:
        _no_items(forensic, case)
        assert "E01" in res.err
    else:                                        # opened, but the media no longer matches the acquisition
        assert "acquisition" in res.err


def test_truncated_qcow2_from_corpus_is_named(forensic, tmp_path, corpus):
    # QCOW2 is read in place (tests/forensic/test_containers*.py); a damaged one is named
    img = corpus / "disk-images" / "dfvfs" / "ext2.qcow2"
    if not img.exists():
        pytest.skip("corpus image missing")
    cut = tmp_path / "ext2.qcow2"
    cut.write_bytes(img.read_bytes()[:4096])
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", cut, "--case", case, expect=1)
    assert "ext2.qcow2" in res.err and "QCOW2" in res.err


def test_unknown_item_and_missing_case_have_hints(forensic, tmp_path):
    res = forensic("files", "--case", tmp_path / "nocase", expect=1)
    assert "no case" in res.err and "hint" in res.err
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "verify", "ghost", "--case", case, expect=1)
    assert "ghost" in res.err
