"""The sample's SMS database left with a hot journal: the phone died inside a transaction.

``mmssms.db`` holds the committed threads and, in its file, a new thread the phone was saving
when it died; ``mmssms.db-journal`` holds the pages that transaction replaced. What SQLite makes
of the pair is checked with the sqlite3 command-line tool on copies."""
from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_tools
from forensic.sample import formats
from forensic.sample.build import EXTRACTION_PREFIX, _nonce, layout
from forensic.sample.story import SCENARIOS

MAGIC = bytes.fromhex("d9d505f920a163d7")
SMS = "SELECT _id, address, date_sent, body FROM sms ORDER BY _id"


def _files(seed: int, scenario: str):
    lay = layout(seed, scenario)
    hj = lay.hot_journal
    files = {f.rel: f.data for f in lay.phone}
    return lay, hj, files[hj.db_rel], files[hj.journal_rel]


def _sqlite(folder: Path, db: bytes, journal: bytes | None, sql: str) -> list[tuple]:
    """Rows the reference tool reads from a copy of the database, with the journal beside it or not."""
    require_tools("sqlite3")
    folder.mkdir(parents=True)
    (folder / "mmssms.db").write_bytes(db)
    if journal is not None:
        (folder / "mmssms.db-journal").write_bytes(journal)
    out = subprocess.run(["sqlite3", "-separator", "\t", str(folder / "mmssms.db"), sql], check=True,
                         capture_output=True, text=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines()]


def _rows(chats) -> list[tuple]:
    out = []
    for chat in chats:
        for m in chat.messages:
            out.append((chat.other, str(int(m.utc.timestamp()) * 1000 if m.incoming else 0), m.body))
    return out


@pytest.mark.parametrize("seed,scenario", [(7, "balkan-route"), (3, "atlantic-route")])
def test_sqlite_rolls_the_journal_back_to_the_committed_messages(tmp_path, seed, scenario):
    lay, hj, db, journal = _files(seed, scenario)
    committed = _sqlite(tmp_path / "with-journal", db, journal, SMS)
    as_found = _sqlite(tmp_path / "alone", db, None, SMS)
    assert [r[1:] for r in committed] == _rows(hj.committed)
    assert [r[1:] for r in as_found] == _rows(hj.committed) + _rows([hj.interrupted.chat])
    # the rollback restored the committed database exactly, and SQLite deleted the journal
    assert (tmp_path / "with-journal" / "mmssms.db").read_bytes() == formats.mmssms_db(hj.committed)
    assert not (tmp_path / "with-journal" / "mmssms.db-journal").exists()
    threads = _sqlite(tmp_path / "threads", db, journal, "SELECT _id FROM threads ORDER BY _id")
    assert threads == [("1",), ("2",)]


def test_journal_is_sqlites_format_with_a_nonce_from_the_seed():
    from forensic.extractors.sqlite_journal import check_journal
    lay, hj, db, journal = _files(7, "balkan-route")
    assert journal[:8] == MAGIC
    records, nonce, db_pages, sector, page = struct.unpack(">5I", journal[8:28])
    assert nonce == _nonce(7, hj.db_rel) and (sector, page) == (4096, 4096)
    assert journal[28:sector] == b"\0" * (sector - 28)
    assert len(journal) == sector + records * (page + 8) and records >= 2
    committed = formats.mmssms_db(hj.committed)
    assert db_pages == len(committed) // page
    for k in range(records):
        at = sector + k * (page + 8)
        number = int.from_bytes(journal[at:at + 4], "big")
        original = journal[at + 4:at + 4 + page]
        assert original == committed[(number - 1) * page:number * page]            # the page it replaced
        assert original != db[(number - 1) * page:number * page]
        assert int.from_bytes(journal[at + 4 + page:at + 8 + page], "big") == \
            (nonce + sum(original[i] for i in range(page - 200, 0, -200))) & 0xFFFFFFFF
    check = check_journal(io.BytesIO(journal), len(journal))
    assert check.hot and check.problem is None and len(check.pages) == records
    assert _files(8, "balkan-route")[3][12:16] != journal[12:16]                  # another seed, another nonce


def test_same_seed_same_database_and_journal_in_another_process():
    """No clock, no random nonce, no hash order: another interpreter makes the same bytes."""
    _, _, db, journal = _files(7, "balkan-route")
    code = ("import hashlib; from forensic.sample.build import layout; lay = layout(7); hj = lay.hot_journal; "
            "f = {x.rel: x.data for x in lay.phone}; "
            "print(hashlib.sha256(f[hj.db_rel] + f[hj.journal_rel]).hexdigest())")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    assert out.strip() == hashlib.sha256(db + journal).hexdigest()


def test_every_scenario_has_the_case():
    for name in SCENARIOS:
        lay = layout(5, name)
        rels = {f.rel for f in lay.phone}
        assert lay.hot_journal is not None and {lay.hot_journal.db_rel, lay.hot_journal.journal_rel} <= rels
        members = {m[0] for m in lay.extraction_members}
        assert EXTRACTION_PREFIX + lay.hot_journal.journal_rel in members
