"""Photos per second: exifread alone against the triage's photo work (photo_exif, with its XMP,
and photo_hash: pHash, dHash and a thumbnail), on the same photos in the same run.

Issue 16's bound: the photo work within 1.5x the time of exifread alone. The photos are made
here (generated outdoor scenes, camera JPEGs with EXIF, ``--size`` pixels, ``--count`` files:
``--scenes`` distinct pictures, each saved with its own EXIF so every file differs), written to
a temporary folder, and read from it (page cache warm) by both sides; each side reads every
file's bytes and parses them. Prints both rates, photo_hash alone, the pixels alone (decoded
as photo_hash decodes them, nothing made of them: the floor of any perceptual hash), and the
ratio. ``--clock cpu`` times this process's CPU seconds (a machine shared with other work).

    .venv/bin/python bench/bench_phash.py [--count 2000] [--size 2000x1500] [--scenes 40] [--clock cpu]
    .venv/bin/python bench/bench_phash.py --corpus $FORENSIC_CORPUS/exif   # its JPEGs, copied to --count
"""
from __future__ import annotations

import argparse
import io
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic.extractors.base import ExtractorInput  # noqa: E402
from forensic.extractors.photo_exif import PhotoExifExtractor  # noqa: E402
from forensic.extractors.photo_hash import PhotoHashExtractor, draft_box  # noqa: E402
from tests.extractors.photo_scenes import scene  # noqa: E402


def build(folder: Path, count: int, size: tuple[int, int], scenes: int, noise: float) -> int:
    """``count`` camera JPEGs: ``scenes`` pictures (with sensor-like noise, so they compress as
    photos do), each encoded once, then given each file's own EXIF segment."""
    from PIL import Image
    encoded = []
    for seed in range(scenes):
        picture = scene(seed, *size)
        if noise:
            grain = Image.effect_noise(size, noise).convert("RGB")
            picture = Image.blend(picture, grain, 0.15)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=90)
        encoded.append(out.getvalue())
    total = 0
    for n in range(count):
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 80D"
        exif[0x0132] = f"2021:06:{1 + n % 28:02d} 12:{n // 60 % 60:02d}:{n % 60:02d}"
        body = exif.tobytes()                     # the Exif header and the TIFF block
        jpeg = encoded[n % scenes]
        data = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]
        (folder / f"IMG_{n:05d}.jpg").write_bytes(data)
        total += len(data)
    return total


def copy_corpus(folder: Path, source: Path, count: int) -> int:
    """``count`` files: the JPEGs under ``source`` (real cameras' EXIF, some malformed), in turn."""
    photos = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg"))
    total = 0
    for n in range(count):
        data = photos[n % len(photos)].read_bytes()
        (folder / f"IMG_{n:05d}.jpg").write_bytes(data)
        total += len(data)
    return total


clock = time.perf_counter               # --clock cpu: time.process_time


def run_exifread(files: list[Path]) -> float:
    import exifread
    start = clock()
    for path in files:
        exifread.process_file(io.BytesIO(path.read_bytes()))     # its default: maker notes too
    return clock() - start


def run_decode(files: list[Path]) -> float:
    from PIL import Image
    start = clock()
    for path in files:
        try:
            img = Image.open(io.BytesIO(path.read_bytes()))
            img.draft("RGB", draft_box(*img.size))
            img.load()
        except Exception:  # noqa: S112 - a damaged sample (--corpus): Pillow's own failure, timed as it is
            continue
    return clock() - start


def run_ours(files: list[Path], *, exif: bool = True, hashes: bool = True, thumbnails: bool = True) -> float:
    extractors = []
    if exif:
        extractors.append(PhotoExifExtractor())
    if hashes:
        ph = PhotoHashExtractor()
        ph.thumbnails = thumbnails
        extractors.append(ph)
    start = clock()
    for path in files:
        data = path.read_bytes()
        for ex in extractors:
            if ex.accepts(str(path), "image/jpeg", data[:64]):
                list(ex.extract(ExtractorInput(str(path), path.name, "image/jpeg", len(data), data)))
    return clock() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--size", default="2000x1500")
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--corpus", type=Path, default=None, help="use the JPEGs under this folder instead")
    parser.add_argument("--noise", type=float, default=40.0, help="sigma of the grain added (0: none)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time wall-clock seconds, or this process's CPU seconds")
    args = parser.parse_args()
    global clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="bench_phash_") as tmp:
        folder = Path(tmp)
        if args.corpus is not None:
            size = copy_corpus(folder, args.corpus, args.count)
        else:
            size = build(folder, args.count, (width, height), args.scenes, args.noise)
        files = sorted(folder.iterdir())
        run_exifread(files[:50])
        run_ours(files[:50])                         # warm imports
        base = run_exifread(files)
        ours = run_ours(files)
        hash_only = run_ours(files, exif=False)
        no_thumb = run_ours(files, exif=False, thumbnails=False)
        decode = run_decode(files)
    n = len(files)
    what = f"from {args.corpus}" if args.corpus is not None else f"{width}x{height}"
    print(f"{n} photos, {what}, {size / n / 1024:.0f} KB each on average")
    print(f"exifread alone               : {base:7.2f} s  {n / base:8.1f} photos/s")
    print(f"photo_exif + photo_hash      : {ours:7.2f} s  {n / ours:8.1f} photos/s")
    print(f"photo_hash (hashes + thumbs) : {hash_only:7.2f} s  {n / hash_only:8.1f} photos/s")
    print(f"photo_hash (hashes only)     : {no_thumb:7.2f} s  {n / no_thumb:8.1f} photos/s")
    print(f"pixels decoded, nothing else : {decode:7.2f} s  {n / decode:8.1f} photos/s  "
          f"({decode / base:.2f}x exifread alone: the floor of any perceptual hash)")
    print(f"clock: {args.clock}")
    print(f"ratio (time of photo_exif + photo_hash over exifread alone): {ours / base:.2f}x  (bound: 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
