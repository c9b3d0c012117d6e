"""Photo perceptual hashes and thumbnails: the same picture on another device.

For every photo Pillow can decode (JPEG, PNG, WebP, TIFF, GIF, BMP; not camera RAW files, whose
first TIFF image is sensor data or a preview Pillow cannot read), one decode gives:

``photo/phash``      ``phash`` and ``dhash`` (64-bit, 16 hex digits, from ``imagehash``), the
                     image's ``width`` and ``height`` as stored, the EXIF ``orientation``
                     applied before hashing (a messenger's copy is usually turned upright and
                     stripped of EXIF; turning the original the same way makes them hash alike),
                     and ``hash_version`` (:data:`HASH_VERSION`: hashes of two versions are never
                     compared, :mod:`forensic.store.similar`).
``photo/thumbnail``  a small JPEG (at most :data:`THUMB_SIZE` pixels a side, upright) for the
                     report and review: ``jpeg_base64``, ``width``, ``height``.

Near-duplicates (a camera original and its resized, re-compressed WhatsApp copy) differ in a
few bits of these hashes; :mod:`forensic.store.similar` finds them by Hamming distance.

Why the thumbnail is a record, not a table or a file in the case folder: a record goes through
the triage as every other one (worker processes, one transaction per batch) with no new path
from the extractor to the store, and the custody log vouches for it like any record (its
``record_sha256``; ``custody verify --deep`` re-hashes it), so a thumbnail in a report can be
shown to be the one made at triage. It is derived data, never evidence: the file it was made
from is vouched for by its own hash. It costs about 5-10 KB of the store per photo.

Decoding is bounded: a JPEG is decoded at 1/2 to 1/8 scale (Pillow's draft mode, the DCT
scaled in libjpeg: the main speed-up), an image of more than :data:`MAX_PIXELS` pixels after
that is not decoded (a decompression bomb: a warning), nor is one past Pillow's own limit.
A file that does not decode gives a warning and no record; nothing raises.

A video's key frames are hashed the same way (:func:`hash_image`) by
:mod:`forensic.extractors.video_frames` (PyAV).
"""
from __future__ import annotations

import base64
import io
import warnings
from typing import Iterable

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

HASH_TYPE = "photo/phash"
THUMB_TYPE = "photo/thumbnail"
MAX_READ = 64 * 1024 * 1024       # bytes of a file read to decode it
MAX_PIXELS = 40_000_000           # pixels decoded at most (after JPEG draft scaling): 120 MB as RGB
THUMB_SIZE = 256                  # the thumbnail's longer side, pixels
THUMB_QUALITY = 70
# How the hashes are made: 1 imagehash shrank the whole decoded picture; 2 it is shrunk by whole
# factors first (hash_image). A change that changes any hash value bumps it (and VERSION).
HASH_VERSION = 2

_MIMES = {"image/jpeg", "image/pjpeg", "image/jpg", "image/png", "image/webp", "image/tiff",
          "image/gif", "image/bmp", "image/x-ms-bmp"}
_EXTENSIONS = {"jpg", "jpeg", "jpe", "jfif", "png", "webp", "tif", "tiff", "gif", "bmp"}
_RAW_EXTENSIONS = {"dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "orf", "rw2", "raf", "pef", "srw",
                   "mrw", "x3f", "iiq", "3fr", "erf", "kdc", "dcr", "mef", "mos", "rwl", "gpr"}
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")

# EXIF orientation -> the Pillow transpose that turns the picture upright
_ORIENT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
           6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


class PhotoHashExtractor(Extractor):
    NAME = "photo_hash"
    VERSION = "2"          # 2: the picture shrunk by whole factors before imagehash (see hash_image)
    DESCRIPTION = "Photo perceptual hashes (pHash, dHash) and a thumbnail: near-duplicates across devices"
    REQUIRES = ("imagehash", "PIL")
    RECORD_TYPES = (HASH_TYPE, THUMB_TYPE)
    OFFLOAD = True

    max_read: int = MAX_READ
    max_pixels: int = MAX_PIXELS
    thumbnails: bool = True

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        mime = (mime or "").split(";")[0].strip().lower()
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        if "." in name and name.rsplit(".", 1)[-1].lower() in _RAW_EXTENSIONS and not head.startswith(b"\xff\xd8"):
            return False          # a camera RAW is a TIFF whose first image is no picture Pillow reads
        if mime in _MIMES:
            return True
        if head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
            return True
        # a name alone is not enough: bytes that are no image give one warning, not a record
        return "." in name and name.rsplit(".", 1)[-1].lower() in _EXTENSIONS and head[:2] in (b"\xff\xd8", b"BM")

    def extract(self, item: ExtractorInput) -> Iterable[ArtifactRecord | ExtractionWarning]:
        from PIL import UnidentifiedImageError

        try:
            yield from self._extract(item)
        except UnidentifiedImageError:    # its message names a memory address: not a stable fact
            yield ExtractionWarning(self.NAME, "photo not hashed: Pillow does not recognise the image data")
        except Exception as exc:   # damaged or hostile image (or a bug of ours): say so, go on
            yield ExtractionWarning(self.NAME, f"photo not hashed: {type(exc).__name__}: {exc}")

    def _extract(self, item: ExtractorInput) -> Iterable[ArtifactRecord | ExtractionWarning]:
        from PIL import Image

        if item.data is not None:
            data = item.data
        else:
            with item.stream() as fh:
                data = fh.read(self.max_read + 1)
        if len(data) > self.max_read:
            yield ExtractionWarning(self.NAME, f"photo not hashed: larger than {self.max_read} bytes")
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # DecompressionBombWarning: bounded below
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            orientation = _orientation(img)
            if img.format == "JPEG":
                img.draft("RGB", draft_box(width, height))   # libjpeg scales while decoding
            dw, dh = img.size
            if dw * dh > self.max_pixels:
                yield ExtractionWarning(self.NAME, f"photo not hashed: {width}x{height} pixels, more than "
                                                   f"{self.max_pixels} to decode")
                return
            img.load()
        fields, thumb = hash_image(img, orientation, thumbnail=self.thumbnails)
        yield ArtifactRecord(HASH_TYPE, {**fields, "width": width, "height": height})
        if thumb is not None:
            yield ArtifactRecord(THUMB_TYPE, thumb)


def _orientation(img: object) -> int:
    try:
        value = img.getexif().get(0x0112)    # type: ignore[attr-defined]
    except Exception:   # damaged EXIF: hash the picture as stored
        return 1
    return value if isinstance(value, int) and value in _ORIENT else 1


def draft_box(width: int, height: int) -> tuple[int, int]:
    """The size a JPEG is asked to decode at: its shape, :data:`THUMB_SIZE` on the longer side.
    libjpeg picks the largest DCT scaling (1/2, 1/4, 1/8) that keeps both sides at least this
    large, so the picture :func:`hash_image` reduces keeps its full :data:`THUMB_SIZE`."""
    longest = max(width, height, 1)
    return max(1, width * THUMB_SIZE // longest), max(1, height * THUMB_SIZE // longest)


def _fit(width: int, height: int) -> tuple[int, int]:
    """A picture's size at most :data:`THUMB_SIZE` pixels a side, its shape kept."""
    longest = max(width, height)
    if longest <= THUMB_SIZE:
        return width, height
    return max(1, round(width * THUMB_SIZE / longest)), max(1, round(height * THUMB_SIZE / longest))


def hash_image(img: object, orientation: int = 1, *, thumbnail: bool = True) -> tuple[dict, dict | None]:
    """pHash, dHash (hex) and, when asked, a thumbnail record's fields of a loaded Pillow image.
    Also used by ``forensic similar FILE`` for a file outside the case, so both hash alike.

    ``imagehash`` shrinks the picture to 32x32 (pHash) and 9x8 (dHash) pixels with a Lanczos
    filter; it is handed the picture already shrunk to those sizes, by whole factors first
    (Pillow's ``reducing_gap``: a box filter) and Lanczos for the last step (photo_hash
    version 2). Version 1 let it run Lanczos over the whole picture as decoded, the costliest
    part of the work after the decode; its hashes differ from these in a bit or two."""
    import imagehash
    from PIL import Image

    pic: Image.Image = img   # type: ignore[assignment]
    if pic.mode not in ("RGB", "L"):
        pic = pic.convert("RGBA").convert("RGB") if "A" in pic.mode or pic.mode == "P" else pic.convert("RGB")
    turn = getattr(Image.Transpose, _ORIENT[orientation]) if orientation in _ORIENT else None
    gray = pic.convert("L")
    if turn is not None:
        gray = gray.transpose(turn)
    lanczos = Image.Resampling.LANCZOS
    fields = {"phash": str(imagehash.phash(gray.resize((32, 32), lanczos, reducing_gap=2.0))),
              "dhash": str(imagehash.dhash(gray.resize((9, 8), lanczos, reducing_gap=2.0))),
              "orientation": orientation, "hash_version": HASH_VERSION}
    if not thumbnail:
        return fields, None
    # a box filter (each pixel the mean of the pixels it covers): the thumbnail of a JPEG is
    # a shrink by less than 2 of its drafted decode, where box looks as bilinear does, for 2/3
    # of the time
    small = pic.resize(_fit(pic.width, pic.height), Image.Resampling.BOX, reducing_gap=2.0)
    if turn is not None:
        small = small.transpose(turn)
    out = io.BytesIO()
    small.convert("RGB").save(out, "JPEG", quality=THUMB_QUALITY)
    return fields, {"format": "jpeg", "width": small.width, "height": small.height,
                    "jpeg_base64": base64.b64encode(out.getvalue()).decode("ascii")}
