"""Red team, issue 14: unallocated space filled by the device's owner with copies of one tiny
valid JPEG (632 bytes): without a cap, each megabyte gives ~1,700 carved entries (~1 ms and
~3 KB of case store each), so a 64 GB card's free space gives ~100 million. Carving must stop
at the cap (Limits.max_carved) and say so."""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from builders import fat_image
from forensic.limits import Limits
from forensic.sources import detect_format, open_source


def tiny_photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def test_free_space_full_of_tiny_jpegs_is_carved_up_to_the_cap(tmp_path):
    img = fat_image(tmp_path, {"/a.txt": b"x"})
    one = tiny_photo()
    with open(img, "r+b") as fh:              # free clusters of the data area
        fh.seek(4 << 20)
        fh.write(one * ((1 << 20) // len(one)))
    with open_source(Path(img), detect_format(Path(img)), "card.img", limits=Limits(max_carved=300)) as src:
        carved = [e for e in src.entries() if e.recovery == "carved"]
        warnings = list(src.warnings)
    assert len(carved) == 300
    assert any("more than 300 photos carved from unallocated space" in w for w in warnings), warnings


def test_a_live_photo_whose_blocks_the_map_calls_free_is_not_carved_as_deleted(tmp_path, forensic):
    """ext4: the block bitmap altered (debugfs freeb) so that a live photo's block reads as free.
    The photo must stay one live file, not also "a deleted photo carved from unallocated
    space", and the lie must be said."""
    import subprocess
    from builders import debugfs, ext4_image
    img = ext4_image(tmp_path, {"/DCIM/live.jpg": tiny_photo()}, size_mib=8)
    block = debugfs(img, "blocks /DCIM/live.jpg").split()[0]
    subprocess.run(["debugfs", "-w", "-R", f"freeb {block}", str(img)], check=True, capture_output=True)
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "RT-O", "--examiner", "ann")
    forensic("evidence", "add", img, "--case", case, "--id", "disk")
    forensic("triage", "--case", case, expect=3)
    files = forensic("files", "--case", case, "--json").jsonl()
    assert [f["recovery"] for f in files if f["mime"] == "image/jpeg"] == ["allocated"]
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    assert any("marks" in w["message"] and "live files' data as free" in w["message"] for w in warnings), warnings
