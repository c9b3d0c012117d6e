"""A card photo with GPS deleted, its directory entry then taken by the next photo: no file
system listing names it (fls), its bytes lie whole in unallocated space (blkls), exiftool reads
its position; triage carves it (``recovery: carved``, the offset in its locator); ``training
check`` grades it and, for a copy of the card without its unallocated space, says why it
matters."""
from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from conftest import require_tools
from forensic.training.answer_key import SEARCH_KINDS
from forensic.training.build import layout

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SEED = 19
PART_SECTOR = 2048                      # the card's one partition starts at 1 MiB


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("carved")
    assert _cli("sample-image", root / "sample", "--seed", SEED, "--quiet") == 0
    return root


def test_only_the_unallocated_space_holds_it(sample, tmp_path):
    require_tools("fls", "blkls", "exiftool")
    lay = layout(SEED)
    p, f, _ = lay.card_carved
    taker = lay.story.slot_taker
    card = sample / "sample" / "card.raw"
    names = subprocess.run(["fls", "-r", "-p", "-o", str(PART_SECTOR), card], check=True, capture_output=True,
                           text=True).stdout
    assert taker.name in names and p.name not in names and "_" + p.name[1:] not in names   # no entry, deleted or not
    unallocated = subprocess.run(["blkls", "-o", str(PART_SECTOR), card], check=True, capture_output=True).stdout
    assert f.data in unallocated
    (tmp_path / "carved.jpg").write_bytes(f.data)
    out = subprocess.run(["exiftool", "-n", "-j", "-GPSLatitude", "-GPSLongitude", "-Make", tmp_path / "carved.jpg"],
                         check=True, capture_output=True, text=True).stdout
    tags = json.loads(out)[0]
    assert abs(tags["GPSLatitude"] - p.lat) < 1e-6 and abs(tags["GPSLongitude"] - p.lon) < 1e-6
    assert tags["Make"] == lay.story.camera_make


@pytest.fixture(scope="module")
def cases(sample):
    """The card triaged; and a copy of it whose unallocated space holds zeros where the photo was
    (as a copy of the card's files only would), graded against the key with that copy's hash."""
    root = sample
    case = root / "case"
    assert _cli("case", "init", case, "--case-id", "CP-19", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", root / "sample" / "card.raw", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    raw = bytearray((root / "sample" / "card.raw").read_bytes())
    data = layout(SEED).card_carved[1].data
    at = raw.find(data)
    raw[at:at + len(data)] = bytes(len(data))
    files_only = root / "card-files-only.raw"
    files_only.write_bytes(raw)
    bare = root / "case-files-only"
    assert _cli("case", "init", bare, "--case-id", "CP-19b", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", files_only, "--case", bare, "--quiet") == 0
    assert _cli("triage", "--case", bare, "--quiet") in (0, 3)
    key = json.loads((root / "sample" / "answer-key.json").read_text(encoding="utf-8"))
    key["items"]["card"]["sha256"] = hashlib.sha256(raw).hexdigest()
    bare_key = root / "answer-key-files-only.json"
    bare_key.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    return {"case": case, "bare": bare, "bare_key": bare_key, "key": root / "sample" / "answer-key.json",
            "offset": at}


def test_triage_carves_it_and_the_check_grades_it(forensic, cases):
    p, f, _ = layout(SEED).card_carved
    carved = [x for x in forensic("files", "--case", cases["case"], "--json").jsonl() if x["recovery"] == "carved"]
    assert [x["sha256"] for x in carved] == [f.sha256]
    offset = cases["offset"] - PART_SECTOR * 512                      # in the volume
    assert carved[0]["locator"].endswith(f"unallocated @ offset {offset:#x} (carved)")
    report = forensic("training", "check", cases["key"], "--case", cases["case"], "--json", expect=None).json()
    assert [x for x in report["missed"] + report["wrong"] if x["item"] == "card"
            and x["kind"] not in SEARCH_KINDS] == []                         # no search saved here
    key = json.loads(cases["key"].read_text(encoding="utf-8"))
    fact = next(x for x in key["facts"] if x["kind"] == "carved_photo")
    assert fact["expected"]["sha256"] == f.sha256 and fact["expected"]["name"] == p.name


def test_a_card_without_its_unallocated_space_misses_it_with_the_feedback(forensic, cases):
    report = forensic("training", "check", cases["bare_key"], "--case", cases["bare"], "--json", expect=None).json()
    bad = [x for x in report["missed"] + report["wrong"] if x["item"] == "card" and x["kind"] not in SEARCH_KINDS]
    assert [x["kind"] for x in bad] == ["carved_photo"] and bad[0]["status"] == "missed"
    assert bad[0]["detail"].endswith("— A photo whose directory entry is gone can still be carved from unallocated "
                                     "space; `forensic files --json` shows recovery: carved with the offset in its "
                                     "locator.")
