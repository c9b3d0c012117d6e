"""Deleted FAT files: recovered as icat reads them, and flagged when a live file took
their clusters since (the FAT says which clusters are in use)."""
from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path

from builders import MiB, need, run
from forensic.locator import Locator
from forensic.sources.tsk import TskImageSource, open_raw


def _fat12_with_reuse(tmp: Path) -> tuple[Path, dict[str, bytes]]:
    """FAT12: GONE.BIN and SAFE.BIN written, then deleted; NEW.BIN, written into a folder
    (its entry does not take theirs), takes the first free cluster: GONE.BIN's first."""
    need("mkfs.vfat", "mcopy", "mmd", "mdel", "icat")
    rnd = random.Random(12)
    img = tmp / "card12.img"
    with open(img, "wb") as fh:
        fh.truncate(8 * MiB)
    run("mkfs.vfat", "-F", "12", "-n", "CARD", img)
    run("mmd", "-i", img, "::/SUB")
    data = {"GONE.BIN": rnd.randbytes(20000), "KEEP.BIN": rnd.randbytes(5000), "SAFE.BIN": rnd.randbytes(9000),
            "NEW.BIN": rnd.randbytes(3000)}
    for name in ("GONE.BIN", "KEEP.BIN", "SAFE.BIN"):
        (tmp / name).write_bytes(data[name])
        run("mcopy", "-i", img, tmp / name, "::/" + name)
    run("mdel", "-i", img, "::/GONE.BIN", "::/SAFE.BIN")
    (tmp / "NEW.BIN").write_bytes(data["NEW.BIN"])
    run("mcopy", "-i", img, tmp / "NEW.BIN", "::/SUB/NEW.BIN")
    return img, data


def test_fat_deleted_files_rated_by_the_fat(tmp_path: Path) -> None:
    img, data = _fat12_with_reuse(tmp_path)
    src = TskImageSource(open_raw(img), Locator.root("card"))
    entries = {e.path: e for e in src.entries()}
    gone, safe = entries["/_ONE.BIN"], entries["/_AFE.BIN"]          # FAT loses a deleted name's first letter

    def icat(e) -> bytes:
        return subprocess.run(["icat", str(img), e.inode], capture_output=True, check=True).stdout

    for e in (gone, safe):
        assert e.deleted and e.recovery == "deleted-metadata"
        assert e.open().read() == icat(e)
    assert hashlib.sha256(safe.open().read()).digest() == hashlib.sha256(data["SAFE.BIN"]).digest()
    assert (safe.recovery_confidence, safe.warnings) == ("high", [])
    assert gone.open().read() != data["GONE.BIN"]                      # NEW.BIN's bytes in its first cluster
    assert gone.recovery_confidence == "low"
    assert len(gone.warnings) == 1 and "now allocated to a live file" in gone.warnings[0]
    assert entries["/KEEP.BIN"].recovery == "allocated" and entries["/KEEP.BIN"].recovery_confidence is None
    assert src.warnings == []
