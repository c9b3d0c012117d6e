"""Search cases in the sample (issue 20): on the camera card, a booking note naming "Hotel
Astoria, room 14", deleted after the photos (its clusters keep the text); on the phone, a payment
note an app wrote in UTF-16LE whose IBAN lies in a block ext4 marks free. ``training check``
grades ``keyword_hit`` and ``pattern_hit`` from the hits a trainee saved (``forensic search …
--save``: ``search/hit`` records) at the image offsets the builder found in the images it wrote;
a trainee who searched without ``--save``, or not at all, is told what was missed and why.
And a copy of the known-bad stand-in picture, resized and re-compressed (re-sent on WhatsApp),
in no set: ``suspected_known_bad`` is found when the case marks it so by its perceptual hash."""
from __future__ import annotations

import json

import pytest

from conftest import require_tools
from forensic.search.patterns import _iban
from forensic.training.answer_key import KEYWORD_FEEDBACK, PATTERN_FEEDBACK, SUSPECT_FEEDBACK
from forensic.training.build import CARD_NOTE, KNOWN_BAD_FILE, VICS_FILE, layout
from training_case import cli, extraction_case, triaged_case

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SEED = 41
KINDS = ("keyword_hit", "pattern_hit")


def _facts(sample, kind: str) -> list[dict]:
    key = json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))
    return [f for f in key["facts"] if f["kind"] == kind]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample (seed 41), its phone and card in three cases triaged alike: ``saved`` (both
    searches run with --save), ``unsaved`` (the same searches without it), ``none``."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("search")
    sample = root / "sample"
    assert cli("sample-image", sample, "--seed", SEED, "--quiet") == 0
    cases = {}
    for name in ("saved", "unsaved", "none"):
        case = cases[name] = triaged_case(root / name, name, sample / "phone.raw", sample / "card.raw")
        if name == "none":
            continue
        save = ("--save",) if name == "saved" else ()
        assert cli("search", "Hotel Astoria", "--item", "card.raw", "--case", case, "--quiet", *save) in (0, 3)
        assert cli("search", "--patterns", "iban", "--item", "phone.raw", "--unallocated", "--case", case,
                   "--quiet", *save) in (0, 3)
    return {"sample": sample, **cases}


def _report(forensic, built, case: str) -> dict:
    return forensic("training", "check", built["sample"] / "answer-key.json", "--case", built[case], "--json",
                    expect=None).json()


def _ours(report: dict, status: str) -> dict:
    return {f["kind"]: f for f in report[status] if f["kind"] in KINDS}


def test_the_offsets_in_the_key_hold_the_phrase_and_the_iban(built):
    """From the builder, never read back by the triage code: the image's bytes there are the
    phrase (UTF-8) and the IBAN (UTF-16LE), and the IBAN's check digits are valid."""
    sample = built["sample"]
    (kw,), (pat,) = _facts(sample, "keyword_hit"), _facts(sample, "pattern_hit")
    card, phone = (sample / "card.raw").read_bytes(), (sample / "phone.raw").read_bytes()
    e = kw["expected"]
    assert card[e["image_offset"]:e["image_offset"] + e["length"]] == b"Hotel Astoria, room 14"
    assert e["path"] == "/" + CARD_NOTE and e["deleted"] is True
    e = pat["expected"]
    assert phone[e["image_offset"]:e["image_offset"] + e["length"]].decode("utf-16le") == e["value"]
    assert _iban(e["value"]) and not _iban(e["value"][:-1] + str((int(e["value"][-1]) + 1) % 10))
    assert e["image_offset"] == (1 << 20) + e["block"] * 4096 + e["text"].index(e["value"]) * 2
    lay = layout(SEED)                      # the same seed plans the same note and IBAN
    assert lay.story.iban == e["value"] and lay.card_note is not None
    assert lay.card_note.data == kw["expected"]["text"].encode()
    assert layout(SEED + 1).story.iban != e["value"]


def test_the_notes_are_in_no_live_file(built, forensic):
    """The phrase is only in the deleted note; the IBAN in no file at all: unallocated space."""
    rows = forensic("files", "--case", built["none"], "--json").jsonl()
    note = [r for r in rows if r["item"] == "card.raw" and r["path"].endswith("OOKING.TXT")]
    assert len(note) == 1 and note[0]["deleted"] is True
    hits = forensic("search", "--patterns", "iban", "--item", "phone.raw", "--case", built["none"], "--json",
                    expect=None).jsonl()
    assert hits == []                        # without --unallocated: no file holds it


def test_saved_hits_find_both_facts(forensic, built):
    report = _report(forensic, built, "saved")
    assert _ours(report, "missed") == {} and _ours(report, "wrong") == {}
    hits = {h["list"]: h for h in forensic("search", "Hotel Astoria", "--patterns", "iban", "--unallocated",
                                          "--case", built["saved"], "--json", expect=None).jsonl()}
    assert hits["pattern:iban"]["encoding"] == "utf-16le" and hits["pattern:iban"]["where"] == "unallocated"


def test_a_search_without_save_is_told_that_saving_puts_it_in_the_case(forensic, built):
    missed = _ours(_report(forensic, built, "unsaved"), "missed")
    assert set(missed) == set(KINDS)
    kw = missed["keyword_hit"]["detail"]
    assert kw.startswith("no search hit saved for the item (a content search ran on it: its hits were not saved); "
                         "'Hotel Astoria, room 14', in the deleted /MISC/BOOKING.TXT is at image offset ")
    assert kw.endswith(" — " + KEYWORD_FEEDBACK.format(phrase="Hotel Astoria, room 14", term="Hotel Astoria"))
    assert missed["pattern_hit"]["detail"].endswith(" — " + PATTERN_FEEDBACK)


def test_no_search_misses_both_with_the_feedback(forensic, built):
    missed = _ours(_report(forensic, built, "none"), "missed")
    assert set(missed) == set(KINDS)
    assert missed["keyword_hit"]["detail"].startswith("no search hit saved for the item; ")
    assert "--save" in missed["keyword_hit"]["detail"] and "UTF-16LE" in missed["pattern_hit"]["detail"]


def test_a_hit_saved_elsewhere_is_not_the_fact(forensic, built, tmp_path):
    """The check can fail: the key's offsets moved past the saved hits."""
    key = json.loads((built["sample"] / "answer-key.json").read_text(encoding="utf-8"))
    for f in key["facts"]:
        if f["kind"] in KINDS:
            f["expected"]["image_offset"] += 4096
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(key), encoding="utf-8")
    report = forensic("training", "check", tampered, "--case", built["saved"], "--json", expect=None).json()
    missed = _ours(report, "missed")
    assert set(missed) == set(KINDS)
    assert all(" search hit(s) saved for the item, none at image offset " in f["detail"] for f in missed.values())


# -- the known-bad picture, altered: a suspected known-bad copy -----------------------------------------------

def _suspect_case(tmp_path, monkeypatch, capsys, name: str, files: list, with_set: bool):
    library = tmp_path / f"library-{name}"
    monkeypatch.setenv("FORENSIC_HASHSETS", str(library))
    if with_set:
        lay = layout(SEED)
        (tmp_path / "vics.json").write_bytes(lay.hashsets[VICS_FILE])
        assert cli("hashset", "import", tmp_path / "vics.json", "--name", "sample-vics", "--kind", "known-bad",
                   "--quiet") == 0
    out = extraction_case(tmp_path, name, files, "suspected_known_bad", SEED)
    capsys.readouterr()                      # what the intake printed
    return out


def test_the_altered_copy_is_suspected_known_bad(forensic, tmp_path, monkeypatch, capsys):
    lay = layout(SEED)
    like = lay.known_bad_like
    assert like is not None and like.sha256 not in {f.sha256 for f in lay.known_bad}
    out = _suspect_case(tmp_path, monkeypatch, capsys, "full", [*lay.known_bad, like], with_set=True)
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert report["checked"] == 1 and report["score"] == 100, report
    rows = [r for r in forensic("photos", "--case", out / "case", "--json").jsonl() if r["suspected_known_bad"]]
    assert [r["sha256"] for r in rows] == [like.sha256]
    assert rows[0]["suspected_known_bad"]["category"] == "2" and rows[0]["suspected_known_bad"]["distance"] <= 8


def test_without_the_set_or_the_original_it_is_missed_with_the_feedback(forensic, tmp_path, monkeypatch, capsys):
    lay = layout(SEED)
    like = lay.known_bad_like
    assert like is not None
    feedback = " — " + SUSPECT_FEEDBACK.format(name=like.rel.rsplit("/", 1)[-1])
    out = _suspect_case(tmp_path, monkeypatch, capsys, "no-set", [*lay.known_bad, like], with_set=False)
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    (m,) = report["missed"]
    assert "not compared with the known-bad picture: no hash set check recorded" in m["detail"]
    assert m["detail"].endswith(feedback)
    out = _suspect_case(tmp_path, monkeypatch, capsys, "copy-only", [like], with_set=True)
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    (m,) = report["missed"]
    assert "the known-bad picture (/data/" + KNOWN_BAD_FILE in m["detail"] and m["detail"].endswith(feedback)


def test_a_raw_hit_at_the_offset_is_the_booking_note_found(forensic, built, tmp_path):
    """``--in raw`` reads the same bytes at the same image offset: also a correct way to find the
    note. The detail says it was found in the raw image; a raw hit elsewhere is still missed."""
    case = tmp_path / "raw"
    forensic("case", "init", case, "--case-id", "raw", "--examiner", "T", "--quiet")
    forensic("evidence", "add", built["sample"] / "card.raw", "--case", case, "--quiet")
    (hit,) = forensic("search", "Hotel Astoria", "--item", "card.raw", "--in", "raw", "--save", "--case", case,
                      "--json", expect=None).jsonl()
    assert hit["where"] == "raw"
    report = forensic("training", "check", built["sample"] / "answer-key.json", "--case", case, "--json",
                      expect=None).json()
    assert all(f["kind"] != "keyword_hit" for s in ("missed", "wrong", "skipped") for f in report[s])
    from forensic.case import Case
    from forensic.training.check import check_case
    key = json.loads((built["sample"] / "answer-key.json").read_text(encoding="utf-8"))
    (kw,) = [r for r in check_case(Case.open(case), key).results if r.fact["kind"] == "keyword_hit"]
    assert kw.status == "found"
    assert f"at image offset {hit['image_offset']:,}, in the raw image (in card.raw › " in kw.detail
    assert kw.detail.endswith("_OOKING.TXT); --unallocated names it as unallocated space")
    for f in key["facts"]:
        if f["kind"] == "keyword_hit":
            f["expected"]["where"] = ["content", "unallocated"]     # a key that takes no raw hit
    narrow = tmp_path / "narrow.json"
    narrow.write_text(json.dumps(key), encoding="utf-8")
    report = forensic("training", "check", narrow, "--case", case, "--json", expect=None).json()
    (kw,) = [f for f in report["wrong"] if f["kind"] == "keyword_hit"]
    assert kw["detail"].startswith("a hit at image offset ") and "saved as where 'raw'" in kw["detail"]
