"""WhatsApp Android msgstore.db: deleted messages recovered from free space (current
``message`` and legacy ``messages`` schemas), and LID-keyed chats and senders resolved to the
phone-number jid through ``jid_map``. Databases built here with the app's schema; the
recovered rows are checked against what was inserted and deleted."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.whatsapp_db import WhatsAppDbExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from tests.extractors.chat.test_phone_dbs import WA_CONTACTS, WA_CURRENT, WA_LEGACY

WA = WhatsAppDbExtractor()
T0 = 1700000000000
PATH = "/data/data/com.whatsapp/databases/msgstore.db"
JID_MAP = """
CREATE TABLE jid_map (lid_row_id INTEGER PRIMARY KEY NOT NULL, jid_row_id INTEGER NOT NULL, sort_id INTEGER);
"""
JIDS = [(1, "34600111222", "s.whatsapp.net", 0, 0, 0, "34600111222@s.whatsapp.net"),
        (2, "120363000000000001", "g.us", 0, 0, 1, "120363000000000001@g.us"),
        (3, "447700900000", "s.whatsapp.net", 0, 0, 0, "447700900000@s.whatsapp.net"),
        (4, "187654321098765", "lid", 0, 0, 0, "187654321098765@lid"),      # 447700900000's LID
        (5, "155555555555555", "lid", 0, 0, 0, "155555555555555@lid"),      # 34600111222's LID
        (6, "199999999999999", "lid", 0, 0, 0, "199999999999999@lid")]      # a LID with no mapping


def _extract(db: Path) -> tuple[list[dict], list[dict], list[str]]:
    data = db.read_bytes()
    out = list(WA.extract(ExtractorInput(PATH, db.name, "application/vnd.sqlite3", len(data), data)))
    recs = [r.fields for r in out if isinstance(r, ArtifactRecord)]
    return ([f for f in recs if not f.get("recovered")], [f for f in recs if f.get("recovered")],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def _db(path: Path, script: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA page_size=1024; PRAGMA secure_delete=OFF; PRAGMA auto_vacuum=NONE;" + script)
    return db


def build_msgstore(path: Path) -> tuple[list[tuple], list[int]]:
    """A current-schema msgstore.db (jid, jid_map, chat, message) at ``path`` with 120
    messages, some then deleted: (the rows inserted, the ids deleted)."""
    db = _db(path, WA_CURRENT + JID_MAP)
    db.execute("BEGIN")
    db.executemany("INSERT INTO jid VALUES (?,?,?,?,?,?,?)", JIDS)
    db.executemany("INSERT INTO jid_map VALUES (?,?,0)", [(4, 3), (5, 1)])
    # chat 1: one-to-one keyed by a LID (5 -> 34600111222); chat 2: a group; chat 3: an unmapped LID
    db.executemany("INSERT INTO chat VALUES (?,?,0,?,0)", [(1, 5, None), (2, 2, "Crew"), (3, 6, None)])
    msgs = []
    for i in range(1, 121):
        chat = 1 + i % 3
        sender = (4 if i % 2 else 1) if chat == 2 else None        # group senders: a LID or a phone jid
        msgs.append((i, chat, i % 5 == 0, f"KEY{i:04d}", sender, 0, 0, 0, 0, T0 + i * 60000, 0, 0, 0,
                     f"message {i} " + "z" * (i % 30), 0, 0, i))
    db.executemany(f"INSERT INTO message VALUES ({','.join('?' * 17)})", msgs)
    db.execute("COMMIT")
    gone = [7, 8, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 90]
    db.execute("BEGIN")
    db.executemany("DELETE FROM message WHERE _id = ?", [(i,) for i in gone])
    db.execute("COMMIT")
    db.close()
    return msgs, gone


def test_current_schema_deleted_messages_recovered_and_lids_resolved(tmp_path):
    msgs, gone = build_msgstore(tmp_path / "msgstore.db")
    live, recovered, warnings = _extract(tmp_path / "msgstore.db")
    assert len(live) == 120 - len(gone) and not any("recovered" in f for f in live)
    by_body = {m[13]: m for m in msgs}
    found = set()
    for f in recovered:
        row = by_body[f["body"]]                    # every recovered record is a message that was inserted...
        assert row[0] in gone, f"live row {row[0]} reported as recovered"       # ...and deleted
        assert f["key_id"] == row[3] and f["direction"] == ("outgoing" if row[2] else "incoming")
        assert f["recovered"] == "deleted" and f["source"]["in"] in ("freelist", "freeblock", "unallocated")
        assert f["source"]["table"] == "message" and f["platform"] == "whatsapp"
        found.add(row[0])
    assert len(found) == len(recovered) >= 10, (sorted(found), warnings)
    assert sum("deleted rows recovered" in w for w in warnings) == 1

    every = live + recovered
    one = next(f for f in every if f["body"].startswith("message 1 "))         # chat 2, LID sender 4
    assert one["sender"] == "447700900000@s.whatsapp.net" and one["sender_lid"] == "187654321098765@lid"
    assert one["conversation"]["group"] and "447700900000@s.whatsapp.net" in one["participants"]
    assert "187654321098765@lid" not in one["participants"]
    two = next(f for f in every if f["body"].startswith("message 4 "))         # chat 2, phone sender 1
    assert two["sender"] == "34600111222@s.whatsapp.net" and "sender_lid" not in two
    lid_chat = next(f for f in every if f["body"].startswith("message 3 "))    # chat 1, keyed by LID 5
    assert lid_chat["conversation"]["id"] == "34600111222@s.whatsapp.net"
    assert lid_chat["chat_jid"] == "34600111222@s.whatsapp.net" and lid_chat["chat_lid"] == "155555555555555@lid"
    assert lid_chat["sender"] == "34600111222@s.whatsapp.net" and lid_chat["sender_lid"] == "155555555555555@lid"
    unmapped = next(f for f in every if f["body"].startswith("message 2 "))    # chat 3, LID without a mapping
    assert unmapped["conversation"]["id"] == "199999999999999@lid" and "chat_lid" not in unmapped
    # a recovered message resolves its LID sender like a live one
    assert any(f["sender_lid"] == "187654321098765@lid" for f in recovered if "sender_lid" in f)


def test_legacy_schema_deleted_messages_recovered(tmp_path):
    db = _db(tmp_path / "msgstore.db", WA_LEGACY)
    db.execute("BEGIN")
    rows = [(i, "34600111222@s.whatsapp.net", i % 2, f"L{i}", 0, 0, f"legacy text {i} " + "q" * (i % 25),
             T0 + i * 1000, None, None, "0", 0, None, None, None, 0, 0, 0, 0, None, None, 0, 0, 0, 0, None, 0, 0,
             None) for i in range(1, 81)]
    db.executemany(f"INSERT INTO messages VALUES ({','.join('?' * 29)})", rows)
    db.execute("COMMIT")
    gone = list(range(20, 36))
    db.execute("BEGIN")
    db.executemany("DELETE FROM messages WHERE _id = ?", [(i,) for i in gone])
    db.execute("COMMIT")
    db.close()
    live, recovered, warnings = _extract(tmp_path / "msgstore.db")
    assert len(live) == 80 - len(gone)
    texts = {r[6]: r[0] for r in rows}
    got = {texts[f["body"]] for f in recovered}
    assert got <= set(gone) and len(got) == len(recovered) >= 4, warnings
    assert all(f["source"]["table"] == "messages" and f["key_id"] == f"L{texts[f['body']]}" for f in recovered)


def test_hostile_jid_map_is_not_fatal(tmp_path):
    db = _db(tmp_path / "msgstore.db", WA_CURRENT + "CREATE TABLE jid_map (lid_row_id, jid_row_id);")
    db.executemany("INSERT INTO jid VALUES (?,?,?,?,?,?,?)", JIDS[:4])
    db.executemany("INSERT INTO jid_map VALUES (?,?)", [(4, "x"), (None, 3), (4, 4), (b"\x00", 1)])
    db.execute("INSERT INTO chat VALUES (1, 4, 0, NULL, 0)")
    db.execute("INSERT INTO message VALUES (1, 1, 0, 'K', NULL, 0, 0, 0, 0, ?, 0, 0, 0, 'hi', 0, 0, 1)", (T0,))
    db.close()
    live, recovered, warnings = _extract(tmp_path / "msgstore.db")
    assert [f["conversation"]["id"] for f in live] == ["187654321098765@lid"] and recovered == []


def test_deleted_wa_db_contacts_recovered(tmp_path):
    db = _db(tmp_path / "wa.db", WA_CONTACTS)
    db.execute("BEGIN")
    people = [(i, f"3460000{i:04d}@s.whatsapp.net", 1, None, f"+3460000{i:04d}", f"Person {i} " + "n" * (i % 20),
               None) for i in range(1, 81)]
    db.executemany("INSERT INTO wa_contacts VALUES (?,?,?,?,?,?,?)", people)
    db.execute("COMMIT")
    gone = list(range(30, 45))
    db.execute("BEGIN")
    db.executemany("DELETE FROM wa_contacts WHERE _id = ?", [(i,) for i in gone])
    db.execute("COMMIT")
    db.close()
    data = (tmp_path / "wa.db").read_bytes()
    out = list(WA.extract(ExtractorInput("/data/data/com.whatsapp/databases/wa.db", "wa.db",
                                         "application/vnd.sqlite3", len(data), data)))
    recs = [r for r in out if isinstance(r, ArtifactRecord)]
    assert {r.record_type for r in recs} == {"contact/whatsapp"}
    live = [r.fields for r in recs if not r.fields.get("recovered")]
    found = [r.fields for r in recs if r.fields.get("recovered") == "deleted"]
    assert len(live) == 80 - len(gone) and found
    by_jid = {p[1]: p for p in people}
    assert all(by_jid[f["jid"]][0] in gone and f["display_name"] == by_jid[f["jid"]][5] for f in found)
