"""A message search on a case whose store is on PostgreSQL (its full-text search, a tsvector
with a GIN index) finds the same messages, in the same order, as on SQLite (FTS5): one case of
the same evidence made on each backend, every query run on both."""
from __future__ import annotations

import json

import pytest

from builders import zip_file
from forensic.store import chats, db as store_db, postgres

BODIES = [
    "Día de playa mañana, PLAYA!",
    "Привет, как дела? Ёлка стоит",
    "مَرْحَبًا بالعالم",
    "see foo.bar.example.com or mail ana@example.org",
    "don't forget: 3.14 and 1,000 and 2021-03-14",
    "a well-known x_y path /usr/local/bin and C:\\Temp\\file.txt",
    "Straße STRASSE straße ǅemal ＡＢＣ full width",
    "日本語のテキスト 東京 and ไทย ภาษา",
    "second line follows\nand here it is",
    "emoji 🎉 party-time 🎉 café CAFÉ cafe\u0301",
    "zero\u200bwidth and bidi \u202eevil\u202c text",
    "quotes \"inside\" and 'single' and back`tick`",
    "the same word the same word again",
]
TELEGRAM_TEXTS = ["Pick up at six, PRIVET", "ok", "foo bar baz", "bar foo", "PLAYA del carmen"]

QUERIES = [
    "playa", "PLAYA", "día", "dia", "mañana", "manana", "привет", "ПРИВЕТ", "ёлка", "елка", "مرحبا",
    "a*", "pl*", "p*", "foo.bar", "bar.foo", "foo bar", "bar foo", "example.com", "ana@example.org",
    "don't", "dont", "don", "t", "3.14", "14", "1,000", "well-known", "known", "x_y", "___", "/usr/local",
    "c:\\temp", "straße", "strasse", "STRASSE", "ǆemal", "abc", "ＡＢＣ", "日本語のテキスト", "東京", "ไทย",
    "second line", "line follows", "follows\nand", "🎉", "party-time", "café", "cafe", "caf*", "zerowidth",
    "zero", "evil", '"inside"', "'single'", "back`tick`", "same word", "word same", "the same word again",
    "same wo*", "s* w*", "xyzzy", "*", "**", "six privet", "carmen playa", "ok",
]


def _evidence(tmp_path, texts=TELEGRAM_TEXTS):
    lines = [f"{1 + i % 28:02d}/03/2021, {10 + i:02d}:{i:02d} - {'Ана' if i % 2 else 'Luis'}: {body}\n"
             for i, body in enumerate(BODIES)]
    telegram = {"name": "Driver Ünal", "type": "personal_chat", "id": 4242, "messages": [
        {"id": i + 1, "type": "message", "date": f"2021-03-{14 + i}T21:06:00",
         "date_unixtime": str(1615755960 + i * 86400), "from": "Boss", "from_id": "user1", "text": text}
        for i, text in enumerate(texts)]}
    return zip_file(tmp_path / "phone.zip", [
        ("WhatsApp Chat with Ана.txt", "".join(lines).encode()),
        ("tg/chat.json", json.dumps(telegram, ensure_ascii=False).encode()),
    ])


def _two_cases(forensic, tmp_path, pg_server, monkeypatch, texts=TELEGRAM_TEXTS):
    """(SQLite case, PostgreSQL case) of the same evidence."""
    ev = _evidence(tmp_path, texts)
    monkeypatch.delenv("FORENSIC_STORE", raising=False)
    out = []
    for name, store in (("lite", None), ("pg", pg_server.new_database())):
        case = tmp_path / name
        forensic("case", "init", case, "--case-id", "C1", "--examiner", "E",
                 *(("--store", store) if store else ()))
        forensic("evidence", "add", ev, "--case", case, "--id", "phone")
        forensic("triage", "--case", case, expect=None)
        out.append(case)
    assert (out[1] / postgres.STORE_FILE).is_file() and not (out[1] / "case.db").exists()
    return out[0], out[1]


@pytest.fixture
def cases(forensic, tmp_path, pg_server, monkeypatch):
    return _two_cases(forensic, tmp_path, pg_server, monkeypatch)


def _hits(forensic, case, query, *more):
    rows = forensic("messages", "--case", case, "--search", query, *more, "--json").jsonl()
    return [(r["record_id"], r["body"]) for r in rows]


def test_search_finds_the_same_messages_on_both_backends(forensic, cases):
    lite, pg = cases
    assert _hits(forensic, lite, "a*", "--limit", "1000") == _hits(forensic, pg, "a*", "--limit", "1000")
    everything = forensic("messages", "--case", lite, "--json").jsonl()
    assert len(everything) == len(BODIES) + len(TELEGRAM_TEXTS)
    assert forensic("messages", "--case", pg, "--json").jsonl() == everything
    found = 0
    for query in QUERIES:
        want = _hits(forensic, lite, query)
        assert _hits(forensic, pg, query) == want, query
        found += bool(want)
    assert 30 < found < len(QUERIES)          # most queries find something, some nothing
    # what FTS5 does with punctuation inside a word: a phrase (next to each other, in order)
    assert [b for _, b in _hits(forensic, pg, "foo.bar")] == ["see foo.bar.example.com or mail ana@example.org",
                                                             "foo bar baz"]
    assert _hits(forensic, pg, "bar.foo") == [h for h in _hits(forensic, lite, "bar foo") if h[1] == "bar foo"]
    for more in (("--limit", "2"), ("--platform", "telegram"), ("--from", "2021-03-15"), ("--no-uncommitted",)):
        assert _hits(forensic, pg, "a*", *more) == _hits(forensic, lite, "a*", *more), more
    # the library's entry point too (index order: time order within one indexing run)
    with store_db.connect(postgres.Location.read(pg)) as db:
        assert chats.search_ids(db, "playa") == [i for i, _ in _hits(forensic, lite, "playa")]
        assert chats.index_problems(db) == []


def test_conversations_are_the_same_on_both_backends(forensic, cases):
    lite, pg = cases
    want = forensic("conversations", "--case", lite, "--json").jsonl()
    assert len(want) == 2
    assert forensic("conversations", "--case", pg, "--json").jsonl() == want
    assert forensic("conversations", "--case", pg).out == forensic("conversations", "--case", lite).out
    got = forensic("messages", "--case", pg, "--conversation", "4242", "--json").jsonl()
    assert [r["body"] for r in got] == TELEGRAM_TEXTS


def test_tokens_too_long_and_messages_too_large_are_checked_in_python(forensic, tmp_path, pg_server, monkeypatch):
    """The lexeme and tsvector limits made small: cut lexemes and messages left UNINDEXED
    still give FTS5's hits (their candidates checked in Python), read a few rows a page."""
    monkeypatch.setattr(chats, "LEXEME_BYTES", 6)
    monkeypatch.setattr(chats, "TSVECTOR_BYTES", 60)
    monkeypatch.setattr(chats, "PG_PAGE", 3)
    lite, pg = _two_cases(forensic, tmp_path, pg_server, monkeypatch)
    with store_db.connect(postgres.Location.read(pg)) as db:
        unindexed = db.execute("SELECT count(*) FROM chat_messages WHERE lexemes = array_to_tsvector(ARRAY[?])",
                               (chats.UNINDEXED,)).fetchone()[0]
        cut = db.execute("SELECT count(*) FROM chat_messages, unnest(tsvector_to_array(lexemes)) t "
                         "WHERE octet_length(t) > 2").fetchone()[0]
        assert chats.index_problems(db) == []
    assert unindexed > 0 and cut > 0
    for query in QUERIES:
        assert _hits(forensic, pg, query) == _hits(forensic, lite, query), query
    listing = forensic("messages", "--case", lite, "--json").jsonl()
    assert forensic("messages", "--case", pg, "--json").jsonl() == listing
    for more in (("--limit", "4"), ("--limit", "3"), ("--platform", "whatsapp", "--limit", "5")):
        assert _hits(forensic, pg, "a*", *more) == _hits(forensic, lite, "a*", *more), more
    with store_db.connect(postgres.Location.read(pg)) as db:
        assert chats.search_ids(db, "a*") == [i for i, _ in _hits(forensic, lite, "a*")]


def test_a_nul_in_a_message(forensic, tmp_path, pg_server, monkeypatch):
    """A \\u0000 in a message's text, which PostgreSQL's text cannot hold (SQLite's json_extract
    ends the text there, so its index holds what comes before): the message is indexed and
    found as on SQLite."""
    lite, pg = _two_cases(forensic, tmp_path, pg_server, monkeypatch, [*TELEGRAM_TEXTS, "nul\u0000inside it"])
    for query in ("nul", "inside", "nul inside", "nul*", "ok"):
        want = forensic("messages", "--case", lite, "--search", query).out
        assert forensic("messages", "--case", pg, "--search", query).out == want, query
    assert "nul" in forensic("messages", "--case", pg, "--search", "nul").out
    assert forensic("conversations", "--case", pg).out == forensic("conversations", "--case", lite).out
