"""Search index of chat messages (SQLite FTS5) in the case store.

Three tables (laid out in :mod:`forensic.store.schema`):

``chat_messages``
    one row per ``chat/message`` artifact (``id`` = ``artifacts.id``): item, extractor
    NAME, platform, conversation id and title, ``sent_key`` (microseconds since the Unix
    epoch: the UTC instant, or for a message whose zone is unknown its wall clock *read as
    if it were UTC*), ``sort_key`` (``sent_key``, or for a message without a time a key
    after every time: listings are in ``sort_key, id`` order), ``tz_known``, ``sent_at``, and
    the *search forms* of body, sender and conversation title. Its rowid ``seq`` is given
    in time order: the rows of one indexing run are inserted in ``sort_key, id`` order, so
    the FTS hits of one run, read in rowid order, come in time order (a search streams its
    first page without sorting every hit; see :func:`search_runs`).
``messages_fts``
    FTS5 over those search forms (external content = ``chat_messages``, rowid = ``seq``),
    tokenizer ``unicode61 remove_diacritics 2``: case folding in every script, Latin
    diacritics removed.
``chat_index``
    per (item, extractor): how many messages were indexed, the sum, lowest and highest of
    their ids, so a reader can tell whether the index still matches the artifacts (old
    cases; a rerun that did not run the chat extractors) — cheaply: the lowest and highest
    artifact ids of an item come from the ``artifacts_type`` index in O(log n); the lowest
    and highest ``seq`` of its rows; and ``form_version``, the :data:`INDEX_VERSION` that
    built it. An index of another version is emptied and rebuilt on first use.

Listings. :func:`messages` gives the rows of a message listing (``forensic messages``) as
typed :class:`~forensic.store.records.Message` rows, in time order, streamed: a listing
reads the ``chat_messages_time`` index, a search the FTS hits of each run in rowid order,
merged (see :func:`search_runs`), so the first page comes without reading every hit.
:func:`conversations` groups the index by conversation.

Search forms. unicode61 folds case in all scripts but removes diacritics from Latin letters
only, and it keeps bidi marks inside words. :func:`search_form` is applied to the indexed text
and to every query term alike: compatibility decomposition, combining marks of Latin, Greek and
Cyrillic letters removed (``día`` → ``dia``, ``ёлка`` → ``елка``), Arabic harakat, tatweel and
hamza/madda carriers reduced (``مَرْحَبًا`` → ``مرحبا``, ``أ``/``إ``/``آ`` → ``ا``), Hebrew points
removed, zero-width and bidi marks dropped, then Unicode case folding (``ß`` → ``ss``). Indic and
Thai vowel signs are kept (they are letters there).

On PostgreSQL (a lab's shared store, ``forensic.store.postgres``) the same rows are kept in
``chat_messages``, made in Python (PostgreSQL cannot call this module's SQL functions: the
rows are derived by the same SQL on an in-memory SQLite copy of the records), and the
full-text index is PostgreSQL's own: a ``lexemes`` tsvector column with a GIN index
(``forensic.store.schema.PG_CHAT_INDEX``). Its lexemes are the tokens FTS5's tokenizer gives
the same search forms (see :func:`_tokenize`), so a search finds the same messages on both
backends; :func:`_pg_search` maps the FTS5 query of :func:`fts_query` to a tsquery, and the
few cases a tsquery cannot decide alone (a quoted word of several tokens, a token too long
for a lexeme, a message too large for a tsvector) are checked in Python against the tokens.
"""
from __future__ import annotations

import heapq
import itertools
import json
import re
import sqlite3
import unicodedata
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from forensic.store.db import dialect
from forensic.store.records import Conversation, Message
from forensic.store.review import ConversationKey, _conversation
from forensic.store.schema import CHAT_TOKENIZER, empty_chat_index
from forensic.store.timeline import EARLIEST_OFFSET_H, HOUR_US, LATEST_OFFSET_H
from forensic.timestamps import iso_utc, now_utc

if TYPE_CHECKING:
    from forensic.case import Case

INDEX_VERSION = 2                 # search forms and table layout; 1: no seq/sort_key columns
NO_TIME_KEY = (1 << 63) - 1       # sort_key of a message without a time: after every time

_DROP = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+")
_ARABIC = str.maketrans({"\u0649": "\u064a", "\u0629": "\u0647", "\u0671": "\u0627"})  # ى→ي, ة→ه, ٱ→ا
_WORD = re.compile(r"\w", re.UNICODE)


def search_form(text: str | None) -> str:
    """The text as it is indexed and searched (see the module docstring)."""
    if not text:
        return ""
    if text.isascii():
        return text
    t = _DROP.sub("", unicodedata.normalize("NFKD", text))
    return unicodedata.normalize("NFC", t).translate(_ARABIC).casefold()


def ensure_schema(db: sqlite3.Connection) -> None:
    """Empty an index built by another :data:`INDEX_VERSION` (its items are then re-indexed
    by :func:`ensure_index`, which finds no ``chat_index`` row for them)."""
    if db.execute("SELECT 1 FROM chat_index WHERE form_version != ? LIMIT 1", (INDEX_VERSION,)).fetchone():
        own = not db.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")
        if dialect(db) == "postgresql":          # the same layout: its rows only
            db.execute("DELETE FROM chat_messages")
            db.execute("DELETE FROM chat_index")
        else:
            empty_chat_index(db)
        if own:
            db.execute("COMMIT")


def _key(sent_at_utc: str | None, sent_at: str | None) -> int | None:
    """Microseconds since the epoch: of the UTC instant, else of the wall clock read as UTC."""
    text = sent_at_utc or sent_at
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None or not sent_at_utc:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _register(db: sqlite3.Connection) -> None:
    db.create_function("chat_search_form", 1, search_form, deterministic=True)
    db.create_function("chat_sent_key", 2, _key, deterministic=True)


def _unindex(db: sqlite3.Connection, where: str, args: tuple) -> None:
    """Delete the index rows ``where`` (and, on SQLite, their FTS5 entries; PostgreSQL's
    lexemes are a column of the row)."""
    if dialect(db) == "sqlite":
        db.execute("INSERT INTO messages_fts(messages_fts, rowid, body, sender, title) "
                   f"SELECT 'delete', seq, body, sender, title FROM chat_messages WHERE {where}", args)
    db.execute(f"DELETE FROM chat_messages WHERE {where}", args)


# The index rows of an item's chat/message records (of the extractors matching a LIKE pattern),
# as derived from the records: what index_messages stores and index_problems checks against.
_COLUMNS = ("id, item, extractor, platform, conversation, conv_title, file_id, sent_key, sort_key, tz_known, "
            "sent_at, body, sender, title")
_DERIVED = (
    "SELECT id, item, extractor, platform, conversation, conv_title, file_id, sent_key, "
    "coalesce(sent_key, ?) AS sort_key, tz_known, sent_at, body, sender, title FROM ("
    "SELECT a.id AS id, a.item AS item, substr(a.extractor, 1, instr(a.extractor || '@', '@') - 1) AS extractor, "
    "json_extract(a.fields, '$.platform') AS platform, "
    "CAST(json_extract(a.fields, '$.conversation.id') AS TEXT) AS conversation, "
    "json_extract(a.fields, '$.conversation.title') AS conv_title, a.file_id AS file_id, "
    "chat_sent_key(json_extract(a.fields, '$.sent_at_utc'), json_extract(a.fields, '$.sent_at')) AS sent_key, "
    "coalesce(json_extract(a.fields, '$.tz_known'), 0) AS tz_known, "
    "json_extract(a.fields, '$.sent_at') AS sent_at, "
    "chat_search_form(json_extract(a.fields, '$.body')) AS body, "
    "chat_search_form(trim(coalesce(json_extract(a.fields, '$.sender'), json_extract(a.fields, '$.actor'), '') "
    "|| ' ' || coalesce(json_extract(a.fields, '$.sender_name'), ''))) AS sender, "
    "chat_search_form(json_extract(a.fields, '$.conversation.title')) AS title "
    "FROM artifacts a WHERE a.item = ? AND a.record_type = 'chat/message' AND a.extractor LIKE ?)")


def index_problems(db: sqlite3.Connection) -> list[str]:
    """How the search index differs from what the records give (``custody verify --deep``):
    for every item indexed, its rows against the rows derived from its records now, and the
    FTS index against its rows (FTS5 ``integrity-check`` with the content table; on
    PostgreSQL, each row's lexemes against its search forms). Items not indexed yet are
    skipped: they are indexed from the records on first use."""
    ensure_schema(db)
    if dialect(db) == "postgresql":
        return _index_problems_pg(db)
    _register(db)
    problems = []
    for (item,) in db.execute("SELECT DISTINCT item FROM chat_index ORDER BY item").fetchall():
        args = (NO_TIME_KEY, item, "%")
        stored = f"SELECT {_COLUMNS} FROM chat_messages WHERE item = ?"
        extra = db.execute(f"SELECT count(*) FROM ({stored} EXCEPT {_DERIVED})", (item, *args)).fetchone()[0]
        lost = db.execute(f"SELECT count(*) FROM ({_DERIVED} EXCEPT {stored})", (*args, item)).fetchone()[0]
        if extra or lost:
            problems.append(f"item {item}: {lost} message(s) missing from the search index or different "
                            f"there, {extra} index row(s) no record gives")
    try:
        db.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as exc:
        problems.append(f"the full-text index does not match its rows ({exc})")
    return problems


def index_messages(db: sqlite3.Connection, item: str, extractor: str | None = None) -> int:
    """(Re)build the index rows of ``item``'s chat messages (of one extractor NAME, or all).
    Idempotent; run inside the caller's transaction. Returns the number of messages indexed."""
    ensure_schema(db)
    args: tuple[str, ...]
    if extractor is None:
        where, args, like = "item = ?", (item,), "%"
    else:
        where, args, like = "item = ? AND extractor = ?", (item, extractor), extractor + "@%"
    _unindex(db, where, args)
    db.execute(f"DELETE FROM chat_index WHERE {where}", args)
    # rows left by an earlier run whose artifact ids were since given to new artifacts
    _unindex(db, "id IN (SELECT id FROM artifacts WHERE item = ? AND record_type = 'chat/message' "
                 "AND extractor LIKE ?)", (item, like))
    if dialect(db) == "postgresql":
        _insert_rows_pg(db, item, like)
    else:
        _register(db)
        # one run: rows inserted in time order, so their seq (the FTS rowid) follows time
        db.execute(f"INSERT INTO chat_messages({_COLUMNS}) {_DERIVED} ORDER BY sort_key, id",
                   (NO_TIME_KEY, item, like))
        db.execute("INSERT INTO messages_fts(rowid, body, sender, title) "
                   f"SELECT seq, body, sender, title FROM chat_messages WHERE {where}", args)
    return _record_index(db, item, extractor, where, args)


def _record_index(db: sqlite3.Connection, item: str, extractor: str | None, where: str, args: tuple) -> int:
    """The ``chat_index`` rows of what was just indexed (``where``: its rows). Returns how many
    messages that is."""
    now = iso_utc(now_utc())
    total = 0
    for name, n, s, lo, hi, seq_lo, seq_hi in db.execute(
            "SELECT extractor, count(*), sum(id), min(id), max(id), min(seq), max(seq) FROM chat_messages "
            f"WHERE {where} GROUP BY extractor", args).fetchall():
        # (the index's rows of item/extractor were deleted first: a plain INSERT, on both backends)
        db.execute("INSERT INTO chat_index(item, extractor, messages, id_sum, min_id, max_id, seq_lo, "
                   "seq_hi, form_version, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (item, name, n, s, lo, hi, seq_lo, seq_hi, INDEX_VERSION, now))
        total += n
    if extractor is not None and total == 0:
        db.execute("INSERT INTO chat_index(item, extractor, messages, id_sum, min_id, max_id, form_version, "
                   "indexed_at) VALUES (?,?,0,0,NULL,NULL,?,?)", (item, extractor, INDEX_VERSION, now))
    return total


# -- the index on PostgreSQL -------------------------------------------------------------------
# PostgreSQL has no Python functions to call from SQL: the rows are derived by the very SQL a
# SQLite store's index is made with (_DERIVED, with search_form and _key as its functions), run
# on an in-memory SQLite database over the records read from PostgreSQL, a page at a time; so
# every value (json_extract's, the casts, the search forms, the keys) is the one SQLite holds.

PG_BATCH = 2000                   # messages tokenized and inserted at a time; records read: 5 times that
# A lexeme of a tsvector holds at most 2047 bytes and a tsvector at most 1 MiB: a longer token
# is kept cut (at a character boundary) to LEXEME_BYTES, and a message whose lexemes would not
# fit is given UNINDEXED alone, a lexeme no token can be (FTS5 parts words at - and ( ): every
# search reads it, and checks its text in Python.
LEXEME_BYTES = 2000
TSVECTOR_BYTES = 512 * 1024
UNINDEXED = "(too-large-for-a-tsvector)"
PG_PAGE = 500                     # rows of a listing or search read at a time, in order


def _scratch() -> sqlite3.Connection:
    """An in-memory SQLite database with an ``artifacts`` table of the columns the chat index
    reads, and this module's SQL functions."""
    mem = sqlite3.connect(":memory:")
    mem.execute("CREATE TABLE artifacts (id INTEGER PRIMARY KEY, item TEXT, record_type TEXT, extractor TEXT, "
                "fields TEXT, file_id INTEGER)")
    _register(mem)
    return mem


def _record_pages(db: sqlite3.Connection, item: str) -> Iterator[list[tuple]]:
    """``item``'s chat/message records (the columns of :func:`_scratch`'s table), read from the
    store a page at a time in id order."""
    last = None
    while True:
        page = db.execute(
            "SELECT id, item, record_type, extractor, fields, file_id FROM artifacts WHERE item = ? "
            "AND record_type = 'chat/message'" + ("" if last is None else " AND id > ?") + " ORDER BY id LIMIT ?",
            (item, PG_BATCH * 5) if last is None else (item, last, PG_BATCH * 5)).fetchall()
        if not page:
            return
        yield [tuple(r) for r in page]
        last = page[-1][0]


def _derived_rows(db: sqlite3.Connection, item: str, like: str) -> list[tuple]:
    """The index rows (:data:`_COLUMNS`) of ``item``'s chat/message records of the extractors
    matching ``like``, as _DERIVED gives them, in time order (``sort_key, id``)."""
    rows: list[tuple] = []
    mem = _scratch()
    try:
        for page in _record_pages(db, item):
            mem.execute("DELETE FROM artifacts")
            mem.executemany("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?)", page)
            rows.extend(tuple(r) for r in mem.execute(_DERIVED, (NO_TIME_KEY, item, like)))
    finally:
        mem.close()
    rows.sort(key=lambda r: (r[8], r[0]))
    return rows


def _tokenizer(texts: Sequence[Sequence[str | None]]) -> sqlite3.Connection:
    """An in-memory FTS5 table ``t`` of the texts (up to three a row, ``c0``..``c2``; row i's
    rowid i + 1) and its ``fts5vocab`` table ``v`` of every token where it occurs. The tokens
    are those the SQLite index's FTS5 tokenizer (:data:`~forensic.store.schema.CHAT_TOKENIZER`)
    gives, so PostgreSQL's index parts, folds and matches words exactly as SQLite's does
    (PostgreSQL's own parser would not: it keeps host names, e-mail addresses, paths and
    decimal numbers whole, and its idea of a letter is the server's locale's)."""
    mem = sqlite3.connect(":memory:")
    mem.execute(f"CREATE VIRTUAL TABLE t USING fts5(c0, c1, c2, tokenize=\"{CHAT_TOKENIZER}\")")
    mem.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    mem.executemany("INSERT INTO t(rowid, c0, c1, c2) VALUES (?, ?, ?, ?)",
                    ((i + 1, *(list(row) + [None, None, None])[:3]) for i, row in enumerate(texts)))
    return mem


def _tokenize(texts: Sequence[Sequence[str | None]]) -> list[list[list[str]]]:
    """The tokens of each text of each row (up to three texts a row), in order (see
    :func:`_tokenizer`)."""
    out: list[list[list[str]]] = [[[], [], []] for _ in texts]
    if not texts:
        return out
    mem = _tokenizer(texts)
    try:
        found: dict[tuple[int, int], list[tuple[int, str]]] = {}
        for term, doc, col, offset in mem.execute("SELECT term, doc, col, offset FROM v"):
            found.setdefault((doc - 1, int(col[1])), []).append((offset, term))
    finally:
        mem.close()
    for (row, col), terms in found.items():
        out[row][col] = [t for _, t in sorted(terms)]
    return out


def _terms(texts: Sequence[Sequence[str | None]]) -> list[list[str]]:
    """The tokens of each row's texts, each once (see :func:`_tokenizer`): what its lexemes are
    made of. (A token never holds a space: FTS5 parts words there.)"""
    out: list[list[str]] = [[] for _ in texts]
    if not texts:
        return out
    mem = _tokenizer(texts)
    try:
        for doc, terms in mem.execute("SELECT doc, group_concat(term, ' ') FROM (SELECT DISTINCT doc, term FROM v) "
                                      "GROUP BY doc"):
            out[doc - 1] = terms.split(" ")
    finally:
        mem.close()
    return out


def _lexeme(token: str) -> str:
    """``token`` as a lexeme: cut to at most LEXEME_BYTES of UTF-8 (at a character boundary)."""
    data = token.encode("utf-8")
    if len(data) <= LEXEME_BYTES:
        return token
    return data[:LEXEME_BYTES].decode("utf-8", errors="ignore")


def _lexemes(terms: list[str]) -> list[str]:
    """The lexemes of a message's tokens (each once, in order), or [UNINDEXED] when they would
    not fit in a tsvector."""
    # (a character is at most 4 bytes of UTF-8: the bytes are counted only where that may matter)
    found = sorted({_lexeme(t) for t in terms} if any(len(t) * 4 > LEXEME_BYTES for t in terms) else set(terms))
    may_not_fit = sum(len(t) * 4 + 8 for t in found) > TSVECTOR_BYTES
    if may_not_fit and sum(len(t.encode("utf-8")) + 8 for t in found) > TSVECTOR_BYTES:
        return [UNINDEXED]
    return found


def _insert_rows_pg(db: sqlite3.Connection, item: str, like: str) -> None:
    """index_messages' rows on PostgreSQL (those of the extractors matching ``like``): the
    same rows, each with its lexemes, ``seq`` given in time order above every existing one
    (as SQLite gives its rowids)."""
    rows = _derived_rows(db, item, like)
    seq = db.execute("SELECT coalesce(max(seq), 0) FROM chat_messages").fetchone()[0]
    # a batch in one statement: a column's values as an array each, the lexemes of a row as
    # one text (parted at spaces, which no token holds)
    columns = ("seq", *(c.strip() for c in _COLUMNS.split(",")), "lexemes")
    numbers = {"seq", "id", "file_id", "sent_key", "sort_key", "tz_known"}
    arrays = ", ".join(f"CAST(? AS {'bigint' if c in numbers else 'text'}[])" for c in columns)
    for start in range(0, len(rows), PG_BATCH):
        batch = rows[start:start + PG_BATCH]
        lexemes = [" ".join(_lexemes(t)) for t in _terms([r[-3:] for r in batch])]
        values = [list(range(seq + start + 1, seq + start + len(batch) + 1)), *map(list, zip(*batch, strict=True)),
                  lexemes]
        db.execute(f"INSERT INTO chat_messages({', '.join(columns)}) "
                   f"SELECT {', '.join(columns[:-1])}, array_to_tsvector(string_to_array(lexemes, ' ')) "
                   f"FROM unnest({arrays}) AS r({', '.join(columns)})", values)


def _index_problems_pg(db: sqlite3.Connection) -> list[str]:
    """index_problems on PostgreSQL: each item's rows against those its records give now, and
    each row's lexemes against its search forms."""
    problems = []
    for (item,) in db.execute("SELECT DISTINCT item FROM chat_index ORDER BY item").fetchall():
        derived = set(_derived_rows(db, item, "%"))
        stored = {tuple(r) for r in db.execute(f"SELECT {_COLUMNS} FROM chat_messages WHERE item = ?", (item,))}
        extra, lost = len(stored - derived), len(derived - stored)
        if extra or lost:
            problems.append(f"item {item}: {lost} message(s) missing from the search index or different "
                            f"there, {extra} index row(s) no record gives")
    wrong = 0
    rows = db.execute("SELECT body, sender, title, tsvector_to_array(lexemes) FROM chat_messages "
                      "ORDER BY seq").fetchall()
    for start in range(0, len(rows), PG_BATCH):
        batch = rows[start:start + PG_BATCH]
        for r, terms in zip(batch, _terms([r[:3] for r in batch]), strict=True):
            wrong += sorted(r[3] or []) != _lexemes(terms)
    if wrong:
        problems.append(f"the full-text index does not match its rows ({wrong} message(s) with other lexemes)")
    return problems


_UNINDEXED_QUERY = f"'{UNINDEXED}'"


def _literal(tsquery: str) -> str:
    """``tsquery`` as a literal of the SQL text, not a parameter: a statement run again is
    prepared by psycopg, and PostgreSQL's generic plan of a prepared statement does not know
    how few rows a tsquery of a parameter finds (a search then walked the time index over every
    message instead of asking the GIN index). Quotes doubled and backslashes escaped in an
    E'' string, which reads the same whatever standard_conforming_strings says."""
    return "CAST(E'" + tsquery.replace("\\", "\\\\").replace("'", "''") + "' AS tsquery)"


def _pg_search(db: sqlite3.Connection, fts: str) -> tuple[str | None, list[tuple[list[str], bool]], bool]:
    """An FTS5 query of :func:`fts_query` (quoted phrases, ``*`` for a prefix, AND) on
    PostgreSQL: (the tsquery, the phrases as token lists with their prefix flag, whether the
    tsquery decides alone). The tsquery asks for every token of every phrase (the last one of
    a prefix phrase as a prefix, ``:*``), or UNINDEXED where the case has such a message
    (only there: PostgreSQL's planner takes an OR of a lexeme it knows nothing of for a common
    one, and scans every message). FTS5 also wants a phrase's tokens next
    to each other in one column: a tsquery of lexemes cannot say that, so a query with a phrase
    of several tokens (or a token too long for a lexeme) has its candidates checked in Python
    (:func:`_fts_matches`), as has every message given UNINDEXED; the hits are then FTS5's.
    A phrase without tokens matches nothing, as in FTS5: the tsquery is then None."""
    phrases: list[tuple[list[str], bool]] = []
    exact = True
    terms = []
    words = [(m.group(1).replace('""', '"'), bool(m.group(2))) for m in re.finditer(r'"((?:[^"]|"")*)"(\*?)', fts)]
    for (_, prefix), (tokens, _, _) in zip(words, _tokenize([(w, None, None) for w, _ in words]), strict=True):
        if not tokens:
            return None, [], True
        phrases.append((tokens, prefix))
        exact = exact and len(tokens) == 1
        for i, token in enumerate(tokens):
            lexeme = _lexeme(token)
            cut = len(lexeme.encode("utf-8")) > LEXEME_BYTES - 4      # a stored lexeme may be cut there
            exact = exact and not cut
            star = (prefix and i == len(tokens) - 1) or cut
            terms.append("'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if star else ""))
    if not phrases:
        return None, [], True
    query = " & ".join(terms)
    # (a count, not LIMIT 1: to find one of the few it guesses, the planner would scan them all)
    if db.execute(f"SELECT count(*) FROM chat_messages WHERE lexemes @@ {_literal(_UNINDEXED_QUERY)}").fetchone()[0]:
        query = f"({query}) | {_UNINDEXED_QUERY}"
    return query, phrases, exact


def _fts_matches(phrases: list[tuple[list[str], bool]], columns: list[list[str]]) -> bool:
    """FTS5's answer for a message: every phrase's tokens, in order and next to each other, in
    one of its columns (the last one as a prefix when the phrase has ``*``)."""
    def found(tokens: list[str], prefix: bool, column: list[str]) -> bool:
        n = len(tokens)
        for at in range(len(column) - n + 1):
            if column[at:at + n - 1] == tokens[:-1] and (
                    column[at + n - 1].startswith(tokens[-1]) if prefix else column[at + n - 1] == tokens[-1]):
                return True
        return False
    return all(any(found(tokens, prefix, column) for column in columns) for tokens, prefix in phrases)


def _pg_hits(rows: Iterable[Any], phrases: list[tuple[list[str], bool]], exact: bool) -> Iterator[Any]:
    """The rows of a PostgreSQL search that FTS5 would give: ``rows`` end with the message's
    body, sender and title search forms and whether it is UNINDEXED; those the tsquery does not
    decide alone are checked in Python (a batch of rows at a time, in their order)."""
    rows = iter(rows)
    while batch := list(itertools.islice(rows, 500)):
        check = [r for r in batch if not exact or r[-1]]
        tokens = dict(zip(map(id, check), _tokenize([r[-4:-1] for r in check]), strict=True))
        for r in batch:
            if id(r) not in tokens or _fts_matches(phrases, tokens[id(r)]):
                yield r


def index_is_current(db: sqlite3.Connection, item: str) -> bool:
    """The index holds the item's chat/message artifacts: same lowest and highest artifact
    id (both read from indexes, O(log n)) and the same search-form version. Artifacts are only
    ever removed a whole item at a time (``triage --force``), so a changed set shows there."""
    ensure_schema(db)
    lo = db.execute("SELECT min(id) FROM artifacts WHERE record_type = 'chat/message' AND item = ?",
                    (item,)).fetchone()[0]
    hi = db.execute("SELECT max(id) FROM artifacts WHERE record_type = 'chat/message' AND item = ?",
                    (item,)).fetchone()[0]
    idx = db.execute("SELECT min(min_id), max(max_id), coalesce(min(form_version), ?), count(*) FROM chat_index "
                     "WHERE item = ?", (INDEX_VERSION, item)).fetchone()
    if idx[3] == 0:
        return lo is None and not db.execute("SELECT 1 FROM chat_messages WHERE item = ? LIMIT 1",
                                             (item,)).fetchone()
    return (lo, hi) == (idx[0], idx[1]) and idx[2] == INDEX_VERSION


def ensure_index(case: Case, items: list[str]) -> list[str]:
    """Build the index of every item in ``items`` whose index is missing or stale (cases
    triaged before the index existed, or changed since). Returns the items (re)indexed."""
    done = []
    for item in items:
        if index_is_current(case.db, item):
            continue
        with case.transaction() as db:
            index_messages(db, item)
        done.append(item)
    return done


def fts_query(text: str) -> str | None:
    """A safe FTS5 query from what an examiner typed: every word must occur (in body, sender
    or conversation title), in its search form; a trailing ``*`` makes a word a prefix.
    None when nothing searchable remains. A NUL parts words, as the index's tokenizer parts
    them (inside a quoted term it ended FTS5's string: "unterminated string")."""
    terms = []
    for word in text.replace("\0", " ").split():
        prefix = word.endswith("*")
        word = search_form(word.rstrip("*"))
        if not _WORD.search(word):
            continue
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " AND ".join(terms) if terms else None


def search_ids(db: sqlite3.Connection, text: str, limit: int | None = None) -> list[int]:
    """Artifact ids of the messages matching ``text``, in index order (library entry point;
    the bench times it). For time order, see :func:`search_runs`."""
    q = fts_query(text)
    if q is None:
        return []
    if dialect(db) == "postgresql":
        tsquery, phrases, exact = _pg_search(db, q)
        if tsquery is None:
            return []
        rows = _pages(lambda after: db.execute(
            f"SELECT seq, id, body, sender, title, lexemes @@ {_literal(_UNINDEXED_QUERY)} FROM chat_messages "
            f"WHERE lexemes @@ {_literal(tsquery)} AND seq > ? ORDER BY seq LIMIT {int(PG_PAGE)}",
            (-1 if after is None else after,)).fetchall(), lambda r: r[0])
        ids = (r[1] for r in _pg_hits(rows, phrases, exact))
        return list(itertools.islice(ids, limit) if limit else ids)
    sql = ("SELECT m.id FROM messages_fts h CROSS JOIN chat_messages m ON m.seq = h.rowid "
           "WHERE messages_fts MATCH ?" + (" LIMIT ?" if limit else ""))
    return [r[0] for r in db.execute(sql, (q, limit) if limit else (q,))]


def search_runs(db: sqlite3.Connection, items: list[str]) -> list[tuple[int, int]]:
    """``seq`` ranges of ``items``' rows, each in time order (``sort_key, id``), disjoint.

    Every indexing run inserts its rows in time order above every existing ``seq``, and a
    re-index removes all rows of its (item, extractor) first: so the rows of one (item,
    extractor) lie in one run, the ranges of two runs never overlap, and overlapping ranges
    (extractors indexed together) belong to one run. Merging overlapping ranges thus gives
    ranges whose rows, read in ``seq`` order, are in time order."""
    spans = sorted(tuple(r) for r in db.execute(
        f"SELECT seq_lo, seq_hi FROM chat_index WHERE item IN ({','.join('?' * len(items))}) "
        "AND seq_lo IS NOT NULL", items))
    out: list[tuple[int, int]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


# -- listings ----------------------------------------------------------------------------------

# A phone database's record found only in the uncommitted state (the extractors' ``db_state``)
# also has its ``source_ref`` ending so (docs/formats.md): a cheap test of the artifacts row
# before its fields are read.
_UNCOMMITTED_REF = "% (uncommitted)"
_UNCOMMITTED_SQL = f"(a.source_ref LIKE '{_UNCOMMITTED_REF}' AND json_extract(a.fields, '$.db_state') = 'uncommitted')"
# A deleted row recovered from a phone database's free space (the extractors' ``recovered``)
# has its ``source_ref`` say so too: ``TABLE:ROWID (recovered: IN, file offset N)``.
_RECOVERED_REF = "% (recovered: %"
_RECOVERED_SQL = f"(a.source_ref LIKE '{_RECOVERED_REF}' AND json_extract(a.fields, '$.recovered') = 'deleted')"
# On PostgreSQL the field is read as json, not jsonb (json_extract): a recovered row's JSON
# may hold a \u0000 elsewhere, which jsonb refuses and json keeps.
_PG_UNCOMMITTED_SQL = (f"(a.source_ref LIKE '{_UNCOMMITTED_REF}' "
                       "AND (CAST(a.fields AS json) ->> 'db_state') = 'uncommitted')")
_PG_RECOVERED_SQL = f"(a.source_ref LIKE '{_RECOVERED_REF}' AND (CAST(a.fields AS json) ->> 'recovered') = 'deleted')"


def platforms(db: sqlite3.Connection) -> set[str]:
    """The platforms of the indexed messages (as stored: lower case)."""
    return {r[0] for r in db.execute("SELECT DISTINCT platform FROM chat_messages WHERE platform IS NOT NULL")}


def _message_query(items: list[str], platform: str | None = None, conversation: str | None = None,
                   start_us: int | None = None, end_us: int | None = None, fts: str | None = None,
                   limit: int | None = None, run: tuple[int, int] | None = None,
                   state: bool | None = None, recovered: bool | None = None,
                   sql_dialect: str = "sqlite", after: tuple[int, int] | None = None) -> tuple[str, list[Any]]:
    """SQL (and its arguments) of a message listing, in time order (``sort_key, id``).

    Without a search, the ``chat_messages_time`` index gives that order (rows stream, no
    sort). With a search, one query per ``run`` (a ``seq`` range from :func:`search_runs`):
    the FTS hits of the run read in rowid order are in time order, and the FTS table drives
    the query (CROSS JOIN keeps that order of evaluation), so the first rows come without
    reading every hit; :func:`messages` merges the runs. The columns are those of
    :class:`~forensic.store.records.Message`.

    On PostgreSQL (``sql_dialect``), ``fts`` is a tsquery (:func:`_pg_search`): one query in
    ``sort_key, id`` order, whose rows end with the search forms and the UNINDEXED flag that
    :func:`_pg_hits` checks; ``after``: only the rows after this (``sort_key, id``), a page
    after another (PostgreSQL's client reads a query's every row at once)."""
    pg = sql_dialect == "postgresql"
    where = [f"m.item IN ({','.join('?' * len(items))})"]
    args: list[Any] = list(items)
    if platform:
        where.append("m.platform = ?")
        args.append(platform)
    if conversation:
        where.append("m.conversation = ?")
        args.append(conversation)
    # a message whose zone is unknown is kept when its true instant could be in range: its
    # wall clock (read as UTC) lies within start - 12 h .. end + 14 h (offsets -12:00..+14:00)
    known = "m.tz_known != 0" if pg else "m.tz_known"        # a CASE wants a boolean on PostgreSQL
    if start_us is not None:
        where.append(f"m.sent_key >= CASE WHEN {known} THEN ? ELSE ? END")
        args.extend([start_us, start_us + EARLIEST_OFFSET_H * HOUR_US])
    if end_us is not None:
        where.append(f"m.sent_key <= CASE WHEN {known} THEN ? ELSE ? END")
        args.extend([end_us, end_us + LATEST_OFFSET_H * HOUR_US])
    uncommitted_sql = _PG_UNCOMMITTED_SQL if pg else _UNCOMMITTED_SQL
    recovered_sql = _PG_RECOVERED_SQL if pg else _RECOVERED_SQL
    if state is not None:
        where.append(uncommitted_sql if state else f"NOT {uncommitted_sql} IS TRUE")
    if recovered is not None:
        where.append(recovered_sql if recovered else f"NOT {recovered_sql} IS TRUE")
    if after is not None:
        where.append("(m.sort_key, m.id) > (?, ?)")
        args.extend(after)
    cols = "m.id AS id, m.item AS item, a.fields, a.corrupted, a.warnings, f.locator, m.sort_key AS sort_key"
    joins = "JOIN artifacts a ON a.id = m.id LEFT JOIN files f ON f.id = a.file_id"
    if fts is not None and pg:
        # the page's rows chosen in a subquery of chat_messages alone (the record joined only
        # for a flag asked of it), so PostgreSQL's planner weighs the GIN index against the time
        # index for them, not a parallel scan of every message for the whole join
        flags = "JOIN artifacts a ON a.id = m.id " if state is not None or recovered is not None else ""
        page = (f"SELECT m.id, m.item, m.sort_key, m.body, m.sender, m.title, "
                f"m.lexemes @@ {_literal(_UNINDEXED_QUERY)} AS unindexed FROM chat_messages m {flags}"
                f"WHERE m.lexemes @@ {_literal(fts)} AND " + " AND ".join(where) + " ORDER BY m.sort_key, m.id"
                + (f" LIMIT {int(limit)}" if limit else ""))     # (a literal too: see _literal)
        return (f"SELECT {cols}, m.body, m.sender, m.title, m.unindexed FROM ({page}) m {joins} "
                "ORDER BY m.sort_key, m.id"), args
    elif fts is not None:
        if run is None:
            raise ValueError("a search query needs a seq run")
        sql = (f"SELECT {cols} FROM messages_fts h CROSS JOIN chat_messages m ON m.seq = h.rowid {joins} "
               "WHERE h.messages_fts MATCH ? AND h.rowid BETWEEN ? AND ? AND " + " AND ".join(where)
               + " ORDER BY h.rowid")
        args = [fts, run[0], run[1], *args]
    else:
        # the time index streams the listing; one conversation is read through its own index
        index = "" if conversation or pg else "INDEXED BY chat_messages_time "
        sql = (f"SELECT {cols} FROM chat_messages m {index}{joins} "
               "WHERE " + " AND ".join(where) + " ORDER BY m.sort_key, m.id")
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return sql, args


def _message(cursor: sqlite3.Cursor, row: tuple) -> Message:
    return Message.from_row(row)


def _typed_messages(db: sqlite3.Connection, sql: str, args: list[Any]) -> sqlite3.Cursor:
    """The rows of ``sql`` as :class:`Message` rows, made straight from each row's tuple."""
    cursor = db.cursor()
    cursor.row_factory = _message
    return cursor.execute(sql, args)


def messages(db: sqlite3.Connection, items: list[str], platform: str | None = None,
             conversation: str | None = None, start_us: int | None = None, end_us: int | None = None,
             fts: str | None = None, limit: int | None = None, state: bool | None = None,
             recovered: bool | None = None) -> Iterator[Message]:
    """The messages of ``items`` in time order (``sort_key, id``), streamed: the first ones
    come before the last ones are read. At most ``limit``. Of one ``platform`` (as stored),
    one ``conversation`` id; sent within ``start_us`` .. ``end_us`` (µs since the epoch,
    inclusive; a message whose zone is unknown is kept when it could be in range); matching
    ``fts`` (a query from :func:`fts_query`). ``state``: True keeps only the messages flagged
    uncommitted (``db_state``), False leaves them out, None keeps all; ``recovered`` likewise
    for the deleted rows recovered from free space (``recovered: "deleted"``)."""
    if dialect(db) == "postgresql":
        yield from _messages_pg(db, items, platform, conversation, start_us, end_us, fts, limit, state, recovered)
        return

    def query(run: tuple[int, int] | None) -> sqlite3.Cursor:
        sql, args = _message_query(items, platform, conversation, start_us, end_us, fts, limit, run, state,
                                   recovered)
        return _typed_messages(db, sql, args)
    if fts is None:
        yield from query(None)
        return
    streams = [query(run) for run in search_runs(db, items)]
    if not streams:
        return
    rows = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda m: (m.sort_key, m.id))
    yield from itertools.islice(rows, limit) if limit else rows


def _messages_pg(db: sqlite3.Connection, items: list[str], platform: str | None, conversation: str | None,
                 start_us: int | None, end_us: int | None, fts: str | None, limit: int | None,
                 state: bool | None, recovered: bool | None) -> Iterator[Message]:
    """:func:`messages` on PostgreSQL: pages of PG_PAGE rows in time order, each after the last
    one's (``sort_key, id``), so the first rows come without reading every one; a search's
    rows checked by :func:`_pg_hits` where its tsquery does not decide alone."""
    tsquery, phrases, exact = (None, [], True) if fts is None else _pg_search(db, fts)
    if fts is not None and tsquery is None:
        return

    def page(after: tuple[int, int] | None) -> list:
        sql, args = _message_query(items, platform, conversation, start_us, end_us, tsquery, PG_PAGE, None, state,
                                   recovered, "postgresql", after)
        return db.execute(sql, args).fetchall()
    rows = _pages(page, lambda r: (r[6], r[0]))           # sort_key, id
    if tsquery is not None:
        rows = _pg_hits(rows, phrases, exact)
    hits = (Message.from_row(r) for r in rows)
    yield from itertools.islice(hits, limit) if limit else hits


def _pages(page: Callable[[Any], list], key: Callable[[Any], Any]) -> Iterator[Any]:
    """The rows of ``page(after)`` (a query of at most PG_PAGE rows in the order of ``key(row)``,
    those after ``after`` when it is not None), page after page until a short one."""
    after = None
    while True:
        rows = page(after)
        yield from rows
        if len(rows) < PG_PAGE:
            return
        after = key(rows[-1])


def conversations(db: sqlite3.Connection, items: list[str], platform: str | None = None) -> list[Conversation]:
    """The conversations of ``items`` (of one ``platform``, as stored), by item, then the
    time of their first message (those without a time last), platform and id."""
    where, args = [f"item IN ({','.join('?' * len(items))})"], list(items)
    if platform:
        where.append("platform = ?")
        args.append(platform)
    groups = db.execute(
        "SELECT item, platform, conversation, max(conv_title) AS title, count(*) AS n, min(id) AS first_id, "
        "min(sent_key) AS lo, max(sent_key) AS hi, group_concat(DISTINCT file_id) AS files FROM chat_messages "
        "WHERE " + " AND ".join(where) + " GROUP BY item, platform, conversation "
        "ORDER BY item, min(sent_key) IS NULL, min(sent_key), platform, conversation", args).fetchall()
    pending = _uncommitted_counts(db, items, platform)
    out = []
    for g in groups:
        # read in Python: PostgreSQL's json_extract refuses a record whose JSON holds a \u0000
        first = db.execute("SELECT fields FROM artifacts WHERE id = ?", (g["first_id"],)).fetchone()
        sources = []
        for fid in sorted(int(x) for x in (g["files"] or "").split(",") if x):
            f = db.execute("SELECT path, locator FROM files WHERE id = ?", (fid,)).fetchone()
            if f is not None:
                sources.append((f["path"], f["locator"]))
        out.append(Conversation.from_row(
            g, first_at=_sent_at(db, g, g["lo"]), last_at=_sent_at(db, g, g["hi"]),
            participants=_participants(first[0] if first else None), sources=tuple(sources),
            uncommitted=pending.get((g["item"], g["platform"], g["conversation"]), 0)))
    return out


def _participants(fields_json: str | None) -> list:
    """A message record's ``participants`` (a list; anything else as none)."""
    try:
        fields = json.loads(fields_json) if fields_json else None
    except ValueError:
        return []
    found = fields.get("participants") if isinstance(fields, dict) else None
    return found if isinstance(found, list) else []


def _sent_at(db: sqlite3.Connection, g: sqlite3.Row, key: int | None) -> str | None:
    """The time (as its record gives it) of the conversation ``g``'s first message whose
    ``sent_key`` is ``key``."""
    if key is None:
        return None
    where, args = _conversation(ConversationKey(g["item"], g["platform"], g["conversation"]))
    r = db.execute(f"SELECT sent_at FROM chat_messages WHERE {where} AND sent_key = ? ORDER BY id LIMIT 1",
                   (*args, key)).fetchone()
    return r[0] if r else None


def _uncommitted_counts(db: sqlite3.Connection, items: list[str], platform: str | None) -> dict[tuple, int]:
    """(item, platform, conversation) -> how many of its messages are flagged uncommitted; only
    the conversations that have some. Read from the chat artifacts' rows (their source_ref
    first: the fields of the few that match only)."""
    where, args = [f"a.item IN ({','.join('?' * len(items))})"], list(items)
    if platform:
        where.append("m.platform = ?")
        args.append(platform)
    pg = dialect(db) == "postgresql"
    index = "" if pg else "INDEXED BY artifacts_type "
    flag = _PG_UNCOMMITTED_SQL if pg else _UNCOMMITTED_SQL
    rows = db.execute(
        f"SELECT m.item, m.platform, m.conversation, count(*) FROM artifacts a {index}"
        "JOIN chat_messages m ON m.id = a.id WHERE a.record_type = 'chat/message' AND "
        + " AND ".join(where) + f" AND {flag} GROUP BY m.item, m.platform, m.conversation", args)
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def conversation_order(db: sqlite3.Connection, item: str) -> dict[tuple[str | None, str | None], list[int]]:
    """Every conversation of ``item`` by (platform, conversation id as text), as its records
    give them, with the artifact ids of its messages in time order (``sort_key, id``: the
    order of ``forensic messages``). Read from the records, not the search index (which may
    not be built yet), so a report can say where its selected messages stand in their
    conversation."""
    if dialect(db) == "postgresql":         # the same SQL, on the records copied to SQLite
        mem = _scratch()
        try:
            for page in _record_pages(db, item):
                mem.executemany("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?)", page)
            return conversation_order(mem, item)
        finally:
            mem.close()
    _register(db)
    rows = db.execute(
        "SELECT id, json_extract(fields, '$.platform'), CAST(json_extract(fields, '$.conversation.id') AS TEXT), "
        "chat_sent_key(json_extract(fields, '$.sent_at_utc'), json_extract(fields, '$.sent_at')) "
        "FROM artifacts WHERE item = ? AND record_type = 'chat/message'", (item,)).fetchall()
    return _in_order(rows)


def _in_order(rows: Iterable[Sequence[Any]]) -> dict[tuple[str | None, str | None], list[int]]:
    """(artifact id, platform, conversation, sent_key) rows by conversation, ids in time order."""
    keyed: dict[tuple[str | None, str | None], list[tuple[int, int]]] = {}
    for artifact_id, platform, conversation, sent_key in rows:
        keyed.setdefault((platform, conversation), []).append(
            (NO_TIME_KEY if sent_key is None else sent_key, artifact_id))
    return {k: [i for _, i in sorted(v)] for k, v in keyed.items()}
