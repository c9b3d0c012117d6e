"""End to end: sample-image -> case init -> evidence add -> triage -> training check."""
from __future__ import annotations

import json

import pytest

from conftest import require_tools
from training_case import place_steps

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")


@pytest.fixture(autouse=True)
def _library(monkeypatch, tmp_path):
    """Each test imports the sample's hash sets into a library of its own."""
    monkeypatch.setenv("FORENSIC_HASHSETS", str(tmp_path / "hashsets"))


def _build_case(forensic, tmp_path, seed: int, scenario: str | None = None,
                sources=("phone.raw", "card.raw", "extraction.zip")):
    require_tools(*TOOLS)
    sample = tmp_path / f"sample-{seed}"
    args = ["sample-image", sample, "--seed", seed, "--json"] + (["--scenario", scenario] if scenario else [])
    forensic(*args)
    # the sets the sample ships (docs/trainer-guide.md): imported before triage, which checks every file
    forensic("hashset", "import", sample / "hashsets" / "sample-rds.db", "--name", f"rds-{seed}",
             "--kind", "known-good")
    forensic("hashset", "import", sample / "hashsets" / "sample-vics.json", "--name", f"vics-{seed}",
             "--kind", "known-bad")
    case = tmp_path / f"case-{seed}"
    forensic("case", "init", case, "--case-id", f"T-{seed}", "--examiner", "Trainee")
    for name in sources:
        forensic("evidence", "add", sample / name, "--case", case, "--json")
    r = forensic("triage", "--case", case, "--json", expect=None)
    assert r.code in (0, 3), r.err           # 3: completed, warnings recorded (the truncated photo)
    return sample, case


def _check(forensic, sample, case, key=None, expect=0):
    return forensic("training", "check", key or sample / "answer-key.json", "--case", case, "--json",
                    expect=expect).json()


def _available() -> set[str]:
    from forensic.extractors.registry import all_extractors
    return {i.name for i in all_extractors() if i.available}


def _export_steps(forensic, sample, case, out):
    """The trainee's exports the key grades (report_finding, pseudonymised_export): two messages
    of the hotel group tagged with a note and exported; the victim marked, her chat pseudonymised."""
    facts = {f["kind"]: f["expected"] for f in json.loads((sample / "answer-key.json").read_text())["facts"]}
    hotel, victim = facts["report_finding"], facts["pseudonymised_export"]
    msgs = [json.loads(x) for x in forensic("messages", "--item", "phone.raw", "--json", "--case", case).out.split("\n")
            if x]
    ids = [f"message:{m['record_id']}" for m in msgs
           if m["conversation"]["title"] == hotel["conversation"] and m["body"] in hotel["selected"]]
    forensic("tag", "add", *ids, "--tag", hotel["tag"], "--note", "Orders at the hotel", "--case", case)
    forensic("export", "--out", out / "hotel.zip", "--tag", hotel["tag"], "--no-pdf", "--case", case)
    forensic("person", "mark", victim["victim"], "--role", "victim", "--case", case)
    forensic("tag", "add", "--conversation", victim["conversation"], "--tag", victim["tag"], "--case", case)
    (out / "pseudonym.pass").write_text("a long pseudonym passphrase\n")
    forensic("export", "--out", out / "support.zip", "--tag", victim["tag"], "--no-pdf", "--pseudonymise",
             "--pseudonym-passphrase-file", out / "pseudonym.pass", "--case", case)
    place_steps(forensic, case, sample / "answer-key.json", out)


def _search_steps(forensic, case):
    """The trainee's saved searches the key grades (keyword_hit, pattern_hit, raw_hit, archive_hit):
    the card's deleted booking note, the IBAN in the phone's unallocated space, the meeting place
    across the card's two note parts (--in raw), the words in the phone's ZIP member."""
    forensic("search", "Hotel Astoria", "--item", "card.raw", "--unallocated", "--save", "--case", case, expect=None)
    forensic("search", "--patterns", "iban", "--item", "phone.raw", "--in", "content", "--unallocated", "--save",
             "--case", case, expect=None)
    forensic("search", "Gasolinera", "--item", "card.raw", "--in", "raw", "--save", "--case", case, expect=None)
    forensic("search", "palabra clave", "--item", "phone.raw", "--save", "--case", case, expect=None)


@pytest.mark.parametrize("seed,scenario", [(1, None), (2, None), (3, "atlantic-route")])
def test_a_triaged_sample_case_scores_100(forensic, tmp_path, seed, scenario):
    sample, case = _build_case(forensic, tmp_path, seed, scenario)
    _export_steps(forensic, sample, case, tmp_path)
    _search_steps(forensic, case)
    report = _check(forensic, sample, case)
    assert report["schema"] == "forensic.training-check/1"
    assert report["missed"] == [] and report["wrong"] == [], json.dumps(report, indent=1, ensure_ascii=False)
    assert report["score"] == 100
    key = json.loads((sample / "answer-key.json").read_text())
    # every fact whose extractor is installed was checked; skipped ones name their extractor
    available = _available()
    assert report["checked"] == sum(1 for f in key["facts"] if f.get("requires", "photo_exif") in available
                                    or "requires" not in f)
    assert report["found"] == report["checked"] >= 40
    for s in report["skipped"]:
        assert s["detail"].startswith("extractor ") and s["detail"].endswith(" not available")
    assert set(report["skipped_extractors"]) == {f["requires"] for f in key["facts"]
                                                 if f.get("requires") and f["requires"] not in available}


def test_a_case_missing_an_item_scores_less(forensic, tmp_path):
    sample, case = _build_case(forensic, tmp_path, 5, sources=("phone.raw", "extraction.zip"))
    report = _check(forensic, sample, case)
    assert report["score"] < 100
    missed = {m["id"]: m for m in report["missed"]}
    key = json.loads((sample / "answer-key.json").read_text())
    card_facts = [f for f in key["facts"] if f["item"] == "card" and f.get("requires", "photo_exif") in _available()]
    assert {f["id"] for f in card_facts} <= set(missed)
    assert all("card.raw" in missed[f["id"]]["detail"] for f in card_facts)
    assert report["wrong"] == []


def test_a_tampered_key_is_caught(forensic, tmp_path):
    sample, case = _build_case(forensic, tmp_path, 6)
    key = json.loads((sample / "answer-key.json").read_text())
    facts = {f["id"]: f for f in key["facts"]}
    geotag = next(f for f in key["facts"] if f["kind"] == "photo_geotag" and f["expected"]["tz_known"])
    geotag["expected"]["lat"] += 0.001
    unknown = next(f for f in key["facts"] if f["kind"] == "photo_geotag" and not f["expected"]["tz_known"])
    unknown["expected"]["tz_known"], unknown["expected"]["tz_source"] = True, "gps"
    unknown["expected"]["taken_utc"] = unknown["expected"]["true_utc"]
    count = next(f for f in key["facts"] if f["kind"] == "file_count" and f["item"] == "phone")
    count["expected"]["count"] += 1
    conv = next(f for f in key["facts"] if f["kind"] == "conversation" and f["expected"]["platform"] == "whatsapp")
    conv["expected"]["messages"] -= 1
    msg = next(f for f in key["facts"] if f["kind"] == "key_message" and f["expected"]["platform"] == "whatsapp")
    msg["expected"]["sent_local"] = msg["expected"]["sent_local"][:11] + "00:00:00"
    deleted = next(f for f in key["facts"] if f["kind"] == "deleted_file")
    deleted["expected"]["sha256"] = "0" * 64
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(key))
    report = _check(forensic, sample, case, key=tampered)
    wrong = {w["id"]: w["detail"] for w in report["wrong"]}
    assert set(wrong) == {geotag["id"], unknown["id"], count["id"], conv["id"], msg["id"], deleted["id"]}
    assert "position" in wrong[geotag["id"]]
    assert "expected gps" in wrong[unknown["id"]]   # found no zone, or inferred it from the place
    assert "expected" in wrong[count["id"]]
    assert report["score"] == (report["found"] * 100) // report["checked"] < 100
    assert len(facts) == report["facts"]


def test_check_table_and_fail_under(forensic, tmp_path):
    sample, case = _build_case(forensic, tmp_path, 9, sources=("phone.raw",))
    r = forensic("training", "check", sample / "answer-key.json", "--case", case)
    assert "fact kind" in r.out and "score: " in r.out and "MISSED" in r.out
    assert "card.raw" in r.out
    r = forensic("training", "check", sample / "answer-key.json", "--case", case, "--fail-under", "100", expect=1)
    assert "below 100" in r.err


def test_check_rejects_what_is_not_an_answer_key(forensic, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "X", "--examiner", "T")
    bogus = tmp_path / "key.json"
    bogus.write_text('{"facts": "no"}')
    r = forensic("training", "check", bogus, "--case", case, expect=2)
    assert "not an answer key" in r.err
    r = forensic("training", "check", tmp_path / "absent.json", "--case", case, expect=2)
    assert "cannot read the answer key" in r.err
    # keys edited by hand: a clear usage error naming the fact, never a crash
    for bad in ('{"schema": "forensic.answer-key/1", "facts": [{"id": "f", "description": "d"}]}',
                '{"schema": "forensic.answer-key/1", "facts": ["text"]}',
                '{"schema": "forensic.answer-key/1", "facts": [], "items": []}'):
        bogus.write_text(bad)
        r = forensic("training", "check", bogus, "--case", case, expect=2)
        assert "unexpected" not in r.err and ("fact 0" in r.err or "'items'" in r.err), r.err
    # a known kind whose 'expected' lacks what it needs: that fact is void, the check goes on
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_text("a")
    added = forensic("evidence", "add", tmp_path / "ev", "--id", "x", "--case", case, "--json").json()
    bogus.write_text(json.dumps({"schema": "forensic.answer-key/1", "items": {"x": {"sha256": added["sha256"]}},
                                 "facts": [{"id": "f1", "kind": "file_count", "item": "x", "description": "d",
                                            "expected": {}}]}))
    r = forensic("training", "check", bogus, "--case", case, "--json", expect=None)
    assert "unexpected" not in r.err, r.err
    assert "its 'expected' is malformed" in r.out


def test_help_of_the_commands(forensic):
    for args in (("sample-image", "--help"), ("training", "check", "--help"), ("training", "--help")):
        r = forensic(*args)
        assert "Usage:" in r.out
