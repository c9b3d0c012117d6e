"""The files the exported messages were read from go into the bundle (issue 17): a chat
export, and a WhatsApp ``msgstore.db`` with the ``-wal`` triage read beside it, are members
under ``data/evidence/`` (streamed and checked like any selected file), each message names
its source member, and a source holding a message tagged sensitive is listed with its
hashes only.

The evidence is real: a msgstore.db left with a write-ahead log by a process killed inside a
transaction (the builder of tests/extractors/chat/test_phone_db_journals.py), and two
WhatsApp text exports, in a folder triaged by the CLI.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from tests.extractors.chat.test_phone_db_journals import DB_DIR, wal_db

CHAT_PLAIN = ("14/03/2021, 21:06 - Recruiter: Are you looking for work?\n"
              "14/03/2021, 21:07 - Maria: Who is this?\n"
              "14/03/2021, 21:08 - Recruiter: Good pay, travel paid\n")
CHAT_PRIVATE = ("15/03/2021, 09:00 - Maria: my mother's address is 12 Elm Row\n"
                "15/03/2021, 09:01 - Sister: ok, meeting at the station\n")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as zf:
        return {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


def _jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from forensic.cli.main import main

    def cli(*args) -> int:
        return main([str(a) for a in args])

    tmp = tmp_path_factory.mktemp("sources")
    phone = tmp / "phone"
    db = wal_db(phone / DB_DIR)
    (phone / "Download").mkdir()
    (phone / "Download" / "WhatsApp Chat with Recruiter.txt").write_text(CHAT_PLAIN, "utf-8")
    (phone / "Download" / "WhatsApp Chat with Sister.txt").write_text(CHAT_PRIVATE, "utf-8")
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", "SRC-1", "--examiner", "Ada") == 0
    assert cli("evidence", "add", phone, "--case", case, "--id", "phone") == 0
    assert cli("triage", "--case", case) in (0, 3)
    return {"tmp": tmp, "phone": phone, "db": db, "case": case}


def _messages(forensic, case: Path) -> list[dict]:
    return forensic("messages", "--case", case, "--json").jsonl()


def _tag(case: dict, forensic) -> None:
    """Tag "court": 3 messages of the database, 2 of the recruiter's chat, 1 of the sister's; the
    sister's other message (not exported) is sensitive, so her chat file is withheld. Tagging is
    idempotent, so each test tags (tests run in any order on the shared case)."""
    msgs = _messages(forensic, case["case"])
    from_db = [m for m in msgs if m["source"]["path"].endswith("msgstore.db")][:3]
    plain = [m for m in msgs if m["source"]["path"].endswith("Recruiter.txt")][:2]
    private = [m for m in msgs if m["source"]["path"].endswith("Sister.txt")]
    assert len(from_db) == 3 and len(plain) == 2 and len(private) == 2
    forensic("tag", "add", "--case", case["case"], "--tag", "court",
             *(f"message:{m['record_id']}" for m in from_db + plain + private[1:]))
    forensic("tag", "add", "--case", case["case"], "--tag", "private", "--sensitive",
             f"message:{private[0]['record_id']}")


def test_sources_exported_with_the_messages(case, forensic, tmp_path):
    _tag(case, forensic)
    bundle = tmp_path / "b.zip"
    out = forensic("export", "--case", case["case"], "--out", bundle, "--tag", "court", "--no-pdf", "--json").json()
    assert out["messages"] == 6 and out["message_sources"] == 3      # msgstore.db, its -wal, Recruiter.txt
    got = _members(bundle)
    db = case["db"]
    wal = Path(str(db) + "-wal")
    evidence = {k: v for k, v in got.items() if k.startswith("data/evidence/")}
    by_name = {k.rsplit("/", 1)[1]: (k, v) for k, v in evidence.items()}
    # the bytes as found, the database with the log triage replayed; the -shm index is no source
    assert by_name["msgstore.db"][1] == db.read_bytes()
    assert by_name["msgstore.db-wal"][1] == wal.read_bytes()
    assert by_name["WhatsApp Chat with Recruiter.txt"][1] == CHAT_PLAIN.encode()
    assert "msgstore.db-shm" not in by_name and "WhatsApp Chat with Sister.txt" not in by_name
    blob = b"".join(got.values())
    assert b"12 Elm Row" not in blob                        # nothing of the withheld source's bytes
    manifest = {line.split("  ", 1)[1]: line.split("  ", 1)[0]
                for line in got["manifest-sha256.txt"].decode().splitlines()}
    files = {f["path"]: f for f in _jsonl(got["data/files.jsonl"])}
    db_row = files["/" + DB_DIR + "/msgstore.db"]
    wal_row = files["/" + DB_DIR + "/msgstore.db-wal"]
    assert db_row["message_source"] == {"messages": 3, "companion_of": None}
    assert wal_row["message_source"] == {"messages": 3, "companion_of": db_row["locator"]}
    assert manifest[db_row["bag_path"]] == db_row["sha256"] == sha(db.read_bytes())
    assert manifest[wal_row["bag_path"]] == wal_row["sha256"] == sha(wal.read_bytes())
    sister = files["/Download/WhatsApp Chat with Sister.txt"]
    assert sister["withheld"] is True and sister["bag_path"] is None
    assert sister["sha256"] == sha(CHAT_PRIVATE.encode()) and "sensitive" in sister["withheld_reason"]
    # each message names the member it was read from, whose manifest hash is its source's
    rows = _jsonl(got["data/messages.jsonl"])
    assert len(rows) == 6
    for r in rows:
        member = r["source"]["member"]
        if r["source"]["path"].endswith("Sister.txt"):
            assert member is None and r["withheld"] is False      # the message itself is not sensitive
        else:
            assert manifest[member] == r["source"]["sha256"]
    assert {r["source"]["member"] for r in rows if r["source"]["path"].endswith("msgstore.db")} == \
        {db_row["bag_path"]}
    rep = forensic("verify-bundle", bundle, "--json", expect=5).json()   # intact, unsigned
    assert rep["intact"] is True and rep["problems"] == []


def test_sensitive_source_included_on_request(case, forensic, tmp_path):
    _tag(case, forensic)
    bundle = tmp_path / "s.zip"
    forensic("export", "--case", case["case"], "--out", bundle, "--tag", "court", "--no-pdf",
             "--include-sensitive", "--json")
    got = _members(bundle)
    names = {k.rsplit("/", 1)[1]: v for k, v in got.items() if k.startswith("data/evidence/")}
    assert names["WhatsApp Chat with Sister.txt"] == CHAT_PRIVATE.encode()


def test_all_messages_of_an_item(case, forensic, tmp_path):
    _tag(case, forensic)
    out = forensic("export", "--case", case["case"], "--out", tmp_path / "m.zip", "--item", "phone",
                   "--type", "messages", "--no-pdf", "--json").json()
    # msgstore.db, its -wal and the recruiter's chat; the sister's chat is listed, withheld
    assert out["files"] == out["message_sources"] == 3 and out["withheld"] == 2    # the chat file, 1 message


def test_a_message_pointing_at_another_member_fails_verification(case, forensic, tmp_path):
    _tag(case, forensic)
    from forensic.exporters import bagit
    bundle = tmp_path / "v.zip"
    forensic("export", "--case", case["case"], "--out", bundle, "--tag", "court", "--no-pdf")
    with zipfile.ZipFile(bundle) as zf:
        items = [[n, zf.read(n)] for n in zf.namelist()]
    d = dict(items)
    root = items[0][0].split("/", 1)[0] + "/"
    rows = _jsonl(d[root + "data/messages.jsonl"])
    chat = next(r["source"]["member"] for r in rows if r["source"]["path"].endswith("Recruiter.txt"))
    for r in rows:                            # the database's messages now say they came from the chat export
        if r["source"]["path"].endswith("msgstore.db"):
            r["source"]["member"] = chat
    forged = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
                     for r in rows).encode()
    # the manifests made again, as a careful forger would (the bundle is not signed)
    man = bagit.parse_manifest(d[root + "manifest-sha256.txt"])
    man["data/messages.jsonl"] = sha(forged)
    d[root + "data/messages.jsonl"] = forged
    d[root + "manifest-sha256.txt"] = bagit.manifest_text(man.items())
    tm = bagit.parse_manifest(d[root + "tagmanifest-sha256.txt"])
    tm["manifest-sha256.txt"] = sha(d[root + "manifest-sha256.txt"])
    d[root + "tagmanifest-sha256.txt"] = bagit.manifest_text(tm.items())
    bad = tmp_path / "forged.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, _ in items:
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), d[name])
    rep = forensic("verify-bundle", bad, "--json", expect=4).json()
    wrong = [p for p in rep["problems"] if "as the file message" in p]
    assert len(wrong) == 3 and all(repr(chat) in p and "stores another file there" in p for p in wrong)


def test_a_hot_journal_goes_with_its_database(forensic, tmp_path):
    from tests.extractors.chat.test_phone_db_journals import hot_journal
    phone = tmp_path / "phone"
    db = hot_journal(phone / DB_DIR)
    journal = Path(str(db) + "-journal")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "SRC-2", "--examiner", "Ada")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=3)         # the journal rolled back: a warning
    bundle = tmp_path / "j.zip"
    out = forensic("export", "--case", case, "--out", bundle, "--type", "messages", "--no-pdf", "--json").json()
    assert out["message_sources"] == 2 and out["messages"] == 214      # 200 committed, 14 flagged
    got = _members(bundle)
    by_name = {k.rsplit("/", 1)[1]: v for k, v in got.items() if k.startswith("data/evidence/")}
    assert by_name == {"msgstore.db": db.read_bytes(), "msgstore.db-journal": journal.read_bytes()}
    files = {f["path"].rsplit("/", 1)[1]: f for f in _jsonl(got["data/files.jsonl"])}
    assert files["msgstore.db-journal"]["message_source"]["companion_of"] == files["msgstore.db"]["locator"]


def test_companions_are_those_triage_reads():
    from forensic.exporters.selection import COMPANION_SUFFIXES
    from forensic.extractors.sqlite_journal import SUFFIXES
    assert set(COMPANION_SUFFIXES) == set(SUFFIXES)
