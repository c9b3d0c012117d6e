"""File times whose zone the file system says or the examiner states.

ISO 9660 stores each recording time as local time with its GMT offset (7th byte, signed
15-minute units); TSK reads it as if UTC. FAT stores local time with no zone: with
``--assume-tz`` the examiner states it, and a time that zone skips (spring forward) or holds
twice (fall back) is flagged, not silently shifted.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from builders import need, run

# ISO 9660 recording times to plant: file -> (7 bytes, what files --json must say)
ISO_TIMES = {
    "EAST.TXT": (bytes([124, 3, 1, 16, 7, 32, 32]), ("2024-03-01T08:07:32Z", "offset_tag")),       # +08:00
    "WEST.TXT": (bytes([124, 3, 1, 16, 7, 32, 256 - 20]), ("2024-03-01T21:07:32Z", "offset_tag")),  # -05:00
    "ODD.TXT": (bytes([124, 3, 1, 16, 7, 32, 0x7F]), ("2024-03-01T16:07:32", "unknown")),           # not an offset
}


def _iso_with_offsets(tmp: Path) -> Path:
    """An ISO 9660 image made by xorriso (plain ISO 9660 names, no Rock Ridge), then -- a copy
    of it, patched -- each file's directory record given the time and offset above."""
    need("xorriso")
    src = tmp / "iso.src"
    src.mkdir()
    for name in ISO_TIMES:
        (src / name.lower()).write_bytes(name.encode() * 10)
    built = tmp / "built.iso"
    run("xorriso", "-as", "mkisofs", "-quiet", "-o", built, src)
    data = bytearray(built.read_bytes())
    for name, (stamp, _) in ISO_TIMES.items():
        ident = name.encode() + b";1"
        at = data.find(bytes([len(ident)]) + ident)
        assert at > 0 and data.find(bytes([len(ident)]) + ident, at + 1) < 0, name
        record = at - 32                             # the identifier's length is byte 32 of its record
        data[record + 18:record + 25] = stamp
    iso = tmp / "offsets.iso"
    iso.write_bytes(bytes(data))
    return iso


def test_iso9660_times_apply_the_records_gmt_offset(tmp_path: Path, forensic) -> None:
    iso = _iso_with_offsets(tmp_path)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "ISO-1", "--examiner", "Ana Examiner")
    forensic("evidence", "add", iso, "--case", case, "--id", "disc")
    forensic("triage", "disc", "--case", case, expect=None)
    rows = {r["path"].lstrip("/"): r for r in forensic("files", "--case", case, "--json").jsonl()}
    for name, (_, (born, source)) in ISO_TIMES.items():
        assert (rows[name]["born_at"], rows[name]["times_tz_source"]) == (born, source), name
        assert rows[name]["times_tz_known"] == (source != "unknown")
    # The Sleuth Kit reads the local time as UTC: istat says 16:07:32 for each
    fls = subprocess.run(["fls", str(iso)], capture_output=True, text=True, check=True).stdout
    addr = next(line.split()[1].rstrip(":") for line in fls.splitlines() if line.endswith("EAST.TXT"))
    assert "2024-03-01 16:07:32" in subprocess.run(["istat", str(iso), addr], capture_output=True, text=True,
                                                   check=True).stdout
    warned = forensic("warnings", "--case", case, "--json").jsonl()
    assert [w["locator"].rsplit(" › ", 1)[-1] for w in warned if "GMT offset out of range" in w["message"]] \
        == ["/ODD.TXT"]


@pytest.mark.corpus
def test_iso9660_corpus_image_times_are_true_utc(corpus: Path, tmp_path: Path, forensic) -> None:
    iso = corpus / "disk-images" / "dfvfs" / "iso9660.raw"
    if not iso.exists():
        pytest.skip("iso9660.raw not in the corpus")
    raw = iso.read_bytes()
    at = raw.find(b"\x0fPASSWORDS.TXT;1")
    assert at > 0
    stamp = raw[at - 32 + 18:at - 32 + 25]
    assert list(stamp) == [121, 7, 22, 16, 7, 32, 8]      # 2021-07-22 16:07:32 at +02:00 (8 x 15 min)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "ISO-2", "--examiner", "Ana Examiner")
    forensic("evidence", "add", iso, "--case", case, "--id", "disc")
    forensic("triage", "disc", "--case", case, expect=None)
    rows = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    assert rows["/PASSWORDS.TXT"]["born_at"] == "2021-07-22T14:07:32Z"
    assert rows["/PASSWORDS.TXT"]["times_tz_source"] == "offset_tag"


# FAT wall-clock times to plant, and what files --json says with --assume-tz Europe/Berlin
FAT_TIMES = {
    "WINTER.TXT": ("2024-01-15T10:00:00", "2024-01-15T09:00:00Z", "assumed"),     # CET, +01:00
    "SUMMER.TXT": ("2024-07-15T10:00:00", "2024-07-15T08:00:00Z", "assumed"),     # CEST, +02:00
    "GAP.TXT": ("2024-03-31T02:30:00", "2024-03-31T02:30:00", "unknown"),         # skipped: 02:00 -> 03:00
    "TWICE.TXT": ("2024-10-27T02:30:00", "2024-10-27T02:30:00", "unknown"),       # 03:00 -> 02:00: twice
}


def _fat_with_times(tmp: Path) -> Path:
    """A FAT file system whose files' modification times are the wall-clock times above
    (mcopy -m keeps a file's time, written as local time in mtools' TZ: UTC here)."""
    import os
    from datetime import datetime, timezone
    need("mkfs.vfat", "mcopy")
    img = tmp / "card.img"
    with open(img, "wb") as fh:
        fh.truncate(8 << 20)
    run("mkfs.vfat", "-n", "CARD", img)
    env = dict(os.environ, TZ="UTC")
    for name, (wall, _, _) in FAT_TIMES.items():
        src = tmp / name
        src.write_bytes(name.encode())
        stamp = datetime.fromisoformat(wall).replace(tzinfo=timezone.utc).timestamp()
        os.utime(src, (stamp, stamp))
        run("mcopy", "-m", "-i", img, src, "::/" + name, env=env)
    return img


def test_fat_assume_tz_across_daylight_saving(tmp_path: Path, forensic) -> None:
    img = _fat_with_times(tmp_path)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "DST-1", "--examiner", "Ana Examiner")
    forensic("evidence", "add", img, "--case", case, "--id", "card")
    forensic("triage", "card", "--case", case, expect=None)
    plain = {r["path"].lstrip("/"): r for r in forensic("files", "--case", case, "--json").jsonl()}
    for name, (wall, _, _) in FAT_TIMES.items():
        assert (plain[name]["modified_at"], plain[name]["times_tz_source"]) == (wall, "unknown"), name
    forensic("triage", "card", "--case", case, "--force", "--assume-tz", "Europe/Berlin", expect=None)
    rows = {r["path"].lstrip("/"): r for r in forensic("files", "--case", case, "--json").jsonl()}
    for name, (_, stored, source) in FAT_TIMES.items():
        assert (rows[name]["modified_at"], rows[name]["times_tz_source"]) == (stored, source), name
        assert rows[name]["times_tz_known"] == (source == "assumed")
    warned = {w["locator"].rsplit(" › ", 1)[-1]: w["message"] for w in forensic("warnings", "--case", case,
                                                                                  "--json").jsonl()}
    assert "modified time 2024-03-31T02:30:00 does not exist in Europe/Berlin" in warned["/GAP.TXT"]
    assert "modified time 2024-10-27T02:30:00 occurs twice in Europe/Berlin (2024-10-27T02:30:00+02:00 or " \
           "2024-10-27T02:30:00+01:00)" in warned["/TWICE.TXT"]
    assert "/WINTER.TXT" not in warned and "/SUMMER.TXT" not in warned
