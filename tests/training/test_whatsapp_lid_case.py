"""WhatsApp's msgstore.db in the sample (current schema: jid, jid_map, chat, message): the
handler's group messages are stored under a privacy id (``@lid``) that ``jid_map`` maps to
their phone-number jid (also in wa.db); two of them were deleted, their rows left in free
space. Triage recovers them with the phone-number sender and ``sender_lid`` kept; ``training
check`` grades them and, for a copy that lost its free space (VACUUMed), says what was missed.
Small cases: an extraction ZIP holding only WhatsApp's two databases, no disk image."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import zipfile

import pytest

from conftest import require_tools
from forensic.training.answer_key import WHATSAPP_DELETED_FEEDBACK, answer_key
from forensic.training.build import EXTRACTION_PREFIX, MSGSTORE_DB, WA_DB, layout

SEED = 21


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def _case(root, name: str, msgstore: bytes, wa: bytes):
    """An extraction ZIP with msgstore.db and wa.db, triaged in a case; the key's WhatsApp facts."""
    out = root / name
    out.mkdir()
    with zipfile.ZipFile(out / "extraction.zip", "w") as z:
        z.writestr(EXTRACTION_PREFIX + MSGSTORE_DB, msgstore)
        z.writestr(EXTRACTION_PREFIX + WA_DB, wa)
    (out / "phone.raw").write_bytes(b"not in this case")
    (out / "card.raw").write_bytes(b"not in this case either")
    key = answer_key(layout(SEED), out, None)
    key["facts"] = [f for f in key["facts"] if f["item"] == "extraction" and f["kind"] == "deleted_message"
                    and "sender_lid" in f["expected"]]
    (out / "answer-key.json").write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    case = out / "case"
    assert _cli("case", "init", case, "--case-id", f"WL-{name}", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", out / "extraction.zip", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    return out


@pytest.fixture(scope="module")
def planted():
    lay = layout(SEED)
    files = {f.rel: f.data for f in lay.phone}
    return lay, files[MSGSTORE_DB], files[WA_DB]


def test_sqlite_does_not_show_the_deleted_rows_and_their_bytes_are_there(planted, tmp_path):
    require_tools("sqlite3")
    lay, msgstore, _ = planted
    wa = lay.story.wa_group
    (tmp_path / "msgstore.db").write_bytes(msgstore)
    out = subprocess.run(["sqlite3", tmp_path / "msgstore.db",
                          "SELECT count(*) FROM message; SELECT raw_string FROM jid JOIN jid_map "
                          "ON jid._id = jid_map.jid_row_id; PRAGMA page_size;"],
                         check=True, capture_output=True, text=True).stdout.split()
    assert out == [str(len(wa.messages) - 2), wa.handler_jid, "1024"]
    for m in wa.deleted:
        assert m.body.encode() in msgstore
    assert layout(SEED).phone == lay.phone                      # same seed, same bytes


def test_recovered_with_the_phone_number_sender_and_graded(forensic, planted, tmp_path, capsys):
    lay, msgstore, wa_db = planted
    wa = lay.story.wa_group
    out = _case(tmp_path, "full", msgstore, wa_db)
    capsys.readouterr()                       # what the commands above printed
    got = [m for m in forensic("messages", "--case", out / "case", "--platform", "whatsapp", "--recovered",
                               "--json").jsonl()]
    assert sorted((m["body"], m["sender"], m["sender_lid"], m["recovered"]) for m in got) == sorted(
        (m.body, wa.handler_jid, wa.handler_lid, "deleted") for m in wa.deleted)
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert report["checked"] == 2 and report["score"] == 100, report


def test_a_vacuumed_copy_misses_them_with_the_feedback(forensic, planted, tmp_path, capsys):
    _, msgstore, wa_db = planted
    (tmp_path / "m.db").write_bytes(msgstore)
    conn = sqlite3.connect(tmp_path / "m.db")
    conn.execute("VACUUM")
    conn.close()
    out = _case(tmp_path, "vacuumed", (tmp_path / "m.db").read_bytes(), wa_db)
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert len(report["missed"]) == 2 and report["score"] == 0
    assert all(f["detail"].endswith("(deleted from msgstore.db) — " + WHATSAPP_DELETED_FEEDBACK)
               for f in report["missed"])
