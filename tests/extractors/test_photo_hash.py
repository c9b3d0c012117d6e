"""photo_hash: perceptual hashes find a messenger's copy of a photo, and only it."""
from __future__ import annotations

import base64
import io
import itertools
import struct

import pytest
from PIL import Image

from forensic.extractors.base import ExtractorInput
from forensic.extractors.photo_hash import HASH_TYPE, THUMB_TYPE, PhotoHashExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.store.similar import distance
from tests.extractors.photo_scenes import camera_jpeg, messenger_copy, scene

SCENES = 30


def _run(data: bytes, name: str = "x.jpg") -> list:
    return list(PhotoHashExtractor().extract(ExtractorInput(name, name, "image/jpeg", len(data), data)))


def _hashes(data: bytes) -> dict:
    out = _run(data)
    assert not [o for o in out if isinstance(o, ExtractionWarning)]
    return next(o.fields for o in out if isinstance(o, ArtifactRecord) and o.record_type == HASH_TYPE)


@pytest.fixture(scope="module")
def originals() -> list[bytes]:
    return [camera_jpeg(scene(seed)) for seed in range(SCENES)]


def test_copy_found_different_scenes_not(originals):
    hashes = [_hashes(o) for o in originals]
    copies = [_hashes(messenger_copy(o)) for o in originals]
    for algorithm in ("phash", "dhash"):
        same = [distance(int(a[algorithm], 16), int(b[algorithm], 16)) for a, b in zip(hashes, copies, strict=True)]
        assert max(same) <= 8, (algorithm, same)
        apart = [distance(int(a[algorithm], 16), int(b[algorithm], 16))
                 for a, b in itertools.combinations(hashes + copies[:1], 2) if a is not b]
        # the first copy is near its own original only
        near = [(i, j) for (i, a), (j, b) in itertools.combinations(enumerate(hashes + copies[:1]), 2)
                if distance(int(a[algorithm], 16), int(b[algorithm], 16)) <= 8]
        assert near == [(0, SCENES)], (algorithm, near, min(apart))


def test_record_fields_and_thumbnail(originals):
    out = _run(originals[0])
    by_type = {o.record_type: o.fields for o in out}
    assert set(by_type) == {HASH_TYPE, THUMB_TYPE}
    h = by_type[HASH_TYPE]
    assert (h["width"], h["height"], h["orientation"]) == (1200, 900, 1)
    assert len(h["phash"]) == len(h["dhash"]) == 16
    t = by_type[THUMB_TYPE]
    thumb = Image.open(io.BytesIO(base64.b64decode(t["jpeg_base64"])))
    assert thumb.format == "JPEG" and (thumb.width, thumb.height) == (t["width"], t["height"]) == (256, 192)


def test_orientation_applied_before_hashing():
    """A camera original turned by its EXIF orientation hashes like the upright copy a
    messenger makes of it."""
    img = scene(7)
    exif = Image.Exif()
    exif[0x0112] = 6                       # shown turned 90° clockwise
    stored = io.BytesIO()
    img.rotate(90, expand=True).save(stored, "JPEG", quality=92, exif=exif.tobytes())
    upright = io.BytesIO()
    img.resize((img.width // 2, img.height // 2)).save(upright, "JPEG", quality=60)
    a, b = _hashes(stored.getvalue()), _hashes(upright.getvalue())
    assert a["orientation"] == 6
    assert distance(int(a["phash"], 16), int(b["phash"], 16)) <= 8


def test_corrupt_jpeg_warns_not_crash(originals):
    broken = originals[0][:600]            # the header and a little of the scan
    out = _run(broken)
    assert [type(o) for o in out] == [ExtractionWarning]
    assert "not hashed" in out[0].message
    assert [type(o) for o in _run(b"\xff\xd8\xff\xe0garbage")] == [ExtractionWarning]


def test_decompression_bomb_bounded():
    """A PNG claiming 100,000 x 100,000 pixels is refused from its header, not decoded."""
    import zlib
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
    out = _run(png, "bomb.png")
    assert [type(o) for o in out] == [ExtractionWarning]


def test_big_jpeg_decoded_at_draft_scale():
    """A JPEG past the pixel cap at full size is still hashed: libjpeg decodes it at 1/8 scale."""
    img = Image.new("RGB", (9000, 8000), (120, 80, 40))
    data = io.BytesIO()
    img.save(data, "JPEG", quality=50)
    ex = PhotoHashExtractor()
    ex.max_pixels = 2_000_000
    out = list(ex.extract(ExtractorInput("big.jpg", "big.jpg", "image/jpeg", len(data.getvalue()), data.getvalue())))
    assert [o.record_type for o in out] == [HASH_TYPE, THUMB_TYPE]


@pytest.mark.parametrize("max_distance", [0, 3, 8, 12])
def test_bands_find_every_pair_brute_force_finds(max_distance):
    """Multi-index hashing finds exactly the pairs comparing every pair finds."""
    import random

    from forensic.store.similar import HashedPhoto, all_pairs
    r = random.Random(max_distance)
    values = [r.getrandbits(64) for _ in range(150)]
    # near neighbours: a few bits flipped
    values += [v ^ sum(1 << b for b in r.sample(range(64), r.randint(0, 14))) for v in values[:150]]
    found = [HashedPhoto("i", f"p{n}", None, n, v, v) for n, v in enumerate(values)]
    got = {(p.a.locator, p.b.locator) for p in all_pairs(found, max_distance)}
    got = {tuple(sorted(x)) for x in got}
    want = {(f"p{i}", f"p{j}") for i, j in itertools.combinations(range(len(values)), 2)
            if distance(values[i], values[j]) <= max_distance}
    want = {tuple(sorted(x)) for x in want}
    assert got == want and want


def test_copies_of_one_content_are_no_pair_and_blank_pictures_stay_fast():
    from forensic.store.similar import HashedPhoto, all_pairs
    twins = [HashedPhoto("phone", f"a/{n}.jpg", "ab" * 32, n, 2**64 - 1, 2**64 - 1) for n in range(3)]
    assert list(all_pairs(twins)) == []
    blanks = [HashedPhoto("phone", f"b/{n}.jpg", f"{n:064x}", n, 0, 0) for n in range(300)]
    pairs = list(all_pairs(blanks + twins))
    assert len(pairs) == 300 * 299 // 2 and {p.distance for p in pairs} == {0}


def test_corpus_photos_hashed_or_warned_sizes_as_exiftool(corpus):
    """Every photo of the third-party set: a hash record with exiftool's image size, or a
    warning (the malformed ones), never an exception."""
    import json
    reference = {r["SourceFile"]: r for r in json.loads((corpus / "exif" / "REFERENCE.exiftool.json").read_text())}
    ex = PhotoHashExtractor()
    hashed = compared = 0
    warned = []
    for path in sorted((corpus / "exif").rglob("*")):
        if not path.is_file() or path.name == "REFERENCE.exiftool.json":
            continue
        data = path.read_bytes()
        if not ex.accepts(path.name, "", data[:64]):
            continue
        out = list(ex.extract(ExtractorInput(path.name, path.name, "", len(data), data)))
        assert out and all(isinstance(o, (ArtifactRecord, ExtractionWarning)) for o in out), path
        records = [o for o in out if isinstance(o, ArtifactRecord) and o.record_type == HASH_TYPE]
        if not records:
            warned.append(path.name)
            continue
        hashed += 1
        ref = reference.get(str(path.relative_to(corpus / "exif")), {})
        if "File:ImageWidth" in ref and path.suffix.lower() in (".jpg", ".jpeg"):
            assert (records[0].fields["width"], records[0].fields["height"]) == \
                (ref["File:ImageWidth"], ref["File:ImageHeight"]), path
            compared += 1
    assert hashed >= 100 and compared >= 80, (hashed, compared)
    assert len(warned) <= 3, warned          # the malformed files, no camera RAW


@pytest.mark.parametrize(("size", "decoded"), [((640, 480), (320, 240)), ((480, 640), (240, 320)),
                                               ((4032, 3024), (504, 378)), ((6000, 800), (750, 100)),
                                               ((300, 200), (300, 200)), ((257, 3000), (33, 375))])
def test_jpeg_drafted_to_its_shape_keeps_a_full_thumbnail(size, decoded):
    """libjpeg scales a JPEG down while decoding (1/2 to 1/8), never below the thumbnail's
    256 pixels on the longer side."""
    from forensic.extractors.photo_hash import draft_box
    out = io.BytesIO()
    Image.new("RGB", size, (90, 140, 60)).save(out, "JPEG", quality=80)
    img = Image.open(io.BytesIO(out.getvalue()))
    img.draft("RGB", draft_box(*size))
    img.load()
    assert img.size == decoded
    thumb = next(o.fields for o in _run(out.getvalue()) if o.record_type == THUMB_TYPE)
    assert max(thumb["width"], thumb["height"]) == min(256, max(size))


def test_hashes_do_not_depend_on_the_thumbnail():
    """A video's later frames are hashed without a thumbnail: the same picture must hash the same."""
    from forensic.extractors.photo_hash import hash_image
    img = scene(3)
    with_thumb, thumb = hash_image(img, 6, thumbnail=True)
    without, none = hash_image(img, 6, thumbnail=False)
    assert with_thumb == without and thumb is not None and none is None
    assert (thumb["width"], thumb["height"]) == (192, 256)          # turned upright by orientation 6
