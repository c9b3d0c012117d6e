"""Photos per second: photo_exif (with XMP) and photo_hash against exifread alone and against
``exiftool -r -json -n``, on the same photos, in the same run.

The corpus photos ($FORENSIC_CORPUS/exif, every file but the reference JSON) are copied
``--copies`` times into a temporary folder (13 copies: about 2,000 photos). Each file is typed
once with libmagic beforehand (the walk's work, not timed); then, each side reading the bytes
of every photo photo_exif accepts:

* ``exifread``: ``exifread.process_file(details=False)`` alone (the floor: EXIF, nothing else);
* ``forensic``: photo_exif's extract (EXIF, XMP, maker-note serials, dates) then photo_hash's
  (perceptual hashes and thumbnail) where it accepts the file, as a triage runs them;
* ``exiftool``: one process over the folder (its start-up cost included, as an examiner would
  run it).

Each side but exiftool runs ``--rounds`` times, alternating, its best round kept. Prints the
rates and the two ratios the issue sets (forensic within 1.5x of exifread alone;
at least 5x exiftool).

    .venv/bin/python bench/bench_photos.py [--copies 13] [--rounds 3] [--corpus DIR] [--no-hash]
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic.extractors.base import ExtractorInput  # noqa: E402
from forensic.extractors.photo_exif import PhotoExifExtractor  # noqa: E402


def _mime(data: bytes) -> str:
    try:
        import magic
        return magic.from_buffer(data[:65536], mime=True)
    except Exception:
        return "application/octet-stream"


def photos_of(folder: Path) -> list[tuple[Path, str]]:
    """(path, MIME) of every file photo_exif accepts (typing as the walk does, not timed)."""
    extractor = PhotoExifExtractor()
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                head = fh.read(65536)
            mime = _mime(head)
            if extractor.accepts(str(path), mime, head[:64]) and not path.name.lower().endswith(".xmp"):
                out.append((path, mime))
    return out


def run_forensic(photos: list[tuple[Path, str]], with_hash: bool) -> float:
    extractors: list = [PhotoExifExtractor()]
    if with_hash:
        from forensic.extractors.photo_hash import PhotoHashExtractor
        extractors.append(PhotoHashExtractor())
    start = time.perf_counter()
    for path, mime in photos:
        data = path.read_bytes()
        inp = ExtractorInput(str(path), path.name, mime, len(data), data)
        for ex in extractors:
            if ex is extractors[0] or ex.accepts(str(path), mime, data[:64]):
                list(ex.extract(inp))
    return time.perf_counter() - start


def run_exifread(photos: list[tuple[Path, str]]) -> float:
    import exifread
    logging.getLogger("exifread").setLevel(logging.CRITICAL)
    start = time.perf_counter()
    for path, _ in photos:
        data = path.read_bytes()
        try:
            exifread.process_file(io.BytesIO(data), details=False)
        except Exception:  # noqa: S112 - a damaged sample: exifread's own failure, timed as it is
            pass
    return time.perf_counter() - start


def run_exiftool(folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["exiftool", "-r", "-json", "-n", "-q", "-q", str(folder)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("FORENSIC_CORPUS", "/work/shared/corpus")))
    parser.add_argument("--copies", type=int, default=13)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side (the best is kept)")
    parser.add_argument("--no-hash", action="store_true", help="photo_exif alone (no perceptual hashes)")
    args = parser.parse_args()
    source = args.corpus / "exif"
    if not source.is_dir():
        print(f"no corpus at {source}", file=sys.stderr)
        return 1
    if shutil.which("exiftool") is None:
        print("exiftool not installed (Debian: libimage-exiftool-perl)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench_photos_") as tmp:
        folder = Path(tmp)
        for n in range(args.copies):
            for path in source.rglob("*"):
                if path.is_file() and path.name != "REFERENCE.exiftool.json":
                    target = folder / f"copy{n}" / path.relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        photos = photos_of(folder)
        run_exifread(photos)                        # warm the page cache and imports
        run_forensic(photos, not args.no_hash)
        # the two sides alternate, each one's best round kept (the machine may be shared)
        base = ours = float("inf")
        for _ in range(args.rounds):
            base = min(base, run_exifread(photos))
            ours = min(ours, run_forensic(photos, not args.no_hash))
        theirs = run_exiftool(folder)
    n = len(photos)
    side = "photo_exif" if args.no_hash else "photo_exif+photo_hash"
    print(f"files: {files}; photos (accepted by photo_exif): {n}")
    print(f"exifread alone : {base:7.3f} s  {n / base:8.1f} photos/s")
    print(f"{side:<15}: {ours:7.3f} s  {n / ours:8.1f} photos/s  (EXIF, XMP, maker notes, dates"
          f"{'' if args.no_hash else ', perceptual hashes'})")
    print(f"exiftool       : {theirs:7.3f} s  {files / theirs:8.1f} files/s  (exiftool -r -json -n, one process)")
    print(f"exifread alone over {side}: {ours / base:.2f}x slower (target: <= 1.5x)")
    print(f"{side} over exiftool: {(n / ours) / (files / theirs):.2f}x faster (target: >= 5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
