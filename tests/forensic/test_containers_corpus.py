"""Containers from dfvfs's test set ($FORENSIC_CORPUS/disk-images/dfvfs), read in place and
compared with The Sleuth Kit reading the same bytes: QCOW2, VMDK and DMG converted to raw by
qemu-img (an independent reader) then fls/icat; APFS with fls/icat's own pool support
(``-P apfs -B``)."""
from __future__ import annotations

import hashlib
import re
import subprocess

import pytest

from builders import need, sha256_file

pytestmark = pytest.mark.corpus

_FLS = re.compile(r"^(?P<type>[\w-]/[\w-]) (?P<deleted>\* )?(?P<addr>[\d-]+)(?:\(realloc\))?:\t(?P<path>.*)$")


def _dfvfs(corpus, name):
    path = corpus / "disk-images" / "dfvfs" / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    return path


def _tsk(tool, *args):
    return subprocess.run([tool, *map(str, args)], capture_output=True, check=True).stdout


def _fls(*args):
    out = []
    for line in _tsk("fls", "-r", "-p", *args).decode("utf-8", "backslashreplace").splitlines():
        m = _FLS.match(line)
        if m and not m["deleted"] and not m["path"].startswith("$OrphanFiles"):
            out.append((m["type"], m["addr"], m["path"]))
    return out


def _case_with(forensic, tmp_path, image):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "CORPUS", "--examiner", "Conformance")
    added = forensic("evidence", "add", image, "--case", case, "--id", "img", "--json").json()
    summary = forensic("triage", "--case", case, "--json", expect=None).json()
    files = forensic("files", "--case", case, "--json").jsonl()
    return added, summary, files


def _agree(files, fls, icat):
    """Our allocated entries (streams aside) are fls's; every regular file hashes as icat's."""
    # fls prints control characters in names as '^'; we keep them as \xNN escapes
    ours = {re.sub(r"\\x(?:[01][0-9a-f]|7f)", "^", r["path"].lstrip("/")): r
            for r in files if r["kind"] != "stream" and not r["deleted"]}
    assert sorted(ours) == sorted(p for _, _, p in fls)
    checked = 0
    for typ, addr, path in fls:
        if typ == "r/r":
            try:
                data = icat(addr)
            except subprocess.CalledProcessError:
                continue            # icat reads no data (TSK's APFS: a file that has only a resource fork)
            assert ours[path]["sha256"] == hashlib.sha256(data).hexdigest(), path
            checked += 1
    assert checked


@pytest.mark.parametrize("name, fmt", [("ext2.qcow2", "qcow2"), ("ext2.vmdk", "vmdk")])
def test_qcow2_and_vmdk_agree_with_tsk_on_qemu_img_raw(forensic, tmp_path, corpus, name, fmt):
    need("qemu-img", "fls", "icat")
    image = _dfvfs(corpus, name)
    before = sha256_file(image)
    raw = tmp_path / "ref.raw"
    _tsk("qemu-img", "convert", "-O", "raw", image, raw)
    added, summary, files = _case_with(forensic, tmp_path, image)
    assert added["format"] == fmt and added["sha256"] == sha256_file(raw)
    assert summary["warnings"] == 0
    assert all(r["locator"].startswith(f"{name} › file system (ext2) › ") for r in files)
    _agree([r for r in files if not r["path"].startswith("/$OrphanFiles")], _fls(raw),
           lambda addr: _tsk("icat", raw, addr))
    assert sha256_file(image) == before


def test_dmg_agrees_with_tsk_on_qemu_img_raw(forensic, tmp_path, corpus):
    need("qemu-img", "fls", "icat")
    image = _dfvfs(corpus, "hfsplus_zlib.dmg")
    raw = tmp_path / "ref.raw"
    _tsk("qemu-img", "convert", "-f", "dmg", "-O", "raw", image, raw)
    added, summary, files = _case_with(forensic, tmp_path, image)
    assert added["format"] == "dmg" and added["sha256"] == sha256_file(raw)
    assert [p["file_system"] for p in added["partitions"]] == ["hfs+"]
    sector = added["partitions"][0]["start"] // 512
    assert all(r["locator"].startswith("hfsplus_zlib.dmg › partition 1 (hfs+) › ") for r in files)
    _agree(files, _fls("-o", sector, raw), lambda addr: _tsk("icat", "-o", sector, raw, addr))


def test_apfs_container_agrees_with_tsk_pool_reading(forensic, tmp_path, corpus):
    need("fls", "icat", "pstat")
    image = _dfvfs(corpus, "apfs.raw")
    before = sha256_file(image)
    apsb = re.search(r"APSB Block Number: (\d+)", _tsk("pstat", image).decode()).group(1)
    added, summary, files = _case_with(forensic, tmp_path, image)
    assert added["format"] == "apfs" and added["sha256"] == before
    assert summary["warnings"] == 0
    volume = "apfs.raw › APFS volume 1 (apfs_test)"
    assert all(r["locator"].startswith(volume + " › ") for r in files)
    _agree(files, _fls("-P", "apfs", "-B", apsb, image), lambda addr: _tsk("icat", "-P", "apfs", "-B", apsb,
                                                                            image, addr))
    by_path = {r["path"]: r for r in files}
    # extended attributes are streams beside their file; the resource fork among them
    fork = by_path["/a_directory/a_resourcefork:com.apple.ResourceFork"]
    assert fork["kind"] == "stream" and fork["size"] == 17
    assert by_path["/a_link"]["link_target"] == "a_directory/another_file"
    assert by_path["/passwords.txt"]["modified_at"] == "2022-01-14T07:19:41.213333Z"
    listed = forensic("evidence", "list", "--case", tmp_path / "case", "--json").jsonl()
    assert listed[0]["item"] == "img"
    assert sha256_file(image) == before


def test_apfs_volumes_and_snapshots_in_the_items_details(corpus):
    from pathlib import Path

    from forensic.sources import detect_format, open_source
    image = _dfvfs(corpus, "apfs.raw")
    with open_source(Path(image), detect_format(Path(image)), "apfs.raw") as src:
        volumes = src.details["apfs_volumes"]
    assert volumes == [{"number": 1, "name": "apfs_test", "identifier": "458ed10d-8ac3-4af1-8dfd-3954d151a3f3",
                        "snapshots": []}]


def test_bogus_001_is_not_a_split_image(forensic, tmp_path, corpus):
    image = _dfvfs(corpus, "bogus.001")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "CORPUS", "--examiner", "Conformance")
    res = forensic("evidence", "add", image, "--case", case, expect=1)
    assert "bogus.001" in res.err and "not a format this tool reads" in res.err
    assert "first segment of a split raw image" in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []


def test_truncated_dmg_is_a_clear_error(forensic, tmp_path, corpus):
    data = _dfvfs(corpus, "hfsplus_zlib.dmg").read_bytes()
    damaged = tmp_path / "cut.dmg"
    damaged.write_bytes(data[: len(data) // 2] + data[-512:])       # the trailer kept, the chunks cut
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "CORPUS", "--examiner", "Conformance")
    res = forensic("evidence", "add", damaged, "--case", case, expect=1)
    assert "cut.dmg" in res.err and "DMG" in res.err and "Traceback" not in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []


def test_truncated_apfs_gives_a_warning_or_a_clear_error(forensic, tmp_path, corpus):
    data = _dfvfs(corpus, "apfs.raw").read_bytes()
    damaged = tmp_path / "cut.apfs"
    damaged.write_bytes(data[: 64 * 4096])
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "CORPUS", "--examiner", "Conformance")
    res = forensic("evidence", "add", damaged, "--case", case, expect=None)
    assert res.code in (0, 1) and "Traceback" not in res.err
    if res.code == 1:
        assert "cut.apfs" in res.err and "APFS" in res.err
    else:
        tri = forensic("triage", "--case", case, "--json", expect=None)
        assert tri.code in (0, 3) and "Traceback" not in tri.err
