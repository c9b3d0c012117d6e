"""The timeline, its index and pages, the map's places and ``forensic geo`` of one case give
the same answers on SQLite and on PostgreSQL, row for row: the same case (photo_case, real ext4
and FAT images) is triaged on both, then both stores get the same odd rows (times the store
may hold but seldom does, a time that cannot be read, ties, a message holding ``\\u0000``, values
of odd JSON types) and one item triaged again, so the index is made whole, added to and made
again in part on both.

The case on PostgreSQL is made on a database of its own on the run's throw-away server
(tests/pgserver.py), whatever backend the run's other cases are on."""
from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from forensic.case import Case
from forensic.exporters import geo as G
from forensic.exporters import timeline as T
from forensic.store import review
from forensic.store import timeline as S
from forensic.store.records import TimelineRow
from builders import ext4_image, fat_image
from tests import casestore
from tests.exporters.photo_case import CARD_FILES, PHONE_FILES, cli

# times a file row holds here, each read by sort_key (the index's keys on PostgreSQL are its)
ODD_TIMES = ("2021-06-01T12:00:00", "2021-06-01T12:00:00Z", "2021-06-01T12:00:00.5+02:00",
             "2021-06-01 12:00:00,123456", "2021-06-01T12:00:00.123456789-03:30", "20210601T120000",
             "2021-W22-2", "2021-06-01", "2021-06-01T12", "2021-06-01T24:00:00", "not a time", "",
             "2021-13-01T00:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59.999999-14:00",
             "2021-06-01T12:00:00+14:00", "2021-06-01T12:00:00-12:00", "1969-12-31T23:59:59.999999Z",
             "２０２１-06-01T12:00:00")


def _add_odd_rows(db) -> None:
    """The same odd rows in a store of either backend (ids given by the store, in this order)."""
    db.execute("BEGIN IMMEDIATE")
    for i in range(0, len(ODD_TIMES), 4):
        times = (list(ODD_TIMES[i:i + 4]) + [None] * 4)[:4]
        db.execute("INSERT INTO files(item, locator, path, layers, name, kind, modified_at, accessed_at, "
                   "changed_at, born_at, times_tz_known) VALUES ('phone', ?, ?, '[]', 'odd', 'file', ?, ?, ?, ?, ?)",
                   [f"odd:{i}", f"/odd/{i}", *times, i % 8 == 0])
    db.execute("INSERT INTO files(item, locator, path, layers, name, kind, modified_at) VALUES "       # array text
               "('phone', 'odd:q', ?, '[]', 'q', 'file', '2021-06-01T12:00:00Z')", ['/odd/"q" \\ {a,b},NULL é'])
    records = [
        ("chat/message", {"sender": "Ana", "body": "nul \u0000 here", "conversation": {"title": "Plans", "id": 7},
                          "location": {"latitude": 40.4, "longitude": -3.7, "source": "maps link"},
                          "sent_at_utc": "2021-06-25T12:35:00+00:00", "db_state": "uncommitted"}),
        ("chat/message", {"sender": 5, "body": ["a", {"b": True}], "conversation": "loose title",
                          "location": {"lat": 1e-05, "lon": 52}, "recovered": "deleted"}),
        ("chat/message", {"sender": "Luis", "body": "same time", "conversation": {"id": 9}, "db_state": True}),
        ("chat/message", {"sender": "Luis", "body": "same time too", "conversation": [1, 2]}),
        ("location/point", {"latitude": 48.85, "longitude": 2.35, "at": "2021-06-02T08:00:00Z", "app": "maps"}),
        ("photo/exif", {"make": "Odd", "model": {"x": 1}, "gps_valid": 1.0, "lat": 10, "lon": 20.5,
                        "taken_at_utc": "2021-06-03T00:00:00Z"}),
    ]
    ids = [db.execute("INSERT INTO artifacts(item, file_id, record_type, extractor, fields) "
                      "VALUES ('phone', NULL, ?, 'test@1', ?) RETURNING id",
                      [kind, json.dumps(fields)]).fetchone()[0] for kind, fields in records]
    times = [(ids[0], "sent", "2021-06-25T12:35:00+00:00", "2021-06-25T14:35:00", 1, "offset_tag"),
             (ids[1], "sent", None, "2021-06-25T14:36:00.000001", 0, "unknown"),
             (ids[2], "sent", "2021-06-25T13:00:00+00:00", None, 1, "utc"),
             (ids[3], "sent", "2021-06-25T13:00:00+00:00", None, 1, "utc"),   # a tie with the one before
             (ids[3], "edited", "garbage", None, 1, "utc"),                   # cannot be read: first
             (ids[4], "fix", "2021-06-02T08:00:00Z", None, 1, "utc"),
             (ids[5], "gps", "2021-06-03T00:00:00Z", None, 1, "gps")]
    db.executemany("INSERT INTO timestamps(artifact_id, label, utc, local, tz_known, tz_source) "
                   "VALUES (?, ?, ?, ?, ?, ?)", times)
    db.execute("COMMIT")


@pytest.fixture(scope="module")
def cases(tmp_path_factory, pg_server):
    """{"sqlite": Case, "postgresql": Case}: the same case on each backend."""
    images = tmp_path_factory.mktemp("images")          # one pair of images (their times) for both
    phone = ext4_image(images, PHONE_FILES, name="phone.img")
    card = fat_image(images, CARD_FILES, name="card.img")
    out: dict[str, Case] = {}
    for backend in casestore.each_backend(pg_server):
        root = tmp_path_factory.mktemp(backend) / "case"
        cli("case", "init", root, "--case-id", "C-4", "--examiner", "Ann Examiner")
        cli("evidence", "add", phone, "--case", root, "--id", "phone")
        cli("evidence", "add", card, "--case", root, "--id", "card")
        cli("triage", "--case", root, expect=3)          # 3: the null-island photo's warning
        case = Case.open(root)
        _add_odd_rows(case.db)
        S.ensure_index(case.db)                 # added to: the rows stored since the triage
        case.close()
        cli("triage", "--case", root, "--force", "card", expect=None)    # made again, in part
        out[backend] = Case.open(root)
    assert out["postgresql"].db.dialect == "postgresql"
    yield out
    for case in out.values():
        case.close()


def _both(cases, fn):
    return fn(cases["sqlite"].db), fn(cases["postgresql"].db)


def _cut(value):
    """A value with its text cut at the first NUL: SQLite's json_extract gives a text value up
    to its first NUL only (the whole text is in the record); PostgreSQL's rows, read by Python,
    keep it whole (test_a_nul_in_a_message_is_kept_on_postgresql)."""
    if isinstance(value, str):
        return value.split("\x00", 1)[0]
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    if isinstance(value, TimelineRow):
        return TimelineRow(*(_cut(getattr(value, f)) for f in TimelineRow.__dataclass_fields__))
    return value


def _same(lite: list, pg: list) -> None:
    """``pg`` is ``lite`` row for row (the first row that differs shown whole)."""
    for i, (a, b) in enumerate(zip(lite, pg, strict=False)):
        assert _cut(b) == _cut(a), f"row {i}:\nSQLite     {a!r}\nPostgreSQL {b!r}"
    assert len(pg) == len(lite)


FILTERS = (S.TimelineFilter(), S.TimelineFilter(item="card"), S.TimelineFilter(item="phone", known_only=True),
           S.TimelineFilter(start_us=T.parse_bound("2021-06-01"), end_us=T.parse_bound("2021-06-30", end=True)),
           S.TimelineFilter(start_us=T.parse_bound("2021-06-25T14:00:00+02:00")),
           S.TimelineFilter(end_us=T.parse_bound("2021-06-01T12:00:00Z")))


@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_timeline_events_are_the_same(cases, flt):
    lite, pg = _both(cases, lambda db: list(T.events(db, flt, ZoneInfo("Europe/Madrid"))))
    assert len(lite) > 3
    _same(lite, pg)
    if flt == S.TimelineFilter():
        descs = {e["timestamp_desc"] for e in lite}
        assert {"File modified", "Photo taken", "GPS fix", "Message sent (uncommitted)",
                "Message sent (recovered deleted row)", "Device location fix"} <= descs
        assert lite[0]["timestamp"] is None and not lite[0]["tz_known"]       # unreadable times first
        nul = [e for e in pg if "nul \u0000 here" in e["message"]]
        assert len(nul) == 1 and "sharing location 40.4, -3.7" in nul[0]["message"]


@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_pages_are_the_rows_on_both_backends(cases, flt):
    """rows() (one query on SQLite; the index's pages on PostgreSQL) and the index's pages read
    4 at a time give the same rows, in the same order, on both backends."""
    def paged(db, box=None):
        out, after = [], None
        while True:
            found, after = S.page(db, flt, after, 4, box=box)
            out += found
            if after is None:
                return out
    lite, pg = _both(cases, lambda db: list(S.rows(db, flt)))
    _same(lite, pg)
    lite_paged, pg_paged = _both(cases, paged)
    assert lite_paged == lite and pg_paged == pg
    box = S.Box(30.0, -10.0, 50.0, 10.0)
    lite_box, pg_box = _both(cases, lambda db: paged(db, box))
    assert lite_box or flt.end_us is not None          # (the photos and chats here: June 2021 on)
    _same(lite_box, pg_box)


def test_index_and_places_are_the_same(cases):
    lite, pg = _both(cases, lambda db: [tuple(r) for r in db.execute(
        "SELECT k, tz_unknown, item, path, label, source, lat, lon FROM timeline_keys "
        "ORDER BY k, tz_unknown, item, path, label, source, ref")])
    assert len(lite) > 50 and pg == lite
    lite, pg = _both(cases, lambda db: [tuple(r) for r in db.execute(
        "SELECT artifact_id, item, kind, file_id, lat, lon, k, at, label FROM map_places ORDER BY artifact_id")])
    assert {r[2] for r in lite} == {"photo", "chat_location"} and pg == lite
    assert _both(cases, S.current) == (True, True)


def test_places_read_a_batch_at_a_time_are_the_same(cases, monkeypatch):
    """map_places made again with records read one at a time (PostgreSQL's batches by id;
    SQLite's one cursor) holds the same rows."""
    def places(db):
        return [tuple(r) for r in db.execute("SELECT * FROM map_places ORDER BY artifact_id")]
    monkeypatch.setattr(S, "BATCH", 1)
    for db in _both(cases, lambda db: db):
        before = places(db)
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM map_places")
            S._add_places(db, None, 0)
            assert len(before) > 3 and places(db) == before
        finally:
            db.execute("ROLLBACK")


def test_keys_are_sort_keys(cases):
    """Every key of the index on PostgreSQL is sort_key's of its time (NO_KEY where none)."""
    db = cases["postgresql"].db
    files = {r[0]: r[1:] for r in db.execute("SELECT id, modified_at, accessed_at, changed_at, born_at FROM files")}
    checked = set()
    for k, source, ref in db.execute("SELECT k, source, ref FROM timeline_keys WHERE source < ?", [S.RECORD_SOURCE]):
        value = files[ref][source]
        assert k == (S.NO_KEY if S.sort_key(value) is None else S.sort_key(value)), value
        checked.add(value)
    assert set(ODD_TIMES) <= checked


def test_geo_is_the_same(cases):
    lite, pg = _both(cases, lambda db: list(G.geo_rows(db)))
    assert {r["kind"] for r in lite} >= {G.PHOTO_KIND, G.CHAT_KIND, G.DEVICE_KIND} and pg == lite
    import io
    for fmt, write in G.WRITERS.items():
        texts = []
        for db in _both(cases, lambda db: db):
            out = io.StringIO()
            write(G.geo_rows(db), out)
            texts.append(out.getvalue())
        assert texts[0] == texts[1], fmt


def test_gallery_geotagged_photos_are_the_exports_and_maps(cases):
    """The gallery's "geotagged" photos are those the geotag exports (selection.photos) and
    the map (map_places) count as geotagged, on both backends: the odd photo's ``gps_valid``
    1.0 is 1, as SQLite's json_extract reads it."""
    from forensic.store import selection

    def geotagged(db):
        gallery = [p.artifact_id for p in review.photo_page(db, review.GalleryFilter(geotagged=True), limit=1000)]
        exported = sorted(p.artifact_id for p in selection.photos(db, geotagged=True))
        mapped = [r[0] for r in db.execute("SELECT artifact_id FROM map_places WHERE kind = 'photo' "
                                           "ORDER BY artifact_id")]
        return gallery, exported, mapped
    lite, pg = _both(cases, geotagged)
    odd = cases["sqlite"].db.execute("SELECT id FROM artifacts WHERE record_type = 'photo/exif' "
                                     "AND fields LIKE '%\"Odd\"%'").fetchone()[0]
    assert odd in lite[0] and sorted(lite[0]) == lite[1] == lite[2]
    assert pg == lite


@pytest.mark.parametrize("flt", [review.PlaceFilter(), review.PlaceFilter(start=T.parse_bound("2021-06-02")),
                                 review.PlaceFilter(box=S.Box(30.0, -10.0, 50.0, 10.0))], ids=range(3))
def test_map_cells_and_list_are_the_same(cases, flt):
    lite, pg = _both(cases, lambda db: review.place_cells(db, flt, grid=7))
    assert lite and sorted(pg, key=repr) == sorted(lite, key=repr)      # the cells, in any order
    lite, pg = _both(cases, lambda db: review.places_page(db, flt, None, 100))
    assert lite and pg == lite
    if flt == review.PlaceFilter():
        assert lite[0].k is None                                      # a place without a time first


@pytest.mark.parametrize("args", [("timeline", "--json"), ("timeline", "--format", "csv", "--tz", "Asia/Tokyo"),
                                  ("timeline", "--json", "--known-only", "--from", "2021-06-01"),
                                  ("timeline", "--json", "--item", "card", "--to", "2021-07-01"),
                                  ("geo",), ("geo", "--format", "kml"), ("geo", "--format", "csv"),
                                  ("geo", "--json", "--item", "phone")])
def test_cli_output_is_the_same(cases, forensic, args):
    out = [forensic(*args, "--case", Path(cases[b].root)).out for b in ("sqlite", "postgresql")]
    # the message holding a NUL: whole on PostgreSQL, cut there on SQLite (_cut)
    if args[0] == "timeline":
        out[1] = out[1].replace("nul \\u0000 here", "nul ").replace("nul \x00 here", "nul ")
    assert out[0]
    _same(out[0].splitlines(), out[1].splitlines())


def test_rows_on_postgresql_leave_no_transaction_open(cases):
    """rows() reads PostgreSQL's index in one snapshot (a transaction of its own): a reader
    that stops early ends it; inside a transaction the caller began, it begins none."""
    db = cases["postgresql"].db
    with closing(S.rows(db)) as found:
        first = next(found)
        assert db.in_transaction
    assert not db.in_transaction and first == next(S.rows(db))
    db.execute("BEGIN")
    try:
        assert len(list(S.rows(db, S.TimelineFilter(item="card")))) > 3 and db.in_transaction
    finally:
        db.execute("ROLLBACK")


def test_a_role_that_may_only_read_is_told_why_a_stale_index_stops_it(cases, monkeypatch):
    """On PostgreSQL the timeline reads its index; a role granted SELECT alone cannot bring a
    stale one up to date: a clear error, and the index is whole for the next role."""
    import uuid

    import psycopg

    from forensic.errors import CaseError
    case = cases["postgresql"]
    location = case.db.location
    reader = "reader_" + uuid.uuid4().hex[:12]
    with psycopg.connect(location.url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{reader}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA "{location.schema}" TO "{reader}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{location.schema}" TO "{reader}"')
    case.db.execute("UPDATE meta SET value = 'stale' WHERE key = 'timeline_generation'")
    monkeypatch.setenv("PGUSER", reader)
    try:
        with closing(Case.open(case.root)) as as_reader:
            with pytest.raises(CaseError, match="may not write it"):
                list(T.events(as_reader.db))
            assert not as_reader.db.in_transaction
    finally:
        monkeypatch.delenv("PGUSER")
        assert S.ensure_index(case.db) is True
    assert S.current(case.db)
