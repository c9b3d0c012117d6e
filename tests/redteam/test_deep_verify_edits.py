"""Red team, issue 18: rows of the case store edited by someone who can write the case
folder, against ``forensic custody verify --deep``.

docs/threat-model.md (what they protect against, 5) says: "A record or file row changed
in the case store ... --deep re-hashes the store and names each row that differs". Each
edit below is made with plain SQLite on a real triaged case. An edit --deep names passes
(a defended attack); an edit it does not name is a strict xfail (a hole, recorded), with
what it changes for the examiner or a court.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import casestore
from builders import tiny_jpeg, write_tree
from redteam.redteam_case import cli, edit_store, phone_tree, query


@pytest.fixture(scope="module")
def triaged_once(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("deep")
    phone = phone_tree(tmp / "phone")
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", "RT-1", "--examiner", "ann").returncode == 0
    assert cli("evidence", "add", phone, "--case", case, "--id", "phone").returncode == 0
    assert cli("triage", "phone", "--case", case).returncode in (0, 3)
    assert cli("custody", "verify", "--deep", "--case", case).returncode == 0
    return case


@pytest.fixture
def case(triaged_once, tmp_path) -> Path:
    copy = tmp_path / "case"
    casestore.copy_case(triaged_once, copy)
    return copy


def deep(case: Path) -> tuple[int, dict]:
    import json
    r = cli("custody", "verify", "--deep", "--case", case, "--json")
    return r.returncode, json.loads(r.stdout)["deep"]


PHOTO = "(SELECT id FROM files WHERE name = 'photo.jpg')"
OTHER = "(SELECT id FROM files WHERE name = 'other.jpg')"

CAUGHT = {
    "file content hash": f"UPDATE files SET sha256 = '{'0' * 64}' WHERE id = {PHOTO}",
    "file deleted flag": f"UPDATE files SET deleted = 1 WHERE id = {PHOTO}",
    "file moved to another item": f"UPDATE files SET item = 'other' WHERE id = {PHOTO}",
    "file locator": f"UPDATE files SET locator = locator || ' ' WHERE id = {PHOTO}",
    "record fields": "UPDATE artifacts SET fields = replace(fields, 'no excuses', 'no worries') "
                     "WHERE fields LIKE '%no excuses%'",
    "record type": "UPDATE artifacts SET record_type = 'photo/other' WHERE file_id = " + PHOTO,
    "record item": "UPDATE artifacts SET item = 'other' WHERE file_id = " + PHOTO,
    "two records' files swapped": f"UPDATE artifacts SET file_id = CASE file_id WHEN {PHOTO} THEN {OTHER} "
                                  f"ELSE {PHOTO} END WHERE file_id IN ({PHOTO}, {OTHER})",
    "file row added above the highest id": "INSERT INTO files(id, item, locator, path, layers, name, kind, "
                                           "sha256) VALUES (9999, 'phone', 'phone › /planted.jpg', "
                                           "'/planted.jpg', '[]', 'planted.jpg', 'file', NULL)",
    "record added above the highest id": "INSERT INTO artifacts(id, item, file_id, record_type, extractor, "
                                         f"fields) VALUES (9999, 'phone', {PHOTO}, 'chat/message', 'x@1', '{{}}')",
    "record deleted": "DELETE FROM artifacts WHERE fields LIKE '%no excuses%'",
}


@pytest.mark.parametrize("edit", sorted(CAUGHT))
def test_deep_verify_names_an_edit_of_what_the_log_states(case, edit):
    assert edit_store(case, CAUGHT[edit]) >= 1
    code, report = deep(case)
    assert code == 4 and not report["ok"], report


def test_deep_verify_names_a_row_deleted_and_inserted_again_under_another_id(case):
    [(fid,)] = query(case, f"SELECT {PHOTO}")
    edit_store(case, "CREATE TEMP TABLE keep AS SELECT * FROM files WHERE name = 'photo.jpg'",
               "UPDATE artifacts SET file_id = NULL WHERE file_id = " + PHOTO,
               "DELETE FROM files WHERE name = 'photo.jpg'",
               "UPDATE keep SET id = 5000", "INSERT INTO files SELECT * FROM keep")
    code, report = deep(case)
    assert code == 4
    assert {"file missing", "file not logged"} <= set(report["problems"]), report
    assert any(m.get("file_id") == fid for m in report["mismatches"])


# Edits named since the leaves carry row_sha256 (whole file rows) and times_sha256 (a
# record's timestamps): each changes what a listing, the timeline or a bundle shows.
ROWS = {
    "file path and name (what `files` and bundles show)":
        f"UPDATE files SET path = '/DCIM/holiday.jpg', name = 'holiday.jpg' WHERE id = {PHOTO}",
    "file modified time (the timeline's fs/modified event)":
        f"UPDATE files SET modified_at = '2019-03-01T10:00:00Z' WHERE id = {PHOTO}",
    "file MIME type (hides a photo from `photos`)":
        f"UPDATE files SET mime = 'text/plain' WHERE id = {PHOTO}",
    "file size":
        f"UPDATE files SET size = 1 WHERE id = {PHOTO}",
    "file allocated flag (unallocated = recovered)":
        f"UPDATE files SET allocated = 0 WHERE id = {PHOTO}",
    "record's time in the timestamps table (the timeline)":
        "UPDATE timestamps SET local = '2023-12-31T23:59:00' WHERE raw = '12/01/2024, 09:17'",
    "record's timestamps deleted (the message leaves the timeline)":
        "DELETE FROM timestamps WHERE raw = '12/01/2024, 09:17'",
}


@pytest.mark.parametrize("edit", sorted(ROWS))
def test_deep_verify_names_an_edit_of_a_whole_row_or_its_times(case, edit):
    assert edit_store(case, ROWS[edit]) >= 1
    code, report = deep(case)
    assert code == 4 and not report["ok"], report


# -- edits --deep does not see ------------------------------------------------------------------
MISSED = {
    "record corrupted flag":
        "UPDATE artifacts SET corrupted = 1 WHERE fields LIKE '%no excuses%'",
    "record warnings column":
        "UPDATE artifacts SET warnings = '[\"the extractor could not read this message\"]' "
        "WHERE fields LIKE '%no excuses%'",
    "record extractor":
        "UPDATE artifacts SET extractor = 'manual@1' WHERE fields LIKE '%no excuses%'",
    "record source_ref":
        "UPDATE artifacts SET source_ref = 'line 99' WHERE fields LIKE '%no excuses%'",
}


@pytest.mark.parametrize("edit", sorted(MISSED))
def test_deep_verify_names_an_edit_of_any_record_column(case, edit):
    assert edit_store(case, MISSED[edit]) >= 1
    code, report = deep(case)
    assert code == 4 and not report["ok"], report


def test_deleted_triage_warnings_pass_deep_verify_a_documented_limit(case):
    """docs/threat-model.md (protects, 5): "Tags, warnings and the chat search index are not
    vouched for by leaves". Recorded so that a change of that limit is seen."""
    assert edit_store(case, "DELETE FROM warnings") >= 1
    code, report = deep(case)
    assert code == 0 and report["ok"]


@pytest.mark.sqlite_only          # SQLite's FTS5 index (PostgreSQL's: tests/cli/test_chats_postgres.py)
def test_a_message_removed_from_the_search_index_is_found_or_named(case, forensic):
    assert "no excuses" in forensic("messages", "--search", "excuses", "--case", case, "--json").out
    edit_store(case, "INSERT INTO messages_fts(messages_fts, rowid, body, sender, title) SELECT 'delete', "
                     "seq, body, sender, title FROM chat_messages WHERE body LIKE '%excuses%'")
    found = "no excuses" in forensic("messages", "--search", "excuses", "--case", case, "--json",
                                     expect=None).out
    code, report = deep(case)
    assert found or code == 4


def test_the_timestamps_edit_really_changes_the_timeline(case, forensic):
    """The timestamps edit above is not cosmetic: the timeline reads that table."""
    before = forensic("timeline", "--case", case, "--json").out
    assert "2024-01-12T09:17" in before
    edit_store(case, ROWS["record's time in the timestamps table (the timeline)"])
    after = forensic("timeline", "--case", case, "--json").out
    assert "2023-12-31T23:59" in after and after != before


# -- rolled-back leaves: a note only when the id is above the store's highest ---------------------

@pytest.fixture
def resumed_case(tmp_path) -> Path:
    """A triage killed at its second batch, then run again to its end (triage.resumed ...
    triage.finished): every row is stored and logged."""
    phone = write_tree(tmp_path / "phone", {f"DCIM/{i:02d}.jpg": tiny_jpeg(b"Cam%d" % i) for i in range(10)})
    case = tmp_path / "case"
    batch = {"FORENSIC_TRIAGE_BATCH": "3"}
    assert cli("case", "init", case, "--case-id", "RT-2", "--examiner", "ann").returncode == 0
    assert cli("evidence", "add", phone, "--case", case, "--id", "phone").returncode == 0
    killed = cli("triage", "phone", "--case", case, env={**batch, "FORENSIC_TEST_TRIAGE_FAULT": "kill:2"})
    assert killed.returncode == -9
    assert cli("triage", "phone", "--case", case, env=batch).returncode in (0, 3)
    code, report = deep(case)
    assert code == 0 and report["ok"], report
    return case


def test_an_edited_row_of_a_once_interrupted_item_is_still_named(resumed_case):
    edit_store(resumed_case, "UPDATE files SET sha256 = NULL WHERE id = (SELECT max(id) FROM files)")
    code, report = deep(resumed_case)
    assert code == 4 and "file changed" in report["problems"]


def test_rows_a_finished_run_stored_cannot_be_deleted_as_rolled_back(resumed_case):
    [(fid,)] = query(resumed_case, "SELECT max(id) FROM files")
    edit_store(resumed_case, f"DELETE FROM timestamps WHERE artifact_id IN (SELECT id FROM artifacts "
                             f"WHERE file_id = {fid})",
               f"DELETE FROM artifacts WHERE file_id = {fid}", f"DELETE FROM files WHERE id = {fid}")
    code, report = deep(resumed_case)
    assert code == 4 and "file missing" in report["problems"], report


# -- the text output with hostile names ----------------------------------------------------------

HOSTILE = ["evil\u202egpj.exe", "red\x1b[31mALERT\x1b[0m.jpg", "two\nlines.jpg", "bell\x07.jpg"]


def test_deep_verify_text_output_escapes_hostile_locators(tmp_path):
    phone = write_tree(tmp_path / "phone", {f"DCIM/{name}": tiny_jpeg() for name in HOSTILE})
    case = tmp_path / "case"
    assert cli("case", "init", case, "--case-id", "RT-3", "--examiner", "ann").returncode == 0
    assert cli("evidence", "add", phone, "--case", case, "--id", "phone").returncode == 0
    assert cli("triage", "phone", "--case", case).returncode in (0, 3)
    edit_store(case, "UPDATE files SET sha256 = NULL WHERE kind = 'file'",
               "INSERT INTO files(id, item, locator, path, layers, name, kind) VALUES (9999, 'phone', "
               "'phone › /x\u202e\x1b[2J\nSTORE MATCHES: all', '/x', '[]', 'x', 'file')")
    r = cli("custody", "verify", "--deep", "--case", case)
    assert r.returncode == 4
    text = r.stdout + r.stderr
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", text), text
    lines = r.stdout.splitlines()
    assert not any(line.startswith("STORE MATCHES") for line in lines), r.stdout
    assert sum(line.startswith("file changed: ") for line in lines) == len(HOSTILE)
    assert sum(line.startswith("file not logged: ") for line in lines) == 1
