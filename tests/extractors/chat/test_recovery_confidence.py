"""A deleted row found by scanning a page that has no b-tree header (a freed overflow page, a
freelist trunk, a lost page) is flagged ``recovery_confidence: "low"`` with a note saying why:
nothing on such a page says its bytes were a row, and a freed overflow page holds the text of
a longer row, in which anyone who sent the phone a long message could have planted bytes that
parse as a row. Rows found where a leaf page lays its cells out carry no such flag."""
from __future__ import annotations

import sqlite3

from forensic.extractors.chat.sqlite_chat import HEADERLESS_NOTE

from tests.extractors.chat.test_phone_dbs import ANDROID_SCHEMA, android_rows, build
from tests.redteam.test_hostile_phone_fastpaths import FAKE, _long_sms_rows, _sms_records, forged_sms_cell


def test_a_row_planted_in_a_freed_overflow_page_is_low_confidence(tmp_path):
    cell = forged_sms_cell(tmp_path)
    db = tmp_path / "phone" / "mmssms.db"
    db.parent.mkdir()
    build(db, ANDROID_SCHEMA, _long_sms_rows(cell))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA secure_delete=OFF")
    # the long text edited to another length: its row moves to new overflow pages, the old ones
    # (the planted bytes in them) go to the freelist
    conn.execute("UPDATE sms SET body = body || 'z' WHERE _id = 500")
    conn.commit()
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] >= 2
    conn.close()
    recs, warnings = _sms_records(db)
    planted = [r for r in recs if r["body"] == FAKE]
    assert planted, "the planted cell is expected to parse (the case this flag is for)"
    for r in planted:
        assert r["recovered"] == "deleted" and r["recovery_confidence"] == "low"
        assert HEADERLESS_NOTE in r["recovered_note"] and r["source"]["in"] == "freelist"
    assert any("from pages with no b-tree header: recovery_confidence 'low'" in w for w in warnings)
    live = [r for r in recs if "recovered" not in r]
    assert live and all("recovery_confidence" not in r for r in live)


def test_rows_on_freed_leaf_pages_keep_full_confidence(tmp_path):
    db = tmp_path / "mmssms.db"
    build(db, ANDROID_SCHEMA, android_rows(200))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA secure_delete=OFF")
    conn.execute("DELETE FROM sms WHERE _id = 5 OR _id BETWEEN 60 AND 140")
    conn.commit()
    conn.close()
    recs, _ = _sms_records(db)
    found = [r for r in recs if r.get("recovered") == "deleted"]
    sure = [r for r in found if "recovery_confidence" not in r]
    assert len(sure) > 40                              # leaf pages laid out as leaves, and freeblocks
    assert any(r["source"]["in"] == "freeblock" for r in sure) and any(r["source"]["in"] == "freelist" for r in sure)
    # a freed page made a freelist trunk lost its header: what is left of its rows is flagged
    assert all(r["recovery_confidence"] == "low" and r["source"]["in"] == "freelist"
               for r in found if r not in sure)
