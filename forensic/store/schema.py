"""Every table of the case store, its one schema version, and the forward migrations.

The store is one SQLite file, ``CASE/case.db``. This module is the only place that creates,
changes or drops its tables. ``meta.schema_version`` says which version of the layout a
store has; a store of an older version is migrated when it is opened (:func:`migrate`): each
step in :data:`MIGRATIONS` runs in order, all of them in one write transaction, so a store
is either at its old version or at the new one, never between. The steps done are kept in
``meta.migrated_from`` until the custody log records them as ``case.migrated``
(:mod:`forensic.chain_of_custody.hooks`).

Tables:

``meta``            case id, examiner, schema version (key, value)
``items``           evidence items: source, format, hashes, acquisition details, triage state
``files``           every entry walked in an item (one row per locator)
``warnings``        what could not be read, and why (per item, per locator)
``artifacts``       records extractors made (``fields``: JSON), each from one file
``timestamps``      the times of each record, with their zone provenance and raw value
``chat_messages``   the search form of every ``chat/message`` record (see
                    :mod:`forensic.store.chats`), with ``messages_fts`` (FTS5) and
                    ``chat_index`` (what was indexed, per item and extractor)
``tags``            the examiner's tags on files, messages and conversations
``person_roles``    the persons the examiner marks as victim, witness or suspect (one row per
                    identity, kept when unmarked: its row order gives its stable pseudonym)
``hashset_hits``    the files a hash set from the examiner's library matched (set, kind, category)
``hashset_checks``  which sets each item was checked against (name, kind, source SHA-256,
                    record count, when)
``content_text``    text extracted from each item's documents for ``forensic search`` (PDF,
                    Office, HTML, BOM text), with ``content_fts`` (FTS5, trigram: substrings)
                    and ``content_index`` (which items were indexed, against which triage)
``timeline_keys``   the timeline's order, one row per time (file system or record), with the
                    place of its record where it has one; ``map_places``: every place a
                    record holds (a photo's geotag, a position shared in a chat), with its
                    time. Both made by :mod:`forensic.store.timeline` at the end of a triage
                    and brought up to date on use (``meta.timeline_generation``)
``names_fts``, ``photo_meta_fts``
                    the search box's trigram indexes (FTS5, substrings in any case) of file
                    names and paths and of photo records' metadata values, kept by triggers
                    on ``files`` and ``artifacts``: every writer keeps them current
``custody_checkpoints``, ``custody_pins``
                    the store's copies of the custody log's latest checkpoint and of the
                    examiners' pinned keys (the log itself is the file ``custody.jsonl``)
"""
from __future__ import annotations

import re
import sqlite3
from typing import Any, Callable

from forensic.errors import CaseError
from forensic.store.db import dialect

SCHEMA_VERSION = 8

# FTS5 tokenizer of the chat search index: case folding in every script, Latin diacritics
# removed (the rest of the folding is done before indexing: forensic.store.chats.search_form).
CHAT_TOKENIZER = "unicode61 remove_diacritics 2"

TABLES = f"""
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    item TEXT PRIMARY KEY,
    source_path TEXT NOT NULL,
    format TEXT NOT NULL,
    description TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    md5 TEXT NOT NULL,
    acquisition_hashes TEXT NOT NULL DEFAULT '{{}}',
    acquisition_hash_verified INTEGER,
    details TEXT NOT NULL DEFAULT '{{}}',
    added_at TEXT NOT NULL,
    triaged_at TEXT,
    triage_summary TEXT
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL REFERENCES items(item),
    locator TEXT NOT NULL,
    path TEXT NOT NULL,
    layers TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER,
    sha256 TEXT,
    md5 TEXT,
    sha1 TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    allocated INTEGER NOT NULL DEFAULT 1,
    mime TEXT,
    magic TEXT,
    extension_mismatch INTEGER NOT NULL DEFAULT 0,
    modified_at TEXT, accessed_at TEXT, changed_at TEXT, born_at TEXT,
    times_tz_known INTEGER NOT NULL DEFAULT 1,
    times_tz_source TEXT,
    inode TEXT,
    link_target TEXT,
    warnings INTEGER NOT NULL DEFAULT 0,
    recovery TEXT,
    recovery_confidence TEXT,
    UNIQUE(item, locator)
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE INDEX IF NOT EXISTS files_mime ON files(item, mime);
CREATE TABLE IF NOT EXISTS warnings (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    locator TEXT,
    stage TEXT NOT NULL,
    message TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    file_id INTEGER REFERENCES files(id),
    record_type TEXT NOT NULL,
    extractor TEXT NOT NULL,
    source_ref TEXT,
    fields TEXT NOT NULL,
    corrupted INTEGER NOT NULL DEFAULT 0,
    warnings TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS artifacts_type ON artifacts(record_type, item);
CREATE INDEX IF NOT EXISTS artifacts_file ON artifacts(file_id);
CREATE TABLE IF NOT EXISTS timestamps (
    artifact_id INTEGER REFERENCES artifacts(id),
    file_id INTEGER REFERENCES files(id),
    label TEXT NOT NULL,
    utc TEXT,
    local TEXT,
    tz_known INTEGER NOT NULL,
    tz_source TEXT NOT NULL,
    raw TEXT
);
CREATE INDEX IF NOT EXISTS timestamps_utc ON timestamps(utc);
CREATE INDEX IF NOT EXISTS timestamps_artifact ON timestamps(artifact_id);
CREATE TABLE IF NOT EXISTS chat_messages (
    seq INTEGER PRIMARY KEY,
    id INTEGER NOT NULL UNIQUE,
    item TEXT NOT NULL,
    extractor TEXT NOT NULL,
    platform TEXT,
    conversation TEXT,
    conv_title TEXT,
    file_id INTEGER,
    sent_key INTEGER,
    sort_key INTEGER NOT NULL,
    tz_known INTEGER NOT NULL DEFAULT 0,
    sent_at TEXT,
    body TEXT,
    sender TEXT,
    title TEXT
);
CREATE INDEX IF NOT EXISTS chat_messages_item ON chat_messages(item, extractor);
CREATE INDEX IF NOT EXISTS chat_messages_conv ON chat_messages(item, platform, conversation, sent_key);
CREATE INDEX IF NOT EXISTS chat_messages_time ON chat_messages(sort_key, id);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    body, sender, title, content='chat_messages', content_rowid='seq', tokenize="{CHAT_TOKENIZER}");
CREATE TABLE IF NOT EXISTS chat_index (
    item TEXT NOT NULL,
    extractor TEXT NOT NULL,
    messages INTEGER NOT NULL,
    id_sum INTEGER NOT NULL,
    min_id INTEGER,
    max_id INTEGER,
    seq_lo INTEGER,
    seq_hi INTEGER,
    form_version INTEGER NOT NULL,
    indexed_at TEXT NOT NULL,
    PRIMARY KEY(item, extractor)
);
CREATE TABLE IF NOT EXISTS tags (
    id INTEGER PRIMARY KEY,
    target_kind TEXT NOT NULL,
    target_ref TEXT NOT NULL,
    item TEXT NOT NULL,
    tag TEXT NOT NULL,
    note TEXT,
    sensitive INTEGER NOT NULL DEFAULT 0,
    at TEXT NOT NULL,
    by TEXT,
    UNIQUE(target_kind, item, target_ref, tag)
);
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);
CREATE TABLE IF NOT EXISTS person_roles (
    id INTEGER PRIMARY KEY,
    identity TEXT NOT NULL UNIQUE,
    role TEXT,
    note TEXT,
    given TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT
);
CREATE TABLE IF NOT EXISTS hashset_hits (
    file_id INTEGER NOT NULL REFERENCES files(id),
    item TEXT NOT NULL,
    hashset TEXT NOT NULL,
    kind TEXT NOT NULL,
    category TEXT,
    algorithm TEXT NOT NULL,
    PRIMARY KEY(file_id, hashset)
);
CREATE INDEX IF NOT EXISTS hashset_hits_item ON hashset_hits(item, kind);
CREATE TABLE IF NOT EXISTS hashset_checks (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    hashset TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    records INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    files_checked INTEGER NOT NULL,
    hits INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS content_text (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    locator TEXT NOT NULL,
    path TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    extractor TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS content_text_item ON content_text(item);
CREATE VIRTUAL TABLE IF NOT EXISTS content_fts USING fts5(
    text, content='content_text', content_rowid='id', tokenize='trigram');
CREATE TABLE IF NOT EXISTS content_index (
    item TEXT PRIMARY KEY,
    triaged_at TEXT,
    documents INTEGER NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timeline_keys (
    k INTEGER NOT NULL,
    tz_unknown INTEGER NOT NULL,
    item TEXT NOT NULL,
    path TEXT NOT NULL,
    label TEXT NOT NULL,
    source INTEGER NOT NULL,
    ref INTEGER NOT NULL,
    lat REAL,
    lon REAL
);
CREATE INDEX IF NOT EXISTS timeline_keys_order ON timeline_keys(k, tz_unknown, item, path, label, source, ref);
CREATE INDEX IF NOT EXISTS timeline_keys_item ON timeline_keys(item, k, tz_unknown, path, label, source, ref);
CREATE INDEX IF NOT EXISTS timeline_keys_placed ON timeline_keys(k, tz_unknown, item, path, label, source, ref,
    lat, lon) WHERE lat IS NOT NULL;
CREATE TABLE IF NOT EXISTS map_places (
    artifact_id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    kind TEXT NOT NULL,
    file_id INTEGER,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    k INTEGER,
    at TEXT,
    label TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS map_places_time ON map_places(k, artifact_id);
CREATE INDEX IF NOT EXISTS map_places_item ON map_places(item);
CREATE VIRTUAL TABLE IF NOT EXISTS names_fts USING fts5(
    name, path, content='files', content_rowid='id', tokenize='trigram');
CREATE VIRTUAL TABLE IF NOT EXISTS photo_meta_fts USING fts5(text, tokenize='trigram');
CREATE TABLE IF NOT EXISTS custody_checkpoints (
    tree_size INTEGER NOT NULL,
    root TEXT NOT NULL,
    at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS custody_pins (
    examiner TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL
);
"""


# the metadata values of a photo record as photo_meta_fts holds them: one a line
_META_TEXT = ("(SELECT group_concat(CAST(atom AS TEXT), char(10)) FROM json_tree({fields}) "
              "WHERE atom IS NOT NULL)")
# The triggers that keep the search box's indexes current, whoever writes (a statement each:
# TABLES is split on ';').
TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS names_fts_insert AFTER INSERT ON files BEGIN "
    "INSERT INTO names_fts(rowid, name, path) VALUES (new.id, new.name, new.path); END",
    "CREATE TRIGGER IF NOT EXISTS names_fts_delete AFTER DELETE ON files BEGIN "
    "INSERT INTO names_fts(names_fts, rowid, name, path) VALUES ('delete', old.id, old.name, old.path); END",
    "CREATE TRIGGER IF NOT EXISTS names_fts_update AFTER UPDATE OF name, path ON files BEGIN "
    "INSERT INTO names_fts(names_fts, rowid, name, path) VALUES ('delete', old.id, old.name, old.path); "
    "INSERT INTO names_fts(rowid, name, path) VALUES (new.id, new.name, new.path); END",
    "CREATE TRIGGER IF NOT EXISTS photo_meta_fts_insert AFTER INSERT ON artifacts "
    "WHEN new.record_type = 'photo/exif' AND json_valid(new.fields) BEGIN "
    f"INSERT INTO photo_meta_fts(rowid, text) VALUES (new.id, {_META_TEXT.format(fields='new.fields')}); END",
    "CREATE TRIGGER IF NOT EXISTS photo_meta_fts_delete AFTER DELETE ON artifacts "
    "WHEN old.record_type = 'photo/exif' BEGIN DELETE FROM photo_meta_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER IF NOT EXISTS photo_meta_fts_update AFTER UPDATE OF fields, record_type ON artifacts BEGIN "
    "DELETE FROM photo_meta_fts WHERE rowid = old.id; "
    "INSERT INTO photo_meta_fts(rowid, text) SELECT new.id, "
    f"{_META_TEXT.format(fields='new.fields')} WHERE new.record_type = 'photo/exif' AND json_valid(new.fields); END",
)


# -- the same layout on PostgreSQL ----------------------------------------------------------------
# TABLES with PostgreSQL's types: SQLite's INTEGER is 64 bits (BIGINT), its REAL a double; text
# compares by code point there, so it does here (COLLATE "C"); an INTEGER PRIMARY KEY is an
# identity column; a table read in insertion order by SQLite's hidden ``rowid`` has one made
# visible. The FTS5 tables are SQLite's own: on PostgreSQL names and photo metadata are
# searched through trigram indexes (pg_trgm) and the chat and content indexes are not built yet
# (the commands that need them say so, forensic.store.db.require_sqlite).
_PG_TYPES = ((r"\bINTEGER\b", "BIGINT"),
             (r"\bREAL\b", "DOUBLE PRECISION"),
             (r"\bTEXT\b", 'TEXT COLLATE "C"'))
_PG_ROWID = ("timestamps", "custody_checkpoints", "custody_pins")
# The SQLite functions the store's SQL calls, made in the case's schema with SQLite's meaning
# (JSON paths such as '$.a.b[0]' are SQL/JSON paths as well). A value read from JSON is text
# here (SQLite gives numbers as numbers): the store casts where it compares numbers.
# sqlite_jsonb: a JSON text as jsonb, which refuses a "\u0000" that SQLite's JSON (and
# Python's) keeps: there the NUL is read as U+FFFD (PostgreSQL's text cannot hold a NUL), so
# one record holding a NUL from the evidence never fails a query over every record. A
# backslash escaped ("\\") is respelled "\u005c" first, so "\\u0000" stays text.
PG_SQLITE_FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION sqlite_jsonb(doc text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN strpos(doc, '\\u0000') = 0 THEN doc::jsonb
                ELSE regexp_replace(regexp_replace(doc, '\\\\\\\\', '\\\\u005c', 'g'),
                                    '\\\\u0000', '\\\\ufffd', 'g')::jsonb END
$$""",
    """CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' WHEN 'null' THEN NULL ELSE v::text END
    FROM (SELECT jsonb_path_query_first(sqlite_jsonb(doc), path::jsonpath) AS v) found
$$""",
    """CREATE OR REPLACE FUNCTION json_type(doc text, path text DEFAULT '$') RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(v)
        WHEN 'string' THEN 'text'
        WHEN 'number' THEN CASE WHEN v::text ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END
        WHEN 'boolean' THEN v::text
        ELSE jsonb_typeof(v) END
    FROM (SELECT jsonb_path_query_first(sqlite_jsonb(doc), path::jsonpath) AS v) found
$$""",
    """CREATE OR REPLACE FUNCTION json_array_length(doc text, path text DEFAULT '$') RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL THEN NULL WHEN jsonb_typeof(v) = 'array' THEN jsonb_array_length(v) ELSE 0 END
    FROM (SELECT jsonb_path_query_first(sqlite_jsonb(doc), path::jsonpath) AS v) found
$$""",
    """CREATE OR REPLACE FUNCTION json_valid(doc text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    PERFORM sqlite_jsonb(doc);
    RETURN CASE WHEN doc IS NULL THEN NULL ELSE 1 END;
EXCEPTION WHEN others THEN
    RETURN 0;
END $$""",
    """CREATE OR REPLACE FUNCTION json_each(doc text, path text DEFAULT '$')
RETURNS TABLE(key text, value text, type text, atom text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT e.key, CASE jsonb_typeof(e.value) WHEN 'string' THEN e.value #>> '{}' WHEN 'null' THEN NULL
                       ELSE e.value::text END,
           json_type(e.value::text), CASE WHEN jsonb_typeof(e.value) IN ('object', 'array', 'null') THEN NULL
                                          ELSE e.value #>> '{}' END
    FROM (SELECT jsonb_path_query_first(sqlite_jsonb(doc), path::jsonpath) AS v) found,
         LATERAL (SELECT (o).key, (o).value FROM jsonb_each(CASE WHEN jsonb_typeof(v) = 'object' THEN v END) o
                  UNION ALL
                  SELECT (a.n - 1)::text, a.value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v) = 'array'
                                                                        THEN v END) WITH ORDINALITY a(value, n)) e
$$""",
    """CREATE OR REPLACE FUNCTION group_concat_step(acc text, v anyelement, sep text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v::text ELSE acc || sep || v::text END
$$""",
    """CREATE OR REPLACE FUNCTION group_concat_step(acc text, v anyelement) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT group_concat_step(acc, v, ',') $$""",
    "CREATE OR REPLACE AGGREGATE group_concat(anyelement, text) (SFUNC = group_concat_step, STYPE = text)",
    "CREATE OR REPLACE AGGREGATE group_concat(anyelement) (SFUNC = group_concat_step, STYPE = text)",
    """CREATE OR REPLACE FUNCTION instr(haystack text, needle text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT strpos(haystack, needle) $$""",
    """CREATE OR REPLACE FUNCTION max(a anycompatible, b anycompatible) RETURNS anycompatible
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE greatest(a, b) END
$$""",
    """CREATE OR REPLACE FUNCTION min(a anycompatible, b anycompatible) RETURNS anycompatible
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE least(a, b) END
$$""",
)
# The search box's and ``forensic search``'s indexes on PostgreSQL (forensic.store.review,
# forensic.store.search): where SQLite keeps FTS5 trigram tables (names_fts, photo_meta_fts,
# content_fts) by trigger, pg_trgm GIN indexes answer the same ILIKE: the files' names and paths
# (below), the documents' text, and a photo record's metadata values by an expression index.
# photo_meta_values: the scalar values of a record's JSON as SQLite's json_tree gives their
# ``atom`` as text (true/false as 1/0, a real as SQLite prints it: 15 significant digits, a
# ".0" where it has no point), a text up to a NUL (as SQLite's LIKE reads it; PostgreSQL's
# text holds none); NULL for a value that is no JSON. Each function keeps the case's search
# path: an index's expression is also computed by maintenance (ANALYZE, REINDEX), which runs
# with another.
PG_SEARCH = (
    """CREATE OR REPLACE FUNCTION sqlite_real_text(x double precision) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET extra_float_digits = 0 SET search_path FROM CURRENT AS $$
    SELECT CASE WHEN t ~ '[.a-zA-Z]' AND t !~ 'e' THEN t
                WHEN t ~ 'e' AND t !~ '[.]' THEN regexp_replace(t, 'e', '.0e')
                WHEN t ~ 'e' THEN t ELSE t || '.0' END
    FROM (SELECT x::text AS t) printed
$$""",
    # the JSON text ``doc`` with each string cut at its first NUL (\\u0000, its backslash not
    # escaped), as SQLite's json_extract and LIKE read it; a text of PostgreSQL's holds no NUL
    """CREATE OR REPLACE FUNCTION json_nul_cut(doc text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(doc, '(?<!\\\\)((\\\\\\\\)*)\\\\u0000([^"\\\\]|\\\\.)*"', '\\1"', 'g')
$$""",
    # json, not jsonb: a number keeps its text (1e+16 is a real to SQLite, 10000000000000000 to
    # jsonb); one statement in PL/pgSQL, whose plan is kept (0.1 ms a record where a call of a
    # recursive SQL function from it, planned each time, took 0.4)
    """CREATE OR REPLACE FUNCTION photo_meta_values(doc text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
DECLARE
    found text[];
BEGIN
    IF strpos(doc, '\\u0000') > 0 THEN
        doc := json_nul_cut(doc);             -- a NUL: its text cut there
    END IF;
    WITH RECURSIVE node(v) AS (
        SELECT doc::json
        UNION ALL
        SELECT e.value FROM node, LATERAL (
            SELECT value FROM json_array_elements(CASE WHEN json_typeof(node.v) = 'array' THEN node.v END)
            UNION ALL
            SELECT value FROM json_each(CASE WHEN json_typeof(node.v) = 'object' THEN node.v END)) e
    )
    SELECT coalesce(array_agg(CASE json_typeof(v)
        WHEN 'string' THEN v #>> '{}'
        WHEN 'boolean' THEN CASE WHEN btrim(v::text) = 'true' THEN '1' ELSE '0' END
        ELSE CASE WHEN btrim(v::text) ~ '^-?[0-9]+$'
                       AND btrim(v::text)::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
                  THEN btrim(v::text)::numeric::text
                  ELSE sqlite_real_text(btrim(v::text)::double precision) END END), '{}') INTO found
    FROM node WHERE json_typeof(v) IN ('string', 'number', 'boolean');
    RETURN found;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION photo_meta_text(doc text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
    SELECT array_to_string(photo_meta_values(doc), chr(10))
$$""",
    "CREATE INDEX IF NOT EXISTS artifacts_photo_meta_trgm ON artifacts USING gin "
    "(photo_meta_text(fields) gin_trgm_ops) WHERE record_type = 'photo/exif'",
    "CREATE INDEX IF NOT EXISTS content_text_trgm ON content_text USING gin (text gin_trgm_ops)",
)
PG_EXTRA: tuple[str, ...] = PG_SQLITE_FUNCTIONS + (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
    "CREATE INDEX IF NOT EXISTS files_name_trgm ON files USING gin (name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS files_path_trgm ON files USING gin (path gin_trgm_ops)",
    # The store's copies of custody state are append-only: no role, the table's owner
    # included, updates or deletes a row while this trigger stands (docs/lab-setup.md).
    """CREATE OR REPLACE FUNCTION custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the custody tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$""",
    "CREATE OR REPLACE TRIGGER custody_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
    "ON custody_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION custody_append_only()",
    "CREATE OR REPLACE TRIGGER custody_pins_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
    "ON custody_pins FOR EACH STATEMENT EXECUTE FUNCTION custody_append_only()",
) + PG_SEARCH           # after pg_trgm

# The chat search index on PostgreSQL (forensic.store.chats): where SQLite keeps messages_fts
# (FTS5), each chat_messages row has its lexemes (the tokens FTS5's tokenizer gives its search
# forms, made in Python) in a tsvector, searched through a GIN index. Without GIN's pending
# list (fastupdate), whose every entry a search reads until a VACUUM: a case's messages are
# indexed once at triage, then searched (100,000 messages: a rare word in 1 ms, not 50).
PG_CHAT_INDEX = (
    "ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS lexemes tsvector",
    "CREATE INDEX IF NOT EXISTS chat_messages_lexemes ON chat_messages USING gin (lexemes) "
    "WITH (fastupdate = off)",
)
PG_EXTRA = PG_EXTRA + PG_CHAT_INDEX
# The timeline index reads the times by ``timestamps.rowid`` (its refs, and what it was made
# from: forensic.store.timeline): SQLite's rowid is its table's key, here a column of its own.
PG_TIMELINE = (
    "CREATE UNIQUE INDEX IF NOT EXISTS timestamps_rowid ON timestamps(rowid)",
)
PG_EXTRA = PG_EXTRA + PG_TIMELINE
# Evidence text of any length (a ZIP member's name runs to 65,535 bytes): a btree index row
# holds at most 2,704 bytes on PostgreSQL, where SQLite has no limit. A file's location is
# unique by its SHA-256 (text_sha256: its UTF-8 bytes; immutable, the case's database being
# UTF-8), found by a hash index (no size limit) where SQLite reads UNIQUE(item, locator).
PG_TIMELINE_PATH = "left(path, 400)"          # at most 1,600 bytes of UTF-8
PG_LONG_TEXT = (
    """CREATE OR REPLACE FUNCTION text_sha256(t text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(t, 'UTF8'))
$$""",
    "CREATE UNIQUE INDEX IF NOT EXISTS files_item_locator_key ON files(item, text_sha256(locator))",
    "CREATE INDEX IF NOT EXISTS files_locator ON files USING hash (locator)",
    # The timeline's order indexed by a prefix of the path (PG_TIMELINE_PATH): a page is
    # ordered by it, then by the whole path (forensic.store.timeline._page), the same order
    # (text compares by code point, so a prefix orders as the whole does, ties aside).
    f"CREATE INDEX IF NOT EXISTS timeline_keys_order ON timeline_keys(k, tz_unknown, item, {PG_TIMELINE_PATH})",
    f"CREATE INDEX IF NOT EXISTS timeline_keys_item ON timeline_keys(item, k, tz_unknown, {PG_TIMELINE_PATH})",
    f"CREATE INDEX IF NOT EXISTS timeline_keys_placed ON timeline_keys(k, tz_unknown, item, {PG_TIMELINE_PATH}, "
    "lat, lon) WHERE lat IS NOT NULL",
    # a conversation's id is its file's path for some exports: found by a hash index
    "CREATE INDEX IF NOT EXISTS chat_messages_conv ON chat_messages USING hash (conversation)",
    # a tag's target is a file's locator: unique by digest (forensic.store.tags.add's conflict)
    "CREATE UNIQUE INDEX IF NOT EXISTS tags_target_key ON tags(target_kind, item, text_sha256(target_ref), tag)",
    "CREATE INDEX IF NOT EXISTS tags_target_ref ON tags USING hash (target_ref)",
    # a marked person's identity may be a sender's name as a chat gives it: the same
    "CREATE UNIQUE INDEX IF NOT EXISTS person_roles_identity_key ON person_roles(text_sha256(identity))",
    "CREATE INDEX IF NOT EXISTS person_roles_identity ON person_roles USING hash (identity)",
)
PG_EXTRA = PG_EXTRA + PG_LONG_TEXT
_PG_LONG_TEXT_INDEXES = tuple(f"CREATE INDEX IF NOT EXISTS {n} " for n in (
    "timeline_keys_order", "timeline_keys_item", "timeline_keys_placed", "chat_messages_conv"))


def postgres_tables() -> list[str]:
    """The statements that lay out a new store on PostgreSQL (in the case's schema)."""
    out: list[str] = []
    for statement in TABLES.split(";"):
        statement = statement.strip()
        if not statement or statement.startswith(("CREATE VIRTUAL TABLE", *_PG_LONG_TEXT_INDEXES)):
            continue
        for pattern, replacement in _PG_TYPES:
            statement = re.sub(pattern, replacement, statement)
        name = re.match(r"CREATE TABLE IF NOT EXISTS (\w+) \(", statement)
        if name and name.group(1) == "files":             # unique by digest: PG_LONG_TEXT
            statement = statement.replace(",\n    UNIQUE(item, locator)", "")
        if name and name.group(1) == "tags":
            statement = statement.replace(",\n    UNIQUE(target_kind, item, target_ref, tag)", "")
        if name and name.group(1) == "person_roles":
            statement = statement.replace(" NOT NULL UNIQUE,", " NOT NULL,")          # identity
        if name and name.group(1) in _PG_ROWID:
            statement = statement.replace("(", "(\n    rowid BIGINT GENERATED ALWAYS AS IDENTITY,", 1)
        out.append(statement)
        key = re.search(r"\b(\w+) BIGINT PRIMARY KEY\b", statement)
        if name and key:
            out.extend(_pg_next_key(name.group(1), key.group(1)))
    return out + list(PG_EXTRA)


def _pg_next_key(table: str, column: str) -> tuple[str, str]:
    """SQLite's ``INTEGER PRIMARY KEY`` on PostgreSQL: a row inserted without a key gets the
    highest key plus one, as SQLite gives it (the store also gives keys itself, counting from
    the highest; a sequence would not know those). Writers take turns (the write lock), so
    two never read the same highest key. The table is the trigger's own, named with its
    schema: the inserting session's search path (an examiner's psql, where the case's schema
    is not on it; a temporary table of the same name, which comes first) does not choose it."""
    return (f"""CREATE OR REPLACE FUNCTION {table}_next_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT coalesce(pg_catalog.max(%I), 0) + 1 FROM %I.%I', '{column}',
                   TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO NEW.{column};
    RETURN NEW;
END $$""",
            f"CREATE OR REPLACE TRIGGER {table}_next_key BEFORE INSERT ON {table} FOR EACH ROW "
            f"WHEN (NEW.{column} IS NULL) EXECUTE FUNCTION {table}_next_key()")


def create(db: sqlite3.Connection, meta: dict[str, str]) -> None:
    """Lay out a new store at :data:`SCHEMA_VERSION` with ``meta`` (case id, examiner, ...)."""
    postgresql = dialect(db) == "postgresql"
    # PostgreSQL's write lock is named after the case's schema, which is made here: a plain BEGIN
    db.execute("BEGIN" if postgresql else "BEGIN IMMEDIATE")
    try:
        if postgresql:
            _create_postgres(db)
        else:
            _create_tables(db)
        db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                       {**meta, "schema_version": str(SCHEMA_VERSION)}.items())
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _create_postgres(db: Any) -> None:
    """Lay out the tables in the case's schema, made here: a schema that exists already is
    refused (it may hold another case)."""
    schema = db.location.schema
    found = db.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", (schema,)).fetchone()
    if found is not None:
        raise CaseError(f"the schema {schema!r} exists already on {db.location.url}",
                        hint="it may hold another case: choose another with --store-schema")
    db.execute(f'CREATE SCHEMA "{schema}"')
    for statement in postgres_tables():
        db.execute(statement)


def _create_tables(db: sqlite3.Connection) -> None:
    for statement in TABLES.split(";"):
        if statement.strip():
            db.execute(statement)
    for trigger in TRIGGERS:
        db.execute(trigger)


def version(db: sqlite3.Connection) -> int | None:
    """The store's schema version; None when ``db`` is not a case store. A version this code
    cannot read (not a whole number, or older than any it migrates from) is a CaseError."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return None
    if row is None:
        return None
    try:
        found = int(str(row[0]).strip())
    except ValueError:
        found = 0
    if found < min(MIGRATIONS):
        raise CaseError(f"the case store's schema version {row[0]!r} is not one forensic knows",
                        hint="the store was damaged or written by another program; work on a copy "
                             "from before the change")
    return found


def empty_chat_index(db: sqlite3.Connection) -> None:
    """Drop and lay out again the chat search index (built anew by forensic.store.chats)."""
    for table in ("messages_fts", "chat_messages", "chat_index"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    _create_tables(db)


def empty_timeline_index(db: sqlite3.Connection) -> None:
    """Drop and lay out again the timeline index and the map's places (made anew by
    forensic.store.timeline)."""
    db.execute("DROP TABLE IF EXISTS timeline_keys")
    db.execute("DROP TABLE IF EXISTS map_places")
    _create_tables(db)


# -- migrations: version N -> N + 1 ---------------------------------------------------------------

def _to_2(db: sqlite3.Connection) -> None:
    """Version 1 created the search index, tags and custody copies on first use (some stores
    have them, some not), added ``files.times_tz_source`` later, and had an unused
    ``triage_progress`` table. Version 2 has every table from the start."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(files)")}
    if "times_tz_source" not in cols:
        db.execute("ALTER TABLE files ADD COLUMN times_tz_source TEXT")
        db.execute("UPDATE files SET times_tz_source = CASE WHEN times_tz_known THEN 'utc' ELSE 'unknown' END")
    chat_cols = {r[1] for r in db.execute("PRAGMA table_info(chat_messages)")}
    db.execute("DROP TABLE IF EXISTS triage_progress")
    if chat_cols and not {"seq", "sort_key"} <= chat_cols:      # the first index layout: rebuilt on use
        empty_chat_index(db)
    _create_tables(db)


def _to_3(db: sqlite3.Connection) -> None:
    """Version 3 says how each file's content was had and how far to trust it
    (``files.recovery``, ``files.recovery_confidence``). Rows stored before stay NULL there:
    not known then, and their custody hashes are unchanged (records.file_row_sha256)."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(files)")}
    for col in ("recovery", "recovery_confidence"):
        if col not in cols:
            db.execute(f"ALTER TABLE files ADD COLUMN {col} TEXT")


def _to_4(db: sqlite3.Connection) -> None:
    """Version 4 keeps the persons the examiner marks as victim, witness or suspect
    (``person_roles``: empty in a store migrated to it)."""
    _create_tables(db)


def _to_5(db: sqlite3.Connection) -> None:
    """Version 5 keeps which files matched the examiner's hash sets and which sets each item
    was checked against (``hashset_hits``, ``hashset_checks``: empty in a migrated store)."""
    _create_tables(db)


def _to_6(db: sqlite3.Connection) -> None:
    """Version 6 keeps the text extracted from documents for ``forensic search``
    (``content_text``, ``content_fts``, ``content_index``: empty in a migrated store, filled
    at the first search of an item's content)."""
    _create_tables(db)


def _to_7(db: sqlite3.Connection) -> None:
    """Version 7 indexes records by file (``artifacts_file``: a file's thumbnail, phash, photo
    record found by index) and keeps the timeline's order in ``timeline_keys`` (empty in a
    migrated store, made at the first timeline page), so a page is read by an index."""
    _create_tables(db)


def _to_8(db: sqlite3.Connection) -> None:
    """Version 8 indexes the search box's file names and paths and photo metadata values
    (``names_fts``, ``photo_meta_fts``: trigram, filled here from the rows stored, then kept
    by triggers), keeps every place a record holds (``map_places``) and the place of each
    time (``timeline_keys.lat``/``lon``): the timeline index is laid out anew, empty, made
    again at the next triage or first use."""
    empty_timeline_index(db)          # the new layout (and map_places, names_fts, ... created)
    db.execute("DELETE FROM meta WHERE key = 'timeline_generation'")
    db.execute("INSERT INTO names_fts(names_fts) VALUES ('rebuild')")
    db.execute("DELETE FROM photo_meta_fts")
    db.execute(f"INSERT INTO photo_meta_fts(rowid, text) SELECT id, {_META_TEXT.format(fields='fields')} "
               "FROM artifacts WHERE record_type = 'photo/exif' AND json_valid(fields)")


# version N -> the step to N + 1, and what it does (as the custody log records it)
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _to_2, 2: _to_3, 3: _to_4, 4: _to_5, 5: _to_6,
                                                               6: _to_7, 7: _to_8}
STEPS: dict[int, str] = {1: "every table created with the store; files.times_tz_source; triage_progress dropped",
                         2: "files.recovery and files.recovery_confidence (NULL for rows stored before)",
                         3: "person_roles: the persons marked as victim, witness or suspect (none before)",
                         4: "hashset_hits and hashset_checks: hash set matches and checks (none before)",
                         5: "content_text, content_fts, content_index: documents' text for search (none before)",
                         6: "artifacts_file index; timeline_keys: the timeline's order (made on first use)",
                         7: "names_fts, photo_meta_fts: the search box's trigram indexes; map_places; "
                            "timeline_keys laid out with places (made again)"}


def migrate(db: sqlite3.Connection) -> list[dict]:
    """Bring a store of an older version to :data:`SCHEMA_VERSION` (the caller holds a write
    transaction). Returns the steps done, ``[]`` when it was current: each ``{"from": N,
    "to": N + 1, "what": ...}``. The version it started from is kept in ``meta.migrated_from``
    until the custody log records the migration (:func:`migration_to_record`)."""
    done: list[dict] = []
    current = version(db)
    if current is None:
        return done
    while current < SCHEMA_VERSION:
        MIGRATIONS[current](db)
        done.append({"from": current, "to": current + 1, "what": STEPS[current]})
        current += 1
    if done:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(current),))
        if migration_to_record(db) is None:      # else an earlier one, not yet recorded, covers it
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('migrated_from', ?)",
                       (str(done[0]["from"]),))
    return done


# -- the migration the store owes the custody log -------------------------------------------------

def migration_to_record(db: sqlite3.Connection) -> dict | None:
    """The ``details`` of the ``case.migrated`` entry the log is owed, or None. The store keeps
    only the version it was migrated from (``meta.migrated_from``); what is recorded is built
    here, from this code's own steps, so nothing written into the store can choose what the
    log records. A value that is not a version this code migrates from is ignored."""
    row = db.execute("SELECT value FROM meta WHERE key = 'migrated_from'").fetchone()
    if row is None:
        return None
    try:
        start = int(row[0])
    except (TypeError, ValueError):
        return None
    if start not in MIGRATIONS or start >= SCHEMA_VERSION:
        return None
    return {"from": start, "to": SCHEMA_VERSION,
            "steps": [{"from": n, "to": n + 1, "what": STEPS[n]} for n in range(start, SCHEMA_VERSION)]}


def forget_migration(db: sqlite3.Connection) -> None:
    """The log has recorded the migration (call in the transaction that holds its checkpoint)."""
    db.execute("DELETE FROM meta WHERE key = 'migrated_from'")
