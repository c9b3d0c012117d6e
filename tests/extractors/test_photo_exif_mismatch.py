"""Extension-mismatch rules checked against every file type of the third-party corpus.

Every corpus file is named by its producer for what it is, so the only mismatch expected is
the one file whose name lies on purpose (a HEIC named .jpg)."""
from __future__ import annotations

import os
from pathlib import Path

from forensic.filetype import extension_mismatch, identify

# corpus path -> why flagging it is right
EXPECTED = {
    "exif/exif-py/heic/heic_hdlr_box.jpg": "HEIF content under a .jpg name: a true mismatch",
}


def test_no_false_mismatch_in_corpus(corpus: Path) -> None:
    flagged = {}
    for folder, _, names in os.walk(corpus):
        for name in names:
            path = Path(folder, name)
            with open(path, "rb") as fh:
                mime, _ = identify(fh.read(8192))
            if extension_mismatch(name, mime):
                flagged[path.relative_to(corpus).as_posix()] = mime
    assert set(flagged) == set(EXPECTED), flagged


def test_bigtiff_extension_is_tiff() -> None:
    assert not extension_mismatch("BigTIFF.btf", "image/tiff")
    assert not extension_mismatch("x.tf8", "image/tiff")
    assert extension_mismatch("x.pdf", "image/tiff")
