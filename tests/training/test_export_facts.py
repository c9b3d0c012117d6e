"""The answer key's export facts (report_finding, pseudonymised_export, bundle_sources,
place_export), graded by ``forensic training check`` from the custody log and the bundles it
records."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import require_tools
from training_case import place_steps

EXPORT_KINDS = ("report_finding", "pseudonymised_export", "bundle_sources", "place_export")
HASHSET_KINDS = ("known_bad_file", "known_good_count")     # no hash set imported in these cases
SEARCH_KINDS = ("keyword_hit", "pattern_hit", "raw_hit", "archive_hit",
                "suspected_known_bad")   # nor a search saved (nor sets)


def _build_case(forensic, tmp_path, seed: int, sources=("phone.raw",), case_id: str | None = None):
    require_tools("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
    sample = tmp_path / f"sample-{seed}"
    forensic("sample-image", sample, "--seed", seed, "--json")
    case = tmp_path / f"case-{seed}"
    forensic("case", "init", case, "--case-id", case_id or f"T-{seed}", "--examiner", "Trainee")
    for name in sources:
        forensic("evidence", "add", sample / name, "--case", case, "--json")
    assert forensic("triage", "--case", case, "--json", expect=None).code in (0, 3)
    return sample, case


def export_steps(forensic, case, key_path, out, password_file=None, victim_role="victim"):
    """What the trainee does for the export facts: tag two messages of the hotel group with a note
    and export that tag; mark the victim and export her chat with --pseudonymise."""
    key = json.loads(key_path.read_text())
    facts = {f["kind"]: f["expected"] for f in key["facts"] if f["kind"] in EXPORT_KINDS}
    pw = ["--password-file", password_file] if password_file else []
    hotel = facts["report_finding"]
    msgs = [json.loads(line) for line in forensic("messages", "--item", "phone.raw", "--platform", "whatsapp",
                                                  "--json", "--case", case).out.splitlines()]
    ids = [f"message:{m['record_id']}" for m in msgs
           if m["conversation"]["title"] == hotel["conversation"] and m["body"] in hotel["selected"]]
    assert len(ids) == len(hotel["selected"])
    forensic("tag", "add", *ids, "--tag", hotel["tag"], "--note", "The handler's orders at the hotel", "--case", case)
    forensic("export", "--out", out / "hotel.zip", "--tag", hotel["tag"], "--no-pdf", *pw, "--case", case)
    victim = facts["pseudonymised_export"]
    forensic("person", "mark", victim["victim"], "--role", victim_role, "--case", case)
    forensic("tag", "add", "--conversation", victim["conversation"], "--tag", victim["tag"], "--note",
             "She tells her family her passport was taken", "--case", case)
    phrase = out / "pseudonym.pass"
    phrase.write_text("a long pseudonym passphrase\n")
    forensic("export", "--out", out / "support.zip", "--tag", victim["tag"], "--no-pdf", "--pseudonymise",
             "--pseudonym-passphrase-file", phrase, *pw, "--case", case)
    place_steps(forensic, case, key_path, out, password_file)
    return facts


def _status(report: dict, kind: str) -> tuple[str, str]:
    for status in ("missed", "wrong"):
        for r in report[status]:
            if r["kind"] == kind:
                return status, r["detail"]
    return "found", ""


def _check(forensic, sample, case, *extra) -> dict:
    return forensic("training", "check", sample / "answer-key.json", "--case", case, "--json", *extra,
                    expect=None).json()


def test_the_key_holds_the_export_facts(forensic, tmp_path):
    sample = tmp_path / "sample"
    forensic("sample-image", sample, "--seed", 4, "--json")
    key = json.loads((sample / "answer-key.json").read_text())
    assert key["schema"] == "forensic.answer-key/2"
    facts = {f["kind"]: f for f in key["facts"] if f["kind"] in EXPORT_KINDS}
    assert set(facts) == set(EXPORT_KINDS)
    finding = facts["report_finding"]["expected"]
    assert finding["count_text"] == f"2 of {finding['total']} messages (selected)" and finding["total"] == 100
    assert all(b.endswith(("(11)", "(41)")) for b in finding["selected"])
    victim = facts["pseudonymised_export"]["expected"]
    assert victim["victim"] == key["people"]["phone owner (victim)"]
    assert "--pseudonymise" in facts["pseudonymised_export"]["feedback"]
    assert "report_finding" in (sample / "answer-key.md").read_text()


def test_no_export_is_missed_with_the_feedback(forensic, tmp_path):
    sample, case = _build_case(forensic, tmp_path, 7, sources=("phone.raw",))
    report = _check(forensic, sample, case)
    for kind in EXPORT_KINDS:
        status, detail = _status(report, kind)
        assert status == "missed", (kind, detail)
    assert "records no export" in _status(report, "report_finding")[1]
    assert "--pseudonymise" in _status(report, "pseudonymised_export")[1]
    assert _status(report, "bundle_sources")[1].endswith("a bundle carries it with its hash so the prosecutor can "
                                                         "check each message against its source.")


def test_the_exports_are_graded_from_the_bundles(forensic, tmp_path):
    sample, case = _build_case(forensic, tmp_path, 8, sources=("phone.raw",))
    out = tmp_path                 # beside the case, where training check looks
    export_steps(forensic, case, sample / "answer-key.json", out)
    report = _check(forensic, sample, case, "--all")
    for kind in EXPORT_KINDS:
        assert _status(report, kind)[0] == "found", json.dumps(report, indent=1, ensure_ascii=False)
    assert [(e["bundle"], e["read"], e["problem"]) for e in report["exports"]] == \
        [("hotel.zip", True, None), ("support.zip", True, None), ("tbilisi.zip", True, None)]

    # a bundle moved away is looked for only with --bundle, and accepted by its SHA-256 only
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(out / "hotel.zip", moved / "hotel.zip")
    status, detail = _status(_check(forensic, sample, case), "report_finding")
    assert status == "wrong" and "pass it with --bundle" in detail
    assert _status(_check(forensic, sample, case, "--bundle", moved / "hotel.zip"), "report_finding")[0] == "found"
    (moved / "hotel.zip").write_bytes((moved / "hotel.zip").read_bytes() + b"x")
    status, detail = _status(_check(forensic, sample, case, "--bundle", moved / "hotel.zip"), "report_finding")
    assert status == "wrong" and "SHA-256" in detail


def test_a_witness_is_not_a_victim(forensic, tmp_path):
    sample, case = _build_case(forensic, tmp_path, 10, sources=("phone.raw",))
    out = tmp_path                 # beside the case, where training check looks
    export_steps(forensic, case, sample / "answer-key.json", out, victim_role="witness")
    status, detail = _status(_check(forensic, sample, case), "pseudonymised_export")
    assert status == "wrong" and "marked witness, not victim" in detail


def test_encrypted_bundles_need_their_password(forensic, tmp_path):
    sample, case = _build_case(forensic, tmp_path, 11, sources=("phone.raw",))
    out = tmp_path                 # beside the case, where training check looks
    password = tmp_path / "bundle.password"
    password.write_text("correct horse battery staple\n")
    export_steps(forensic, case, sample / "answer-key.json", out, password_file=password)
    report = _check(forensic, sample, case)
    for kind in EXPORT_KINDS:    # graded from the custody log alone, and said so
        assert _status(report, kind)[0] == "found"
    table = forensic("training", "check", sample / "answer-key.json", "--case", case, "--all", expect=None).out
    assert "custody log only" in table and "--bundle-password-file" in table
    report = _check(forensic, sample, case, "--bundle-password-file", password)
    assert all(_status(report, k)[0] == "found" for k in EXPORT_KINDS)
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not it\n")
    status, detail = _status(_check(forensic, sample, case, "--bundle-password-file", wrong), "report_finding")
    assert status == "found", detail
    table = forensic("training", "check", sample / "answer-key.json", "--case", case, "--all",
                     "--bundle-password-file", wrong, expect=None).out
    assert "does not open it" in table


def test_an_answer_key_of_schema_1_is_still_graded(forensic, tmp_path):
    sample, case = _build_case(forensic, tmp_path, 12, sources=("phone.raw",))
    key = json.loads((sample / "answer-key.json").read_text())
    key["schema"] = "forensic.answer-key/1"
    key["facts"] = [f for f in key["facts"] if f["kind"] not in EXPORT_KINDS + HASHSET_KINDS + SEARCH_KINDS
                    and f["item"] == "phone"]
    old = tmp_path / "old-key.json"
    old.write_text(json.dumps(key))
    report = forensic("training", "check", old, "--case", case, "--json").json()
    assert report["score"] == 100 and report["checked"] > 20


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_export_kinds_are_documented(kind):
    from pathlib import Path
    guide = (Path(__file__).parents[2] / "docs" / "trainer-guide.md").read_text()
    assert kind in guide


def test_the_message_source_travels_with_its_hash(forensic, tmp_path):
    """bundle_sources: the hotel bundle carries msgstore.db in data/evidence with the generator's
    SHA-256, and each message names it; a key with another SHA-256 is caught, and a bundle whose
    database was withheld (a message of it tagged sensitive) gets the fact wrong."""
    sample, case = _build_case(forensic, tmp_path, 13, sources=("phone.raw",))
    key = json.loads((sample / "answer-key.json").read_text())
    fact = next(f for f in key["facts"] if f["kind"] == "bundle_sources")
    assert fact["item"] == "phone" and fact["requires"] == "whatsapp_db"
    assert fact["expected"]["source"]["path"] == "/data/com.whatsapp/databases/msgstore.db"
    assert fact["expected"]["companions"] == []            # the sample's msgstore.db has no -wal beside it
    from forensic.training.build import MSGSTORE_DB, layout
    db = next(f for f in layout(13).phone if f.rel == MSGSTORE_DB)
    assert fact["expected"]["source"]["sha256"] == db.sha256
    export_steps(forensic, case, sample / "answer-key.json", tmp_path)
    assert _status(_check(forensic, sample, case), "bundle_sources")[0] == "found"
    fact["expected"]["source"]["sha256"] = "0" * 64
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(key))
    report = forensic("training", "check", tampered, "--case", case, "--json", expect=None).json()
    status, detail = _status(report, "bundle_sources")
    assert status == "wrong" and "files.jsonl lists no message source msgstore.db with SHA-256 0000" in detail

    # the same export again, one message of the group tagged sensitive: the database is withheld
    (tmp_path / "withheld").mkdir()
    sample2, case2 = _build_case(forensic, tmp_path / "withheld", 13, sources=("phone.raw",),
                                 case_id="T-13-withheld")      # a case id each: on PostgreSQL, a schema each
    hotel = next(f["expected"] for f in key["facts"] if f["kind"] == "report_finding")
    msgs = [json.loads(line) for line in forensic("messages", "--item", "phone.raw", "--platform", "whatsapp",
                                                  "--json", "--case", case2).out.splitlines()]
    ids = [f"message:{m['record_id']}" for m in msgs
           if m["conversation"]["title"] == hotel["conversation"] and m["body"] in hotel["selected"]]
    forensic("tag", "add", *ids, "--tag", "hotel", "--note", "orders", "--case", case2)
    forensic("tag", "add", ids[0], "--tag", "private", "--sensitive", "--case", case2)
    forensic("export", "--out", tmp_path / "withheld" / "hotel.zip", "--tag", "hotel", "--no-pdf", "--case", case2)
    status, detail = _status(_check(forensic, sample2, case2), "bundle_sources")
    assert status == "wrong" and "msgstore.db is listed but not in the bundle" in detail, detail
