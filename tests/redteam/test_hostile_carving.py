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
