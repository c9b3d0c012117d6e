"""The case store on PostgreSQL (forensic.store.postgres), on a real throw-away server: where a
case's store is recorded, what the connection translates, writers taking turns, the custody
copies being append-only, and the same triage as on SQLite."""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from forensic.case import Case
from forensic.errors import CaseError
from forensic.store import custody, postgres, tags as store_tags
from forensic.store.db import dialect, write_transaction


# -- what the connection translates -----------------------------------------------------------------
@pytest.mark.parametrize("sql, expected", [
    ("SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = %s AND c = %s"),
    ("SELECT '?' || ? FROM t", "SELECT '?' || %s FROM t"),                        # a ? in a string is text
    ("SELECT \"we?ird\" FROM t WHERE x LIKE '50%' AND y = ?",
     "SELECT \"we?ird\" FROM t WHERE x LIKE '50%%' AND y = %s"),
    ("SELECT 'it''s ?' FROM t WHERE a = ?", "SELECT 'it''s ?' FROM t WHERE a = %s"),
    ("SELECT x::text FROM t WHERE k >= :start AND j < :end_wide",
     "SELECT x::text FROM t WHERE k >= %(start)s AND j < %(end_wide)s"),
    ("SELECT a -- why? 5%\nFROM t WHERE b = ?", "SELECT a -- why? 5%%\nFROM t WHERE b = %s"),
    ("SELECT a /* ? */ FROM t WHERE b = ?", "SELECT a /* ? */ FROM t WHERE b = %s"),
    ("SELECT a % 2 FROM t", "SELECT a %% 2 FROM t"),
])
def test_placeholders(sql, expected):
    assert postgres.placeholders(sql) == expected


def test_no_password_is_written():
    url = "postgresql://alice:s3cret@db.lab.example:5433/forensic?sslmode=verify-full"
    assert postgres.without_password(url) == "postgresql://alice@db.lab.example:5433/forensic?sslmode=verify-full"
    assert postgres.without_password("postgresql://alice@db/forensic") == "postgresql://alice@db/forensic"


@pytest.mark.parametrize("name", ["", "1abc", "pg_catalog", "public", "Case", "a-b", "x" * 64, 'a"; DROP'])
def test_schema_names_refused(name):
    with pytest.raises(CaseError):
        postgres.check_schema(name)
    with pytest.raises(CaseError, match="cannot be a case's schema name"):
        postgres.Location("postgresql://ann@/forensic", name)      # its name goes into SQL text


def test_store_options_refused_before_anything_is_made(forensic, tmp_path, monkeypatch):
    monkeypatch.delenv("FORENSIC_STORE", raising=False)          # --store's default
    bad = forensic("case", "init", tmp_path / "a", "--case-id", "C-1", "--examiner", "Ann",
                   "--store-schema", "mine", expect=2)
    assert "--store-schema needs --store" in bad.err
    bad = forensic("case", "init", tmp_path / "b", "--case-id", "C-1", "--examiner", "Ann",
                   "--store", "mysql://ann@db/forensic", expect=1)
    assert "is not a store this tool knows" in bad.err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_case_init_json_names_the_store(forensic, tmp_path):
    """The store ``case init --json`` names: case.db, or the server (with no password) and schema."""
    out = forensic("case", "init", tmp_path / "c", "--case-id", "C-9", "--examiner", "Ann", "--json").json()
    if os.environ.get("FORENSIC_TEST_BACKEND") == "postgresql":      # this run's cases' backend
        assert out["store"] == f"{os.environ['FORENSIC_STORE']} (schema case_c_9)"
    else:
        assert out["store"] == str(tmp_path / "c" / "case.db")


def test_schema_from_case_id():
    assert postgres.schema_for("LAB-2026/0042") == "case_lab_2026_0042"
    assert postgres.schema_for("Été 7") == "case_t__7"


# -- a case on the server ---------------------------------------------------------------------------
@pytest.fixture
def pg_url(pg_server):
    return pg_server.new_database()


def test_case_init_records_the_store_and_reopens(tmp_path, pg_url):
    with_password = pg_url.replace("forensic_test@", "forensic_test:not-written@")
    case = Case.init(tmp_path / "c", "C-1", "Ann", store=with_password)
    assert dialect(case.db) == "postgresql"
    case.close()
    recorded = json.loads((tmp_path / "c" / "store.json").read_text())
    assert recorded == {"backend": "postgresql", "url": pg_url, "schema": "case_c_1"}
    assert "not-written" not in (tmp_path / "c" / "store.json").read_text()
    assert not (tmp_path / "c" / "case.db").exists()
    again = Case.open(tmp_path / "c")
    try:
        assert again.case_id == "C-1" and again.examiner == "Ann"
    finally:
        again.close()


def test_a_schema_in_use_is_refused(tmp_path, pg_url):
    Case.init(tmp_path / "a", "SAME", "Ann", store=pg_url).close()
    with pytest.raises(CaseError, match="exists already"):
        Case.init(tmp_path / "b", "SAME", "Bob", store=pg_url)
    assert not (tmp_path / "b" / "store.json").exists()
    other = Case.init(tmp_path / "b", "SAME", "Bob", store=pg_url, store_schema="same_second")
    other.close()


def test_a_folder_that_cannot_be_made_leaves_no_schema(tmp_path, pg_url):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(OSError):
        Case.init(tmp_path / "a-file" / "c", "C-1", "Ann", store=pg_url)
    Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url).close()      # its schema is free


def test_unreachable_server_is_a_clear_error(tmp_path):
    bad = f"postgresql://nobody@/forensic?host={tmp_path}/no-socket-here"
    with pytest.raises(CaseError, match="cannot connect to the case store"):
        Case.init(tmp_path / "c", "C-1", "Ann", store=bad)


def test_rows_read_as_sqlite_rows(tmp_path, pg_url):
    case = Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url)
    try:
        row = case.db.execute("SELECT 1 AS one, 'x' AS letter, SUM(v) AS total, AVG(v) AS mean "
                              "FROM (VALUES (2::bigint), (3::bigint)) AS t(v)").fetchone()
        assert row["one"] == row[0] == 1 and row["letter"] == "x"
        assert row["total"] == 5 and type(row["total"]) is int        # numeric: int, never Decimal
        assert row["mean"] == 2.5 and type(row["mean"]) is float
        assert dict(zip(row.keys(), row, strict=True)) == {"one": 1, "letter": "x", "total": 5, "mean": 2.5}
    finally:
        case.close()


def test_sqlite_functions_keep_their_meaning(tmp_path, pg_url):
    case = Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url)
    doc = json.dumps({"a": {"b": [10, "x", None, 1.5]}, "s": "text", "t": True})
    try:
        def one(sql, *args):
            return case.db.execute(sql, args).fetchone()[0]
        assert one("SELECT json_extract(?, '$.s')", doc) == "text"
        assert one("SELECT json_extract(?, '$.a.b[1]')", doc) == "x"
        assert one("SELECT json_extract(?, '$.a.b[2]')", doc) is None
        assert one("SELECT json_extract(?, '$.missing')", doc) is None
        assert one("SELECT json_array_length(?, '$.a.b')", doc) == 4
        assert one("SELECT json_array_length(?, '$.s')", doc) == 0
        assert one("SELECT json_type(?, '$.a.b[0]')", doc) == "integer"
        assert one("SELECT json_type(?, '$.a.b[3]')", doc) == "real"
        assert one("SELECT json_type(?, '$.t')", doc) == "true"
        assert one("SELECT json_valid(?)", doc) == 1 and one("SELECT json_valid(?)", "{not json") == 0
        assert [tuple(r) for r in case.db.execute("SELECT key, value, type FROM json_each(?, '$.a.b')", (doc,))] == [
            ("0", "10", "integer"), ("1", "x", "text"), ("2", None, "null"), ("3", "1.5", "real")]
        assert one("SELECT group_concat(v, '|') FROM (VALUES ('a'), (NULL), ('c')) AS t(v)") == "a|c"
        assert one("SELECT max(2, 7)") == 7 and one("SELECT min(2, NULL)") is None
        assert one("SELECT instr('forensic', 'ren')") == 3
    finally:
        case.close()


# -- custody copies: append-only -------------------------------------------------------------------
def test_custody_copies_are_append_only(tmp_path, pg_url):
    import psycopg
    case = Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url)
    try:
        with write_transaction(case.db):
            custody.add_checkpoint(case.db, 1, "ab" * 32, "2026-01-01T00:00:00Z", '{"tree_size": 1}')
        for statement in ("UPDATE custody_checkpoints SET root = 'forged'", "DELETE FROM custody_checkpoints",
                          "TRUNCATE custody_checkpoints", "DELETE FROM custody_pins"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                with write_transaction(case.db):
                    case.db.execute(statement)
        assert custody.latest_checkpoint(case.db) == '{"tree_size": 1}'
    finally:
        case.close()


# -- writers take turns ------------------------------------------------------------------------------
def _tag_many(root: str, worker: int, count: int) -> None:
    case = Case.open(Path(root))
    try:
        for n in range(count):
            with case.transaction():
                # a read, then a write that depends on it: only one writer at a time keeps it whole
                have = case.db.execute("SELECT COUNT(*) FROM tags").fetchone()[0]
                store_tags.add(case.db, "file", f"ref-{worker}-{n}", "I", f"seen-{have}", None, False,
                               "2026-01-01T00:00:00Z", f"examiner {worker}")
    finally:
        case.close()


def test_two_examiners_write_at_once_and_lose_nothing(tmp_path, pg_url):
    case = Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url)
    case.db.execute("INSERT INTO items(item, source_path, format, size, sha256, md5, added_at) "
                    "VALUES ('I', '/x', 'raw', 0, '', '', '2026-01-01T00:00:00Z')")
    case.close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_tag_many, args=(str(tmp_path / "c"), w, 25)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    case = Case.open(tmp_path / "c")
    try:
        rows = case.db.execute("SELECT tag FROM tags").fetchall()
        assert len(rows) == 75
        # each write saw every write before it: the counts it read are 0..74, each once
        assert sorted(int(r[0].split("-")[1]) for r in rows) == list(range(75))
    finally:
        case.close()


def test_the_write_lock_is_the_cases_whatever_the_search_path(tmp_path, pg_url):
    """The lock is named after store.json's schema, not the session's current schema (which a
    search path changed, or a schema the role may no longer use, makes another or none)."""
    import psycopg
    case = Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url)
    try:
        case.db.execute("SET search_path TO public")
        case.db.execute("BEGIN IMMEDIATE")
        with psycopg.connect(pg_url, autocommit=True) as other:
            held = other.execute("SELECT pg_try_advisory_lock(hashtextextended('case_c_1', 0))").fetchone()[0]
        case.db.execute("ROLLBACK")
        assert held is False
    finally:
        case.close()


def test_a_waiting_writer_says_so(tmp_path, pg_url, monkeypatch):
    from forensic.store import db as store_db
    heard: list[str] = []
    monkeypatch.setattr(store_db, "NOTICE_AFTER", 0.2)
    monkeypatch.setattr(store_db, "notice", heard.append)
    holder = Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url)
    waiter = Case.open(tmp_path / "c")
    try:
        holder.db.execute("BEGIN IMMEDIATE")
        import threading
        released = threading.Timer(0.8, lambda: holder.db.execute("COMMIT"))
        released.start()
        started = time.monotonic()
        with waiter.transaction():
            waited = time.monotonic() - started
        released.join()
        assert waited >= 0.7
        assert heard == [store_db.WAITING_MESSAGE]
    finally:
        holder.close()
        waiter.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_writer_waiting_too_long_gives_up(tmp_path, pg_url, monkeypatch, backend):
    from forensic.store import db as store_db
    monkeypatch.setattr(store_db, "NOTICE_AFTER", 0.1)
    monkeypatch.setattr(store_db, "WAIT_LIMIT", 0.3)
    monkeypatch.setattr(store_db, "WAIT_STEP", 0.05)
    monkeypatch.setattr(store_db, "notice", lambda message: None)
    monkeypatch.delenv("FORENSIC_STORE", raising=False)              # store=None: case.db
    holder = Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url if backend == "postgresql" else None)
    assert dialect(holder.db) == backend
    waiter = Case.open(tmp_path / "c")
    try:
        holder.db.execute("BEGIN IMMEDIATE")
        with pytest.raises(CaseError, match="kept the case busy for more than"):
            with waiter.transaction():
                pass
        assert not waiter.db.in_transaction
        holder.db.execute("COMMIT")
        with waiter.transaction():              # the lock is free again: it is had
            pass
    finally:
        holder.close()
        waiter.close()


def test_the_core_names_the_custody_log_as_the_log_does():
    from forensic.case import CUSTODY_LOG
    from forensic.chain_of_custody.log import LOG_NAME
    assert CUSTODY_LOG == LOG_NAME
