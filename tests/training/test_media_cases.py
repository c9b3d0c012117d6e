"""Two media cases on the sample phone: an edited photo whose only date is XMP's
photoshop:DateCreated (no EXIF), and a GoPro clip whose clock (mvhd) is local time and whose
GPMF GPS (UTC) fixes the zone and gives the place. exiftool reads what the generator wrote;
triage finds both and ``training check`` grades them; a copy with the XMP stripped and the
clip re-muxed without its GPS misses them, with the feedback. Small cases: an extraction ZIP
with the two files only."""
from __future__ import annotations

import json
import subprocess
import zipfile

from conftest import require_tools
from forensic.training.answer_key import VIDEO_FEEDBACK, XMP_FEEDBACK, answer_key
from forensic.training.build import EXTRACTION_PREFIX, layout

SEED = 31
KINDS = ("xmp_photo_date", "video_geotag")


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def _case(root, name: str, photo: bytes, clip: bytes):
    lay = layout(SEED)
    out = root / name
    out.mkdir()
    with zipfile.ZipFile(out / "extraction.zip", "w") as z:
        z.writestr(EXTRACTION_PREFIX + lay.xmp_photo[1].rel, photo)
        z.writestr(EXTRACTION_PREFIX + lay.video[1].rel, clip)
    for other in ("phone.raw", "card.raw"):
        (out / other).write_bytes(f"not in this case: {other}".encode())
    key = answer_key(lay, out, None)
    key["facts"] = [f for f in key["facts"] if f["item"] == "extraction" and f["kind"] in KINDS]
    (out / "answer-key.json").write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    case = out / "case"
    assert _cli("case", "init", case, "--case-id", f"MC-{name}", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", out / "extraction.zip", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    return out


def test_exiftool_reads_what_the_generator_wrote(tmp_path):
    require_tools("exiftool")
    lay = layout(SEED)
    p, photo, created = lay.xmp_photo
    v, clip = lay.video
    (tmp_path / "p.jpg").write_bytes(photo.data)
    (tmp_path / "v.mp4").write_bytes(clip.data)
    args = ["exiftool", "-j", "-n", "-ee", "-G1", "-a", tmp_path / "p.jpg", tmp_path / "v.mp4"]
    got = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    jpg, mp4 = got
    assert jpg["XMP-photoshop:DateCreated"] == created.replace("-", ":", 2).replace("T", " ") and "IFD0:Make" not in jpg
    assert mp4["QuickTime:CreateDate"] == f"{v.local:%Y:%m:%d %H:%M:%S}"
    lats = [mp4[k] for k in mp4 if k.endswith(":GPSLatitude")]
    assert abs(lats[0] - v.lat) < 1e-6 and layout(SEED).phone == lay.phone          # same seed, same bytes


def test_found_and_graded(forensic, tmp_path, capsys):
    lay = layout(SEED)
    out = _case(tmp_path, "full", lay.xmp_photo[1].data, lay.video[1].data)
    capsys.readouterr()
    videos = [r for r in forensic("photos", "--case", out / "case", "--videos", "--json").jsonl()
              if r.get("tz_source") == "gps"]
    assert len(videos) == 1 and videos[0]["tz_offset_minutes"] == lay.video[0].offset
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert report["checked"] == 2 and report["score"] == 100, report


def test_a_stripped_copy_misses_them_with_the_feedback(forensic, tmp_path, capsys):
    lay = layout(SEED)
    photo = lay.xmp_photo[1].data
    length = int.from_bytes(photo[4:6], "big")
    stripped = photo[:2] + photo[4 + length:]                  # the XMP APP1 segment dropped
    clip = lay.video[1].data
    remuxed = clip[:clip.index(b"moov") - 4] + clip[clip.index(b"mdat") - 4:]   # stands in for a re-muxed copy
    out = _case(tmp_path, "stripped", stripped, remuxed[:len(remuxed) // 2])
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    details = {f["kind"]: f["detail"] for f in report["missed"]}
    assert set(details) == set(KINDS) and report["score"] == 0
    assert details["xmp_photo_date"].endswith(" — " + XMP_FEEDBACK)
    assert details["video_geotag"].endswith(" — " + VIDEO_FEEDBACK)
