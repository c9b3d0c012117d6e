"""A threat deleted from the phone's SMS database, its row left in the page's free space
(secure_delete off, as on Android): sqlite3 does not show it, its bytes are still in the file;
triage recovers it marked ``recovered: "deleted"`` with its page and offset; ``training check``
grades it and, for a copy of the database that lost its free space (VACUUMed), says why it
matters."""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import require_tools
from forensic.training import formats
from forensic.training.answer_key import SEARCH_KINDS
from forensic.training.build import EXTRACTION_PREFIX, layout
from forensic.training.story import SCENARIOS

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SEED = 17


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_row_is_gone_for_sqlite_and_its_bytes_are_in_the_file(tmp_path, scenario):
    require_tools("sqlite3")
    lay = layout(SEED, scenario)
    hj = lay.hot_journal
    chat, gone = hj.deleted
    assert chat is lay.story.chats[5] and gone not in chat.messages
    assert chat.messages[0].utc < gone.utc < chat.messages[1].utc
    committed = formats.mmssms_db(hj.committed, hj.deleted)
    (tmp_path / "mmssms.db").write_bytes(committed)
    out = subprocess.run(["sqlite3", tmp_path / "mmssms.db", "SELECT _id, body FROM sms WHERE thread_id = 2"],
                         check=True, capture_output=True, text=True).stdout
    ids = [int(line.split("|")[0]) for line in out.splitlines()]
    assert gone.body not in out and len(ids) == len(chat.messages)
    assert ids[1] - ids[0] == 2                                  # the deleted row's _id is the gap
    assert gone.body.encode("utf-8") in committed                 # still in the page's free space


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory):
    """The sample (seed 17): its phone triaged; and an extraction whose mmssms.db is a VACUUMed
    copy (the journal rolled back, free space dropped), as a tool exporting through SQLite gives."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("deleted-sms")
    sample, case = root / "sample", root / "case"
    assert _cli("sample-image", sample, "--seed", SEED, "--quiet") == 0
    assert _cli("case", "init", case, "--case-id", "DS-17", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", sample / "phone.raw", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)

    hj = layout(SEED).hot_journal
    db_name, journal_name = EXTRACTION_PREFIX + hj.db_rel, EXTRACTION_PREFIX + hj.journal_rel
    work = root / "vacuum"
    work.mkdir()
    with zipfile.ZipFile(sample / "extraction.zip") as src:
        (work / "mmssms.db").write_bytes(src.read(db_name))
        (work / "mmssms.db-journal").write_bytes(src.read(journal_name))
        conn = sqlite3.connect(work / "mmssms.db")            # rolls the hot journal back
        conn.execute("VACUUM")
        conn.close()
        vacuumed = (work / "mmssms.db").read_bytes()
        weaker = root / "extraction-vacuumed.zip"
        with zipfile.ZipFile(weaker, "w") as dst:
            for info in src.infolist():
                if info.filename == journal_name:
                    continue
                dst.writestr(info, vacuumed if info.filename == db_name else src.read(info))
    shutil.rmtree(work)
    bare = root / "case-vacuumed"
    assert _cli("case", "init", bare, "--case-id", "DS-17b", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", weaker, "--case", bare, "--quiet") == 0
    assert _cli("triage", "--case", bare, "--quiet") in (0, 3)
    key = json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))
    key["items"]["extraction"]["sha256"] = hashlib.sha256(weaker.read_bytes()).hexdigest()
    bare_key = root / "answer-key-vacuumed.json"
    bare_key.write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    return {"sample": sample, "case": case, "bare": bare, "bare_key": bare_key}


def test_triage_recovers_it_and_the_check_grades_it(forensic, sample_case):
    _, gone = layout(SEED).hot_journal.deleted
    got = [m for m in forensic("messages", "--case", sample_case["case"], "--platform", "sms", "--json").jsonl()
           if m.get("recovered")]
    assert [(m["body"], m["sender"], m["recovered"]) for m in got] == [(gone.body, gone.sender, "deleted")]
    assert got[0]["sent_at_utc"] == gone.utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert isinstance(got[0]["source"]["page"], int) and isinstance(got[0]["source"]["offset"], int)
    report = forensic("training", "check", sample_case["sample"] / "answer-key.json", "--case", sample_case["case"],
                      "--json", expect=None).json()
    assert [f for f in report["missed"] + report["wrong"] if f["item"] == "phone"
            and f["kind"] not in ("report_finding", "pseudonymised_export", "bundle_sources", "place_export",
                                  "known_bad_file", "known_good_count", *SEARCH_KINDS)] == []  # no export, set, search
    key = json.loads((sample_case["sample"] / "answer-key.json").read_text(encoding="utf-8"))
    assert [f["item"] for f in key["facts"] if f["kind"] == "deleted_message"
            and f["expected"]["platform"] == "sms"] == ["phone", "extraction"]


def test_a_vacuumed_copy_misses_it_with_the_feedback(forensic, sample_case):
    report = forensic("training", "check", sample_case["bare_key"], "--case", sample_case["bare"], "--json",
                      expect=None).json()
    missed = [f for f in report["missed"] if f["kind"] == "deleted_message" and f["item"] == "extraction"]
    assert len(missed) == 1
    assert missed[0]["detail"].endswith("(deleted from mmssms.db) — Deleted rows stay in a SQLite database's free "
                                        "pages until overwritten; `forensic messages` marks them recovered (deleted), "
                                        "with the page and offset they came from.")
    # the live conversation is unchanged: the thread still counts its live messages only
    assert not [f for f in report["wrong"] if f["kind"] == "conversation" and f["item"] == "extraction"]


def test_the_trainer_guide_names_the_case():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "trainer-guide.md").read_text(encoding="utf-8")
    assert "`deleted_message`" in guide
