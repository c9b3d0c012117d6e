"""Store queries that take text from evidence into a LIKE pattern: a folder or file name that
holds ``%``, ``_``, ``!`` or ``\\`` means itself."""
from __future__ import annotations

from forensic.case import Case
from forensic.store import artifacts, warnings


def _case(tmp_path):
    case = Case.init(tmp_path / "case", "C1", "examiner")
    db = case.db
    db.execute("INSERT INTO items(item, source_path, format, size, sha256, md5, added_at) "
               "VALUES ('x', '/x', 'directory', 0, '', '', 'now')")
    for path in ("/a_b%!\\/x.jpg", "/aXbY!\\/y.jpg", "/a_b%!\\z/w.jpg", "/other/x.jpg"):
        db.execute("INSERT INTO files(item, locator, path, layers, name, kind) VALUES ('x', ?, ?, '[]', ?, 'file')",
                   (f"x › {path}", path, path.rsplit("/", 1)[-1]))
        db.execute("INSERT INTO warnings(item, locator, stage, message, at) VALUES ('x', ?, 'read', 'm', 'now')",
                   (f"x › {path}",))
    return case


def test_files_under_a_folder_whose_name_holds_like_wildcards(tmp_path):
    case = _case(tmp_path)
    try:
        assert [f.path for f in artifacts.files_under(case.db, "x", "/a_b%!\\/")] == ["/a_b%!\\/x.jpg"]
    finally:
        case.close()


def test_warnings_at_a_locator_ending_with_like_wildcards(tmp_path):
    case = _case(tmp_path)
    try:
        found = warnings.at_locator_ending(case.db, "x", "_b%!\\/x.jpg")
        assert [w.locator for w in found] == ["x › /a_b%!\\/x.jpg"]
    finally:
        case.close()
