"""forensic similar: the same picture on another device (near-duplicate photos)."""
from __future__ import annotations

import re
from pathlib import Path

import click

from forensic.case import Case
from forensic.cli.common import json_option, with_case
from forensic.cli.console import compact_line, esc, info, listing, warn
from forensic.errors import UsageError
from forensic.store import similar as store_similar

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
LEGEND = ("Distance: bits that differ between the two photos' perceptual hashes (0: the same picture). "
          "Camera: EXIF make and model (a camera original). Messages: chat messages carrying the photo")


def _outside(path: Path) -> list[store_similar.HashedPhoto]:
    """A photo outside the case, hashed as triage hashes one (read-only, same bounds); a video:
    each of its key frames, hashed as triage hashes a video's (``video_frames``)."""
    from forensic.extractors.base import ExtractorInput
    from forensic.extractors.photo_hash import HASH_TYPE, PhotoHashExtractor
    from forensic.extractors.video_frames import VideoFramesExtractor

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(64)
    video = VideoFramesExtractor()
    is_video = video.accepts(str(path), "", head)
    if is_video:
        # read through a fresh read-only handle: a video may be larger than memory holds
        item = ExtractorInput(str(path), path.name, "", size, None, reopen=lambda: open(path, "rb"))
        outputs = video.extract(item)
    else:
        extractor = PhotoHashExtractor()
        extractor.thumbnails = False
        with open(path, "rb") as fh:
            data = fh.read(extractor.max_read + 1)
        outputs = extractor.extract(ExtractorInput(str(path), path.name, "", size, data))
    found = []
    maker = f"{video.NAME}@{video.VERSION}" if is_video else f"{PhotoHashExtractor.NAME}@{PhotoHashExtractor.VERSION}"
    for out in outputs:
        if getattr(out, "record_type", None) == HASH_TYPE:
            fields = out.fields   # type: ignore[union-attr]
            ph, dh = store_similar.parse_hash(fields["phash"]), store_similar.parse_hash(fields["dhash"])
            if ph is not None and dh is not None:
                version = store_similar.record_hash_version(maker, fields.get("hash_version"))
                found.append(store_similar.HashedPhoto("(outside the case)", str(path), None, -1, ph, dh,
                                                       frame_time_s=fields.get("frame_time_s"), version=version))
        elif getattr(out, "message", None):
            warn(esc(getattr(out, "message", "")))
    if found:
        return found
    if is_video:
        raise UsageError(f"no key frame of {path} could be decoded",
                         hint="give a video PyAV (FFmpeg) opens: MOV, MP4, 3GP, Matroska, WebM or AVI")
    raise UsageError(f"{path} could not be decoded as a photo",
                     hint="give a JPEG, PNG, WebP, TIFF, GIF or BMP file, or a video")


def _at(photo: store_similar.HashedPhoto) -> str:
    """A video's key frame: its time in the video, after the locator."""
    return "" if photo.frame_time_s is None else f" @ {photo.frame_time_s:g} s"


def _targets(spec: str, found: list[store_similar.HashedPhoto]) -> list[store_similar.HashedPhoto]:
    """The photo FILE names; a video (outside or in the case): each of its key frames hashed."""
    path = Path(spec)
    if path.is_file():
        return _outside(path)
    first = None
    if _SHA256.match(spec):
        first = next((p for p in found if p.sha256 == spec.lower()), None)
    if first is None:
        first = next((p for p in found if p.locator == spec), None)
    if first is not None:
        return [p for p in found if p.file_id == first.file_id]
    raise UsageError(f"no photo hashed in the case is {spec!r}, and no such file exists",
                     hint="give a file's path, or the SHA-256 or locator of a photo in the case "
                          "(forensic photos --json lists them)")


def _warn_versions(case: Case, targets: list[store_similar.HashedPhoto]) -> None:
    """Once, on stderr: the photos of the case whose hashes are of another version than the
    newest (or than FILE's), not compared with the others."""
    older = store_similar.older_hashes(case.db, max((t.version for t in targets), default=None))
    if older is not None:
        warn(esc(older.message()))


@click.command()
@click.argument("file", required=False)
@click.option("--all", "all_", is_flag=True, help="Every pair of near-duplicate photos in the case.")
@click.option("--max-distance", type=click.IntRange(0, 32), default=store_similar.DEFAULT_MAX_DISTANCE,
              show_default=True, help="Most bits the two perceptual hashes may differ in.")
@click.option("--algorithm", type=click.Choice(store_similar.ALGORITHMS), default="phash", show_default=True,
              help="The perceptual hash compared.")
@click.option("--item", default=None, help="Only pairs with a photo of this evidence item.")
@json_option
@with_case
def similar(case: Case, file: str | None, all_: bool, max_distance: int, algorithm: str, item: str | None,
            as_json: bool) -> int:
    """Near-duplicate photos across items and conversations: a camera original and its
    WhatsApp copy or a screenshot of it, with the Hamming distance of their perceptual hashes.

    FILE is a photo's or a video's path (a file outside the case, hashed now, read-only: a
    video by its key frames, each listed with its frame_time_s), or the SHA-256 or the
    locator of a photo or video in the case; --all lists every pair instead. The camera original
    (EXIF make/model) is side a where one side is one, so a chat attachment in side b is
    linked to the photo it was made from. With --json: JSON Lines, each {a, b, distance,
    algorithm}, a and b with item, locator, sha256 (and camera, messages, and frame_time_s: a
    video's key frame's time in the video).

    Photos hashed by another version of the perceptual hash (an item triaged by an older
    release) are compared only with photos of their own version, and a warning says which
    items carry them and how to refresh them (forensic triage ITEM --force)."""
    if all_ == (file is not None):
        raise UsageError("give either FILE or --all", hint="forensic similar photo.jpg, or forensic similar --all")
    found = store_similar.photos(case.db)
    if not found:
        info("no photo hashed in this case (run forensic triage; the photo_hash extractor hashes photos)")
    if all_:
        pairs = list(store_similar.all_pairs(found, max_distance, algorithm, item))
        _warn_versions(case, [])
    else:
        targets = _targets(file or "", found)
        _warn_versions(case, targets)
        pairs = [p for target in targets
                 for p in store_similar.near(found, target, max_distance, algorithm)
                 if item is None or p.b.item == item]
        pairs.sort(key=lambda s: (s.distance, s.b.item, s.b.locator, s.a.frame_time_s or 0.0,
                                  s.b.frame_time_s or 0.0))
    listing((p.to_json() for p in pairs) if as_json else pairs, as_json=as_json,
            columns=("Distance", "A", "Camera", "B", "Messages"),
            cells=lambda p: (str(p.distance), f"{p.a.item}: {p.a.locator}{_at(p.a)}", p.a.camera or "-",
                             f"{p.b.item}: {p.b.locator}{_at(p.b)}", ", ".join(map(str, p.b.messages)) or "-"),
            line=lambda p: compact_line((p.distance, p.algorithm, p.a.item, p.a.locator, p.a.camera or "-",
                                         p.b.item, p.b.locator, ",".join(map(str, p.b.messages)) or "-")),
            legend=LEGEND)
    return 0


COMMANDS = [similar]
