"""forensic messages / forensic conversations over a triaged case (real triage, real FTS5 or,
on a PostgreSQL store, PostgreSQL's full-text search)."""
from __future__ import annotations

import json
import sqlite3

import pytest

import casestore
from builders import zip_file
from conftest import BACKEND
from forensic.store.chats import fts_query, index_problems, search_form, search_ids

WHATSAPP = (
    "14/03/2021, 21:05 - Ана: Привет, как дела?\n"
    "14/03/2021, 21:06 - Luis: Día de playa mañana\n"
    "14/03/2021, 21:07 - Luis: second line follows\n"
    "and here it is\n"
    "15/03/2021, 09:00 - Ана: مَرْحَبًا بالعالم\n"
    "15/03/2021, 09:01 - Ана: Ёлка стоит\n"
).encode()

TELEGRAM = {
    "name": "Driver", "type": "personal_chat", "id": 4242,
    "messages": [
        {"id": 1, "type": "message", "date": "2021-03-14T21:06:00", "date_unixtime": "1615755960",
         "from": "Boss", "from_id": "user1", "text": "Pick up at six, PRIVET"},
        {"id": 2, "type": "message", "date": "2021-03-16T10:00:00", "date_unixtime": "1615888800",
         "from": "Maria", "from_id": "user2", "text": "ok"},
    ],
}


@pytest.fixture
def case(forensic, tmp_path):
    """One ZIP item holding a WhatsApp export and a Telegram export renamed chat.json."""
    ev = zip_file(tmp_path / "phone.zip", [
        ("WhatsApp Chat with Ана.txt", WHATSAPP),
        ("tg/chat.json", json.dumps(TELEGRAM, ensure_ascii=False).encode()),
    ])
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C1", "--examiner", "E")
    forensic("evidence", "add", ev, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    return case


def test_messages_all_fields(forensic, case):
    rows = forensic("messages", "--case", case, "--json").jsonl()
    assert len(rows) == 7
    for r in rows:
        for key in ("platform", "conversation", "participants", "sender", "recipients", "sent_at", "sent_at_utc",
                    "tz_known", "tz_source", "body", "attachments", "reply_to", "edited", "deleted", "system",
                    "source", "item", "record_id", "corrupted", "warnings"):
            assert key in r, key
        assert r["item"] == "phone" and r["source"]["item"] == "phone"
        assert r["corrupted"] is False and r["warnings"] == []
    wa = [r for r in rows if r["platform"] == "whatsapp"]
    tg = [r for r in rows if r["platform"] == "telegram"]
    assert len(wa) == 5 and len(tg) == 2
    multi = next(r for r in wa if r["body"].startswith("second line"))
    assert multi["body"] == "second line follows\nand here it is"
    assert multi["source"]["line"] == 3 and multi["source"]["line_end"] == 4
    assert multi["source"]["path"].endswith("WhatsApp Chat with Ана.txt")
    assert multi["sent_at"] == "2021-03-14T21:07:00" and multi["tz_known"] is False
    assert tg[0]["sent_at"] == "2021-03-14T21:06:00Z" and tg[0]["source"]["json_pointer"] == "/messages/0"
    # chronological: the wall-clock messages are placed as if UTC
    keys = [r["sent_at"].rstrip("Z") for r in rows]
    assert keys == sorted(keys)


@pytest.mark.parametrize("query,expected", [
    ("привет", {"Привет, как дела?"}),        # Cyrillic case folding ('PRIVET' is Latin: no match)
    ("ПРИВЕТ", {"Привет, как дела?"}),
    ("dia", {"Día de playa mañana"}),
    ("MANANA", {"Día de playa mañana"}),
    ("مرحبا", {"مَرْحَبًا بالعالم"}),
    ("ёлка", {"Ёлка стоит"}),
    ("елка", {"Ёлка стоит"}),
    ("play*", {"Día de playa mañana"}),
    ("second here", {"second line follows\nand here it is"}),
    ("second nowhere", set()),
    ("maria", {"ok"}),                                              # the sender is searched too
    ("driver", {"Pick up at six, PRIVET", "ok"}),                   # and the conversation title
])
def test_search(forensic, case, query, expected):
    rows = forensic("messages", "--case", case, "--search", query, "--json").jsonl()
    assert {r["body"] for r in rows} == expected


def test_search_forms():
    assert search_form("Día") == "dia"
    assert search_form("\u200eHola\u200f") == "hola"
    assert search_form("أهلاً") == search_form("اهلا")
    assert search_form("Straße") == "strasse"
    assert fts_query('a"b  !!') == '"a""b"'
    assert fts_query("?? ..") is None


def test_time_filters(forensic, case):
    # Telegram times are UTC instants; WhatsApp wall clocks (zone unknown) are kept when they could be in range
    rows = forensic("messages", "--case", case, "--from", "2021-03-16T00:00:00Z", "--json").jsonl()
    # 15/03 09:01 wall clock is at most 15/03 21:01 UTC (offset -12:00): out of range
    assert {r["body"] for r in rows} == {"ok"}
    rows = forensic("messages", "--case", case, "--from", "2021-03-15T12:00", "--to", "2021-03-15", "--json").jsonl()
    assert {r["body"] for r in rows} == {"مَرْحَبًا بالعالم", "Ёлка стоит"}
    rows = forensic("messages", "--case", case, "--platform", "telegram", "--to", "2021-03-14", "--json").jsonl()
    assert [r["body"] for r in rows] == ["Pick up at six, PRIVET"]
    res = forensic("messages", "--case", case, "--from", "last tuesday", expect=2)
    assert "ISO 8601" in res.err


def test_conversation_filter_and_conversations(forensic, case):
    convs = forensic("conversations", "--case", case, "--json").jsonl()
    assert len(convs) == 2
    wa = next(c for c in convs if c["platform"] == "whatsapp")
    assert wa["title"] == "Ана" and wa["messages"] == 5 and wa["participants"] == ["Ана", "Luis"]
    assert wa["first_at"] == "2021-03-14T21:05:00" and wa["last_at"] == "2021-03-15T09:01:00"
    assert wa["source"][0]["item"] == "phone" and wa["source"][0]["path"].endswith(".txt")
    tg = next(c for c in convs if c["platform"] == "telegram")
    assert tg["conversation"] == "4242" and tg["title"] == "Driver" and tg["messages"] == 2
    assert tg["first_at"] == "2021-03-14T21:06:00Z" and tg["last_at"] == "2021-03-16T10:00:00Z"
    rows = forensic("messages", "--case", case, "--conversation", "4242", "--json").jsonl()
    assert [r["body"] for r in rows] == ["Pick up at six, PRIVET", "ok"]


def test_participants_that_are_not_a_list(forensic, case):
    """A record whose ``participants`` is a text (edited behind forensic's back): its
    conversation is listed, with no participants, not a traceback."""
    with casestore.tampered(case) as db:
        first = db.execute("SELECT min(id) FROM chat_messages WHERE platform = 'whatsapp'").fetchone()[0]
        fields = json.loads(db.execute("SELECT fields FROM artifacts WHERE id = ?", (first,)).fetchone()[0])
        db.execute("UPDATE artifacts SET fields = ? WHERE id = ?",
                   (json.dumps({**fields, "participants": "Ана"}), first))
    convs = forensic("conversations", "--case", case, "--json").jsonl()
    wa = next(c for c in convs if c["platform"] == "whatsapp")
    assert wa["participants"] == [] and wa["messages"] == 5
    assert "Ана" in forensic("conversations", "--case", case).out
    text = forensic("conversations", "--case", case).out
    assert "Driver" in text and "Ана" in text


def test_human_output_is_one_line_per_message(forensic, case):
    out = forensic("messages", "--case", case).out.splitlines()
    assert len(out) == 7
    assert any("second line follows ⏎ and here it is" in line for line in out)


@casestore.older_versions
def test_old_case_gets_its_index_lazily(forensic, case):
    """A case of schema version 1 made before the search index existed: opening it migrates
    the store (the index's tables laid out, empty), and the first listing fills them."""
    db = sqlite3.connect(case / "case.db")
    db.executescript("DROP TABLE messages_fts; DROP TABLE chat_messages; DROP TABLE chat_index; "
                     "UPDATE meta SET value = '1' WHERE key = 'schema_version';")
    db.close()
    rows = forensic("messages", "--case", case, "--search", "playa", "--json").jsonl()
    assert [r["body"] for r in rows] == ["Día de playa mañana"]


def test_retriage_keeps_one_index_row_per_message(forensic, case):
    forensic("triage", "--case", case, "--force", expect=None)
    forensic("triage", "--case", case, "--force", expect=None)
    db = casestore.connect(case)
    n_idx = db.execute("SELECT count(*) FROM chat_messages").fetchone()[0]
    n_art = db.execute("SELECT count(*) FROM artifacts WHERE record_type='chat/message'").fetchone()[0]
    n_fts = len(search_ids(db, "playa"))
    problems = index_problems(db)           # FTS5's integrity-check on SQLite; the lexemes on PostgreSQL
    db.close()
    assert n_idx == n_art == 7 and n_fts == 1 and problems == []
    rows = forensic("messages", "--case", case, "--search", "playa", "--json").jsonl()
    assert len(rows) == 1


def test_unknown_item_is_an_error(forensic, case):
    res = forensic("messages", "--case", case, "--item", "nope", expect=1)
    assert "no evidence item" in res.err


def test_search_is_in_time_order_across_runs(forensic, case):
    """Hits come in the listing's order (time, then record id) whatever order the index runs
    were built in: re-index one extractor so its rows get later seqs than the other's."""
    from forensic.store.chats import index_messages
    db = casestore.connect(case)
    db.execute("BEGIN")
    index_messages(db, "phone", "whatsapp_txt")
    db.execute("COMMIT")
    runs = db.execute("SELECT extractor FROM chat_index WHERE seq_lo IS NOT NULL ORDER BY seq_lo").fetchall()
    db.close()
    assert [r[0] for r in runs] == ["telegram_json", "whatsapp_txt"]
    everything = forensic("messages", "--case", case, "--json").jsonl()
    keys = [(r["sent_at_utc"] or r["sent_at"], r["record_id"]) for r in everything]
    hits = forensic("messages", "--case", case, "--search", "a*", "--json").jsonl()
    assert len(hits) >= 2 and {r["platform"] for r in hits} == {"whatsapp", "telegram"}
    ids = [r["record_id"] for r in hits]
    assert ids == [r["record_id"] for r in everything if r["record_id"] in set(ids)]
    assert [r["record_id"] for r in everything] == [k[1] for k in sorted(keys)]
    first = forensic("messages", "--case", case, "--search", "a*", "--limit", "2", "--json").jsonl()
    assert [r["record_id"] for r in first] == ids[:2]


def test_index_of_an_older_layout_is_rebuilt(forensic, case):
    """A case indexed by version 1 (chat_messages keyed by artifact id, no sort key; on
    PostgreSQL, whose layout has always had them, an index marked version 1)."""
    db = casestore.connect(case)
    if BACKEND == "postgresql":
        db.execute("UPDATE chat_index SET form_version = 1")
        db.execute("UPDATE chat_messages SET body = 'stale', lexemes = array_to_tsvector(ARRAY['stale'])")
        db.close()
    else:
        _old_layout(db)
    rows = forensic("messages", "--case", case, "--search", "playa", "--json").jsonl()
    assert [r["body"] for r in rows] == ["Día de playa mañana"]
    assert forensic("messages", "--case", case, "--search", "stale", "--json").jsonl() == []
    db = casestore.connect(case)
    assert {r[0] for r in db.execute("SELECT form_version FROM chat_index")} == {2}
    assert index_problems(db) == []
    db.close()


def _old_layout(db):
    db.executescript("""
        DROP TABLE messages_fts; DROP TABLE chat_messages; DROP TABLE chat_index;
        CREATE TABLE chat_messages (id INTEGER PRIMARY KEY, item TEXT NOT NULL, extractor TEXT NOT NULL,
            platform TEXT, conversation TEXT, conv_title TEXT, file_id INTEGER, sent_key INTEGER,
            tz_known INTEGER NOT NULL DEFAULT 0, sent_at TEXT, body TEXT, sender TEXT, title TEXT);
        CREATE VIRTUAL TABLE messages_fts USING fts5(body, sender, title, content='chat_messages',
            content_rowid='id', tokenize="unicode61 remove_diacritics 2");
        CREATE TABLE chat_index (item TEXT NOT NULL, extractor TEXT NOT NULL, messages INTEGER NOT NULL,
            id_sum INTEGER NOT NULL, min_id INTEGER, max_id INTEGER, form_version INTEGER NOT NULL,
            indexed_at TEXT NOT NULL, PRIMARY KEY(item, extractor));
        INSERT INTO chat_messages(id, item, extractor, body) SELECT id, item, 'x', 'stale'
            FROM artifacts WHERE record_type = 'chat/message';
        INSERT INTO messages_fts(rowid, body) SELECT id, body FROM chat_messages;
        INSERT INTO chat_index SELECT item, 'x', count(*), sum(id), min(id), max(id), 1, '2021-01-01T00:00:00Z'
            FROM artifacts WHERE record_type = 'chat/message' GROUP BY item;
    """)
    db.close()
