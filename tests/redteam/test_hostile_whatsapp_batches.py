"""Red team: WhatsApp ``msgstore.db`` read a batch at a time (``_message_batch``, which writes a
usual message's stored JSON itself, and the context's group members gathered with a SQL
``WHERE`` and cached per chat). Each hostile database is read both ways and must store the
same bytes, hashes, times, warnings and order; where the batch work changed nothing else, the
words and records are those the reader gave before it (what is asserted here was checked
against the extractor at commit 3727b50).

Found: one jid row whose ``raw_string`` is a blob or a number (forged, or damaged) cost every
message of each group it sent in (members of two types do not sort), and every message of
a chat keyed by it (``endswith`` of a blob); the members' ``WHERE`` read described a damaged
page of ``message`` (and text that is not UTF-8) in other words than the messages' read, so
one damage was reported two or three times with different rowids; the per-chat cache of
written heads, keyed by the sender id as found, grew with each sender id naming no jid (1.3
GB for 21,000 messages of a 1,000-member group)."""
from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from forensic import pipeline
from forensic.extractors.base import ExtractorInput, Sibling
from forensic.extractors.chat.common import read_batches, tables_of
from forensic.extractors.chat.sqlite_chat import row_batches
from forensic.extractors.chat.sqlite_chat import HEADS_BUDGET as _HEADS_BUDGET
from forensic.extractors.chat.whatsapp_db import _CURRENT, WhatsAppDbExtractor
from forensic.store import triage as store_triage
from forensic.store.records import fields_json

from tests.extractors.chat.test_phone_db_journals import wal_db
from tests.extractors.chat.test_phone_dbs import WA_CURRENT, WA_LEGACY
from tests.extractors.chat.test_record_batches import stored

PATH = "/data/data/com.whatsapp/databases/msgstore.db"
T0 = 1615755960000
JID_MAP = "CREATE TABLE jid_map (lid_row_id INTEGER PRIMARY KEY NOT NULL, jid_row_id INTEGER NOT NULL, sort_id);\n"
# the message, jid and chat tables as a hostile file may declare them: no column types, so
# each value is kept as written (1.0, '1', x'01' where the app writes 1)
UNTYPED = JID_MAP + """
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user, server, agent, device, type, raw_string);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id, hidden, subject, created_timestamp);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id, from_me, key_id, sender_jid_row_id, status,
  broadcast, recipient_count, origination_flags, timestamp, received_timestamp, receipt_server_timestamp,
  message_type, text_data, starred, lookup_tables, sort_id);
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, file_path TEXT,
  file_size INTEGER, mime_type TEXT, media_name TEXT, media_caption TEXT);
CREATE TABLE message_quoted (message_row_id INTEGER PRIMARY KEY, chat_row_id, key_id, from_me, sender_jid_row_id);
"""
PHONES = [(i, f"34600{i:06d}", "s.whatsapp.net", 0, 0, 0, f"34600{i:06d}@s.whatsapp.net") for i in range(1, 6)]
GROUP = (9, "1203-1", "g.us", 0, 0, 1, "1203-1@g.us")


def _db(path: Path, script: str, rows: dict[str, list[tuple]], page_size: int = 1024) -> bytes:
    db = sqlite3.connect(path)
    db.executescript(f"PRAGMA page_size={page_size}; PRAGMA secure_delete=OFF;" + script)
    for table, values in rows.items():
        db.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(values[0]))})", values)
    db.commit()
    db.close()
    return path.read_bytes()


def _msg(i, chat, me, sender, ts=None, text="hola", key=None, mtype=0, received=0, starred=0) -> tuple:
    return (i, chat, me, f"K{i}" if key is None else key, sender, 0, 0, 0, 0, T0 + i * 1000 if ts is None else ts,
            received, 0, mtype, text, starred, 0, i)


def _both(data: bytes) -> list[tuple]:
    """What the triage stores of the file, read a batch at a time; asserted to be what the
    one-by-one read stores (stored row, record_sha256, times, warnings, order)."""
    batched = stored(WhatsAppDbExtractor(), data, PATH, batches=True)
    assert batched == stored(WhatsAppDbExtractor(), data, PATH, batches=False)
    return batched


def _records(out: list[tuple]) -> list[str]:
    return [r[4] for r in out if r[0] == "record"]


def _warnings(out: list[tuple]) -> list[str]:
    return [r[2] for r in out if r[0] == "warning"]


# -- one odd jid row must not cost a group or a chat its messages --------------------------------------

def test_a_blob_jid_in_a_group_costs_no_message(tmp_path):
    """A group sender whose jid row's ``raw_string`` is a blob (TEXT affinity keeps a blob a
    blob): the group's members, text and bytes, did not sort, and every message of that group
    (sent by anyone, the owner too) was dropped as 'not readable'. Now the odd member comes
    after the others (as its text) and every message is read; the same either way."""
    jids = PHONES + [GROUP, (6, "b", "s", 0, 0, 0, b"\x00blob")]
    msgs = [_msg(1, 1, 0, 1), _msg(2, 1, 0, 2), _msg(3, 1, 0, 6), _msg(4, 1, 1, None), _msg(5, 2, 0, None)]
    data = _db(tmp_path / "msgstore.db", WA_CURRENT, {"jid": jids, "chat": [(1, 9, 0, "Grupo", 0), (2, 3, 0, None, 0)],
                                                      "message": msgs})
    out = _both(data)
    assert _warnings(out) == []
    fields = _records(out)
    assert len(fields) == 5
    assert '"participants": ["(device owner)", "34600000001@s.whatsapp.net", "34600000002@s.whatsapp.net", ' \
           '"b\'\\\\x00blob\'"]' in fields[0]
    assert '"sender": "b\'\\\\x00blob\'"' in fields[2] and '"direction": "outgoing"' in fields[3]


def test_a_chat_keyed_by_a_blob_or_number_jid_keeps_its_messages(tmp_path):
    """A chat whose jid row's ``raw_string`` is a blob (or, untyped, a number): ``endswith``
    of it raised, and each of the chat's messages was dropped. Such a chat is no group; its
    messages are read (by ``_current``: the batch path writes only chats keyed by text)."""
    jids = PHONES + [(6, "b", "s", 0, 0, 0, b"\x01jid"), (7, "n", "s", 0, 0, 0, 1234.5)]
    data = _db(tmp_path / "msgstore.db", UNTYPED, {
        "jid": jids, "chat": [(1, 6, 0, None, 0), (2, 7, 0, b"\x02subject", 0), (3, 1, 0, None, 0)],
        "message": [_msg(1, 1, 0, None), _msg(2, 1, 1, None), _msg(3, 2, 0, None), _msg(4, 3, 0, None)]})
    out = _both(data)
    assert _warnings(out) == []
    fields = _records(out)
    assert len(fields) == 4
    assert '"conversation": {"id": "b\'\\\\x01jid\'", "title": "b\'\\\\x01jid\'", "group": false}' in fields[0]
    assert '"conversation": {"id": 1234.5, "title": "b\'\\\\x02subject\'", "group": false}' in fields[2]


def test_a_legacy_group_with_a_blob_sender_keeps_its_messages(tmp_path):
    """The legacy ``messages`` schema: a ``remote_resource`` blob beside text senders."""
    def row(i, sender, jid="9-9@g.us"):
        return (i, jid, 0, f"L{i}", 0, 0, f"m{i}", T0 + i, None, None, "0", 0, None, None, None, 0, 0, 0, 0, None,
                sender, 0, 0, 0, 0, None, 0, 0, None)
    data = _db(tmp_path / "msgstore.db", WA_LEGACY, {"messages": [
        row(1, "34600111222@s.whatsapp.net"), row(2, b"\x00blob"), row(3, "447700900000@s.whatsapp.net")]})
    out = _both(data)
    assert _warnings(out) == [] and len(_records(out)) == 3


# -- values the app never writes where the batch path writes text itself -----------------------------

def test_cache_keys_of_equal_values_of_other_types(tmp_path):
    """``ctx["heads"]`` is keyed by (chat_row_id, from_me, sender_jid_row_id) and ``_chat``
    caches by chat_row_id: 1, 1.0 and '1' (and a blob) in an untyped table. 1 and 1.0 are
    the same key and make the same record (bool(1.0), jids[1.0]); '1', a blob, 2 or 0.5 are
    made by ``_current``: the same bytes, and no record borrows another's head."""
    jids = PHONES + [GROUP, (10, "77", "lid", 0, 0, 0, "77@lid")]
    values = [1, 1.0, "1", b"\x01", 0, 0.0, "0", 2, 0.5, None]
    msgs, i = [], 0
    for chat in (1, 1.0, "1", 3, 3.0, "3", b"\x03", 99):
        for me in values:
            for sender in (1, 1.0, "1", b"\x01", 10, 10.0, None, 0.0, ""):
                i += 1
                msgs.append(_msg(i, chat, me, sender))
    data = _db(tmp_path / "msgstore.db", UNTYPED, {
        "jid": jids, "jid_map": [(10, 2, 0)], "chat": [(1, 9, 0, "G", 0), (3, 1, 0, None, 0)], "message": msgs})
    out = _both(data)
    fields = {r[3]: r[4] for r in out if r[0] == "record"}
    assert len(fields) == len(msgs) and _warnings(out) == []
    for (rid, chat, me, _key, sender, *_rest) in msgs:
        f = fields[f"message:{rid}"]
        assert ('"direction": "outgoing"' in f) == bool(me)
        if chat in (1, 1.0):                        # the group (1.0 finds chat 1, as a dict does)
            assert '"group": true' in f
            if not me and sender in (1, 1.0):
                assert '"sender": "34600000001@s.whatsapp.net"' in f and "sender_lid" not in f
            elif not me and sender in (10, 10.0):     # a LID sender: its number, the LID kept
                assert '"sender": "34600000002@s.whatsapp.net"' in f and '"sender_lid": "77@lid"' in f
            elif not me:                              # a sender id that names no jid row
                assert '"sender": null' in f
        elif chat in ("1", "3", b"\x03", 99):         # no chat row: named by the id as found
            assert f'"id": {fields_json(f"chat:{chat}")}' in f and '"group": false' in f
        else:
            assert '"id": "34600000001@s.whatsapp.net"' in f


TIMES = [0, None, -1, -5000, 1, T0, 2 ** 41 - 1, 2 ** 41, 2 ** 41 + 1, 253402300799999, 253402300800000,
         -62135596800000, -62135596800001, 2 ** 63 - 1, -2 ** 63, 1.5, 1e300, -0.0, float("inf"), "1615756080000",
         "yesterday", b"\x01", ""]


def test_times_at_the_edges_of_datetime(tmp_path):
    """Sent and received times at and past datetime's range (years 1 and 9999), 2**63-1,
    negative, floats, text, blobs, infinity (SQLite keeps it): the same either way; a time
    out of range is no time and says so, as before."""
    msgs = [_msg(i, 1, i % 2, None, ts=t, received=TIMES[(i * 7) % len(TIMES)]) for i, t in enumerate(TIMES, 1)]
    data = _db(tmp_path / "msgstore.db", UNTYPED, {"jid": PHONES, "chat": [(1, 1, 0, None, 0)], "message": msgs})
    out = _both(data)
    by_ref = {r[3]: r for r in out if r[0] == "record"}
    assert len(by_ref) == len(TIMES)
    assert '"sent_at": "9999-12-31T23:59:59.999000Z"' in by_ref["message:10"][4]
    assert '"sent_at": "0001-01-01T00:00:00Z"' in by_ref["message:12"][4]
    for rid in (11, 13, 14, 15):                 # past the range: no time, corrupted, a warning
        _r, _ref, _type, _x, f, corrupted, warnings, *_ = by_ref[f"message:{rid}"]
        assert '"sent_at": null' in f and corrupted == 1 and "is not a Unix time in milliseconds" in warnings
    assert '"sent_at": "1969-12-31T23:59:59.999000Z"' in by_ref["message:3"][4]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_hostile_database_of_every_odd_value(tmp_path, seed):
    """Many rows of odd values in every column the batch path writes (text with every JSON
    escaping hazard, key ids, subjects and jids of every type, LID chats and senders, media,
    replies, deleted rows recovered from free space): the same either way."""
    rng = random.Random(seed)
    jids = PHONES + [GROUP, (10, "77", "lid", 0, 0, 0, "77@lid"), (11, "x", "y", 0, 0, 0, None),
                     (12, "b", "s", 0, 0, 0, b"\x00b"), (13, "f", "s", 0, 0, 0, 1.5),
                     (14, "q", "s", 0, 0, 0, 'we"ird\\jid\u2028@s.whatsapp.net'), (15, "", "", 0, 0, 0, "")]
    chats = [(1, 1, 0, None, 0), (2, 9, 0, 'Trabajo "🚚"\\\n\u2028', 0), (3, 10, 0, None, 0), (4, 12, 0, b"s", 0),
             (5, 14, 0, 1.5, 0), (6, 15, 0, "", 0), (7, 11, 0, 0, 0)]
    texts = ["¿Dónde?", "", None, 'q " \\ \n\t\r\b\f', "\u2028\u2029 \x00 \x1f \x7f 😀", 7, b"\x00", b"", 0.0, 1.5,
             "</script>", "\U0010ffff"]
    times = [T0, 0, None, -1, 253402300799999, 253402300800000, 2 ** 63 - 1, 1.5, "abc", b"\x01", T0 + 0.0]
    msgs = []
    for i in range(1, 1201):
        msgs.append((i, rng.choice([1, 2, 2, 3, 4, 5, 6, 7, 99, None, 2.0, "2", b"\x02"]),
                     rng.choice([0, 1, 2, None, 1.0, "1", b"\x01"]),
                     rng.choice([f"K{i}"] * 5 + [5, None, b"k", 1.5, 'K"\u2028']),
                     rng.choice([None, 0, 1, 2, 10, 11, 12, 13, 14, 15, 99, 1.0, "1", "", b""]), 0, 0, 0, 0,
                     rng.choice(times + [T0 + i] * 6), rng.choice(times + [0] * 6), 0,
                     rng.choice([0, 0, 1, 7, 15, 64, 99, None, "0", 0.0, 7.0]), rng.choice(texts),
                     rng.choice([0, 1, None, 2, 1.0]), 0, i))
    data = _db(tmp_path / "msgstore.db", UNTYPED, {
        "jid": jids, "jid_map": [(10, 3, 0)], "chat": chats, "message": msgs,
        "message_media": [(i, 1, f"Media/{i}.jpg", 1, "image/jpeg", None, None) for i in range(5, 1200, 97)],
        "message_quoted": [(i, 1, rng.choice(["K1", 5, None, b"q", float("inf")]), 0, 0) for i in range(3, 1200, 31)]})
    db = sqlite3.connect(tmp_path / "msgstore.db")
    db.execute("PRAGMA secure_delete=OFF")
    db.execute("DELETE FROM message WHERE _id % 41 = 0")
    db.commit()
    db.close()
    data = (tmp_path / "msgstore.db").read_bytes()
    out = _both(data)
    fields = _records(out)
    assert len(fields) > 1150
    assert sum('"recovered": "deleted"' in f for f in fields) >= 15
    assert not [w for w in _warnings(out) if "not readable as a message" in w]
    # the written path was taken (else this would hold vacuously)
    item = ExtractorInput(path=PATH, name="msgstore.db", mime="", size=len(data), data=data, batches=True)
    written = [f for res in WhatsAppDbExtractor().extract(item) for f in getattr(res, "fields", None) or ()
               if isinstance(f, str)]
    assert len(written) > 100


# -- damage: the members' read must degrade as the messages' read does ---------------------------------

def _group_db(path: Path, n: int = 2000) -> bytes:
    """A chat and a group (every third message, 37 senders) over ~130 leaf pages of 1 KiB."""
    jids = [(i, str(i), "s.whatsapp.net", 0, 0, 0, f"{i}@s.whatsapp.net") for i in range(1, 40)] + [(50, *GROUP[1:])]
    msgs = [_msg(i, 2 if i % 3 == 0 else 1, 0 if i % 3 == 0 else i % 2, (i % 37) + 2 if i % 3 == 0 else None,
                 text="t" * (i % 50)) for i in range(1, n + 1)]
    return _db(path, WA_CURRENT, {"jid": jids, "chat": [(1, 1, 0, None, 0), (2, 50, 0, "G", 0)], "message": msgs})


def _leaves(data: bytes, page: int = 1024) -> list[int]:
    return [n for n in range(1, len(data) // page + 1) if data[(n - 1) * page + (100 if n == 1 else 0)] == 0x0D]


def _damage_of_message_read(data: bytes, tmp: Path) -> list[str]:
    """The words a read of every row of ``message`` (as the messages are read) gives the damage."""
    copy = tmp / "copy.db"
    copy.write_bytes(data)
    conn = sqlite3.connect(copy)
    problems: list[str] = []
    for _ in read_batches(conn, "message", 'SELECT ROWID AS _rowid, sender_jid_row_id FROM "message" WHERE {after} '
                          "ORDER BY ROWID LIMIT ?", problems):
        pass
    conn.close()
    return list(dict.fromkeys(problems))


def test_a_damaged_page_of_message_is_reported_once_in_the_messages_words(tmp_path):
    """A leaf page of ``message`` overwritten (a leaf's type byte, then garbage): the
    members' read with its ``WHERE`` met the damage after other rowids than the messages'
    read and described it in other words (five warnings for the one page, where the reader
    gave three). The group's members and the messages are what the damaged file holds."""
    data = bytearray(_group_db(tmp_path / "msgstore.db"))
    leaves = _leaves(data)
    victim = leaves[len(leaves) // 3]
    data[(victim - 1) * 1024:victim * 1024] = b"\x0d" + b"\xaa" * 1023
    data = bytes(data)
    out = _both(data)
    damage = [w for w in _warnings(out) if "unreadable" in w]
    assert damage == _damage_of_message_read(data, tmp_path) and damage
    fields = _records(out)
    assert 1900 < len(fields) < 2000
    # the group's participants: the senders of its readable messages (all 37 are in them)
    group = [f for f in fields if '"group": true' in f]
    assert group and all(f.count("@s.whatsapp.net") >= 37 for f in group)


def test_a_page_of_message_wiped_reads_as_before(tmp_path):
    data = bytearray(_group_db(tmp_path / "msgstore.db"))
    leaves = _leaves(data)
    victim = leaves[len(leaves) // 2]
    data[(victim - 1) * 1024:victim * 1024] = b"\xff" * 1024
    data = bytes(data)
    out = _both(data)
    assert [w for w in _warnings(out) if "unreadable" in w] == _damage_of_message_read(data, tmp_path)
    assert 1900 < len(_records(out)) < 2000


def test_text_not_utf8_in_a_sender_is_reported_at_its_row(tmp_path):
    """A sender id of TEXT that is not UTF-8 at rowid 1500: the members' read (which reads
    only the rows naming a sender) said 'after rowid 1497', the last group row before it;
    the reader says 'after rowid 1499', the row before it, as the messages' read would."""
    path = tmp_path / "msgstore.db"
    _group_db(path)
    db = sqlite3.connect(path)
    db.execute("UPDATE message SET sender_jid_row_id = CAST(X'C328E282' AS TEXT) WHERE _id = 1500")
    db.commit()
    db.close()
    out = _both(path.read_bytes())
    assert _warnings(out) == ["table message: text that is not valid UTF-8 after rowid 1499, read with U+FFFD in "
                              "place of the bad bytes"]
    assert len(_records(out)) == 2000


# -- a log with uncommitted frames: the one-by-one read of both states --------------------------------

def _stored_with_siblings(db: Path, batches: bool) -> list[tuple]:
    data = db.read_bytes()
    siblings = {s: Sibling(db.name + s, db.name + s, Path(str(db) + s).stat().st_size,
                           (lambda p=Path(str(db) + s): open(p, "rb")))
                for s in ("-wal", "-shm") if Path(str(db) + s).exists()}
    item = ExtractorInput(path=PATH, name=db.name, mime="application/vnd.sqlite3", size=len(data), data=data,
                          siblings=siblings, batches=batches)
    out: list[tuple] = []
    for stage, res in pipeline._extract([WhatsAppDbExtractor()], item):
        if stage is not None:
            out.append(("warning", stage, res))
        elif isinstance(res, store_triage.StoredBatch):
            out.extend(("record", *r) for r in res)
        else:
            out.append(("record", *res))
    return out


def test_a_log_with_uncommitted_frames_flags_db_state_either_way(tmp_path):
    """A ``-wal`` whose last transaction never committed: the live rows, read as tuples now,
    still become records of both states (``_both_states``), every one with ``db_state``."""
    db = wal_db(tmp_path / "phone")
    batched = _stored_with_siblings(db, batches=True)
    assert batched == _stored_with_siblings(db, batches=False)
    fields = _records(batched)
    assert len(fields) == 150 + 14
    assert sum('"db_state": "uncommitted"' in f for f in fields) == 14
    assert sum('"db_state": "committed"' in f for f in fields) == 150
    assert any("14 records found only in the uncommitted state" in w for w in _warnings(batched))



# -- the per-chat cache must not grow with what a hostile file holds -----------------------------------

def test_sender_ids_naming_no_jid_do_not_fill_memory_with_heads(tmp_path):
    """``ctx["heads"]`` is keyed by the sender id as found: 3,000 messages in a 300-member
    group, each with its own sender id naming no jid row, made 3,000 heads of ~19,000
    characters each, all kept (57 million characters; 1.3 GB for 21,000 messages of a
    1,000-member group). The heads kept stay within a budget, and the records are the same."""
    members = 300
    jids = [(i, str(i), "s.whatsapp.net", 0, 0, 0, f"3460{i:07d}@s.whatsapp.net") for i in range(1, members + 1)]
    msgs = [_msg(i, 1, 0, i) for i in range(1, members + 1)]
    msgs += [_msg(i, 1, 0, 10 ** 6 + i) for i in range(members + 1, members + 3001)]
    path = tmp_path / "msgstore.db"
    data = _db(path, WA_CURRENT, {"jid": jids + [(members + 1, "g", "g.us", 0, 0, 1, "g@g.us")],
                                  "chat": [(1, members + 1, 0, "G", 0)], "message": msgs}, page_size=4096)
    ex = WhatsAppDbExtractor()
    item = ExtractorInput(path=PATH, name="msgstore.db", mime="", size=len(data), data=data, batches=True)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row                 # as the reader opens it
    tables, problem = tables_of(conn)
    problems: list[str] = []
    ctx = ex.context(conn, tables, item, problems)
    kept, written = 0, 0
    for got in row_batches(conn, "message", tables["message"], _CURRENT, problems, tuples=True):
        batch = ex._message_batch(got, item, ctx, problems)
        written += sum(isinstance(f, str) for f in batch.fields)
        kept = max(kept, sum(len(h) + len(t) for h, t in ctx["heads"].values()))
    conn.close()
    assert problem is None and problems == [] and written == len(msgs)
    assert kept <= _HEADS_BUDGET < 3000 * 19_000
    assert len(_records(_both(data))) == len(msgs)
