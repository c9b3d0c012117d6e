"""Outputs never land on evidence or on the case store: the attacks of issue 13 item 2,
each tried for real (a registered image, a folder source, symlinks and hard links planted
where the output goes), and the evidence re-verified afterwards."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from builders import ext4_image, tiny_jpeg, write_tree


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture()
def case(forensic, tmp_path, monkeypatch):
    image = ext4_image(tmp_path, {"DCIM/a.jpg": tiny_jpeg(), "b.txt": b"text\n"}, size_mib=4)
    folder = write_tree(tmp_path / "extraction", {"chats/c.txt": b"chat\n", "x.jpg": tiny_jpeg()})
    forensic("case", "init", tmp_path / "case", "--case-id", "C-1", "--examiner", "E")
    monkeypatch.setenv("FORENSIC_CASE", str(tmp_path / "case"))
    forensic("evidence", "add", image, "--id", "disk")
    forensic("evidence", "add", folder, "--id", "folder")
    forensic("triage", "--quiet")
    return {"dir": tmp_path / "case", "image": image, "folder": folder,
            "hashes": {image: digest(image), folder / "x.jpg": digest(folder / "x.jpg")}}


def assert_evidence_intact(forensic, case):
    for path, sha in case["hashes"].items():
        assert digest(path) == sha, f"{path} was changed"
    forensic("evidence", "verify", "disk", "--quiet")
    forensic("evidence", "verify", "folder", "--quiet")


def test_export_over_a_registered_image_is_refused(forensic, case):
    r = forensic("export", "--out", case["image"], expect=2)
    assert "would write over evidence item 'disk'" in r.err
    assert_evidence_intact(forensic, case)


def test_export_into_a_folder_source_is_refused(forensic, case):
    r = forensic("export", "--out", case["folder"] / "bundle.zip", expect=2)
    assert "evidence item 'folder'" in r.err
    assert not (case["folder"] / "bundle.zip").exists()
    assert_evidence_intact(forensic, case)


def test_export_through_a_symlink_or_hard_link_to_evidence_is_refused(forensic, case, tmp_path):
    link = tmp_path / "bundle.zip"
    link.symlink_to(case["image"])
    r = forensic("export", "--out", link, expect=2)
    assert "evidence item 'disk'" in r.err
    hard = tmp_path / "hard.zip"
    os.link(case["image"], hard)
    r = forensic("export", "--out", hard, expect=2)
    assert "same file as evidence item 'disk'" in r.err
    # A folder symlinked into the folder source.
    (tmp_path / "out").symlink_to(case["folder"])
    forensic("export", "--out", tmp_path / "out" / "b.zip", expect=2)
    assert_evidence_intact(forensic, case)


def test_a_planted_partial_symlink_is_not_written_through(forensic, case, tmp_path):
    # bundle.zip.partial -> the image: the export must replace the link, not fill the image.
    (tmp_path / "bundle.zip.partial").symlink_to(case["image"])
    forensic("export", "--out", tmp_path / "bundle.zip", "--item", "disk", "--quiet", expect=2)
    (tmp_path / "bundle.zip.partial").unlink()
    (tmp_path / "elsewhere.zip.partial").symlink_to(tmp_path / "victim.bin")
    (tmp_path / "victim.bin").write_bytes(b"not evidence, but not ours to write either")
    forensic("export", "--out", tmp_path / "elsewhere.zip", "--item", "disk", "--quiet")
    assert (tmp_path / "victim.bin").read_bytes() == b"not evidence, but not ours to write either"
    assert not (tmp_path / "elsewhere.zip.partial").exists()
    assert (tmp_path / "elsewhere.zip").stat().st_size > 0
    assert_evidence_intact(forensic, case)


def test_export_over_the_case_store_is_refused(forensic, case):
    store = "store.json" if (case["dir"] / "store.json").exists() else "case.db"     # on PostgreSQL / SQLite
    for name in (store, "custody.jsonl", "custody.checkpoints.jsonl"):
        before = digest(case["dir"] / name)
        r = forensic("export", "--out", case["dir"] / name, expect=2)
        assert "the case store" in r.err
        assert digest(case["dir"] / name) == before
    forensic("custody", "verify", "--quiet")


def test_password_out_is_always_a_new_file(forensic, case, tmp_path):
    (tmp_path / "pw").symlink_to(case["image"])
    forensic("export", "--out", tmp_path / "b.zip", "--generate-password", "--password-out", tmp_path / "pw",
             expect=2)
    existing = tmp_path / "old-pw"
    existing.write_text("keep me\n")
    forensic("export", "--out", tmp_path / "b.zip", "--generate-password", "--password-out", existing, expect=2)
    assert existing.read_text() == "keep me\n"
    assert not (tmp_path / "b.zip").exists()
    forensic("export", "--out", tmp_path / "b.zip", "--item", "disk", "--generate-password",
             "--password-out", tmp_path / "new-pw", "--quiet")
    assert (tmp_path / "new-pw").stat().st_mode & 0o777 == 0o600
    assert_evidence_intact(forensic, case)


def test_keygen_never_writes_through_a_planted_symlink(forensic, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    victim = tmp_path / "victim.txt"
    (keys / "alice.pub").symlink_to(victim)           # dangling: exists() says False
    forensic("examiner", "keygen", "alice", "--out", keys, expect=2)
    assert not victim.exists()
    assert not (keys / "alice.key").exists()


@pytest.mark.parametrize("command", ["timeline", "geo"])
def test_timeline_and_geo_out_over_evidence_are_refused(forensic, case, command):
    r = forensic(command, "--out", case["image"], expect=2)
    assert "evidence item 'disk'" in r.err
    forensic(command, "--out", case["folder"] / "t.csv", expect=2)
    assert not (case["folder"] / "t.csv").exists()
    assert_evidence_intact(forensic, case)


def test_case_init_inside_a_folder_source_is_refused(forensic, case):
    r = forensic("case", "init", case["folder"] / "newcase", "--case-id", "C-2", "--examiner", "E", expect=2)
    assert "evidence item 'folder'" in r.err
    assert not (case["folder"] / "newcase").exists()
    assert_evidence_intact(forensic, case)


@pytest.fixture()
def e01_case(forensic, tmp_path, monkeypatch):
    """A case whose one item is a single-segment phone.E01 (libewf globs phone.E02 next)."""
    from builders import e01_image
    raw = ext4_image(tmp_path, {"DCIM/a.jpg": tiny_jpeg()}, size_mib=4)
    seized = tmp_path / "seized"
    seized.mkdir()
    e01 = e01_image(seized, raw)
    forensic("case", "init", tmp_path / "case", "--case-id", "C-3", "--examiner", "E")
    monkeypatch.setenv("FORENSIC_CASE", str(tmp_path / "case"))
    forensic("evidence", "add", e01, "--id", "phone", "--quiet")
    forensic("triage", "--quiet")
    return e01


@pytest.mark.parametrize("name", ["phone.E02", "phone.e02", "phone.E57", "phone.EAA", "phone.EZZ"])
def test_the_next_e01_segment_name_is_never_written(forensic, e01_case, name):
    # libewf finds segments by name: a timeline written as phone.E02 beside a single-segment
    # phone.E01 would become the set's second segment, and the evidence would not open again.
    out = e01_case.parent / name
    for command in (("timeline", "--out", out), ("geo", "--out", out), ("export", "--out", out)):
        r = forensic(*command, expect=2)
        assert "E01 segment names of evidence item 'phone'" in r.err, r.err
        assert not out.exists()
    forensic("case", "init", out, "--case-id", "C-4", "--examiner", "E", expect=2)
    assert not out.exists()
    forensic("evidence", "verify", "phone", "--quiet")
    # Other names beside it stay allowed.
    forensic("timeline", "--out", e01_case.parent / "phone.timeline.jsonl", "--quiet")
    forensic("timeline", "--out", e01_case.parent / "phone.E02.jsonl", "--quiet")
    forensic("evidence", "verify", "phone", "--quiet")


def test_ewf_segment_names_follow_libewf():
    from forensic.outputs import ewf_segment_name, ewf_segment_names
    assert [ewf_segment_name("p.E01", n) for n in (2, 99, 100, 101, 126, 775, 776, 14971)] == \
        ["p.E02", "p.E99", "p.EAA", "p.EAB", "p.EBA", "p.EZZ", "p.FAA", "p.ZZZ"]
    assert ewf_segment_name("p.E01", 14972) is None
    assert [ewf_segment_name("p.e01", n) for n in (2, 100)] == ["p.e02", "p.eaa"]
    assert [ewf_segment_name("p.Ex01", n) for n in (2, 100, 776)] == ["p.Ex02", "p.ExAA", "p.EyAA"]
    assert [ewf_segment_name("p.s01", n) for n in (2, 100)] == ["p.s02", "p.saa"]
    assert ewf_segment_name("p.raw", 2) is None and ewf_segment_names("p.raw") is None
    names = ewf_segment_names("p.E01")
    assert all(names.fullmatch(n) for n in ("p.E02", "p.e02", "p.EAA", "p.ezz"))
    assert not any(names.fullmatch(n) for n in ("p.txt", "p.E02.csv", "q.E02", "p.FAA", "p.Ex02"))
    assert ewf_segment_names("p.E01", 775).fullmatch("p.FAA")         # a set that large: the next name
    ewf2 = ewf_segment_names("p.Ex01")
    assert ewf2.fullmatch("p.Ex02") and ewf2.fullmatch("p.ExAA") and not ewf2.fullmatch("p.E02")


def test_keygen_into_evidence_or_the_case_store_is_refused(forensic, case, tmp_path, monkeypatch):
    # The case named by $FORENSIC_CASE (the fixture's).
    for out in (case["folder"], case["folder"] / "DCIM", case["dir"] / "logs", case["dir"] / "locks"):
        r = forensic("examiner", "keygen", "bob", "--out", out, expect=2)
        assert "would write over" in r.err, r.err
        assert not (out / "bob.key").exists() and not (out / "bob.pub").exists()
    # No $FORENSIC_CASE, but run in the case's folder: that is the case worked in.
    monkeypatch.delenv("FORENSIC_CASE")
    monkeypatch.chdir(case["dir"])
    r = forensic("examiner", "keygen", "bob", "--out", case["folder"] / "DCIM", expect=2)
    assert "evidence item 'folder'" in r.err
    # Run elsewhere, the case named with --case.
    monkeypatch.chdir(tmp_path)
    forensic("examiner", "keygen", "bob", "--out", case["folder"], "--case", case["dir"], expect=2)
    r = forensic("examiner", "keygen", "bob", "--out", tmp_path / "k", "--case", tmp_path / "nocase", expect=1)
    assert "no case in" in r.err
    assert not list(case["folder"].rglob("bob.*"))
    forensic("examiner", "keygen", "bob", "--out", tmp_path / "keys", "--case", case["dir"])
    assert (tmp_path / "keys" / "bob.key").is_file()
    monkeypatch.setenv("FORENSIC_CASE", str(case["dir"]))
    assert_evidence_intact(forensic, case)


def test_case_init_in_evidence_is_refused_wherever_the_current_case_comes_from(forensic, case, tmp_path,
                                                                              monkeypatch):
    # $FORENSIC_CASE names no case, but the current folder is one.
    monkeypatch.setenv("FORENSIC_CASE", str(tmp_path / "not-a-case"))
    monkeypatch.chdir(case["dir"])
    r = forensic("case", "init", case["folder"] / "newcase", "--case-id", "C-2", "--examiner", "E", expect=2)
    assert "evidence item 'folder'" in r.err
    # $FORENSIC_CASE names another case, the current folder is this one.
    forensic("case", "init", tmp_path / "other", "--case-id", "C-9", "--examiner", "E")
    monkeypatch.setenv("FORENSIC_CASE", str(tmp_path / "other"))
    forensic("case", "init", case["folder"] / "newcase", "--case-id", "C-2", "--examiner", "E", expect=2)
    # Named with --case, run from anywhere; the case store's own folders too.
    monkeypatch.delenv("FORENSIC_CASE")
    monkeypatch.chdir(tmp_path)
    forensic("case", "init", case["folder"] / "newcase", "--case-id", "C-2", "--examiner", "E",
             "--case", case["dir"], expect=2)
    forensic("case", "init", case["dir"] / "locks" / "x", "--case-id", "C-2", "--examiner", "E",
             "--case", case["dir"], expect=2)
    assert not (case["folder"] / "newcase").exists()
    monkeypatch.setenv("FORENSIC_CASE", str(case["dir"]))
    assert_evidence_intact(forensic, case)


def test_extract_into_evidence_is_refused(forensic, case, tmp_path, monkeypatch):
    forensic("examiner", "keygen", "ann", "--out", tmp_path / "keys")
    bundle = tmp_path / "b.zip"
    forensic("export", "--out", bundle, "--item", "folder", "--key", tmp_path / "keys" / "ann.key", "--quiet")
    pub = tmp_path / "keys" / "ann.pub"
    for dest in (case["folder"] / "x", case["folder"] / "chats" / "x", case["dir"] / "logs"):
        r = forensic("verify-bundle", bundle, "--pubkey", pub, "--extract", dest, expect=2)
        assert "--extract" in r.err and "would write over" in r.err, r.err
        assert not dest.exists()
    # The same from the case's folder with no $FORENSIC_CASE, and with --case from elsewhere.
    monkeypatch.delenv("FORENSIC_CASE")
    monkeypatch.chdir(case["dir"])
    forensic("verify-bundle", bundle, "--pubkey", pub, "--extract", case["folder"] / "x", expect=2)
    monkeypatch.chdir(tmp_path)
    forensic("verify-bundle", bundle, "--pubkey", pub, "--extract", case["folder"] / "x",
             "--case", case["dir"], expect=2)
    assert not (case["folder"] / "x").exists()
    forensic("verify-bundle", bundle, "--pubkey", pub, "--extract", tmp_path / "checked", "--quiet",
             "--case", case["dir"])
    assert (tmp_path / "checked").is_dir()
    for path, sha in case["hashes"].items():        # (the signed log takes no unsigned verify)
        assert digest(path) == sha, f"{path} was changed"
    assert sorted(p.name for p in case["folder"].iterdir()) == ["chats", "x.jpg"]


def test_extract_into_a_folder_that_would_hold_evidence_is_refused(forensic, tmp_path, monkeypatch):
    # Evidence on a drive that is not mounted now: a new folder where the drive was would
    # hold the evidence's path once it is back.
    drive = write_tree(tmp_path / "drive", {"ev/a.txt": b"a\n"})
    forensic("case", "init", tmp_path / "case", "--case-id", "C-5", "--examiner", "E")
    monkeypatch.setenv("FORENSIC_CASE", str(tmp_path / "case"))
    forensic("evidence", "add", drive / "ev", "--id", "ev", "--quiet")
    forensic("examiner", "keygen", "ann", "--out", tmp_path / "keys")
    bundle = tmp_path / "b.zip"
    forensic("export", "--out", bundle, "--item", "ev", "--key", tmp_path / "keys" / "ann.key", "--quiet")
    drive.rename(tmp_path / "unplugged")
    r = forensic("verify-bundle", bundle, "--pubkey", tmp_path / "keys" / "ann.pub", "--extract", drive,
                 expect=2)
    assert "would hold evidence item 'ev'" in r.err, r.err
    assert not drive.exists()


def test_sample_image_force_never_rewrites_a_registered_sample(forensic, tmp_path, monkeypatch):
    forensic("sample-image", tmp_path / "s", "--seed", "3", "--quiet")
    forensic("case", "init", tmp_path / "c", "--case-id", "S-1", "--examiner", "T")
    monkeypatch.setenv("FORENSIC_CASE", str(tmp_path / "c"))
    forensic("evidence", "add", tmp_path / "s" / "card.raw", "--id", "card", "--quiet")
    before = digest(tmp_path / "s" / "card.raw")
    r = forensic("sample-image", tmp_path / "s", "--seed", "4", "--force", expect=2)
    assert "evidence item 'card'" in r.err
    assert digest(tmp_path / "s" / "card.raw") == before
    forensic("evidence", "verify", "card", "--quiet")
