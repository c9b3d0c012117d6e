"""Video key frames: a thumbnail and perceptual hashes, so a photo made from a video is found.

For a video PyAV (FFmpeg) can open (MOV/MP4/3GP, Matroska/WebM, AVI), only *key* frames are
decoded (the decoder is told to skip the others: cheap), at most :data:`MAX_FRAMES` of them
spread over the video (the first, then seeks to 1/5, 2/5, ... of its duration). Each gives the
records :mod:`forensic.extractors.photo_hash` gives a photo, made by the same function so both
hash alike:

``photo/phash``      ``phash``, ``dhash``, the frame's ``width`` and ``height`` as stored,
                     ``orientation`` (1), ``rotation`` (degrees clockwise the video's display
                     matrix turns it, as exiftool's ``Rotation``: the frame is turned so
                     before hashing, as a phone shows its portrait video) and ``frame_time_s``
                     (the frame's time in the video, seconds). ``forensic similar`` then pairs a screenshot of
                     the video, or a photo posted from it, with the video.
``photo/thumbnail``  of the first key frame only (the report's picture of the video).

The video is read from the item's bytes in memory or its seekable stream, never written out.
Seized video is hostile: a frame of more than :data:`MAX_PIXELS` pixels is not decoded, and the
work is bounded by packets read (:data:`MAX_PACKETS` per frame looked for) and wall time
(:data:`MAX_SECONDS`); past a bound a warning says so and the frames found are kept. A file
that does not open or decode gives a warning and no record; nothing raises.
"""
from __future__ import annotations

import time
from typing import Any, Iterable

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.photo_hash import HASH_TYPE, THUMB_TYPE, hash_image
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

MAX_FRAMES = 5                  # key frames hashed per video
MAX_PIXELS = 40_000_000         # a frame larger than this is not decoded (as photo_hash.MAX_PIXELS)
MAX_PACKETS = 600               # packets read to find one key frame (an endless or broken stream)
MAX_SECONDS = 20.0              # wall time for one video

_MIMES = {"video/quicktime", "video/mp4", "video/3gpp", "video/3gpp2", "video/x-m4v", "video/x-matroska",
          "video/webm", "video/x-msvideo", "video/avi", "video/msvideo"}
_EXTENSIONS = {"mov", "qt", "mp4", "m4v", "3gp", "3g2", "mkv", "webm", "avi"}


def _clockwise(frame: Any) -> int:
    """The turn (0, 90, 180, 270 degrees clockwise, exiftool's ``Rotation``) that shows the
    frame upright, from its display matrix (PyAV gives it counterclockwise); 0 when none."""
    try:
        ccw = float(frame.rotation or 0)
    except (AttributeError, TypeError, ValueError):
        return 0
    if ccw != ccw:       # NaN: a damaged matrix
        return 0
    return int(round(-ccw / 90)) * 90 % 360


def _turns() -> dict[int, Any]:
    from PIL import Image
    return {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


class VideoFramesExtractor(Extractor):
    NAME = "video_frames"
    VERSION = "2"          # 2: photo_hash.hash_image version 2 (frames hashed as photo_hash@2)
    DESCRIPTION = "Video key frames: perceptual hashes (pHash, dHash) and a thumbnail of the first frame"
    REQUIRES = ("av", "imagehash", "PIL")
    RECORD_TYPES = (HASH_TYPE, THUMB_TYPE)
    OFFLOAD = True

    max_frames: int = MAX_FRAMES
    max_pixels: int = MAX_PIXELS
    max_packets: int = MAX_PACKETS
    max_seconds: float = MAX_SECONDS

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        mime = (mime or "").split(";")[0].strip().lower()
        if mime in _MIMES:
            return True
        if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and
                                                                          head[8:12] == b"AVI "):
            return True
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        return "." in name and name.rsplit(".", 1)[-1].lower() in _EXTENSIONS

    def extract(self, item: ExtractorInput) -> Iterable[ArtifactRecord | ExtractionWarning]:
        try:
            yield from self._extract(item)
        except Exception as exc:   # damaged or hostile video (or a bug of ours): say so, go on
            yield ExtractionWarning(self.NAME, f"video frames not decoded: {type(exc).__name__}: {exc}")

    def _extract(self, item: ExtractorInput) -> Iterable[ArtifactRecord | ExtractionWarning]:
        import av

        with item.stream() as fh, av.open(fh, mode="r", metadata_errors="ignore") as container:
            streams = [s for s in container.streams if s.type == "video"]
            if not streams:
                return      # audio only (a voice memo in an MP4): no picture
            vs = streams[0]
            ctx: Any = vs.codec_context       # a video stream's: width, height, skip_frame
            if (ctx.width or 0) * (ctx.height or 0) > self.max_pixels:
                yield ExtractionWarning(self.NAME, f"video frames not decoded: {ctx.width}x{ctx.height} pixels, "
                                                   f"more than {self.max_pixels}")
                return
            ctx.skip_frame = "NONKEY"            # the decoder drops every frame but key frames
            base = vs.time_base
            duration = None
            if vs.duration is not None and base is not None:
                duration = float(vs.duration * base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            targets = [0.0]
            if duration and duration > 0 and base:
                targets += [duration * i / self.max_frames for i in range(1, self.max_frames)]
            deadline = time.monotonic() + self.max_seconds
            seen: set[int | None] = set()
            first = True
            for n, target in enumerate(targets):
                if time.monotonic() > deadline:
                    yield ExtractionWarning(self.NAME, f"video frames: stopped after {self.max_seconds:g} s "
                                                       f"({len(seen)} key frames)")
                    return
                if n > 0:
                    try:
                        container.seek(int(target / base) if base else 0, stream=vs, backward=True, any_frame=False)
                    except av.error.FFmpegError:
                        break   # a stream that cannot seek: the first frame is what it gives
                frame, problem = self._key_frame(container, vs, deadline)
                if problem:
                    yield ExtractionWarning(self.NAME, f"video frames: {problem}")
                if frame is None:
                    if first and not problem:    # e.g. a camera's sample with its frame data cut off
                        yield ExtractionWarning(self.NAME, f"video frames: no frame decoded of the "
                                                           f"{ctx.width}x{ctx.height} video stream")
                    if first:
                        return
                    break
                if frame.pts in seen:       # the seek came back to a key frame already hashed
                    continue
                seen.add(frame.pts)
                img = frame.to_image()
                turn = _clockwise(frame)
                if turn:            # a phone's portrait video: stored sideways, shown upright
                    img = img.transpose(_turns()[turn])
                fields, thumb = hash_image(img, 1, thumbnail=first)
                t = float(frame.pts * base) if frame.pts is not None and base else None
                yield ArtifactRecord(HASH_TYPE, {**fields, "width": frame.width, "height": frame.height,
                                                 "rotation": turn,
                                                 "frame_time_s": round(t, 3) if t is not None else None})
                if thumb is not None:
                    yield ArtifactRecord(THUMB_TYPE, {**thumb, "frame_time_s":
                                                      round(t, 3) if t is not None else None})
                first = False

    def _key_frame(self, container: Any, vs: Any, deadline: float) -> tuple[Any, str | None]:
        """The next decoded key frame of ``vs`` and a problem met (a bound, a damaged packet)."""
        packets = 0
        for packet in container.demux(vs):
            packets += 1
            if packets > self.max_packets:
                return None, f"no key frame within {self.max_packets} packets"
            if time.monotonic() > deadline:
                return None, f"stopped after {self.max_seconds:g} s"
            try:
                frames = packet.decode()
            except Exception as exc:   # a damaged packet: the next may decode
                if packets == 1 or packets % 100 == 0:
                    problem = f"{type(exc).__name__}: {exc}"
                    if packets >= self.max_packets // 2:
                        return None, problem
                continue
            for frame in frames:
                return frame, None
        return None, None
