"""The report's pictures: the thumbnail made at triage of each photo and video, else a photo's
EXIF thumbnail (the JPEG in IFD1, found in the first bytes of the file), else a small JPEG, PNG,
GIF or WebP photo itself; the total embedded is capped. A file withheld as sensitive shows none
(nor does any file of the same content), nor does a file in a known-bad hash set, whatever the
export includes. ``verify-bundle`` checks each picture is its file's."""
from __future__ import annotations

import base64
import struct
from typing import Iterable

from forensic.exporters.selection import never_pictured

_IMAGE_MIMES = {"image/jpeg": "image/jpeg", "image/png": "image/png", "image/gif": "image/gif",
                "image/webp": "image/webp"}


def exif_thumbnail(head: bytes) -> bytes | None:
    """The JPEG thumbnail of IFD1 in a JPEG's Exif APP1 segment, if it lies within ``head``."""
    if head[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        seg_len = struct.unpack(">H", head[pos + 2:pos + 4])[0]
        if marker == 0xE1 and head[pos + 4:pos + 10] == b"Exif\x00\x00":
            tiff = head[pos + 10:pos + 2 + seg_len]
            return _ifd1_jpeg(tiff)
        if marker in (0xDA, 0xD9):
            return None
        pos += 2 + seg_len
    return None


def _ifd1_jpeg(tiff: bytes) -> bytes | None:
    try:
        if tiff[:2] == b"II":
            en = "<"
        elif tiff[:2] == b"MM":
            en = ">"
        else:
            return None
        ifd0 = struct.unpack(en + "I", tiff[4:8])[0]
        n = struct.unpack(en + "H", tiff[ifd0:ifd0 + 2])[0]
        nxt = struct.unpack(en + "I", tiff[ifd0 + 2 + 12 * n:ifd0 + 6 + 12 * n])[0]
        if not nxt or nxt + 2 > len(tiff):
            return None
        n1 = struct.unpack(en + "H", tiff[nxt:nxt + 2])[0]
        offset = length = None
        for i in range(min(n1, 256)):
            at = nxt + 2 + 12 * i
            tag, typ, count, value = struct.unpack(en + "HHII", tiff[at:at + 12])
            if typ == 3:                     # SHORT stored in the first two bytes
                value = struct.unpack(en + "H", tiff[at + 8:at + 10])[0]
            if tag == 0x0201:
                offset = value
            elif tag == 0x0202:
                length = value
        if offset and length and offset + length <= len(tiff):
            data = tiff[offset:offset + length]
            return data if data[:2] == b"\xff\xd8" else None
    except struct.error:
        return None
    return None


THUMBNAILS_DIR = "data/report/thumbnails/"


def thumbnail_member(bag_path: str) -> str:
    """The bundle member holding the thumbnail made at triage of the file stored at ``bag_path``
    (``data/evidence/...``): listed in the manifest like every member, so verify-bundle checks
    the report's picture of a photo is that file's."""
    rel = bag_path[len("data/"):] if bag_path.startswith("data/") else bag_path
    return f"{THUMBNAILS_DIR}{rel}.jpg"


class ThumbnailCollector:
    """Collects small images of exported photos while they stream into the bundle."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.images: dict[tuple[str, str], tuple[bytes, str]] = {}  # key -> (data URI, ASCII; how it was found)
        self.skipped = 0
        self.triage: dict[tuple[str, str], bytes] = {}   # key -> JPEG, the thumbnails made at triage taken
        self.known_bad: set[tuple[str, str]] = set()     # files in a known-bad hash set: never a picture
        self.known_bad_sha256: set[str] = set()

    def preload(self, media: Iterable[dict], stored: dict[int, str]) -> None:
        """Take the thumbnails made at triage (``stored``: base64 JPEG by file id) of the
        selected photos and videos ``media`` (dicts with item, locator, file_id, sha256,
        withheld). A withheld one's is never taken, nor any of content a withheld file has
        (the same picture under another name). Taken first, they are what :meth:`add` keeps."""
        media = list(media)
        hidden = {m["sha256"] for m in media if (m["withheld"] or never_pictured(m)) and m.get("sha256")}
        self.known_bad |= {(m["item"], m["locator"]) for m in media if never_pictured(m)}
        self.known_bad_sha256 |= {m["sha256"] for m in media if never_pictured(m) and m.get("sha256")}
        for m in media:
            b64 = stored.get(m.get("file_id"))    # type: ignore[arg-type]
            if m["withheld"] or never_pictured(m) or b64 is None or (m.get("sha256") and m["sha256"] in hidden):
                continue
            try:                               # decoded and encoded again: only base64 goes in the page
                jpeg = base64.b64decode(b64, validate=True)
            except ValueError:
                continue
            if not jpeg.startswith(b"\xff\xd8"):
                continue
            if self.used + len(jpeg) > self.budget:
                self.skipped += 1
                continue
            self.used += len(jpeg)
            uri = b"data:image/jpeg;base64," + base64.b64encode(jpeg)
            self.images[(m["item"], m["locator"])] = (uri, "thumbnail made at triage")
            self.triage[(m["item"], m["locator"])] = jpeg

    def add(self, f: dict, head: bytes, whole: bytes | None) -> None:
        if (f["item"], f["locator"]) in self.images:      # its thumbnail made at triage
            return
        if never_pictured(f) or (f["item"], f["locator"]) in self.known_bad \
                or f.get("sha256") in self.known_bad_sha256:
            return                                         # a known-bad file is never shown as a picture
        thumb, kind, mime = exif_thumbnail(head), "EXIF thumbnail", "image/jpeg"
        if thumb is None and whole is not None and f.get("mime") in _IMAGE_MIMES:
            thumb, kind, mime = whole, "the photo itself", _IMAGE_MIMES[f["mime"]]
        if thumb is None:
            return
        if self.used + len(thumb) > self.budget:
            self.skipped += 1
            return
        self.used += len(thumb)
        uri = b"data:" + mime.encode("ascii") + b";base64," + base64.b64encode(thumb)
        self.images[(f["item"], f["locator"])] = (uri, kind)
