"""Message times from Unix milliseconds (phone databases): the text made by integer arithmetic
(``ms_iso_utc``, ``Timestamp.from_unix_ms``) is the text ``datetime`` gives, and an SMS
database's times read as SQLite itself renders them."""
from __future__ import annotations

import random
import sqlite3

import pytest

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.android_sms import AndroidSmsExtractor
from forensic.extractors.records import ArtifactRecord
from forensic.timestamps import Timestamp, iso_utc, ms_datetime, ms_iso_utc

FIRST, LAST = -62135596800000, 253402300799999        # 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z


def _by_datetime(ms: int) -> str | None:
    try:
        return iso_utc(ms_datetime(ms))
    except (ValueError, OverflowError):
        return None


def _by_arithmetic(ms: int) -> str | None:
    try:
        return ms_iso_utc(ms)
    except (ValueError, OverflowError):
        return None


def test_ms_text_is_datetimes_text():
    rng = random.Random(15)
    edges = [0, 1, -1, 999, -999, 1000, -1000, 3_599_999, 3_600_000, -3_600_000, FIRST, LAST, FIRST - 1, LAST + 1,
             (1 << 41) - 1, 1 << 41, -(1 << 41), 10 ** 30, -10 ** 30]
    values = edges + [rng.randint(FIRST, LAST) for _ in range(20000)] + [rng.randint(0, 2 ** 31) * 1000
                                                                          for _ in range(5000)]
    assert [_by_arithmetic(v) for v in values] == [_by_datetime(v) for v in values]
    assert _by_arithmetic(LAST + 1) is None and _by_arithmetic(FIRST - 1) is None     # out of range: raises


def test_from_unix_ms_is_the_general_timestamp():
    ts = Timestamp.from_unix_ms("sent", 1615752360123)
    general = Timestamp("sent", ms_datetime(1615752360123), None, True, "utc", "1615752360123", 0)
    assert ts == general and hash(ts) == hash(general)
    assert ts.iso_utc() == ts.iso() == general.iso_utc() == "2021-03-14T20:06:00.123000Z"


SMS = ("CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, person INTEGER, date INTEGER, "
       "date_sent INTEGER DEFAULT 0, protocol INTEGER, read INTEGER DEFAULT 0, status INTEGER DEFAULT -1, "
       "type INTEGER, reply_path_present INTEGER, subject TEXT, body TEXT, service_center TEXT, "
       "locked INTEGER DEFAULT 0, error_code INTEGER DEFAULT 0, seen INTEGER DEFAULT 0)")


def _sqlite_text(db: sqlite3.Connection, ms: int) -> str:
    """SQLite's own rendering of Unix milliseconds, in the record's form (no .000, 6 digits)."""
    text = db.execute("SELECT strftime('%Y-%m-%dT%H:%M:%f', ? / 1000.0, 'unixepoch')", (ms,)).fetchone()[0]
    return text[:-4] + "Z" if ms % 1000 == 0 else text + "000Z"


@pytest.mark.parametrize("whole_seconds", [False, True])
def test_sms_times_read_as_sqlite_renders_them(tmp_path, whole_seconds):
    rng = random.Random(2026)
    rows = []
    for i in range(1, 1501):
        date = rng.randint(946684800000, 2524608000000)              # 2000 .. 2050
        if whole_seconds:
            date -= date % 1000
        sent = date - rng.randint(0, 90_000) if i % 3 else 0          # some received texts lack date_sent
        rows.append((i, 1, "+34600000001", None, date, sent, 0, 1, -1, 1 if i % 2 else 2, 0, None, "x", None, 0, 0, 1))
    path = tmp_path / "mmssms.db"
    db = sqlite3.connect(path)
    db.execute(SMS)
    db.executemany(f"INSERT INTO sms VALUES ({','.join('?' * 17)})", rows)
    db.commit()
    data = path.read_bytes()
    item = ExtractorInput(path="/x/mmssms.db", name="mmssms.db", mime="application/vnd.sqlite3", size=len(data),
                          data=data)
    records = [r for r in AndroidSmsExtractor().extract(item) if isinstance(r, ArtifactRecord)]
    assert len(records) == len(rows)
    for rec, row in zip(records, rows, strict=True):
        date, sent, box = row[4], row[5], row[9]
        shown = sent if box == 1 and sent else date
        assert rec.fields["sent_at"] == rec.fields["sent_at_utc"] == _sqlite_text(db, shown)
        assert rec.timestamps[0].iso_utc() == rec.fields["sent_at"] and rec.timestamps[0].raw == str(shown)
        assert rec.fields["received_at"] == (_sqlite_text(db, date) if box == 1 else None)
    db.close()


def test_hour_texts_past_the_kept_count_are_still_right():
    """``ms_iso_utc`` keeps the hours it has written (``_HOURS``) up to ``_HOURS_KEPT`` and then
    begins again: a database spanning more hours than that (decades of messages, or a hostile
    file's scattered times) gets the same text on either side of the reset."""
    from forensic import timestamps
    rng = random.Random(3)
    hours = [rng.randrange(-10 ** 6, 10 ** 6) for _ in range(timestamps._HOURS_KEPT + 500)]
    for hour in hours:
        ms = hour * 3_600_000 + rng.randrange(3_600_000)
        assert ms_iso_utc(ms) == iso_utc(ms_datetime(ms))
    assert len(timestamps._HOURS) <= timestamps._HOURS_KEPT
