"""A camera original and the copy WhatsApp made of it (resized to 50%, re-compressed at
quality 60, EXIF stripped), both on the sample phone: ``forensic similar --all`` links them,
``training check`` grades the pair with the original's time and place, and an extraction that
holds the copy alone gets the feedback. Small cases: an extraction ZIP with the pictures only."""
from __future__ import annotations

import json
import subprocess

from conftest import require_tools
from forensic.training.answer_key import SIMILAR_FEEDBACK
from forensic.training.build import layout
from training_case import extraction_case

SEED = 37


def _case(root, name: str, files: list):
    return extraction_case(root, name, files, "near_duplicate", SEED)


def test_the_copy_is_what_a_messenger_makes(tmp_path):
    require_tools("exiftool")
    lay = layout(SEED)
    p, original, copy, spec = lay.forwarded
    (tmp_path / "o.jpg").write_bytes(original.data)
    (tmp_path / "c.jpg").write_bytes(copy.data)
    args = ["exiftool", "-j", "-n", "-G1", "-a", tmp_path / "o.jpg", tmp_path / "c.jpg"]
    o, c = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    assert (o["File:ImageWidth"], c["File:ImageWidth"]) == (640, 320) and "IFD0:Make" not in c
    assert o["IFD0:Make"] == spec.make and abs(o["GPS:GPSLatitude"] - p.lat) < 1e-6
    assert layout(SEED).forwarded[2].data == copy.data                 # same seed, same bytes


def test_linked_by_similar_and_graded(forensic, tmp_path, capsys):
    lay = layout(SEED)
    _, original, copy, _ = lay.forwarded
    out = _case(tmp_path, "full", [original, copy])
    capsys.readouterr()
    pairs = forensic("similar", "--case", out / "case", "--all", "--json").jsonl()
    assert [{p["a"]["sha256"], p["b"]["sha256"]} for p in pairs] == [{original.sha256, copy.sha256}]
    assert pairs[0]["distance"] <= 8
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert report["checked"] == 1 and report["score"] == 100, report


def test_the_copy_alone_misses_it_with_the_feedback(forensic, tmp_path, capsys):
    lay = layout(SEED)
    out = _case(tmp_path, "copy-only", [lay.forwarded[2]])
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert [f["kind"] for f in report["missed"]] == ["near_duplicate"]
    assert report["missed"][0]["detail"].startswith("no phash for the original /data/media/0/DCIM/Camera/")
    assert report["missed"][0]["detail"].endswith(" — " + SIMILAR_FEEDBACK)
