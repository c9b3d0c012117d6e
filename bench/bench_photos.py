"""Photos per second: the photo_exif extractor against ``exiftool -r -json -n``, same run.

The corpus photos ($FORENSIC_CORPUS/exif, every file but the reference JSON) are copied
``--copies`` times into a temporary folder; both tools read that folder. The extractor side
reads each file, types it with libmagic (as the walk does), and runs accepts/extract; the
ExifTool side is one process over the folder (its start-up cost included, as an examiner
would run it). Prints both rates and their ratio.

    .venv/bin/python bench/bench_photos.py [--copies 5] [--corpus DIR]
"""
from __future__ import annotations

import argparse
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


def run_extractor(folder: Path) -> tuple[int, float]:
    extractor = PhotoExifExtractor()
    photos = 0
    start = time.perf_counter()
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        mime = _mime(data)
        if extractor.accepts(str(path), mime, data[:64]):
            list(extractor.extract(ExtractorInput(str(path), path.name, mime, len(data), data)))
            photos += 1
    return photos, time.perf_counter() - start


def run_exiftool(folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["exiftool", "-r", "-json", "-n", "-q", "-q", str(folder)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("FORENSIC_CORPUS", "/work/shared/corpus")))
    parser.add_argument("--copies", type=int, default=5)
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
        run_extractor(folder)                       # warm the page cache and imports
        photos, ours = run_extractor(folder)
        theirs = run_exiftool(folder)
    print(f"files: {files}; photos accepted by photo_exif: {photos}")
    print(f"photo_exif : {ours:7.3f} s  {photos / ours:8.1f} photos/s")
    print(f"exiftool   : {theirs:7.3f} s  {files / theirs:8.1f} files/s  (exiftool -r -json -n, one process)")
    print(f"ratio (photo_exif photos/s over exiftool files/s): {(photos / ours) / (files / theirs):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
