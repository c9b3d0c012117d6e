"""Virtual-disk containers read in place: QCOW2 (+ backing file), VMDK (sparse, flat,
multi-extent), VHD (dynamic, fixed), VHDX and split raw, built here with qemu-img and split
from one ext4 image; the same files, the same hashes as the raw image gives, and the
item's hash is the disk's (a copy in any container hashes as the raw image does).
Damaged copies give clear errors; the evidence is never written to."""
from __future__ import annotations

import shutil

import pytest

from builders import debugfs, ext4_image, need, run, sha256, sha256_file, tiny_jpeg

FILES = {
    "/DCIM/IMG_0001.jpg": tiny_jpeg(),
    "/notes.txt": b"meet at the port, 6 am\n",
    "/big.bin": bytes(range(256)) * 4096,           # 1 MiB over many blocks
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    need("qemu-img", "mke2fs")
    tmp = tmp_path_factory.mktemp("containers")
    return ext4_image(tmp, FILES, size_mib=4, name="disk.raw")


def _convert(raw, out, fmt, *opts):
    run("qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, *opts, raw, out)
    return out


def _case(forensic, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "Ann")
    return case


def _add_and_triage(forensic, tmp_path, image):
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", image, "--case", case, "--id", "disk", "--json").json()
    summary = forensic("triage", "--case", case, "--json").json()
    files = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    return added, summary, files


def _parts(folder):
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


def _two_extent_vmdk(raw, folder):
    """A VMDK descriptor with two flat extents (the raw image cut in two), as VMware writes
    for a split disk ("twoGbMaxExtentFlat")."""
    data = raw.read_bytes()
    half = len(data) // 2
    (folder / "disk-f001.vmdk").write_bytes(data[:half])
    (folder / "disk-f002.vmdk").write_bytes(data[half:])
    sectors = half // 512
    (folder / "disk.vmdk").write_text(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentFlat\"\n"
        f"\n# Extent description\nRW {sectors} FLAT \"disk-f001.vmdk\" 0\nRW {sectors} FLAT \"disk-f002.vmdk\" 0\n"
        "\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"ide\"\n")
    return folder / "disk.vmdk"


def _build(kind, raw, folder):
    if kind == "qcow2":
        return _convert(raw, folder / "disk.qcow2", "qcow2", "-c")          # compressed clusters
    if kind == "vmdk-sparse":
        return _convert(raw, folder / "disk.vmdk", "vmdk")
    if kind == "vmdk-flat":
        return _convert(raw, folder / "disk.vmdk", "vmdk", "-o", "subformat=monolithicFlat")
    if kind == "vmdk-2-extents":
        return _two_extent_vmdk(raw, folder)
    if kind == "vhd-dynamic":
        return _convert(raw, folder / "disk.vhd", "vpc")
    if kind == "vhd-fixed":
        return _convert(raw, folder / "disk.vhd", "vpc", "-o", "subformat=fixed")
    if kind == "vhdx":
        return _convert(raw, folder / "disk.vhdx", "vhdx")
    if kind == "split":
        run("split", "-b", "1M", "-d", "-a", "3", "--numeric-suffixes=1", raw, folder / "disk.")
        return folder / "disk.001"
    if kind == "split-aa":
        run("split", "-b", "1M", raw, folder / "disk.raw.")        # split(1)'s own names: .aa, .ab, ...
        return folder / "disk.raw.aa"
    raise AssertionError(kind)


KINDS = {"qcow2": ("qcow2", 1), "vmdk-sparse": ("vmdk", 1), "vmdk-flat": ("vmdk", 2),
         "vmdk-2-extents": ("vmdk", 3), "vhd-dynamic": ("vhd", 1), "vhd-fixed": ("vhd", 1),
         "vhdx": ("vhdx", 1), "split": ("split", 4), "split-aa": ("split", 4)}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_container_gives_the_raw_images_files_and_hashes(forensic, tmp_path, raw, kind):
    folder = tmp_path / "evidence"
    folder.mkdir()
    image = _build(kind, raw, folder)
    before = _parts(folder)
    added, summary, files = _add_and_triage(forensic, tmp_path, image)
    fmt, parts = KINDS[kind]
    assert added["format"] == fmt
    assert len(added["segments"]) == parts and all(s["sha256"] == before[s["name"]] for s in added["segments"])
    if kind != "vhd-fixed" and kind != "vhd-dynamic":
        # the item's hash is the disk's: the raw image's (a VHD rounds the disk up to whole cylinders)
        assert added["sha256"] == sha256_file(raw)
    assert summary["warnings"] == 0
    for path, data in FILES.items():
        assert files[path]["sha256"] == sha256(data), path
        assert files[path]["locator"] == f"{image.name} › file system (ext4) › {path}"
    assert _parts(folder) == before, "the evidence must never change"


@pytest.mark.parametrize("compressed", [False, True])
def test_qcow2_backing_file_read_from_beside_it(forensic, tmp_path, raw, compressed):
    folder = tmp_path / "evidence"
    folder.mkdir()
    c = ("-c",) if compressed else ()
    _convert(raw, folder / "base.qcow2", "qcow2", *c)
    changed = tmp_path / "changed.raw"
    shutil.copy(raw, changed)
    (tmp_path / "late.txt").write_bytes(b"written after the snapshot\n")
    debugfs(changed, f"write {tmp_path / 'late.txt'} late.txt")
    # the child holds only the clusters that differ from its backing file
    run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", *c, "-B", "base.qcow2", "-F", "qcow2", changed,
        folder / "child.qcow2", cwd=folder)
    assert (folder / "child.qcow2").stat().st_size < raw.stat().st_size // 2
    before = _parts(folder)
    added, summary, files = _add_and_triage(forensic, tmp_path, folder / "child.qcow2")
    assert added["sha256"] == sha256_file(changed)
    assert [s["name"] for s in added["segments"]] == ["child.qcow2", "base.qcow2"]
    assert files["/late.txt"]["sha256"] == sha256(b"written after the snapshot\n")
    assert files["/notes.txt"]["sha256"] == sha256(FILES["/notes.txt"])     # from the backing file
    assert _parts(folder) == before


def test_renamed_sparse_vmdk_is_its_own_extent(forensic, tmp_path, raw):
    # the descriptor inside a monolithic sparse VMDK names the file as it was made
    folder = tmp_path / "evidence"
    folder.mkdir()
    made = _build("vmdk-sparse", raw, folder)
    image = made.rename(folder / "exhibit-7.vmdk")
    added, summary, files = _add_and_triage(forensic, tmp_path, image)
    assert added["sha256"] == sha256_file(raw) and [s["name"] for s in added["segments"]] == ["exhibit-7.vmdk"]
    assert files["/notes.txt"]["sha256"] == sha256(FILES["/notes.txt"])


def test_verify_checks_every_file_of_the_container(forensic, tmp_path, raw):
    folder = tmp_path / "evidence"
    folder.mkdir()
    image = _build("vmdk-2-extents", raw, folder)
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", image, "--case", case, "--id", "disk")
    assert forensic("evidence", "verify", "disk", "--case", case, "--json").json()["ok"] is True
    with open(folder / "disk.vmdk", "a") as fh:      # the disk reads the same; the descriptor changed
        fh.write("ddb.comment = \"edited\"\n")
    res = forensic("evidence", "verify", "disk", "--case", case, "--json", expect=4).json()
    assert res["ok"] is False and res["sha256"] == sha256_file(raw)
    assert "disk.vmdk" in res["problem"] and "disk-f001.vmdk" not in res["problem"]


def test_vmdk_parent_disk_read_from_beside_it(forensic, tmp_path, raw):
    folder = tmp_path / "evidence"
    folder.mkdir()
    _convert(raw, folder / "base.vmdk", "vmdk")
    changed = tmp_path / "changed.raw"
    shutil.copy(raw, changed)
    (tmp_path / "late.txt").write_bytes(b"after the snapshot\n")
    debugfs(changed, f"write {tmp_path / 'late.txt'} late.txt")
    run("qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-B", "base.vmdk", "-F", "vmdk", changed,
        folder / "delta.vmdk", cwd=folder)
    added, summary, files = _add_and_triage(forensic, tmp_path, folder / "delta.vmdk")
    assert added["sha256"] == sha256_file(changed)
    assert [s["name"] for s in added["segments"]] == ["delta.vmdk", "base.vmdk"]
    assert files["/late.txt"]["sha256"] == sha256(b"after the snapshot\n")
    assert files["/notes.txt"]["sha256"] == sha256(FILES["/notes.txt"])
    (folder / "base.vmdk").unlink()
    case = tmp_path / "case2"
    forensic("case", "init", case, "--case-id", "C-2", "--examiner", "Ann")
    res = forensic("evidence", "add", folder / "delta.vmdk", "--case", case, expect=1)
    assert "parent disk 'base.vmdk' is not beside it" in res.err


def test_qcow2_backing_file_missing_or_elsewhere_is_a_clear_error(forensic, tmp_path, raw):
    folder, other = tmp_path / "evidence", tmp_path / "other"
    folder.mkdir()
    other.mkdir()
    _convert(raw, other / "base.qcow2", "qcow2")
    # the child names its backing file by a path leading out of its folder: never followed
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "../other/base.qcow2", "-F", "qcow2",
        folder / "child.qcow2", cwd=folder)
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", folder / "child.qcow2", "--case", case, expect=1)
    assert "child.qcow2" in res.err and "backing file" in res.err and "../other/base.qcow2" in res.err
    assert "same folder" in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []


def test_qcow2_backing_files_that_loop_are_refused(forensic, tmp_path, raw):
    folder = tmp_path / "evidence"
    folder.mkdir()
    _convert(raw, folder / "a.qcow2", "qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", folder / "b.qcow2", cwd=folder)
    # a hostile chain: a names b as its backing file, b names a (an unsafe rebase writes it)
    run("qemu-img", "rebase", "-q", "-u", "-b", "b.qcow2", "-F", "qcow2", folder / "a.qcow2", cwd=folder)
    before = sha256_file(folder / "a.qcow2")
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", folder / "b.qcow2", "--case", case, expect=1)
    assert "b.qcow2" in res.err and "backing files form a loop" in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []
    assert sha256_file(folder / "a.qcow2") == before


def test_split_raw_given_by_a_later_segment_says_which_to_give(forensic, tmp_path, raw):
    folder = tmp_path / "evidence"
    folder.mkdir()
    _build("split", raw, folder)
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", folder / "disk.002", "--case", case, expect=1)
    assert "a later segment of a split raw image: add its first segment" in res.err


@pytest.mark.parametrize("kind, first, gone", [("split", "disk.001", "disk.003"),
                                               ("split-aa", "disk.raw.aa", "disk.raw.ac")])
def test_split_raw_with_a_segment_missing_is_named(forensic, tmp_path, raw, kind, first, gone):
    folder = tmp_path / "evidence"
    folder.mkdir()
    _build(kind, raw, folder)
    (folder / gone).unlink()
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", folder / first, "--case", case, expect=1)
    assert f"segment {gone}" in res.err and "missing" in res.err


@pytest.mark.parametrize("kind", ["qcow2", "vmdk-sparse", "vhdx", "vhd-dynamic"])
def test_truncated_container_is_a_clear_error(forensic, tmp_path, raw, kind):
    folder = tmp_path / "evidence"
    folder.mkdir()
    image = _build(kind, raw, folder)
    data = image.read_bytes()
    image.write_bytes(data[: len(data) // 3])
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", image, "--case", case, expect=1)
    assert image.name in res.err
    assert any(w in res.err for w in ("cannot be opened", "failed", "no partition table")), res.err
    assert "Traceback" not in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []


def test_read_error_mid_walk_is_a_warning(forensic, tmp_path, raw):
    """Damage met while triaging (the container was cut short after intake) is a warning on
    the file it hits; the walk goes on and the other files are there."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    image = _convert(raw, folder / "disk.qcow2", "qcow2")
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", image, "--case", case, "--id", "disk")
    forensic("evidence", "add", raw, "--case", case, "--id", "card")       # another item of the case
    data = image.read_bytes()
    image.write_bytes(data[: len(data) * 3 // 4])       # the last data clusters are gone
    res = forensic("triage", "--case", case, "--json", expect=3)
    disk, card = res.jsonl()
    assert disk["item"] == "disk" and disk["warnings"] >= 1
    assert card["item"] == "card" and card["warnings"] == 0 and card["files"] == disk["files"]
    files = {r["path"]: r for r in forensic("files", "--case", case, "--item", "disk", "--json").jsonl()}
    assert set(FILES) <= set(files)                              # every file still listed
    assert files["/DCIM/IMG_0001.jpg"]["sha256"] == sha256(FILES["/DCIM/IMG_0001.jpg"])
    assert files["/big.bin"]["sha256"] != sha256(FILES["/big.bin"])
    warnings = forensic("warnings", "--case", case, "--json", expect=None).jsonl()
    said = [w["message"] for w in warnings if w["stage"] == "source"]
    assert said and all(m.startswith("QCOW2 read error: disk bytes ") and "read as zeros" in m for m in said)
    assert "invalid data size value out of bounds" in said[0]
