"""The sample's SMS database left with a hot journal: the phone died inside a transaction.

``mmssms.db`` holds the committed threads and, in its file, a new thread the phone was saving
when it died; ``mmssms.db-journal`` holds the pages that transaction replaced. What SQLite makes
of the pair is checked with the sqlite3 command-line tool on copies; triage must report the
committed messages and flag the others; ``training check`` must grade both, and say why when a
case gets them wrong."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import require_tools
from forensic.training import formats
from forensic.training.build import EXTRACTION_PREFIX, _nonce, layout
from forensic.training.story import SCENARIOS

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
MAGIC = bytes.fromhex("d9d505f920a163d7")
SMS = "SELECT _id, address, date_sent, body FROM sms ORDER BY _id"


def _files(seed: int, scenario: str):
    lay = layout(seed, scenario)
    hj = lay.hot_journal
    files = {f.rel: f.data for f in lay.phone}
    return lay, hj, files[hj.db_rel], files[hj.journal_rel]


def _sqlite(folder: Path, db: bytes, journal: bytes | None, sql: str) -> list[tuple]:
    """Rows the reference tool reads from a copy of the database, with the journal beside it or not."""
    require_tools("sqlite3")
    folder.mkdir(parents=True)
    (folder / "mmssms.db").write_bytes(db)
    if journal is not None:
        (folder / "mmssms.db-journal").write_bytes(journal)
    out = subprocess.run(["sqlite3", "-separator", "\t", str(folder / "mmssms.db"), sql], check=True,
                         capture_output=True, text=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines()]


def _rows(chats) -> list[tuple]:
    out = []
    for chat in chats:
        for m in chat.messages:
            out.append((chat.other, str(int(m.utc.timestamp()) * 1000 if m.incoming else 0), m.body))
    return out


@pytest.mark.parametrize("seed,scenario", [(7, "balkan-route"), (3, "atlantic-route")])
def test_sqlite_rolls_the_journal_back_to_the_committed_messages(tmp_path, seed, scenario):
    lay, hj, db, journal = _files(seed, scenario)
    committed = _sqlite(tmp_path / "with-journal", db, journal, SMS)
    as_found = _sqlite(tmp_path / "alone", db, None, SMS)
    assert [r[1:] for r in committed] == _rows(hj.committed)
    assert [r[1:] for r in as_found] == _rows(hj.committed) + _rows([hj.interrupted.chat])
    # the rollback restored the committed database exactly, and SQLite deleted the journal
    assert (tmp_path / "with-journal" / "mmssms.db").read_bytes() == formats.mmssms_db(hj.committed, hj.deleted)
    assert not (tmp_path / "with-journal" / "mmssms.db-journal").exists()
    threads = _sqlite(tmp_path / "threads", db, journal, "SELECT _id FROM threads ORDER BY _id")
    assert threads == [("1",), ("2",)]


def test_journal_is_sqlites_format_with_a_nonce_from_the_seed():
    from forensic.extractors.sqlite_journal import check_journal
    lay, hj, db, journal = _files(7, "balkan-route")
    assert journal[:8] == MAGIC
    records, nonce, db_pages, sector, page = struct.unpack(">5I", journal[8:28])
    assert nonce == _nonce(7, hj.db_rel) and (sector, page) == (4096, 4096)
    assert journal[28:sector] == b"\0" * (sector - 28)
    assert len(journal) == sector + records * (page + 8) and records >= 2
    committed = formats.mmssms_db(hj.committed, hj.deleted)
    assert db_pages == len(committed) // page
    for k in range(records):
        at = sector + k * (page + 8)
        number = int.from_bytes(journal[at:at + 4], "big")
        original = journal[at + 4:at + 4 + page]
        assert original == committed[(number - 1) * page:number * page]            # the page it replaced
        assert original != db[(number - 1) * page:number * page]
        assert int.from_bytes(journal[at + 4 + page:at + 8 + page], "big") == \
            (nonce + sum(original[i] for i in range(page - 200, 0, -200))) & 0xFFFFFFFF
    check = check_journal(io.BytesIO(journal), len(journal))
    assert check.hot and check.problem is None and len(check.pages) == records
    assert _files(8, "balkan-route")[3][12:16] != journal[12:16]                  # another seed, another nonce


def test_same_seed_same_database_and_journal_in_another_process():
    """No clock, no random nonce, no hash order: another interpreter makes the same bytes."""
    _, _, db, journal = _files(7, "balkan-route")
    code = ("import hashlib; from forensic.training.build import layout; lay = layout(7); hj = lay.hot_journal; "
            "f = {x.rel: x.data for x in lay.phone}; "
            "print(hashlib.sha256(f[hj.db_rel] + f[hj.journal_rel]).hexdigest())")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    assert out.strip() == hashlib.sha256(db + journal).hexdigest()


def test_every_scenario_has_the_case():
    for name in SCENARIOS:
        lay = layout(5, name)
        rels = {f.rel for f in lay.phone}
        assert lay.hot_journal is not None and {lay.hot_journal.db_rel, lay.hot_journal.journal_rel} <= rels
        members = {m[0] for m in lay.extraction_members}
        assert EXTRACTION_PREFIX + lay.hot_journal.journal_rel in members


# -- a triaged sample -------------------------------------------------------------------------------

def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory):
    """A sample (seed 7) triaged whole; and a case of its logical extraction with the journal
    removed before triage, graded against the key with that evidence's hash."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("hot-journal")
    sample, case = root / "sample", root / "case"
    assert _cli("sample-image", sample, "--seed", "7", "--quiet") == 0
    assert _cli("case", "init", case, "--case-id", "HJ-7", "--examiner", "T", "--quiet") == 0
    for name in ("phone.raw", "card.raw", "extraction.zip"):
        assert _cli("evidence", "add", sample / name, "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)

    stripped = root / "extraction-without-journal.zip"
    with zipfile.ZipFile(sample / "extraction.zip") as src, zipfile.ZipFile(stripped, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("mmssms.db-journal"):
                dst.writestr(info, src.read(info))
    bare = root / "case-without-journal"
    assert _cli("case", "init", bare, "--case-id", "HJ-7b", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", stripped, "--case", bare, "--quiet") == 0
    assert _cli("triage", "--case", bare, "--quiet") in (0, 3)
    key = json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))
    key["items"]["extraction"]["sha256"] = hashlib.sha256(stripped.read_bytes()).hexdigest()
    bare_key = root / "answer-key-without-journal.json"
    bare_key.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    return {"sample": sample, "case": case, "bare": bare, "bare_key": bare_key}


def test_triage_reports_the_committed_messages_and_flags_the_uncommitted(forensic, sample_case):
    lay = layout(7)
    hj = lay.hot_journal
    messages = forensic("messages", "--case", sample_case["case"], "--platform", "sms", "--json").jsonl()
    for item in ("phone.raw", "extraction.zip"):
        # the committed and uncommitted rows (the deleted row recovered from free space is another case)
        mine = [m for m in messages if m["item"] == item and not m.get("recovered")]
        states = {(m["body"], m["sent_at_utc"]): m["db_state"] for m in mine}
        assert len(states) == len(mine)
        want = {(m.body, m.utc.strftime("%Y-%m-%dT%H:%M:%SZ")): "committed" for c in hj.committed for m in c.messages}
        want.update({(m.body, m.utc.strftime("%Y-%m-%dT%H:%M:%SZ")): "uncommitted"
                     for m in hj.interrupted.chat.messages})
        assert states == want, item
        for m in mine:
            if m["db_state"] == "uncommitted":
                assert m["sender"] == hj.interrupted.chat.other and m["source"]["table"] == "sms"
                assert m["received_at"] == hj.interrupted.stored.strftime("%Y-%m-%dT%H:%M:%SZ")   # stored as it died
    warnings = forensic("warnings", "--case", sample_case["case"], "--json").jsonl()
    told = [w["message"] for w in warnings if w["stage"] == "extract:android_sms"
            and "deleted rows recovered" not in w["message"]]                        # that one, nothing else
    assert told == ["mmssms.db: hot journal mmssms.db-journal (a transaction left unfinished) rolled back: 3 "
                    "records found only in the uncommitted state are flagged db_state 'uncommitted'; 0 committed "
                    "records are not in that state"] * 2


def _results(case_dir: Path, key_path: Path) -> dict:
    from forensic.case import Case
    from forensic.training.check import check_case, load_key
    case = Case.open(case_dir)
    try:
        report = check_case(case, load_key(key_path), str(key_path))
    finally:
        case.close()
    return {r.fact["id"]: r for r in report.results}


def test_check_grades_the_new_facts_on_a_correct_case(sample_case):
    results = _results(sample_case["case"], sample_case["sample"] / "answer-key.json")
    mine = {i: r for i, r in results.items() if r.fact["kind"] in ("db_committed", "db_uncommitted")}
    assert sorted(r.fact["kind"] for r in mine.values()) == ["db_committed"] * 2 + ["db_uncommitted"] * 6
    assert {i: r.status for i, r in mine.items()} == {i: "found" for i in mine}
    assert {r.detail for r in mine.values()} == {"7 committed messages", "flagged db_state 'uncommitted'"}
    journal = [r for r in results.values() if r.fact["kind"] == "file_present"
               and r.fact["expected"]["path"].endswith("mmssms.db-journal")]
    assert [r.status for r in journal] == ["found", "found"]


def test_check_fails_the_uncommitted_facts_when_the_journal_was_removed(forensic, sample_case):
    report = forensic("training", "check", sample_case["bare_key"], "--case", sample_case["bare"],
                      "--json").json()
    wrong = {w["id"]: w for w in report["wrong"]}
    uncommitted = [i for i in wrong if i.startswith("db_uncommitted-")]
    assert len(uncommitted) == 3 and all(wrong[i]["item"] == "extraction" for i in uncommitted)
    for i in uncommitted:
        detail = wrong[i]["detail"]
        assert detail.startswith("reported as an ordinary message (db_state not set), not flagged 'uncommitted' — ")
        assert "hot journal (mmssms.db-journal): the phone died in the middle of a transaction" in detail
        assert "It is evidence too" in detail and "flagged db_state 'uncommitted'" in detail
    # the committed messages are all there, as usual: that fact is kept
    assert not any(f["id"].startswith("db_committed-") for f in report["wrong"] + report["missed"]
                   if f["item"] == "extraction")
    text = forensic("training", "check", sample_case["bare_key"], "--case", sample_case["bare"]).out
    line = next(x for x in text.splitlines() if x.startswith("WRONG    db_uncommitted-05 "))
    # the trainer guide quotes that line (wrapped): it is what the check says
    guide = (Path(__file__).resolve().parents[2] / "docs" / "trainer-guide.md").read_text(encoding="utf-8")
    quoted = re.search(r"```\n(WRONG    db_uncommitted-05 .*?)```", guide, re.S).group(1)
    assert " ".join(quoted.split()) == " ".join(line.split())


def test_check_fails_the_committed_fact_when_committed_messages_are_missed(sample_case, tmp_path):
    """A case lacking a committed message (here: the key asks for one the case does not hold)
    loses the fact, with what is missing and why."""
    key = json.loads((sample_case["sample"] / "answer-key.json").read_text(encoding="utf-8"))
    fact = next(f for f in key["facts"] if f["kind"] == "db_committed" and f["item"] == "phone")
    fact["expected"]["messages"][0]["sent_utc"] = "2000-01-01T00:00:00Z"
    everything = next(f for f in key["facts"] if f["kind"] == "db_committed" and f["item"] == "extraction")
    for m in everything["expected"]["messages"]:
        m["body_contains"] = "never sent " + m["body_contains"]
    tampered = tmp_path / "key.json"
    tampered.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    results = _results(sample_case["case"], tampered)
    one, all_ = results[fact["id"]], results[everything["id"]]
    assert one.status == "wrong" and one.detail.startswith("1 of 7 committed messages not found (ROAMING at "
                                                           "2000-01-01T00:00:00Z: ")
    assert all_.status == "missed" and all_.detail.startswith("none of its 7 committed messages found")
    for r in (one, all_):
        assert "Its committed state (the database with the journal rolled back" in r.detail
