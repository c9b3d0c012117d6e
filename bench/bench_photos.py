"""Photos per second: photo_exif (with XMP) and photo_hash against exifread alone and against
``exiftool -r -json -n``, on the same photos, in the same run.

The corpus photos ($FORENSIC_CORPUS/exif, every file but the reference JSON) are copied
``--copies`` times into a temporary folder (13 copies: about 2,000 photos). Each file is typed
once with libmagic beforehand (the walk's work, not timed); then, each side reading the bytes
of every photo photo_exif accepts:

* ``exifread``: ``exifread.process_file(details=False)`` alone (the floor: EXIF, nothing else);
* ``forensic``: photo_exif's extract (EXIF, XMP, maker-note serials, dates) then photo_hash's
  (perceptual hashes and thumbnail) where it accepts the file, as a triage runs them; also
  each of the two alone;
* ``decode``: the pixels alone, decoded as photo_hash decodes them (Pillow, a JPEG at 1/2 to
  1/8 scale), nothing made of them: the floor of any perceptual hash of the picture;
* ``exiftool``: one process over the folder (its start-up cost included, as an examiner would
  run it).

Each side but exiftool runs ``--rounds`` times, alternating, its best round kept. Prints the
rates and the two ratios the issue sets (forensic within 1.5x of exifread alone; at least 5x
exiftool). ``--clock cpu`` times CPU seconds (this process's; exiftool's, its child's) instead
of the wall clock: on a machine shared with other work, the other work's load then counts for
no side. ``--workers N`` also runs the forensic side in N forked processes (each a share of
the photos, as the triage's extraction processes take them; the records are not sent back).

    .venv/bin/python bench/bench_photos.py [--copies 13] [--rounds 3] [--corpus DIR] [--no-hash]
                                           [--workers 2] [--clock cpu] [--against REV]
"""
from __future__ import annotations

import argparse
import io
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic.extractors.base import ExtractorInput  # noqa: E402
from forensic.extractors.photo_exif import PhotoExifExtractor  # noqa: E402

Photos = list[tuple[Path, str]]


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (exiftool)."""
    import resource
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


clock: Callable[[], float] = time.perf_counter     # --clock cpu: _cpu


def _mime(data: bytes) -> str:
    try:
        import magic
        return magic.from_buffer(data[:65536], mime=True)
    except Exception:
        return "application/octet-stream"


def photos_of(folder: Path) -> Photos:
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


def _extractors(exif: bool, hashes: bool, modules: dict | None = None) -> list:
    """The extractors of this tree, or of ``modules`` (``--against``: an older revision's)."""
    from forensic.extractors import photo_exif, photo_hash
    exif_module, hash_module = (modules["photo_exif"], modules["photo_hash"]) if modules else (photo_exif, photo_hash)
    out: list = []
    if exif:
        out.append(exif_module.PhotoExifExtractor())
    if hashes:
        out.append(hash_module.PhotoHashExtractor())
    return out


def modules_at(revision: str) -> dict:
    """photo_exif and photo_hash as they were at a git revision, each loaded as a module of its
    own (the rest of the package is this tree's: a revision whose modules import what this tree
    no longer has fails to load, and says so)."""
    import importlib.util
    root = Path(__file__).resolve().parents[1]
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench_photos_modules_") as tmp:
        for name in ("photo_exif", "photo_hash"):
            source = subprocess.run(["git", "-C", str(root), "show", f"{revision}:extractors/{name}.py"],
                                    capture_output=True, text=True, check=True).stdout
            path = Path(tmp) / f"{name}.py"
            path.write_text(source)
            spec = importlib.util.spec_from_file_location(f"{name}_at_{revision}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            out[name] = module
    return out


def _extract(photos: Photos, exif: bool, hashes: bool, modules: dict | None = None) -> int:
    extractors = _extractors(exif, hashes, modules)
    for path, mime in photos:
        data = path.read_bytes()
        inp = ExtractorInput(str(path), path.name, mime, len(data), data)
        for ex in extractors:
            if ex.accepts(str(path), mime, data[:64]):
                list(ex.extract(inp))
    return len(photos)


def run_forensic(photos: Photos, exif: bool = True, hashes: bool = True, modules: dict | None = None) -> float:
    start = clock()
    _extract(photos, exif, hashes, modules)
    return clock() - start


def _share(args: tuple[Photos, bool]) -> int:
    return _extract(args[0], True, args[1])


def run_forensic_processes(pool: multiprocessing.pool.Pool, workers: int, photos: Photos, hashes: bool) -> float:
    """The forensic side over ``workers`` processes, each a share of the photos (interleaved, so
    each share holds the same mix of files); the pool is started before the clock."""
    start = time.perf_counter()               # the wall clock always: the time of several cores
    pool.map(_share, [(photos[n::workers], hashes) for n in range(workers)])
    return time.perf_counter() - start


def run_decode(photos: Photos) -> float:
    """The pixels alone, as photo_hash decodes them (its draft scale), for the files it takes."""
    from PIL import Image

    from forensic.extractors.photo_hash import PhotoHashExtractor, draft_box
    hasher = PhotoHashExtractor()
    start = clock()
    for path, mime in photos:
        data = path.read_bytes()
        if not hasher.accepts(str(path), mime, data[:64]):
            continue
        try:
            img = Image.open(io.BytesIO(data))
            if img.format == "JPEG":
                img.draft("RGB", draft_box(*img.size))
            img.load()
        except Exception:  # noqa: S112 - a damaged sample: Pillow's own failure, timed as it is
            continue
    return clock() - start


def run_exifread(photos: Photos) -> float:
    import exifread
    log = logging.getLogger("exifread")
    level = log.level
    log.setLevel(logging.CRITICAL)        # its warnings unread here; photo_exif keeps its own
    try:
        start = clock()
        for path, _ in photos:
            data = path.read_bytes()
            try:
                exifread.process_file(io.BytesIO(data), details=False)
            except Exception:  # noqa: S112 - a damaged sample: exifread's own failure, timed as it is
                pass
        return clock() - start
    finally:
        log.setLevel(level)


def run_exiftool(folder: Path) -> float:
    start = clock()
    subprocess.run(["exiftool", "-r", "-json", "-n", "-q", "-q", str(folder)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return clock() - start


def best_rounds(sides: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Each side once to warm the page cache and imports, then ``rounds`` rounds of all the
    sides in turn (the machine may be shared), each side's best round kept."""
    for run in sides.values():
        run()
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(rounds):
        for name, run in sides.items():
            best[name] = min(best[name], run())
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("FORENSIC_CORPUS", "/work/shared/corpus")))
    parser.add_argument("--copies", type=int, default=13)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side (the best is kept)")
    parser.add_argument("--no-hash", action="store_true", help="photo_exif alone (no perceptual hashes)")
    parser.add_argument("--workers", type=int, default=1,
                        help="also run the forensic side in this many processes (1: not)")
    parser.add_argument("--against", metavar="REVISION",
                        help="also run photo_exif and photo_hash as they were at this git revision (before/after)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time wall-clock seconds, or CPU seconds (a machine shared with other work)")
    args = parser.parse_args()
    global clock
    clock = _cpu if args.clock == "cpu" else time.perf_counter
    source = args.corpus / "exif"
    if not source.is_dir():
        print(f"no corpus at {source}", file=sys.stderr)
        return 1
    if shutil.which("exiftool") is None:
        print("exiftool not installed (Debian: libimage-exiftool-perl)", file=sys.stderr)
        return 1
    hashes = not args.no_hash
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
        sides: dict[str, Callable[[], float]] = {"exifread": lambda: run_exifread(photos),
                                                 "forensic": lambda: run_forensic(photos, True, hashes)}
        if hashes:
            sides["photo_exif"] = lambda: run_forensic(photos, True, False)
            sides["photo_hash"] = lambda: run_forensic(photos, False, True)
            sides["decode"] = lambda: run_decode(photos)
        if args.against:
            before = modules_at(args.against)
            sides["against"] = lambda: run_forensic(photos, True, hashes, before)
        pool = None
        if args.workers > 1:
            pool = multiprocessing.get_context("fork").Pool(args.workers)
            sides["processes"] = lambda: run_forensic_processes(pool, args.workers, photos, hashes)  # type: ignore[arg-type]
        try:
            best = best_rounds(sides, args.rounds)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
        theirs = run_exiftool(folder)
    n = len(photos)
    base, ours = best["exifread"], best["forensic"]
    side = "photo_exif" if args.no_hash else "photo_exif+photo_hash"
    print(f"files: {files}; photos (accepted by photo_exif): {n}")
    print(f"exifread alone        : {base:7.3f} s  {n / base:8.1f} photos/s")
    print(f"{side:<22}: {ours:7.3f} s  {n / ours:8.1f} photos/s  (EXIF, XMP, maker notes, dates"
          f"{'' if args.no_hash else ', perceptual hashes, thumbnails'})")
    if hashes:
        for name, what in (("photo_exif", "alone"), ("photo_hash", "alone: decode, hashes, thumbnail"),
                           ("decode", "pixels decoded as photo_hash does, nothing else")):
            print(f"  {name:<20}: {best[name]:7.3f} s  {n / best[name]:8.1f} photos/s  "
                  f"({best[name] / base:.2f}x exifread; {what})")
    if "against" in best:
        print(f"{side} at {args.against}: {best['against']:7.3f} s  {n / best['against']:8.1f} photos/s  "
              f"({best['against'] / base:.2f}x exifread; before: the same photos, this run)")
    if "processes" in best:
        print(f"{side} in {args.workers} processes: {best['processes']:7.3f} s  {n / best['processes']:8.1f} "
              f"photos/s  ({best['processes'] / base:.2f}x exifread alone in one)")
    print(f"exiftool              : {theirs:7.3f} s  {files / theirs:8.1f} files/s  "
          "(exiftool -r -json -n, one process)")
    print(f"clock: {args.clock}{' (CPU seconds)' if args.clock == 'cpu' else ''}")
    print(f"exifread alone over {side}: {ours / base:.2f}x slower (target: <= 1.5x)")
    print(f"{side} over exiftool: {(n / ours) / (files / theirs):.2f}x faster (target: >= 5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
