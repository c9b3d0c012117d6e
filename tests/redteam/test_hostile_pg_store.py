"""Red team against the case store on PostgreSQL (issue 21), on a real throw-away server:
a hostile evidence author (text PostgreSQL refuses where SQLite keeps it), someone who can
write the shared case folder (store.json), and an examiner with the lab's grants."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import write_tree
from forensic.case import Case

CHAT_WITH_NULS = (b"12/01/2024, 09:15 - Alice: work\x00starts at 6\n"
                  b"12/01/2024, 09:16 - Bo\x00b: ok\n"
                  b"12/01/2024, 09:17 - Alice: fine\n")


@pytest.fixture
def pg_url(pg_server):
    return pg_server.new_database()


def _case(forensic, monkeypatch, tmp_path: Path, url: str, evidence: dict[str, bytes],
          case_id: str = "RT-PG") -> Path:
    """A case on ``url`` (the current case from now on) with ``evidence`` added."""
    root = tmp_path / "case"
    forensic("case", "init", root, "--case-id", case_id, "--examiner", "Eve", "--store", url)
    monkeypatch.setenv("FORENSIC_CASE", str(root))
    forensic("evidence", "add", write_tree(tmp_path / "ev", evidence))
    return root


# -- a hostile evidence author: a NUL that SQLite keeps and jsonb refuses ---------------------------
def test_a_nul_in_a_chat_message_stops_neither_triage_nor_listings(forensic, tmp_path, pg_url, monkeypatch):
    """A chat export whose sender and body hold a NUL: stored as "\\u0000" in the record's JSON,
    which PostgreSQL's jsonb refuses. Before: the triage's finalize failed on it and the whole
    triage stopped with an aborted transaction; `messages` and `similar --all` failed."""
    _case(forensic, monkeypatch, tmp_path, pg_url, {"WhatsApp/Chat.txt": CHAT_WITH_NULS})
    done = forensic("triage", expect=None)
    assert done.code in (0, 3), done.err                     # 3: warnings recorded (day/month order)
    messages = forensic("messages", "--json").jsonl()
    assert len(messages) == 3
    assert {m["sender"] for m in messages} >= {"Alice"}
    forensic("conversations", "--json")
    forensic("similar", "--all", "--json")
    forensic("timeline", "--json")
    forensic("custody", "verify", "--deep")


@pytest.mark.parametrize("value, expected", [
    ("x\x00y", "x\ufffdy"),                  # the NUL PostgreSQL's text cannot hold: U+FFFD
    ("\x00\x00", "\ufffd\ufffd"),
    ("a\\u0000b", "a\\u0000b"),              # a backslash then "u0000": text, kept as it is
    ("a\\\x00b", "a\\\ufffdb"),              # a backslash then a NUL
    ("plain", "plain"),
])
def test_json_functions_read_a_nul_escape(tmp_path, pg_url, value, expected):
    case = Case.init(tmp_path / "c", "C-1", "Ann", store=pg_url)
    doc = json.dumps({"a": value, "b": [value, 1]}, ensure_ascii=False)
    try:
        row = case.db.execute("SELECT json_extract(?, '$.a'), json_valid(?), json_type(?, '$.a'), "
                              "json_array_length(?, '$.b')", (doc, doc, doc, doc)).fetchone()
        assert tuple(row) == (expected, 1, "text", 2)
        each = [tuple(r) for r in case.db.execute("SELECT key, value FROM json_each(?, '$.b')", (doc,))]
        assert each == [("0", expected), ("1", "1")]
    finally:
        case.close()
