"""Red team, issue 14: a PDF of image objects whose Flate-wrapped "JPEG" streams are deflate
bombs (64 KB each, inflating to 64 MB of a JPEG marker and zeros). Each was inflated to the
extractor limit and checked: a 2 MB PDF of 32 such objects took 12 s and 220 MB."""
from __future__ import annotations

import time
import zlib

from forensic.entry import FileEntry
from forensic.locator import Locator
from forensic.sources.embedded import EmbeddedSource


def bomb_pdf(n: int) -> bytes:
    bomb = zlib.compress(b"\xff\xd8\xff\xe0" + bytes(64 << 20), 9)
    parts = [b"%PDF-1.4\n"]
    for i in range(n):
        parts.append(f"{i + 1} 0 obj\n<< /Type /XObject /Subtype /Image /Width 8 /Height 8 "
                     f"/Filter [/FlateDecode /DCTDecode] /Length {len(bomb)} >>\nstream\n".encode()
                     + bomb + b"\nendstream\nendobj\n")
    return b"".join(parts) + b"%%EOF\n"


def test_pdf_of_deflate_bombs_is_looked_into_quickly_and_said(tmp_path):
    path = tmp_path / "bomb.pdf"
    path.write_bytes(bomb_pdf(8))
    entry = FileEntry(Locator.root("bomb.pdf"), "/bomb.pdf", "bomb.pdf", "file", path.stat().st_size)
    entry.opener = lambda: open(path, "rb")
    src = EmbeddedSource(entry, path.read_bytes()[:4096], [])
    start = time.monotonic()
    found = list(src.entries())
    assert time.monotonic() - start < 1.0          # before: ~0.37 s an object
    assert found == []
    assert sum("deflate bomb" in w for w in src.warnings) == 8, src.warnings
