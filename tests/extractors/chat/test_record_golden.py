"""Records of phone message databases are byte-for-byte those of the golden file: their
``record_sha256`` (the fields JSON the custody log vouches for), timestamp rows, warnings and
order. A change to how records are built (lazy times, the SQLite readers, the shared message
shape) must not change one byte; the file is made by ``record_golden.py`` (see there)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from tests.extractors.chat.record_golden import GOLDEN, current


@pytest.fixture(scope="module")
def now() -> dict[str, list[str]]:
    return current()


@pytest.mark.parametrize("case", ["android_sms", "whatsapp_db", "message_record"])
def test_records_are_the_golden_ones(now, case):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    if golden["sqlite_version"] != sqlite3.sqlite_version:     # page layout, and so the free space, may differ
        pytest.skip(f"golden file made with SQLite {golden['sqlite_version']}, this is {sqlite3.sqlite_version}")
    expected = golden[case]
    got = now[case]
    assert len(got) == len(expected)
    assert [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b][:10] == []
    assert sum("(recovered" in line for line in got) > 30 or case == "message_record"   # deleted rows covered
