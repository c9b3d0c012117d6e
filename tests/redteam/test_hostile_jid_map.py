"""Red team: a WhatsApp msgstore.db whose ``jid_map`` was forged to put one person's messages
under another person's number; see docs/threat-model.md."""
from __future__ import annotations

import sqlite3

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.whatsapp_db import WhatsAppDbExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from tests.extractors.chat.test_phone_dbs import WA_CURRENT

T0 = 1700000000000
JIDS = [(1, "34600111222", "s.whatsapp.net", 0, 0, 0, "34600111222@s.whatsapp.net"),     # the suspect
        (3, "447700900000", "s.whatsapp.net", 0, 0, 0, "447700900000@s.whatsapp.net"),   # the victim
        (4, "187654321098765", "lid", 0, 0, 0, "187654321098765@lid"),
        (7, "187654321098765", "lid", 0, 0, 0, "187654321098765@lid")]   # the same LID, a second row


def test_a_forged_jid_map_cannot_rename_a_phone_number_silently(tmp_path):
    """``jid_map`` rows: suspect's phone jid -> victim's (not a LID at all), and one LID mapped
    to two numbers through a duplicated jid row. The first made every message of the suspect's
    chat read as the victim's, the second picked the last number silently. Only a LID is
    mapped, only to a phone-number jid; a LID mapped twice keeps its first number; each
    refused row is a warning."""
    path = tmp_path / "msgstore.db"
    db = sqlite3.connect(path)
    db.executescript(WA_CURRENT + "CREATE TABLE jid_map (lid_row_id INTEGER, jid_row_id INTEGER, sort_id INTEGER);")
    db.executemany("INSERT INTO jid VALUES (?,?,?,?,?,?,?)", JIDS)
    db.executemany("INSERT INTO jid_map VALUES (?,?,0)", [(1, 3), (4, 3), (7, 1)])
    db.executemany("INSERT INTO chat VALUES (?,?,0,NULL,0)", [(1, 1), (2, 4)])
    db.executemany("INSERT INTO message VALUES (?, ?, 0, ?, NULL, 0, 0, 0, 0, ?, 0, 0, 0, ?, 0, 0, ?)",
                   [(1, 1, "K1", T0, "from the suspect", 1), (2, 2, "K2", T0 + 1000, "from a LID", 2)])
    db.commit()
    db.close()
    data = path.read_bytes()
    out = list(WhatsAppDbExtractor().extract(ExtractorInput("/data/data/com.whatsapp/databases/msgstore.db",
                                                            path.name, "application/vnd.sqlite3", len(data), data)))
    by_body = {r.fields["body"]: r.fields for r in out if isinstance(r, ArtifactRecord)}
    warnings = [w.message for w in out if isinstance(w, ExtractionWarning)]
    suspect = by_body["from the suspect"]
    assert suspect["sender"] == "34600111222@s.whatsapp.net" and "sender_lid" not in suspect
    lid = by_body["from a LID"]
    assert (lid["sender"], lid["sender_lid"]) == ("447700900000@s.whatsapp.net", "187654321098765@lid")
    assert any("34600111222@s.whatsapp.net" in w and "not a LID" in w for w in warnings), warnings
    assert any("187654321098765@lid" in w and "two numbers" in w for w in warnings), warnings
