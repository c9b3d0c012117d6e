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

Each side but exiftool runs ``--rounds`` times, alternating, its best round kept, timed on
both clocks at once: wall-clock seconds and CPU seconds (this process's; exiftool's, its
child's; on a machine shared with other work, the other work's load counts for no side in
CPU seconds). Prints both and the two ratios the issue sets (forensic within 1.5x of exifread
alone; at least 5x exiftool) on the ``--clock`` chosen. ``--workers N`` also runs the forensic
side in N forked processes (each a share of the photos, as the triage's extraction processes
take them; the records are not sent back): wall clock only, against exifread alone in one
process and the forensic side in one, the same run.

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


def run_forensic(photos: Photos, exif: bool = True, hashes: bool = True, modules: dict | None = None) -> None:
    _extract(photos, exif, hashes, modules)


def _share(args: tuple[Photos, bool]) -> int:
    return _extract(args[0], True, args[1])


def run_forensic_processes(pool: multiprocessing.pool.Pool, workers: int, photos: Photos, hashes: bool) -> None:
    """The forensic side over ``workers`` processes, each a share of the photos (interleaved, so
    each share holds the same mix of files); the pool is started before the clock. Its CPU
    seconds are the workers' (not counted here): its wall clock is what it is for."""
    pool.map(_share, [(photos[n::workers], hashes) for n in range(workers)])


def run_decode(photos: Photos) -> None:
    """The pixels alone, as photo_hash decodes them (its draft scale), for the files it takes."""
    from PIL import Image

    from forensic.extractors.photo_hash import PhotoHashExtractor, draft_box
    hasher = PhotoHashExtractor()
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


def run_exifread(photos: Photos) -> None:
    import exifread
    log = logging.getLogger("exifread")
    level = log.level
    log.setLevel(logging.CRITICAL)        # its warnings unread here; photo_exif keeps its own
    try:
        for path, _ in photos:
            data = path.read_bytes()
            try:
                exifread.process_file(io.BytesIO(data), details=False)
            except Exception:  # noqa: S112 - a damaged sample: exifread's own failure, timed as it is
                pass
    finally:
        log.setLevel(level)


def run_exiftool(folder: Path) -> None:
    subprocess.run(["exiftool", "-r", "-json", "-n", "-q", "-q", str(folder)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), _cpu()
    run()
    return time.perf_counter() - wall, _cpu() - cpu


def best_rounds(sides: dict[str, Callable[[], None]], rounds: int) -> dict[str, tuple[float, float]]:
    """Each side once to warm the page cache and imports, then ``rounds`` rounds of all the
    sides in turn (the machine may be shared), each side's best round kept on each clock:
    (wall, CPU) seconds."""
    for run in sides.values():
        run()
    best = {name: (float("inf"), float("inf")) for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            wall, cpu = timed(run)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
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
                        help="the clock of the target lines: wall-clock seconds, or CPU seconds (a machine "
                             "shared with other work); both are printed for every side")
    args = parser.parse_args()
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
        sides: dict[str, Callable[[], None]] = {"exifread": lambda: run_exifread(photos),
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
            sides["processes"] = lambda: run_forensic_processes(pool, args.workers, photos, hashes)
        try:
            best = best_rounds(sides, args.rounds)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
        theirs = timed(lambda: run_exiftool(folder))
    n = len(photos)
    at = 1 if args.clock == "cpu" else 0            # the clock of the target lines
    base, ours = best["exifread"], best["forensic"]
    side = "photo_exif" if args.no_hash else "photo_exif+photo_hash"

    def line(name: str, t: tuple[float, float], what: str) -> None:
        ratios = f"{t[0] / base[0]:5.2f}x / {t[1] / base[1]:5.2f}x exifread" if t[1] == t[1] else \
            f"{t[0] / base[0]:5.2f}x exifread wall"
        cpu = f"{t[1]:7.3f}" if t[1] == t[1] else "      -"
        print(f"{name:<32} {t[0]:7.3f} {cpu}  {n / t[0]:7.1f}  {ratios}  {what}")

    print(f"files: {files}; photos (accepted by photo_exif): {n}; load average at the end: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'side':<32} {'wall s':>7} {'CPU s':>7}  {'/s wall':>7}  wall / CPU ratio")
    line("exifread alone", base, "(EXIF only)")
    line(side, ours, "(EXIF, XMP, maker notes, dates" + ("" if args.no_hash else ", perceptual hashes, thumbnails)"))
    if hashes:
        for name, what in (("photo_exif", "alone"), ("photo_hash", "alone: decode, hashes, thumbnail"),
                           ("decode", "pixels decoded as photo_hash does, nothing else: the floor")):
            line(f"  {name}", best[name], f"({what})")
    if "against" in best:
        line(f"{side} at {args.against}", best["against"], "(before: the same photos, this run)")
    if "processes" in best:
        wall = best["processes"][0]
        line(f"{side} x{args.workers} procs", (wall, float("nan")),
             f"({ours[0] / wall:.2f}x faster than one process, wall)")
    exiftool_rate = files / theirs[0]
    print(f"{'exiftool':<32} {theirs[0]:7.3f} {theirs[1]:7.3f}  {exiftool_rate:7.1f}  files/s "
          "(exiftool -r -json -n, one process)")
    clock_name = "CPU seconds" if at else "wall clock"
    print(f"targets on the {clock_name}:")
    print(f"  exifread alone over {side}: {ours[at] / base[at]:.2f}x slower (target: <= 1.5x)")
    if "processes" in best:
        print(f"  ... in {args.workers} processes (wall): {best['processes'][0] / base[0]:.2f}x exifread alone in one")
    if hashes:
        print(f"  the floor of any perceptual hash: decode alone {best['decode'][at] / base[at]:.2f}x exifread, "
              f"photo_exif alone {best['photo_exif'][at] / base[at]:.2f}x: together "
              f"{(best['decode'][at] + best['photo_exif'][at]) / base[at]:.2f}x")
    print(f"  {side} over exiftool: {(n / ours[at]) / (files / theirs[at]):.2f}x faster (target: >= 5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
