#!/usr/bin/env python3
"""Carving speed against a plain read of the same unallocated bytes, in the same run.

Builds a FAT32 image whose free space is not empty: random data (a large file written then
deleted), with photos (real JPEGs with EXIF) and signature junk (``FF D8 FF`` then random
bytes, truncated JPEGs) spread through it, all deleted. Then times, on the same runs of
unallocated space read through pytsk3's image (as triage reads them):

(a) a plain read: every unallocated byte read once, in the carver's chunk size, nothing else
    (the ``bench_triage`` bare-walk style: the least any reader of those bytes can do);
(b) the carver: the allocation map read (forensic.sources.unallocated), the same bytes
    scanned for signatures, each candidate checked (JPEG markers to EOI, PNG CRCs, decoding).

Each side runs --repeat times after one warm-up read (the image is in the page cache, so the
numbers compare CPU work over the same bytes, not the disk). Prints MB/s of both, the ratio
b/a, and what was carved (it must be the photos planted, no junk).

    .venv/bin/python bench/bench_carve.py [--size-mib 512] [--photos 200] [--junk 2000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

CHUNK = 4 << 20


def photo(rng: random.Random, n: int) -> bytes:
    from forensic.training.jpeg import ExifSpec, dms, photo as make
    blocks = [[(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(32)] for _ in range(24)]
    taken = datetime(2024, 1, 1, 12, 0, n % 60)  # noqa: DTZ001 (EXIF holds a wall-clock time)
    spec = ExifSpec("BenchCam", f"M{n}", "fw", None, taken, "+00:00",
                    lat=dms(40 + n / 1000, "N", "S")[:2], lon=dms(-3 - n / 1000, "E", "W")[:2], width=256, height=192)
    return make(blocks, spec)


def build(tmp: Path, size_mib: int, photos: int, junk: int) -> tuple[Path, set[str]]:
    """The image and the SHA-256 of the photos planted in its free space."""
    rng = random.Random(14)
    img = tmp / "card.raw"
    with open(img, "wb") as fh:
        fh.truncate(size_mib << 20)
    subprocess.run(["mkfs.vfat", "-F", "32", "-n", "BENCH", str(img)], check=True, capture_output=True)
    # one large file of random data with photos and junk inside it, written then deleted:
    # its clusters are free space full of bytes (as on a used card)
    block = rng.randbytes(1 << 20)
    body = bytearray(b"".join(bytes(block[i:] + block[:i]) for i in range(int(size_mib * 0.8))))
    planted: set[str] = set()
    spots = sorted(rng.sample(range(0, len(body) - (1 << 20), 4096), photos + junk))
    rng.shuffle(spots)
    for k, at in enumerate(spots):
        if k < photos:
            data = photo(rng, k)
            planted.add(hashlib.sha256(data).hexdigest())
        elif k % 2:
            data = b"\xff\xd8\xff\xe0" + rng.randbytes(3000) + b"\xff\xd9"
        else:
            data = photo(rng, k)[:-200]            # truncated: no EOI
        body[at:at + len(data)] = data
    src = tmp / "FILL.BIN"
    src.write_bytes(bytes(body))
    del body
    subprocess.run(["mcopy", "-i", str(img), str(src), "::/FILL.BIN"], check=True, capture_output=True)
    subprocess.run(["mdel", "-i", str(img), "::/FILL.BIN"], check=True, capture_output=True)
    # a deleted name still points to the first cluster: wipe it, so only carving can find the data
    data = bytearray(img.read_bytes()[:8 << 20])
    at = data.find(b"\xe5ILL    BIN")
    if at >= 0:
        with open(img, "r+b") as fh:
            fh.seek(at)
            fh.write(bytes(32))
    src.unlink()
    return img, planted


def runs_of(img: Path) -> tuple[object, list[tuple[int, int]]]:
    import pytsk3

    from forensic.sources.unallocated import unallocated_runs
    tsk = pytsk3.Img_Info(str(img))
    fs = pytsk3.FS_Info(tsk)
    runs = unallocated_runs(fs, "fat32", tsk.read, 0)
    assert runs is not None
    return tsk, runs


def plain_read(img: Path) -> tuple[float, int]:
    """Every unallocated byte read once through the image, in CHUNK pieces."""
    t0 = time.perf_counter()
    tsk, runs = runs_of(img)
    total = 0
    for offset, length in runs:
        end = offset + length
        while offset < end:
            n = min(CHUNK, end - offset)
            total += len(tsk.read(offset, n))         # type: ignore[attr-defined]
            offset += n
    return time.perf_counter() - t0, total


def carve_all(img: Path) -> tuple[float, int, list]:
    """The carver over the same space: (seconds, bytes scanned, the entries carved)."""
    from forensic.locator import Locator
    from forensic.sources.carve import carved_entries
    t0 = time.perf_counter()
    tsk, runs = runs_of(img)
    found = list(carved_entries(tsk.read, runs, 0, Locator.root("card.raw")))  # type: ignore[attr-defined]
    return time.perf_counter() - t0, sum(n for _, n in runs), found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--junk", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="build the image here and keep it")
    args = parser.parse_args()
    if not shutil.which("mkfs.vfat") or not shutil.which("mcopy"):
        print("needs mkfs.vfat and mtools", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-carve-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        img, planted = build(tmp, args.size_mib, args.photos, args.junk)
        plain_read(img)                                # warm-up: the image in the page cache
        plain = min(plain_read(img) for _ in range(args.repeat))
        carved = min((carve_all(img) for _ in range(args.repeat)), key=lambda c: c[0])
        got = set()
        for entry in carved[2]:
            with entry.open() as fh:
                got.add(hashlib.sha256(fh.read()).hexdigest())
        mb = plain[1] / (1 << 20)
        print(f"unallocated space: {mb:,.0f} MiB in {args.size_mib} MiB FAT32; {len(planted)} photos and "
              f"{args.junk} junk signatures planted ({args.junk // 2} of them photos cut short)")
        print(f"plain read : {plain[0]:7.3f} s  {mb / plain[0]:8.0f} MiB/s")
        print(f"carve      : {carved[0]:7.3f} s  {mb / carved[0]:8.0f} MiB/s  ({len(carved[2])} photos carved)")
        print(f"ratio carve/plain: {carved[0] / plain[0]:.2f}")
        missed = planted - got
        # a photo cut short whose random tail happens to hold an EOI marker parses and decodes
        # (its head is a real photo): carved, like any carver would; counted, not hidden
        print(f"planted photos carved: {len(planted) - len(missed)}/{len(planted)}; other objects carved: "
              f"{len(got - planted)}")
        return 1 if missed else 0
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
