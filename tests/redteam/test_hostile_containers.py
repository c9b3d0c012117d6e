"""Red team, issue 14: container files crafted by the owner of a seized device. Each must
give a clear error or a bounded, honest reading: never a hang, a memory blow-up, or bytes
read from outside the evidence folder."""
from __future__ import annotations

import resource
import struct
import subprocess
import time
from pathlib import Path

import pytest

from forensic.errors import CorruptSourceError
from forensic.sources.containers import open_media


def shared_l2_qcow2(path: Path, bits: int = 16, l1_size: int = 512) -> Path:
    """A QCOW2 v2 of 4 clusters whose L1 names one L2 table ``l1_size`` times, every entry of
    that table a compressed cluster: read naively, a 256 KB file lists l1_size * 8192
    compressed clusters."""
    cs = 1 << bits
    per = cs // 8
    l1_off, l2_off, refc_off = cs, 2 * cs, 3 * cs
    head = struct.pack(">4sIQIIQIIQQIIQ", b"QFI\xfb", 2, 0, 0, bits, l1_size * per * cs, 0, l1_size, l1_off,
                       refc_off, 1, 0, 0)
    buf = bytearray(4 * cs)
    buf[:len(head)] = head
    l1 = struct.pack(">Q", l2_off | (1 << 63)) * l1_size
    buf[l1_off:l1_off + len(l1)] = l1
    entry = (1 << 62) | (3 * cs + 512)            # compressed, one sector, inside the file
    buf[l2_off:l2_off + cs] = struct.pack(">Q", entry) * per
    path.write_bytes(bytes(buf))
    return path


def test_qcow2_with_one_l2_table_named_many_times_is_not_a_memory_bomb(tmp_path):
    image = shared_l2_qcow2(tmp_path / "bomb.qcow2")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    media = open_media(image, "qcow2")
    try:
        elapsed = time.monotonic() - start
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        # the hand-written compressed-cluster reader refuses the tables (libqcow reads the rest)
        assert media.patch is None
        assert elapsed < 2, elapsed
        assert grown_mb < 200, grown_mb
        with pytest.raises(OSError):                      # the bad cluster: a read error, as documented
            media.read_at(0, 512)
    finally:
        media.close()


def test_split_raw_segment_symlinked_outside_the_folder_is_refused(tmp_path, forensic):
    """disk.002 planted as a symlink to a file of the examiner's: its bytes must not become
    part of the evidence."""
    folder, private = tmp_path / "seized", tmp_path / "examiner"
    folder.mkdir()
    private.mkdir()
    (private / "secret.txt").write_bytes(b"examiner's notes\n" * 64)
    (folder / "disk.001").write_bytes(bytes(4096))
    (folder / "disk.002").symlink_to(private / "secret.txt")
    with pytest.raises(CorruptSourceError, match="symbolic link"):
        open_media(folder / "disk.001", "split")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "RT-C", "--examiner", "ann")
    res = forensic("evidence", "add", folder / "disk.001", "--case", case, expect=1)
    assert "symbolic link" in res.err
    assert "Traceback" not in res.err


def test_qcow2_backing_file_symlinked_outside_the_folder_is_refused(tmp_path):
    folder, private = tmp_path / "seized", tmp_path / "examiner"
    folder.mkdir()
    private.mkdir()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", private / "base.qcow2", "1M"], check=True)
    (folder / "base.qcow2").symlink_to(private / "base.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "child.qcow2"],
                   cwd=folder, check=True)
    with pytest.raises(CorruptSourceError, match="symbolic link"):
        open_media(folder / "child.qcow2", "qcow2")


@pytest.mark.parametrize("extent", ["{outside}", "../examiner/secret", "..\\examiner\\secret", "secret"])
def test_vmdk_extent_naming_a_file_outside_its_folder_is_refused(tmp_path, extent):
    """A flat VMDK descriptor (text the device's owner wrote) naming its extent by an absolute
    path, ``../``, Windows ``..\\``, or a symlink beside it pointing at the examiner's file."""
    folder, private = tmp_path / "seized", tmp_path / "examiner"
    folder.mkdir()
    private.mkdir()
    (private / "secret").write_bytes(b"SECRET-EXAMINER-DATA" * 52429)
    (folder / "raw").write_bytes(bytes(1 << 20))
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicFlat",
                    "raw", "disk.vmdk"], cwd=folder, check=True)
    (folder / "raw").unlink()
    (folder / "disk-flat.vmdk").unlink()
    if extent == "secret":
        (folder / "secret").symlink_to(private / "secret")
    text = (folder / "disk.vmdk").read_text()
    (folder / "disk.vmdk").write_text(text.replace('"disk-flat.vmdk"',
                                                   '"' + extent.format(outside=private / "secret") + '"'))
    with pytest.raises(CorruptSourceError, match="extent file"):
        open_media(folder / "disk.vmdk", "vmdk")
