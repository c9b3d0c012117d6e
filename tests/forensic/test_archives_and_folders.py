"""Folder, ZIP and TAR sources: streaming, hostile names, bombs, passwords."""
from __future__ import annotations

import io
import os
import tarfile
import zipfile


from builders import sha256, sha256_file, tiny_jpeg, zip_file
from forensic.limits import Limits
from forensic.pipeline import TriageOptions, triage_item
from forensic.case import Case
from forensic.intake import add_evidence

PHOTO = tiny_jpeg()


def _case(forensic, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "Ann")
    return case


def _rows(forensic, case):
    return forensic("files", "--case", case, "--json").jsonl()


def test_folder_links_recorded_not_followed_and_fifo_not_opened(forensic, tmp_path):
    src = tmp_path / "extraction"
    (src / "DCIM").mkdir(parents=True)
    (src / "DCIM" / "a.jpg").write_bytes(PHOTO)
    os.symlink("/etc/passwd", src / "outside")
    os.symlink("loop2", src / "loop1")
    os.symlink("loop1", src / "loop2")
    os.symlink("..", src / "DCIM" / "parent")
    os.mkfifo(src / "pipe")
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", src, "--case", case, "--id", "ext")
    res = forensic("triage", "--case", case, "--json", expect=3)   # completed with warnings (the FIFO)
    rows = {r["path"]: r for r in _rows(forensic, case)}
    assert rows["/outside"]["kind"] == "link" and rows["/outside"]["link_target"] == "/etc/passwd"
    assert rows["/outside"]["sha256"] is None
    assert rows["/loop1"]["kind"] == "link" and rows["/DCIM/parent"]["kind"] == "link"
    assert rows["/pipe"]["kind"] == "other" and rows["/pipe"]["sha256"] is None
    assert rows["/DCIM/a.jpg"]["sha256"] == sha256(PHOTO)
    assert not any(p.startswith("/DCIM/parent/") for p in rows)
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    assert any("FIFO" in w["message"] for w in warnings)
    assert res.json()["warnings"] == 1


def test_folder_with_non_utf8_name(forensic, tmp_path):
    src = tmp_path / "ext"
    src.mkdir()
    with open(os.path.join(os.fsencode(src), b"caf\xe9.txt"), "wb") as fh:
        fh.write(b"latin-1 name")
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", src, "--case", case, "--id", "ext")
    forensic("triage", "--case", case, expect=3)
    rows = _rows(forensic, case)
    assert rows[0]["path"] == "/caf\\xe9.txt"
    assert rows[0]["sha256"] == sha256(b"latin-1 name")
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    assert "not valid UTF-8" in warnings[0]["message"]


def test_folder_intake_hash_is_stable_and_verifies(forensic, tmp_path):
    src = tmp_path / "ext"
    (src / "a").mkdir(parents=True)
    (src / "a" / "x.txt").write_bytes(b"x")
    case = _case(forensic, tmp_path)
    first = forensic("evidence", "add", src, "--case", case, "--id", "ext", "--json").json()
    assert forensic("evidence", "verify", "ext", "--case", case, "--json").json()["ok"] is True
    (src / "a" / "x.txt").write_bytes(b"y")
    res = forensic("evidence", "verify", "ext", "--case", case, "--json", expect=4)
    assert res.json()["ok"] is False and res.json()["sha256"] != first["sha256"]


def test_zip_members_streamed_with_hostile_names(forensic, tmp_path):
    z = tmp_path / "extraction.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("WhatsApp/Media/IMG-1.jpg", PHOTO)
        zf.writestr("../../etc/evil.sh", b"#!/bin/sh\n")
        zf.writestr("/abs/path.txt", b"abs")
        zf.writestr("dup.txt", b"one")
        zf.writestr("dup.txt", b"two")
    before = sha256_file(z)
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", z, "--case", case, "--id", "zip")
    forensic("triage", "--case", case, expect=3)
    rows = {r["locator"]: r for r in _rows(forensic, case)}
    assert rows["extraction.zip › WhatsApp/Media/IMG-1.jpg"]["sha256"] == sha256(PHOTO)
    assert rows["extraction.zip › dup.txt"]["sha256"] == sha256(b"one")
    assert rows["extraction.zip › dup.txt [2]"]["sha256"] == sha256(b"two")
    assert rows["extraction.zip › ../../etc/evil.sh"]["warnings"] == 1
    messages = [w["message"] for w in forensic("warnings", "--case", case, "--json").jsonl()]
    assert sum("path traversal" in m for m in messages) == 2
    assert any("duplicate member name" in m for m in messages)
    assert not (tmp_path / "etc").exists() and not os.path.exists("/etc/evil.sh")
    assert sha256_file(z) == before


def test_tar_and_tar_gz_sources(forensic, tmp_path):
    for name, mode in (("x.tar", "w"), ("x.tar.gz", "w:gz")):
        path = tmp_path / name
        with tarfile.open(path, mode) as tf:
            info = tarfile.TarInfo("sdcard/DCIM/a.jpg")
            info.size = len(PHOTO)
            info.mtime = 1600000000
            tf.addfile(info, io.BytesIO(PHOTO))
            link = tarfile.TarInfo("sdcard/link")
            link.type = tarfile.SYMTYPE
            link.linkname = "../../etc/shadow"
            tf.addfile(link)
    case = _case(forensic, tmp_path)
    for name in ("x.tar", "x.tar.gz"):
        assert forensic("evidence", "add", tmp_path / name, "--case", case, "--json").json()["format"] == "tar"
    forensic("triage", "--case", case)
    rows = _rows(forensic, case)
    photos = [r for r in rows if r["path"] == "sdcard/DCIM/a.jpg"]
    assert len(photos) == 2 and all(r["sha256"] == sha256(PHOTO) for r in photos)
    assert all(r["modified_at"] == "2020-09-13T12:26:40Z" for r in photos)
    links = [r for r in rows if r["kind"] == "link"]
    assert {r["link_target"] for r in links} == {"../../etc/shadow"}


def test_encrypted_zip_needs_the_right_password(forensic, tmp_path):
    z = zip_file(tmp_path / "enc.zip", [("secret/chat.txt", b"meet at 9"), ("secret/a.jpg", PHOTO)],
                 password=b"s3cret")
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", z, "--case", case, expect=1)
    assert "encrypted" in res.err and "--password-file" in res.err
    (tmp_path / "wrong.txt").write_text("nope\n")
    res = forensic("evidence", "add", z, "--case", case, "--password-file", tmp_path / "wrong.txt", expect=1)
    assert "wrong password" in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []   # nothing half-added
    (tmp_path / "pw.txt").write_text("s3cret\n")
    forensic("evidence", "add", z, "--case", case, "--id", "enc", "--password-file", tmp_path / "pw.txt")
    forensic("triage", "--case", case)
    rows = {r["path"]: r for r in _rows(forensic, case)}
    assert rows["secret/chat.txt"]["sha256"] == sha256(b"meet at 9")
    assert rows["secret/a.jpg"]["mime"] == "image/jpeg"


def _lib_triage(tmp_path, source, limits):
    case = Case.init(tmp_path / "libcase", "C", "E")
    add_evidence(case, source, "x", None, None)
    stats = triage_item(case, "x", TriageOptions(limits=limits, extractors=[]))
    rows = list(case.db.execute("SELECT * FROM files"))
    warns = [r["message"] for r in case.db.execute("SELECT message FROM warnings")]
    return stats, rows, warns


def test_zip_bomb_output_capped(tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(8 << 20))
        zf.writestr("after.txt", b"still listed")
    stats, rows, warns = _lib_triage(tmp_path, z, Limits(archive_min_budget=1 << 20, archive_ratio=10))
    byname = {r["path"]: r for r in rows}
    assert byname["zeros.bin"]["sha256"] is None               # never a hash of a partial read
    assert any("zip bomb suspected" in w for w in warns)
    assert "after.txt" in byname


def test_zip_entry_count_capped(tmp_path):
    z = zip_file(tmp_path / "many.zip", [(f"f{i}.txt", b"x") for i in range(50)])
    stats, rows, warns = _lib_triage(tmp_path, z, Limits(max_members=20))
    assert len(rows) == 20
    assert any("more than 20 members" in w for w in warns)


def test_nested_archive_depth_capped(tmp_path):
    data = b"core"
    name = "core.txt"
    for level in range(6):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(name, data)
        data, name = buf.getvalue(), f"level{level}.zip"
    z = tmp_path / "nest.zip"
    z.write_bytes(data)
    stats, rows, warns = _lib_triage(tmp_path, z, Limits(max_depth=3))
    assert any("nested deeper than 3" in w for w in warns)
    assert max(len(r["locator"].split(" › ")) for r in rows) == 5   # source + 4 member layers


def test_truncated_zip_is_a_clear_error(forensic, tmp_path):
    z = zip_file(tmp_path / "t.zip", [("a.txt", os.urandom(100000))])
    cut = tmp_path / "cut.zip"
    cut.write_bytes(z.read_bytes()[:50000])
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", cut, "--case", case, expect=1)
    assert "cut.zip" in res.err and "ZIP" in res.err


def test_plain_gzip_inside_is_a_file_not_an_archive(forensic, tmp_path):
    import gzip
    src = tmp_path / "ext"
    src.mkdir()
    (src / "app.log.gz").write_bytes(gzip.compress(b"log line\n" * 100))
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", src, "--case", case, "--id", "ext")
    forensic("triage", "--case", case)                      # exit 0: no warning for a .gz log
    rows = _rows(forensic, case)
    assert [r["path"] for r in rows] == ["/app.log.gz"] and rows[0]["sha256"]


def test_gzip_source_that_is_not_tar_is_a_clear_error(forensic, tmp_path):
    import gzip
    (tmp_path / "x.gz").write_bytes(gzip.compress(b"not a tar archive"))
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", tmp_path / "x.gz", "--case", case, expect=1)
    assert "x.gz" in res.err and "not a readable TAR" in res.err


def test_tar_bomb_output_capped(tmp_path):
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 8 << 20
        tf.addfile(info, io.BytesIO(bytes(info.size)))
        after = tarfile.TarInfo("after.txt")
        after.size = 5
        tf.addfile(after, io.BytesIO(b"still"))
    stats, rows, warns = _lib_triage(tmp_path, path, Limits(archive_min_budget=1 << 20, archive_ratio=10))
    byname = {r["path"]: r for r in rows}
    assert byname["zeros.bin"]["sha256"] is None
    assert any("zip bomb suspected" in w for w in warns)
    assert byname["after.txt"]["sha256"] == sha256(b"still")


def test_failing_extractor_becomes_a_warning(tmp_path):
    from forensic.extractors.base import Extractor

    class BrokenExtractor(Extractor):
        NAME, VERSION = "broken", "1"

        def accepts(self, path, mime, head):
            if path.endswith(".bad"):
                raise ValueError("accepts blew up")
            return True

        def extract(self, item):
            raise RuntimeError(f"cannot parse {item.name}")
            yield  # pragma: no cover

    src = tmp_path / "ext"
    src.mkdir()
    (src / "a.txt").write_bytes(b"a")
    (src / "b.bad").write_bytes(b"b")
    case = Case.init(tmp_path / "c", "C", "E")
    add_evidence(case, src, "x", None, None)
    stats = triage_item(case, "x", TriageOptions(extractors=[BrokenExtractor()]))
    rows = {r["path"]: r for r in case.db.execute("SELECT * FROM files")}
    assert rows["/a.txt"]["sha256"] == sha256(b"a") and rows["/b.bad"]["sha256"] == sha256(b"b")
    warns = sorted(r["message"] for r in case.db.execute("SELECT message FROM warnings"))
    assert warns == ["accepts() failed: ValueError: accepts blew up",
                     "extractor failed: RuntimeError: cannot parse a.txt"]
    assert stats.warnings == 2


def test_many_bomb_members_stay_bounded(tmp_path):
    z = tmp_path / "bombs.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(8):
            zf.writestr(f"zeros{i}.bin", bytes(4 << 20))
        zf.writestr("last.txt", b"x")
    stats, rows, warns = _lib_triage(tmp_path, z, Limits(archive_min_budget=1 << 20, archive_ratio=10))
    assert all(r["sha256"] is None for r in rows if r["path"].startswith("zeros"))
    # after the first few abandoned members the budget stays spent: later ones are not expanded
    assert sum("zip bomb suspected" in w for w in warns) == 9
