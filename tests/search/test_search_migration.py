"""Store version 6: a version 5 store gains the documents' text index, empty, when opened; the
custody log records the step; the first search fills it."""
from __future__ import annotations

import json
import sqlite3

from forensic.store.schema import SCHEMA_VERSION
from tests.builders import write_tree
from tests.training_case import cli


def test_a_version_5_store_gains_the_content_index(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FORENSIC_STORE", raising=False)      # an SQLite store's migration (on any test backend)
    root = write_tree(tmp_path / "extraction", {"page.html": b"<p>MIGRATED&#45;WORD</p>", "a.txt": b"alpha\n"})
    case = tmp_path / "case"
    assert cli("case", "init", case, "--case-id", "MIG-6", "--examiner", "E") == 0
    assert cli("evidence", "add", root, "--case", case, "--id", "logical") == 0
    cli("triage", "--case", case)
    with sqlite3.connect(case / "case.db") as db:
        for table in ("content_fts", "content_text", "content_index"):
            db.execute(f"DROP TABLE {table}")
        db.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    capsys.readouterr()
    assert cli("search", "MIGRATED-WORD", "--in", "content", "--json", "--case", case) == 0
    (hit,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hit["extracted"] == "html" and hit["locator"].endswith("page.html")
    with sqlite3.connect(case / "case.db") as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert db.execute("SELECT item, documents FROM content_index").fetchall() == [("logical", 1)]
    assert cli("custody", "log", "--case", case, "--json", "--action", "case.migrated") == 0
    (entry,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert entry["details"]["from"] == 5 and [s["what"] for s in entry["details"]["steps"]][:1] == [
        "content_text, content_fts, content_index: documents' text for search (none before)"]
    assert cli("custody", "verify", "--case", case) == 0
