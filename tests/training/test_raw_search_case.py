"""Two search cases in the sample that a search of files one by one cannot reach: on the camera
card, the handler's pick-up note saved by a notes app in two 512-byte parts (``MISC/NOTE1.TXT``,
``MISC/NOTE2.TXT``, one cluster each, back to back), the meeting place cut between them, so it is
in neither file alone and only ``forensic search … --in raw`` (the image's every byte as one
stream) finds it, its hit naming both files (``raw_hit``); on the phone, the recruiter's travel
instructions in a downloaded ZIP (deflated: no raw byte of the image holds their words), found
when archive members are searched as content, at the member's locator (``archive_hit``). Both
are graded from saved hits; a trainee who did not save, searched without ``--in raw``, or not at
all is told what was missed and why."""
from __future__ import annotations

import json

import pytest

from conftest import require_tools
from forensic.training.answer_key import ARCHIVE_FEEDBACK, RAW_FEEDBACK
from forensic.training.build import ARCHIVE_DIR, CARD_SPLIT_DIR, layout
from forensic.training.story import NOTE_PART
from training_case import cli, triaged_case

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SEED = 43
KINDS = ("raw_hit", "archive_hit")


def _key(sample) -> dict:
    return json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))


def _fact(sample, kind: str) -> dict:
    (f,) = [f for f in _key(sample)["facts"] if f["kind"] == kind]
    return f


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample (seed 43), its phone and card in four cases triaged alike: ``saved`` (the card
    searched --in raw, the phone's content searched, both with --save), ``unsaved`` (the same
    without --save), ``no-raw`` (both saved, the card searched by content and unallocated space
    only), ``none``."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("raw-search")
    sample = root / "sample"
    assert cli("sample-image", sample, "--seed", SEED, "--quiet") == 0
    key = _key(sample)
    place = next(f["expected"]["term"] for f in key["facts"] if f["kind"] == "raw_hit")
    words = next(f["expected"]["term"] for f in key["facts"] if f["kind"] == "archive_hit")
    cases = {}
    for name in ("saved", "unsaved", "no-raw", "none"):
        case = cases[name] = triaged_case(root / name, name, sample / "phone.raw", sample / "card.raw")
        if name == "none":
            continue
        save = () if name == "unsaved" else ("--save",)
        where = ("--unallocated",) if name == "no-raw" else ("--in", "raw")
        assert cli("search", place, "--item", "card.raw", *where, "--case", case, "--quiet", *save) in (0, 3)
        assert cli("search", words, "--item", "phone.raw", "--case", case, "--quiet", *save) in (0, 3)
    return {"sample": sample, "place": place, "words": words, **cases}


def _report(forensic, sample, case, key=None) -> dict:
    return forensic("training", "check", key or sample / "answer-key.json", "--case", case, "--json",
                    expect=None).json()


def _ours(report: dict, status: str) -> dict:
    return {f["kind"]: f for f in report[status] if f["kind"] in KINDS}


def test_the_note_parts_are_back_to_back_and_the_place_in_neither(built):
    """From the builder, never read back by the triage code: each part one cluster, the second
    right after the first in the image, the place at the key's offset and in neither part."""
    sample = built["sample"]
    e = _fact(sample, "raw_hit")["expected"]
    card = (sample / "card.raw").read_bytes()
    lay = layout(SEED)
    first, second = (f.data for f in lay.card_split)
    assert len(first) == NOTE_PART and len(second) < NOTE_PART
    assert e["files"] == [f"/{CARD_SPLIT_DIR}/NOTE1.TXT", f"/{CARD_SPLIT_DIR}/NOTE2.TXT"]
    at = card.find(first)
    assert at > 0 and card[at + NOTE_PART:at + NOTE_PART + len(second)] == second
    term = e["term"].encode()
    assert card[e["image_offset"]:e["image_offset"] + e["length"]] == term == e["term"].encode("utf-8")
    assert e["image_offset"] == at + NOTE_PART - e["cut"] and 0 < e["cut"] < len(term)
    assert term not in first and term not in second
    assert first.endswith(term[:e["cut"]]) and second.startswith(term[e["cut"]:])
    assert layout(SEED).story.split_note.text == e["text"]                 # same seed, same note
    assert layout(SEED + 1).story.split_note.text != e["text"]


def test_the_archive_member_is_deflated_in_the_phone(built):
    """The words are in the ZIP's member, never as raw bytes in the phone image."""
    import io
    import zipfile
    sample = built["sample"]
    e = _fact(sample, "archive_hit")["expected"]
    assert e["archive"] == f"/{ARCHIVE_DIR}/instrucciones_viaje.zip"
    lay = layout(SEED)
    assert lay.archive is not None and lay.archive.sha256 == e["archive_sha256"]
    with zipfile.ZipFile(io.BytesIO(lay.archive.data)) as zf:
        (info,) = zf.infolist()
        assert info.filename == e["member"] and info.compress_type == zipfile.ZIP_DEFLATED
        text = zf.read(info).decode("utf-8")
    assert e["term"] in text and e["answer"] in text and text == e["text"]
    phone = (sample / "phone.raw").read_bytes()
    assert lay.archive.data in phone and e["term"].encode() not in phone


def test_saved_raw_and_member_hits_find_both_facts(forensic, built):
    report = _report(forensic, built["sample"], built["saved"])
    assert _ours(report, "missed") == {} and _ours(report, "wrong") == {}, report
    assert not _ours(report, "skipped")
    from forensic.case import Case
    from forensic.training.check import check_case
    graded = check_case(Case.open(built["saved"]), _key(built["sample"]))
    found = {r.fact["kind"]: r for r in graded.results if r.fact["kind"] in KINDS}
    assert set(found) == set(KINDS) and all(r.status == "found" for r in found.values())
    assert "/MISC/NOTE1.TXT" in found["raw_hit"].detail and "/MISC/NOTE2.TXT" in found["raw_hit"].detail
    assert found["archive_hit"].detail.endswith("instrucciones_viaje.zip › instrucciones.txt")
    (hit,) = forensic("search", built["place"], "--item", "card.raw", "--in", "raw", "--case", built["saved"],
                      "--json", expect=None).jsonl()
    assert hit["crosses_fragment"] is True and len(hit["files"]) == 2


def test_a_search_without_save_is_told_to_save(forensic, built):
    missed = _ours(_report(forensic, built["sample"], built["unsaved"]), "missed")
    assert set(missed) == set(KINDS)
    sample = built["sample"]
    raw = _fact(sample, "raw_hit")
    assert missed["raw_hit"]["detail"].startswith("no search hit saved for the item; ")
    assert missed["raw_hit"]["detail"].endswith(" — " + raw["feedback"])
    assert missed["archive_hit"]["detail"].startswith("no search hit saved for the item (a content search ran on "
                                                      "it: its hits were not saved); ")
    assert missed["archive_hit"]["detail"].endswith(" — " + _fact(sample, "archive_hit")["feedback"])


def test_without_in_raw_the_place_is_missed_with_the_feedback(forensic, built):
    """A content and unallocated search of the card finds nothing: the place is in no file's
    content (and the clusters are allocated); the member's hit is still found."""
    report = _report(forensic, built["sample"], built["no-raw"])
    missed = _ours(report, "missed")
    assert set(missed) == {"raw_hit"} and _ours(report, "wrong") == {}
    d = missed["raw_hit"]["detail"]
    assert d.startswith("no search hit saved for the item (a content search ran on it: no file's content holds "
                        "this); ")
    e = _fact(built["sample"], "raw_hit")["expected"]
    first, second = e["files"]
    cut = e["cut"]
    assert d.endswith(" — " + RAW_FEEDBACK.format(first="NOTE1.TXT", second="NOTE2.TXT", head=e["term"][:cut],
                                                  tail=e["term"][cut:], term=e["term"]))
    assert "--in raw --save" in d and first in d and second in d


def test_no_search_misses_both(forensic, built):
    missed = _ours(_report(forensic, built["sample"], built["none"]), "missed")
    assert set(missed) == set(KINDS)
    assert missed["archive_hit"]["detail"].endswith(" — " + ARCHIVE_FEEDBACK.format(
        member="instrucciones.txt", archive=f"/{ARCHIVE_DIR}/instrucciones_viaje.zip",
        name="instrucciones_viaje.zip", term=built["words"]))


def test_a_hit_elsewhere_or_naming_other_files_is_not_the_fact(forensic, built, tmp_path):
    """The check can fail: the raw fact asking for a file the hit does not name is wrong; moved
    past the saved hit, or at another member, it is missed."""
    key = _key(built["sample"])
    for f in key["facts"]:
        if f["kind"] == "raw_hit":
            f["expected"]["files"][1] = f"/{CARD_SPLIT_DIR}/NOTE3.TXT"
        elif f["kind"] == "archive_hit":
            f["expected"]["member"] = "billete.txt"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(key), encoding="utf-8")
    report = _report(forensic, built["sample"], built["saved"], tampered)
    wrong, missed = _ours(report, "wrong"), _ours(report, "missed")
    assert set(wrong) == {"raw_hit"} and set(missed) == {"archive_hit"}
    assert wrong["raw_hit"]["detail"].startswith("a raw hit at image offset ")
    assert "; not /MISC/NOTE3.TXT" in wrong["raw_hit"]["detail"]
    assert " search hit(s) saved for the item, none in a member of " in missed["archive_hit"]["detail"]
    for f in key["facts"]:
        if f["kind"] == "raw_hit":
            f["expected"]["image_offset"] += NOTE_PART * 8
    tampered.write_text(json.dumps(key), encoding="utf-8")
    missed = _ours(_report(forensic, built["sample"], built["saved"], tampered), "missed")
    assert " search hit(s) saved for the item, none at image offset " in missed["raw_hit"]["detail"]
