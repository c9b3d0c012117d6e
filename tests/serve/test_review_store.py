"""forensic.store.review on the sample case: keyset pages cover every photo once, across items;
the maps the server keeps agree with the store's own queries."""
from __future__ import annotations

from forensic.case import Case
from forensic.store import review, similar


def test_pages_cover_every_photo_once(sample):
    case = Case.open(sample["case"])
    try:
        everything = review.photo_page(case.db, review.GalleryFilter(), None, 1000)
        assert len(everything) == 7 and [p.item for p in everything] == ["card"] * 6 + ["phone"]
        seen, after = [], None
        while True:
            page = review.photo_page(case.db, review.GalleryFilter(), after, 2)
            if not page:
                break
            assert len(page) <= 2
            seen += page
            after = (page[-1].item, page[-1].artifact_id)
        assert [p.artifact_id for p in seen] == [p.artifact_id for p in everything]
        only = review.photo_page(case.db, review.GalleryFilter(item="phone"), None, 10)
        assert [p.item for p in only] == ["phone"]
        assert review.photo_page(case.db, review.GalleryFilter(date_from="2100-01-01"), None, 10) == []
    finally:
        case.close()


def test_thumbnail_map_matches_the_store(sample):
    case = Case.open(sample["case"])
    try:
        ids = [p.file_id for p in review.photo_page(case.db, review.GalleryFilter(), None, 100)]
        records = review.thumbnail_records(case.db)
        stored = similar.thumbnails(case.db, ids)
        assert stored and set(stored) == {i for i in ids if i in records}
        for file_id, jpeg in stored.items():
            assert review.thumbnail(case.db, records[file_id]) == jpeg
        carried = review.attachment_hashes(case.db)
        assert len(carried) == 1
        (sha, ids), = carried.items()
        assert [m.id for m in review.messages_by_id(case.db, ids)] == ids
        assert review.same_content(case.db, sha)[0].sha256 == sha
    finally:
        case.close()


def test_timeline_pages_read_the_same_times_in_the_same_order(sample):
    """The timeline index, read 3 times a page after each page's last key, gives every time
    rows() gives, in its order; a filter keeps the same times; the index is remade when the
    store's rows change and not otherwise."""
    from forensic.store import timeline

    def ident(r):
        return (r.key, r.tz_known, r.label, r.item, r.locator, r.record_type, r.utc, r.local)

    case = Case.open(sample["case"])
    try:
        for flt in (timeline.TimelineFilter(), timeline.TimelineFilter(item="phone"),
                    timeline.TimelineFilter(start_us=timeline.sort_key("2021-03-14T00:00:00+00:00"),
                                            end_us=timeline.sort_key("2021-03-14T23:59:59+00:00"))):
            expected = [ident(r) for r in timeline.rows(case.db, flt)]
            seen, after = [], None
            while True:
                rows, after = timeline.page(case.db, flt, after, 3)
                assert len(rows) <= 3
                seen += [ident(r) for r in rows]
                if after is None:
                    break
                assert timeline.parse_key(timeline.key_text(after)) == after
            assert expected and sorted(seen, key=repr) == sorted(expected, key=repr)
            assert [s[0] for s in seen] == [e[0] for e in expected]          # the same order of keys
        assert timeline.ensure_index(case.db) is False
        case.db.execute("UPDATE meta SET value = 'stale' WHERE key = 'timeline_generation'")
        assert timeline.ensure_index(case.db) is True
        assert timeline.parse_key('["x"]') is None and timeline.parse_key("not json") is None
    finally:
        case.close()


def _opened_as_version(version: int, sample, tmp_path, forensic, monkeypatch, statements: list[str]):
    """A copy of the sample case whose store ``statements`` turn back into schema ``version``,
    then opened (so migrated) by a command; its folder."""
    import shutil
    import sqlite3
    case_dir = tmp_path / "case"
    shutil.copytree(sample["case"], case_dir)
    db = sqlite3.connect(case_dir / "case.db")
    for statement in statements:
        db.execute(statement)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    db.commit()
    db.close()
    monkeypatch.setenv("FORENSIC_KEY", sample["key"])
    forensic("person", "list", "--case", case_dir, "--json")        # a command opens (and migrates) it
    return case_dir


def test_a_version_6_store_gains_the_file_index_and_timeline_keys(sample, tmp_path, forensic, monkeypatch):
    """Version 6 had no artifacts_file index nor timeline_keys: opening it adds both (the
    keys empty until the first timeline page), the custody log records the step."""
    from forensic.store import timeline
    from forensic.store.schema import SCHEMA_VERSION
    case_dir = _opened_as_version(6, sample, tmp_path, forensic, monkeypatch, [
        "DROP TABLE IF EXISTS timeline_keys", "DROP INDEX IF EXISTS artifacts_file",
        "DELETE FROM meta WHERE key = 'timeline_generation'"])
    case = Case.open(case_dir)
    try:
        assert tuple(case.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()) == (
            str(SCHEMA_VERSION),)
        assert case.db.execute("SELECT count(*) FROM timeline_keys").fetchone()[0] == 0
        plan = case.db.execute("EXPLAIN QUERY PLAN SELECT id FROM artifacts WHERE file_id = 1").fetchall()
        assert "artifacts_file" in " ".join(str(r[-1]) for r in plan)
        rows, _ = timeline.page(case.db, timeline.TimelineFilter(), None, 5)
        assert len(rows) == 5
    finally:
        case.close()
    [migrated] = forensic("custody", "log", "--case", case_dir, "--json", "--action", "case.migrated").jsonl()
    assert migrated["details"]["from"] == 6 and "timeline_keys" in migrated["details"]["steps"][0]["what"]


def test_photo_metadata_search_with_and_without_the_text_prefilter(sample):
    """A text with letters is first looked for in the record's JSON text, then in its values;
    one without letters (a number) or with a quote only in its values; each finds the same."""
    case = Case.open(sample["case"])
    try:
        madrid = [p for p in review.photos_matching(case.db, "<B>cam</b>") if p.path and "madrid" in p.path]
        assert madrid                                                         # the hostile make, any case
        assert review.photos_matching(case.db, 'Model "1"') == madrid         # a quote: values only
        lat = str(madrid[0].fields['lat'])[:5]                                # 40.41
        assert madrid[0].artifact_id in [p.artifact_id for p in review.photos_matching(case.db, lat)]
        assert review.photos_matching(case.db, "make") == []                  # a key is not a value
    finally:
        case.close()


def test_a_version_7_store_gains_the_search_and_map_indexes(sample, tmp_path, forensic, monkeypatch):
    """Version 7 had no trigram indexes of names and photo metadata, no map_places, and its
    timeline_keys no places: opening it fills the indexes from the rows stored (the search box
    finds by them), lays the timeline index out anew; the custody log records the step."""
    from forensic.store import timeline
    triggers = ("names_fts_insert", "names_fts_delete", "names_fts_update", "photo_meta_fts_insert",
                "photo_meta_fts_delete", "photo_meta_fts_update")
    case_dir = _opened_as_version(7, sample, tmp_path, forensic, monkeypatch, [
        *(f"DROP TRIGGER {trigger}" for trigger in triggers),
        *(f"DROP TABLE {table}" for table in ("names_fts", "photo_meta_fts", "map_places", "timeline_keys")),
        "CREATE TABLE timeline_keys (k INTEGER NOT NULL, tz_unknown INTEGER NOT NULL, item TEXT NOT NULL, "
        "path TEXT NOT NULL, label TEXT NOT NULL, source INTEGER NOT NULL, ref INTEGER NOT NULL)",
        "UPDATE meta SET value = '1:2:3:x' WHERE key = 'timeline_generation'"])     # v7's form
    case = Case.open(case_dir)
    try:
        db = case.db
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "8"
        assert db.execute("SELECT count(*) FROM timeline_keys").fetchone()[0] == 0
        assert not timeline.current(db)
        plan = " ".join(str(r[-1]) for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT rowid FROM names_fts WHERE names_fts MATCH '\"adri\"'"))
        assert "VIRTUAL TABLE" in plan
        assert [f.name for f in review.files_matching(db, "ADRID")] == ["madrid.jpg"]      # by the index
        assert [p.path.rsplit("/", 1)[-1] for p in review.photos_matching(db, "<b>cam")] == ["madrid.jpg"]
        assert timeline.ensure_index(db) is True
        places = review.places_page(db, review.PlaceFilter())
        assert [p.label.rsplit("/", 1)[-1] for p in places] == ["madrid.jpg"]
    finally:
        case.close()
    [migrated] = forensic("custody", "log", "--case", case_dir, "--json", "--action", "case.migrated").jsonl()
    assert migrated["details"]["from"] == 7 and "names_fts" in migrated["details"]["steps"][0]["what"]


def test_a_triage_leaves_the_timeline_and_map_indexes_current(sample, tmp_path, monkeypatch):
    """The last transaction of a triage brings timeline_keys and map_places up to date: the
    first timeline page has nothing to make. Triaged again (--force), the item's rows are made
    again, the other item's kept; the search indexes follow the rows (triggers)."""
    import shutil

    from forensic.cli.main import main
    from forensic.store import timeline
    case_dir = tmp_path / "case"
    shutil.copytree(sample["case"], case_dir)
    case = Case.open(case_dir)
    try:
        assert timeline.current(case.db)                     # the sample's triage left it so
        before = case.db.execute("SELECT count(*) FROM timeline_keys WHERE item = 'card'").fetchone()[0]
    finally:
        case.close()
    monkeypatch.setenv("FORENSIC_KEY", sample["key"])
    assert main(["triage", "card", "--force", "--case", str(case_dir), "--quiet"]) in (0, 3)
    case = Case.open(case_dir)
    try:
        db = case.db
        assert timeline.current(db) and timeline.ensure_index(db) is False
        assert db.execute("SELECT count(*) FROM timeline_keys WHERE item = 'card'").fetchone()[0] == before
        assert db.execute("SELECT count(*) FROM timeline_keys t JOIN files f ON f.id = t.ref "
                          "WHERE t.source < 4 AND t.item = 'card' AND f.item = 'card'").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM map_places").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM names_fts").fetchone()[0] == db.execute(
            "SELECT count(*) FROM files").fetchone()[0]
        assert db.execute("SELECT count(*) FROM photo_meta_fts").fetchone()[0] == db.execute(
            "SELECT count(*) FROM artifacts WHERE record_type = 'photo/exif'").fetchone()[0]
        db.execute("INSERT INTO names_fts(names_fts) VALUES ('integrity-check')")
        assert [f.name for f in review.files_matching(db, "madrid")] == ["madrid.jpg"]
        rows, _ = timeline.page(db, timeline.TimelineFilter(), None, 1000,
                                box=timeline.Box(40.0, -4.0, 41.0, -3.0))
        assert rows and {r.path.rsplit("/", 1)[-1] for r in rows} == {"madrid.jpg"}
        assert timeline.page(db, timeline.TimelineFilter(), None, 10, box=timeline.Box(0, 0, 1, 1))[0] == []
    finally:
        case.close()
