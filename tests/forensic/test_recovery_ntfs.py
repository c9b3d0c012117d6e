"""Deleted NTFS files recovered through the metadata their names point to, as icat does.

The image is built by the test: mkntfs, then ntfs-3g (FUSE) writes files -- fragmented,
resident, with an alternate data stream, in a folder tree -- and deletes them; after a
remount, new files reuse a deleted folder's MFT entry (its file becomes an orphan) and a
deleted file's clusters. The listing is compared with ``fls -r -p`` and every recovered
file's SHA-256 with ``icat``'s.
"""
from __future__ import annotations

import hashlib
import os
import random
import subprocess
from pathlib import Path

import pytest

from builders import need
from forensic.entry import FileEntry
from forensic.locator import Locator
from forensic.sources.tsk import TskImageSource, open_raw

MiB = 1 << 20


def _fuse_mount(img: Path, mnt: Path) -> None:
    proc = subprocess.run(["ntfs-3g", "-o", "streams_interface=windows", str(img), str(mnt)],
                          capture_output=True, timeout=30)
    if proc.returncode != 0:
        pytest.skip(f"ntfs-3g cannot mount here (FUSE unavailable?): {proc.stderr.decode(errors='replace')}")


def _unmount(mnt: Path) -> None:
    subprocess.run(["fusermount", "-u", str(mnt)], check=True, capture_output=True, timeout=30)


class Built:
    def __init__(self, img: Path, originals: dict[str, bytes]) -> None:
        self.img = img
        self.originals = originals      # path in the image -> bytes written before deletion


@pytest.fixture(scope="module")
def deleted_ntfs(tmp_path_factory: pytest.TempPathFactory) -> Built:
    need("mkntfs", "ntfs-3g", "fusermount", "fls", "icat")
    tmp = tmp_path_factory.mktemp("ntfs_deleted")
    img, mnt = tmp / "deleted.ntfs", tmp / "mnt"
    mnt.mkdir()
    with open(img, "wb") as fh:
        fh.truncate(8 * MiB)
    subprocess.run(["mkntfs", "-q", "-F", "-f", str(img)], check=True, capture_output=True)
    rnd = random.Random(14)
    originals: dict[str, bytes] = {}

    def write(rel: str, n: int, append: bool = False) -> None:
        data = rnd.randbytes(n)
        with open(mnt / rel, "ab" if append else "wb") as fh:
            fh.write(data)
        key = "/" + rel
        originals[key] = originals.get(key, b"") + data if append else data

    _fuse_mount(img, mnt)
    try:
        # MFT entries from 64 on, in this order; clusters from the first free one on
        (mnt / "dir3").mkdir()
        write("dir3/sing2.dat", 300)                  # resident; orphaned when dir3's entry is reused
        write("victim.dat", 60000)                    # first clusters: reused by new.dat
        write("frag1.dat", 20000)
        write("sing1.dat", 30000)
        write("frag1.dat", 20000, append=True)        # two runs
        write("mult1.dat", 9000)
        write("mult1.dat:ADS", 5000)                  # alternate data stream
        (mnt / "dir1" / "dir2").mkdir(parents=True)
        write("dir1/dir2/frag3.dat", 12000)
        write("dir1/mult2.dat", 7000)
        write("dir1/dir2/frag3.dat", 8000, append=True)
        write("res1.dat", 6)                          # resident in its MFT entry
        write("live.txt", 5)
        os.sync()
        for name in ("dir3/sing2.dat", "dir3", "victim.dat", "frag1.dat", "sing1.dat", "mult1.dat",
                     "dir1/dir2/frag3.dat", "dir1/dir2", "dir1/mult2.dat", "dir1", "res1.dat"):
            p = mnt / name
            p.rmdir() if p.is_dir() else p.unlink()
        os.sync()
    finally:
        _unmount(mnt)
    _fuse_mount(img, mnt)           # a fresh mount allocates from the first free entry and cluster
    try:
        (mnt / "new.dat").write_bytes(rnd.randbytes(30000))    # takes dir3's MFT entry, victim's clusters
        os.sync()
    finally:
        _unmount(mnt)
    originals["/$OrphanFiles/sing2.dat"] = originals.pop("/dir3/sing2.dat")
    return Built(img, originals)


def _fls(img: Path) -> dict[str, str]:
    out = subprocess.run(["fls", "-r", "-p", str(img)], capture_output=True, check=True).stdout.decode()
    listing = {}
    for line in out.splitlines():
        head, _, path = line.partition(":\t")
        listing["/" + path] = head.split()[-1]
    return listing


def _icat(img: Path, addr: str) -> str:
    out = subprocess.run(["icat", str(img), addr], capture_output=True, check=True).stdout
    return hashlib.sha256(out).hexdigest()


class Walked:
    def __init__(self, entry: FileEntry) -> None:
        self.e = entry
        self.sha256: str | None = None
        try:
            self.sha256 = hashlib.sha256(entry.open().read()).hexdigest()
        except OSError:             # no opener, or unreadable ($BadClus:$Bad is all sparse)
            pass


def _walk(img: Path) -> dict[str, Walked]:
    src = TskImageSource(open_raw(img), Locator.root("ntfs"))
    out = {e.path: Walked(e) for e in src.entries()}
    assert src.warnings == []
    return out


def test_deleted_files_recovered_like_icat(deleted_ntfs: Built) -> None:
    fls = _fls(deleted_ntfs.img)
    ours = _walk(deleted_ntfs.img)
    wanted = ["/frag1.dat", "/sing1.dat", "/mult1.dat", "/mult1.dat:ADS", "/dir1", "/dir1/dir2",
              "/dir1/dir2/frag3.dat", "/dir1/mult2.dat", "/res1.dat", "/victim.dat", "/$OrphanFiles/sing2.dat"]
    for path in wanted:
        assert path in fls, f"fls does not list {path}: the image is not as planned"
    assert set(fls) <= set(ours)
    for path, addr in fls.items():       # every file icat reads, system files and streams too
        proc = subprocess.run(["icat", str(deleted_ntfs.img), addr], capture_output=True)
        if proc.returncode == 0 and ours[path].sha256 is not None:
            assert ours[path].sha256 == hashlib.sha256(proc.stdout).hexdigest(), path
    for path in wanted:
        w, e = ours[path], ours[path].e
        assert e.deleted
        if e.kind == "dir":
            assert e.recovery is None
            continue
        assert w.sha256 == _icat(deleted_ntfs.img, fls[path]), path
        assert e.recovery == ("orphan" if path.startswith("/$Orphan") else "deleted-metadata")
    # content unchanged since deletion: recovered whole, with high confidence, no warning
    for path in wanted:
        w, e = ours[path], ours[path].e
        if e.kind == "dir" or path == "/victim.dat":
            continue
        assert w.sha256 == hashlib.sha256(deleted_ntfs.originals[path]).hexdigest(), path
        assert (e.recovery_confidence, e.warnings) == ("high", []), path
    live = ours["/live.txt"].e
    assert live.recovery == "allocated" and live.recovery_confidence is None


def test_reused_clusters_lower_the_confidence(deleted_ntfs: Built) -> None:
    walked = _walk(deleted_ntfs.img)["/victim.dat"]
    victim = walked.e
    assert walked.sha256 != hashlib.sha256(deleted_ntfs.originals["/victim.dat"]).hexdigest()
    assert victim.recovery == "deleted-metadata" and victim.recovery_confidence == "low"
    assert victim.opener is not None        # kept: the rest of it may be the deleted file's
    assert len(victim.warnings) == 1 and "now allocated to a live file" in victim.warnings[0]


def test_triage_stores_and_lists_the_recovery(deleted_ntfs: Built, forensic, tmp_path: Path) -> None:
    from forensic.cli.commands.files import _file_cells
    case = tmp_path / "case"
    evidence = hashlib.sha256(deleted_ntfs.img.read_bytes()).hexdigest()
    forensic("case", "init", case, "--case-id", "NTFS-DEL", "--examiner", "Ana Examiner")
    forensic("evidence", "add", deleted_ntfs.img, "--case", case, "--id", "disk")
    forensic("triage", "disk", "--case", case, expect=None)
    assert hashlib.sha256(deleted_ntfs.img.read_bytes()).hexdigest() == evidence     # never written to
    rows = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    fls = _fls(deleted_ntfs.img)
    for path in ("/frag1.dat", "/mult1.dat:ADS", "/dir1/dir2/frag3.dat", "/res1.dat", "/$OrphanFiles/sing2.dat"):
        r = rows[path]
        assert r["sha256"] == _icat(deleted_ntfs.img, fls[path]), path
        assert r["recovery_confidence"] == "high" and r["deleted"]
    assert rows["/$OrphanFiles/sing2.dat"]["recovery"] == "orphan"
    assert rows["/frag1.dat"]["recovery"] == "deleted-metadata"
    assert rows["/live.txt"]["recovery"] == "allocated"
    victim = rows["/victim.dat"]
    assert (victim["recovery"], victim["recovery_confidence"]) == ("deleted-metadata", "low")
    assert _file_cells(victim)[0] == "DR?" and _file_cells(rows["/res1.dat"])[0] == "DR"
    assert _file_cells(rows["/live.txt"])[0] == ""
    warned = forensic("warnings", "--case", case, "--json").jsonl()
    assert [w["locator"].rsplit(" › ", 1)[-1] for w in warned if "now allocated to a live file" in w["message"]] \
        == ["/victim.dat"]
    assert forensic("custody", "verify", "--deep", "--case", case, "--json").json()["deep"]["ok"]


def test_an_mft_entry_holding_another_file_is_not_paired_with_the_deleted_name(deleted_ntfs: Built,
                                                                              tmp_path: Path) -> None:
    """A copy of the image where sing1.dat's MFT entry names another file (what reuse of the
    entry by a file deleted since leaves). TSK names a deleted index entry from the MFT entry
    it points to, as fls shows: the entry's content is listed under the name it holds, never
    under the deleted name sing1.dat (the walker checks the entry's $FILE_NAME too)."""
    import struct
    img = tmp_path / "reused_entry.ntfs"
    data = bytearray(deleted_ntfs.img.read_bytes())
    cluster = struct.unpack_from("<H", data, 11)[0] * data[13]
    entry = int(_fls(deleted_ntfs.img)["/sing1.dat"].split("-")[0])
    record = struct.unpack_from("<Q", data, 0x30)[0] * cluster + entry * 1024
    assert data[record:record + 4] == b"FILE"
    at = data.find("sing1.dat".encode("utf-16-le"), record, record + 1024)
    assert 0 < at - record < 500                  # in the record's first sector: no fixup there
    data[at:at + 18] = "sing9.dat".encode("utf-16-le")
    img.write_bytes(bytes(data))
    fls, ours = _fls(img), _walk(img)
    assert "/sing1.dat" not in fls and "/sing1.dat" not in ours
    assert fls["/sing9.dat"].startswith(f"{entry}-")
    assert ours["/sing9.dat"].sha256 == _icat(img, fls["/sing9.dat"])
    assert ours["/frag1.dat"].e.recovery_confidence == "high"          # the others are unaffected
