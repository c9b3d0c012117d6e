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
