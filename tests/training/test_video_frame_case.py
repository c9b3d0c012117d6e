"""A picture sent on WhatsApp that is a frame of a video on the sample phone (the scene of its
second 2, resized to 50%, JPEG quality 75, no EXIF): ``forensic similar --all`` pairs it with
the video at ``frame_time_s`` 2.0, ``training check`` grades the pair, and an extraction that
holds the picture alone gets the feedback. Small cases: an extraction ZIP with these files only."""
from __future__ import annotations


import pytest

from forensic.training.build import layout
from training_case import extraction_case

SEED = 37
pytest.importorskip("av")


def _case(root, name: str, files: list):
    return extraction_case(root, name, files, "video_frame_copy", SEED)


def test_the_clip_and_its_frame_are_stable():
    _, video, copy = layout(SEED).clip
    _, video2, copy2 = layout(SEED).clip
    assert (video.data, copy.data) == (video2.data, copy2.data)            # same seed, same bytes
    assert video.data[4:8] == b"ftyp" and copy.data[:3] == b"\xff\xd8\xff" and b"Exif" not in copy.data[:64]


def test_paired_at_second_2_and_graded(forensic, tmp_path, capsys):
    _, video, copy = layout(SEED).clip
    out = _case(tmp_path, "full", [video, copy])
    capsys.readouterr()
    pairs = forensic("similar", "--case", out / "case", "--all", "--json").jsonl()
    linked = [p for p in pairs if {p["a"]["sha256"], p["b"]["sha256"]} == {video.sha256, copy.sha256}]
    assert linked and min(p["distance"] for p in linked) <= 8, pairs
    assert 2.0 in [p[s].get("frame_time_s") for p in linked for s in ("a", "b")], linked
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert report["checked"] == 1 and report["score"] == 100, report


def test_the_picture_alone_misses_it_with_the_feedback(forensic, tmp_path, capsys):
    from forensic.training.answer_key import FRAME_FEEDBACK
    out = _case(tmp_path, "copy-only", [layout(SEED).clip[2]])
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert [f["kind"] for f in report["missed"]] == ["video_frame_copy"]
    assert report["missed"][0]["detail"].startswith("no phash for the video /data/media/0/DCIM/Camera/VID_")
    assert report["missed"][0]["detail"].endswith(" — " + FRAME_FEEDBACK)
