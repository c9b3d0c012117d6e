"""Video key frames (PyAV): a thumbnail of the first, perceptual hashes of a few, and a frame
saved as a JPEG found by ``forensic similar``; a damaged video warns, never crashes."""
from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, ImageDraw

from forensic.extractors.base import ExtractorInput
from forensic.extractors.photo_hash import HASH_TYPE, THUMB_TYPE
from forensic.extractors.records import ExtractionWarning
from forensic.extractors.video_frames import VideoFramesExtractor

av = pytest.importorskip("av")
GOP = 10         # frames per key frame (and per picture drawn: each key frame a new scene)


def _scene(k: int, size: tuple[int, int]) -> Image.Image:
    img = Image.new("RGB", size, (20 * k % 255, 60, 200 - 15 * k))
    draw = ImageDraw.Draw(img)
    draw.rectangle([10 + k * 20, 10, 60 + k * 20, 80], fill=(255, 255, 0))
    draw.ellipse([90 - k * 10, 40, 150 - k * 10, 110], fill=(0, 0, 0))
    return img


def make_video(fmt: str = "mp4", codec: str = "mpeg4", frames: int = 50, size: tuple[int, int] = (160, 120),
               first: int = 0) -> bytes:
    """A small real video encoded by PyAV: a new scene at every key frame, one a second (the
    first scene: number ``first``)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=GOP)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = GOP
        for i in range(frames):
            for packet in stream.encode(av.VideoFrame.from_image(_scene(first + i // GOP, size))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def _run(data: bytes, name: str = "v.mp4") -> list:
    return list(VideoFramesExtractor().extract(ExtractorInput(name, name, "", len(data), data)))


@pytest.mark.parametrize(("fmt", "codec", "name"), [("mp4", "mpeg4", "v.mp4"), ("mp4", "libx264", "v.mov"),
                                                    ("matroska", "mpeg4", "v.mkv"), ("avi", "mpeg4", "v.avi")])
def test_key_frames_hashed_first_thumbnailed(fmt, codec, name):
    data = make_video(fmt, codec)
    assert VideoFramesExtractor().accepts(name, "", data[:64])
    out = _run(data, name)
    assert not [w for w in out if isinstance(w, ExtractionWarning)]
    hashes = [r.fields for r in out if r.record_type == HASH_TYPE]
    thumbs = [r.fields for r in out if r.record_type == THUMB_TYPE]
    assert [h["frame_time_s"] for h in hashes] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert all((h["width"], h["height"], h["orientation"]) == (160, 120, 1) for h in hashes)
    assert len({h["phash"] for h in hashes}) == 5          # five scenes, five hashes
    assert len(thumbs) == 1 and thumbs[0]["frame_time_s"] == 0.0
    thumb = Image.open(io.BytesIO(base64.b64decode(thumbs[0]["jpeg_base64"])))
    assert thumb.format == "JPEG" and thumb.size == (160, 120)


def test_damaged_and_hostile_videos_warn_not_crash():
    data = make_video()
    for bad in (data[:3000], b"\x00\x00\x00\x18ftypmp42" + b"junk" * 200, b""):
        out = _run(bad)
        assert out and all(isinstance(r, ExtractionWarning) for r in out), out
    # a bound on pixels: nothing decoded, a warning names the size
    x = VideoFramesExtractor()
    x.max_pixels = 100
    out = list(x.extract(ExtractorInput("v.mp4", "v.mp4", "", len(data), data)))
    assert [type(r) for r in out] == [ExtractionWarning] and "160x120" in out[0].message
    # audio only: no picture, no warning
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as o:
        s = o.add_stream("aac", rate=8000)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.sample_rate, frame.pts = 8000, 0
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for p in s.encode(frame):
            o.mux(p)
        for p in s.encode():
            o.mux(p)
    assert _run(buf.getvalue()) == []


def test_not_accepted():
    x = VideoFramesExtractor()
    assert not x.accepts("a.jpg", "image/jpeg", b"\xff\xd8\xff\xe0")
    assert x.accepts("clip", "video/webm", b"")


def test_frame_saved_as_photo_found_by_similar(tmp_path, forensic):
    """A screenshot of a video (a frame, re-encoded as JPEG, resized) pairs with the video."""
    video = make_video("mp4", "libx264")
    phone = tmp_path / "phone"
    phone.mkdir()
    (phone / "VID_0001.mp4").write_bytes(video)
    with av.open(io.BytesIO(video)) as c:
        frames = [f.to_image() for f in c.decode(video=0)]
    shot = frames[25].resize((320, 240))          # the third scene, as a screenshot at another size
    out = io.BytesIO()
    shot.save(out, "JPEG", quality=80)
    (phone / "Screenshot_0001.jpg").write_bytes(out.getvalue())
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-V", "--examiner", "Ann Examiner")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("triage", "--case", case)
    rows = forensic("similar", "--all", "--json", "--case", case).jsonl()
    assert len(rows) == 1 and rows[0]["distance"] <= 8
    sides = {r["locator"].rsplit("/", 1)[-1]: r for r in (rows[0]["a"], rows[0]["b"])}
    assert set(sides) == {"VID_0001.mp4", "Screenshot_0001.jpg"}
    assert sides["VID_0001.mp4"]["frame_time_s"] == 2.0
    assert sides["Screenshot_0001.jpg"]["frame_time_s"] is None
    found = forensic("similar", tmp_path / "phone" / "Screenshot_0001.jpg", "--json", "--case", case).jsonl()
    # itself in the case (distance 0), then the video's third key frame
    assert [(r["b"]["locator"].rsplit("/", 1)[-1], r["b"]["frame_time_s"]) for r in found] == \
        [("Screenshot_0001.jpg", None), ("VID_0001.mp4", 2.0)]
    # the video named: each of its key frames looked up, the screenshot found at its third
    by_video = forensic("similar", sides["VID_0001.mp4"]["locator"], "--json", "--case", case).jsonl()
    assert [(r["a"]["frame_time_s"], r["b"]["locator"].rsplit("/", 1)[-1]) for r in by_video] == \
        [(2.0, "Screenshot_0001.jpg")]


def test_rotated_video_hashed_upright_as_exiftool_says(tmp_path):
    """A phone's portrait video: frames stored landscape, its track header's matrix turns them
    90 degrees clockwise (exiftool: Rotation 90). The thumbnail and hash are of the upright picture."""
    import json
    import shutil
    import struct
    import subprocess

    import imagehash

    from forensic.store.similar import distance
    data = make_video("mp4", "mpeg4", frames=10)
    identity = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    turned = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 120 << 16, 0, 0x40000000)
    at = data.index(identity, data.index(b"tkhd"))
    data = data[:at] + turned + data[at + 36:]
    out = _run(data)
    h = next(r.fields for r in out if r.record_type == HASH_TYPE)
    t = next(r.fields for r in out if r.record_type == THUMB_TYPE)
    assert (h["width"], h["height"], h["rotation"]) == (160, 120, 90) and (t["width"], t["height"]) == (120, 160)
    upright = _scene(0, (160, 120)).transpose(Image.Transpose.ROTATE_270)
    assert distance(int(h["phash"], 16), int(str(imagehash.phash(upright.convert("L"))), 16)) <= 8
    if shutil.which("exiftool"):
        path = tmp_path / "portrait.mp4"
        path.write_bytes(data)
        meta = json.loads(subprocess.run(["exiftool", "-j", "-n", "-Rotation", str(path)], capture_output=True,
                                         check=True).stdout)[0]
        assert meta["Rotation"] == h["rotation"]


def test_time_budget_warns_and_keeps_what_it_found():
    data = make_video()
    x = VideoFramesExtractor()
    x.max_seconds = 0.0
    out = list(x.extract(ExtractorInput("v.mp4", "v.mp4", "", len(data), data)))
    assert [type(r) for r in out] == [ExtractionWarning] and "stopped after" in out[0].message
    x = VideoFramesExtractor()
    x.max_packets = 1
    out = list(x.extract(ExtractorInput("v.mp4", "v.mp4", "", len(data), data)))
    assert any(r.record_type == HASH_TYPE for r in out if not isinstance(r, ExtractionWarning))


def test_corpus_videos_hashed_or_warned_sizes_as_exiftool(corpus):
    """Third-party videos (exiftool's QuickTime.mov: a camera's header, frame data cut off):
    key frames hashed at exiftool's size, or one warning; never a crash."""
    import json
    import shutil
    import subprocess
    videos = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".mov", ".mp4", ".3gp", ".mkv", ".avi"))
    if not videos:
        pytest.skip("no video in the corpus")
    for path in videos:
        data = path.read_bytes()
        out = _run(data, path.name)
        hashes = [r.fields for r in out if not isinstance(r, ExtractionWarning) and r.record_type == HASH_TYPE]
        warned = [r for r in out if isinstance(r, ExtractionWarning)]
        assert hashes or warned, path
        if hashes and shutil.which("exiftool"):
            meta = json.loads(subprocess.run(["exiftool", "-j", "-n", "-ImageWidth", "-ImageHeight", str(path)],
                                             capture_output=True, check=True).stdout)[0]
            assert (hashes[0]["width"], hashes[0]["height"]) == (meta["ImageWidth"], meta["ImageHeight"]), path
        if path.name == "QuickTime.mov":
            assert not hashes and "no frame decoded of the 320x240" in warned[0].message
