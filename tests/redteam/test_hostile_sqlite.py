"""Red team, issue 15: deleted-row recovery (extractors/sqlite_recover.py) made to report a
message that never existed. A third party sends the phone a picture whose bytes hold a
well-formed SQLite cell of the messages table; the app stores it (a thumbnail BLOB) in the
overflow pages of a live row. Those pages are in no table b-tree and not free: read as lost
pages, their bytes gave a "deleted" message from any jid with any text."""
from __future__ import annotations

import sqlite3

from forensic.extractors.sqlite_recover import TableShape, recover

MESSAGES = TableShape("messages", 2, ("_id", "key_remote_jid", "data", "timestamp"),
                      ("INTEGER", "TEXT", "TEXT", "INTEGER"), 0)
THUMBS = TableShape("thumbs", 3, ("_id", "thumbnail"), ("INTEGER", "BLOB"), 0)


def _varint(v: int) -> bytes:
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    return bytes(reversed(out))


def forged_cell(rowid: int, jid: str, text: str, ts: int) -> bytes:
    """A table-leaf cell of MESSAGES as SQLite writes one."""
    j, t = jid.encode(), text.encode()
    header = b"".join(_varint(x) for x in (0, 13 + 2 * len(j), 13 + 2 * len(t), 6))
    payload = _varint(len(header) + 1) + header + j + t + ts.to_bytes(8, "big")
    return _varint(len(payload)) + _varint(rowid) + payload


def _db(path, blob: bytes, delete_id: int | None = None):
    db = sqlite3.connect(path)
    db.executescript("PRAGMA page_size=1024; PRAGMA secure_delete=OFF; PRAGMA auto_vacuum=NONE;"
                     "CREATE TABLE messages(_id INTEGER PRIMARY KEY, key_remote_jid TEXT, data TEXT, "
                     "timestamp INTEGER);"
                     "CREATE TABLE thumbs(_id INTEGER PRIMARY KEY, thumbnail BLOB);")
    for i in range(1, 6):
        db.execute("INSERT INTO messages VALUES (?, '31611111111@s.whatsapp.net', ?, ?)",
                   (i, f"real message number {i}", 1700000000000 + i))
    db.execute("INSERT INTO thumbs VALUES (1, ?)", (blob,))
    db.commit()
    if delete_id is not None:
        db.execute("DELETE FROM messages WHERE _id = ?", (delete_id,))
        db.commit()
    db.close()
    return str(path)


def test_a_cell_inside_a_live_blob_is_not_a_recovered_message(tmp_path):
    cell = forged_cell(4242, "31600000000@s.whatsapp.net", "I will kill him tonight", 1700000000000)
    blob = b"\xff\xd8\xff\xe0" + bytes(1500) + cell + bytes(1500)       # spills to overflow pages
    found = recover(_db(tmp_path / "msgstore.db", blob), [MESSAGES, THUMBS], wanted={"messages"})
    assert [r for r in found.rows if r.values[2] == "I will kill him tonight"] == []


def test_a_really_deleted_message_beside_it_is_still_recovered(tmp_path):
    cell = forged_cell(4242, "31600000000@s.whatsapp.net", "I will kill him tonight", 1700000000000)
    blob = b"\xff\xd8\xff\xe0" + bytes(1500) + cell + bytes(1500)
    found = recover(_db(tmp_path / "msgstore.db", blob, delete_id=3), [MESSAGES, THUMBS], wanted={"messages"})
    texts = [r.values[2] for r in found.rows]
    assert "real message number 3" in texts
    assert "I will kill him tonight" not in texts


def test_a_database_of_random_pages_is_looked_through_within_a_budget(tmp_path):
    """Pages in no b-tree, full of random bytes, cost ~2.6 s a MB to look through byte by byte:
    a 1 GB msgstore.db would hold a triage for 45 minutes. Past the budget: a problem, no hang."""
    import random
    import time
    path = _db(tmp_path / "msgstore.db", b"small", delete_id=3)
    rng = random.Random(1)
    with open(path, "ab") as fh:
        for _ in range(1024):                                # 1 MB of pages typed 0: "lost" pages
            fh.write(b"\0" + rng.randbytes(1023))
    start = time.monotonic()
    found = recover(path, [MESSAGES, THUMBS], wanted={"messages"}, scan_budget=64 << 10)
    assert time.monotonic() - start < 1.5
    assert any("not looked through" in p for p in found.problems), found.problems
    assert "real message number 3" in [r.values[2] for r in found.rows]     # the real one is read first
