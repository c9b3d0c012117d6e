"""``forensic search`` on FAT and ext3 images the tests build, with strings placed across two
files (the end of one file's last cluster, the start of the next file's first: only
``--in raw`` sees them), across sectors, across fragmented clusters, into slack, into
unallocated space, into a deleted file, and with regex specials: each hit found at its
offset in the image, which the test finds itself in the image's bytes (or, for a string
split by fragmentation, from the file's runs as The Sleuth Kit gives them)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.builders import debugfs, ext4_image, fat_image, run
from tests.training_case import cli

SPECIALS = "a?b\\c*d$e#f[g^"
CLUSTER = 2048               # FAT16 of 16 MiB: 4 sectors a cluster
BLOCK = 1024                 # the ext3 image's block


def _pair(size: int) -> bytes:
    """One of two files of one cluster each, written one after the other: each starts with
    ACROSS and ends with SPLIT-, so SPLIT-ACROSS lies across the two whichever comes first."""
    return b"ACROSS" + b"p" * (size - 12) + b"SPLIT-"


def search(case: Path, capsys, *args: object) -> list[dict]:
    capsys.readouterr()
    code = cli("search", "--case", case, "--json", *args)
    out = capsys.readouterr().out
    assert code in (0, 3), out
    return [json.loads(line) for line in out.splitlines()]


def _tsk_runs(img: Path, path: str) -> list[tuple[int, int]]:
    """(image offset, bytes) of a file's runs, as The Sleuth Kit reads them."""
    import pytsk3
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(img)))
    bs = fs.info.block_size
    for attr in fs.open(path):
        if attr.info.type in (pytsk3.TSK_FS_ATTR_TYPE_DEFAULT, pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA):
            return [(r.addr * bs, r.len * bs) for r in attr]
    raise AssertionError(f"no data attribute for {path}")


def _patch(img: Path, offset: int, data: bytes) -> None:
    with open(img, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


@pytest.fixture(scope="module")
def fat(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search_fat")
    files = {
        "pair-a.bin": _pair(CLUSTER), "pair-b.bin": _pair(CLUSTER),
        "a.txt": b"first file holds ALPHA-TWIN once\n",
        "docs/b.txt": b"second file: ALPHA-TWIN again\n",
        "sector.bin": b"s" * 506 + b"SECTOR-SPAN" + b"s" * 531,
        "specials.txt": b"odd " + SPECIALS.encode() + b" end\n",
        "wide.txt": "\ufeffa WIDE-WORD in UTF-16".encode("utf-16le"),
        "slack.txt": b"x" * 100,
        "secret-plan.txt": b"nothing here\n",
        "f1.bin": b"1" * CLUSTER, "f2.bin": b"2" * CLUSTER, "f3.bin": b"3" * CLUSTER,
        "gone.txt": b"this file held DELETED-WORD\n",
    }
    img = fat_image(tmp, files, deleted=("f2.bin",), fat=16, size_mib=16, name="card.img")
    big = tmp / "big.bin"           # written into f2's hole and past f3: two fragments
    big.write_bytes(b"A" * (CLUSTER - 8) + b"FRAG-ACROSS" + b"B" * 3000)
    run("mcopy", "-i", img, big, "::/big.bin")
    run("mdel", "-i", img, "::/gone.txt")     # after big.bin, which would have taken its cluster
    slack_run = _tsk_runs(img, "/slack.txt")[0]
    _patch(img, slack_run[0] + 600, b"SLACK-SECRET")
    raw = img.read_bytes()
    free_at = len(raw) - 64 * 1024          # far past every file of a fresh, near-empty card
    _patch(img, free_at, b"UNALLOC-MARK")
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", "S-1", "--examiner", "E") == 0
    assert cli("evidence", "add", img, "--case", case, "--id", "card") == 0
    cli("triage", "--case", case)
    return case, img


def _across_two_files(case: Path, img: Path, capsys, cluster: int) -> None:
    raw = img.read_bytes()
    starts = sorted((_tsk_runs(img, f"/{name}")[0][0], name) for name in ("pair-a.bin", "pair-b.bin"))
    assert starts[0][0] + cluster == starts[1][0], f"the builder did not write the pair one after the other: {starts}"
    at = raw.find(b"SPLIT-ACROSS")
    assert at == starts[1][0] - 6 and raw.count(b"SPLIT-ACROSS") == 1
    # neither file holds it, nor their slack, nor unallocated space
    assert search(case, capsys, "SPLIT-ACROSS", "--in", "content", "--slack", "--unallocated") == []
    for args in (("SPLIT-ACROSS",), ("split-across", "-i"), (r"SPLIT-AC\w{3}S", "--regex")):
        (h,) = search(case, capsys, *args, "--in", "raw")
        assert (h["where"], h["image_offset"], h["file_offset"], h["text"]) == ("raw", at, None, "SPLIT-ACROSS")
        assert [f.rsplit("/", 1)[-1] for f in h["files"]] == ["pair-a.bin", "pair-b.bin"]
        assert h["crosses_fragment"] is True and h["target"] is None and "[SPLIT-ACROSS]" in h["context"]


def test_a_string_across_two_files_contiguous_on_disk(fat, capsys):
    """Only a raw search of the image finds it; the hit names both files."""
    case, img = fat
    _across_two_files(case, img, capsys, CLUSTER)


def test_raw_search_finds_each_file_hit_once_with_its_file(fat, capsys):
    case, img = fat
    raw = img.read_bytes()
    hits = search(case, capsys, "ALPHA-TWIN", "--in", "raw")
    assert sorted(h["image_offset"] for h in hits) == sorted(
        i for i in range(len(raw)) if raw.startswith(b"ALPHA-TWIN", i))
    assert sorted(h["files"][0].rsplit("/", 1)[-1] for h in hits) == ["a.txt", "b.txt"]
    assert all(h["crosses_fragment"] is False for h in hits)


def test_the_same_string_in_two_files_is_two_hits_at_their_offsets(fat, capsys):
    case, img = fat
    raw = img.read_bytes()
    hits = search(case, capsys, "ALPHA-TWIN", "--in", "content")
    assert sorted(h["locator"].rsplit("/", 1)[-1] for h in hits) == ["a.txt", "b.txt"]
    for h in hits:
        assert raw[h["image_offset"]:h["image_offset"] + 10] == b"ALPHA-TWIN"
        assert h["where"] == "content" and h["text"] == "ALPHA-TWIN" and h["list"] == "term"
        assert "[ALPHA-TWIN]" in h["context"]
    assert {h["file_offset"] for h in hits} == {17, 13}


def test_contract_fields_and_jsonl(fat, capsys):
    case, _ = fat
    hits = search(case, capsys, "ALPHA-TWIN")
    for h in hits:
        assert list(h)[:9] == ["term", "list", "where", "item", "locator", "image_offset", "file_offset", "text",
                               "context"]


def test_case_insensitive_and_regex_variants(fat, capsys):
    case, _ = fat
    assert search(case, capsys, "alpha-twin", "--in", "content") == []
    assert len(search(case, capsys, "alpha-twin", "--ignore-case", "--in", "content")) == 2
    regex = search(case, capsys, r"ALPHA-T\w+N", "--regex", "--in", "content")
    assert sorted(h["text"] for h in regex) == ["ALPHA-TWIN", "ALPHA-TWIN"]
    assert len(search(case, capsys, r"alpha-t\w+n", "--regex", "-i", "--in", "content")) == 2


def test_a_string_across_a_sector_boundary(fat, capsys):
    case, img = fat
    (h,) = search(case, capsys, "SECTOR-SPAN", "--in", "content")
    assert h["image_offset"] == img.read_bytes().find(b"SECTOR-SPAN")
    assert h["file_offset"] == 506
    assert h["crosses_sector"] is True and h["crosses_fragment"] is False
    assert h["image_offset"] // 512 != (h["image_offset"] + 10) // 512


def test_a_string_across_fragmented_clusters(fat, capsys):
    case, img = fat
    runs = _tsk_runs(img, "/big.bin")
    assert len(runs) >= 2 and runs[0][0] + runs[0][1] != runs[1][0], "the builder did not fragment big.bin"
    assert b"FRAG-ACROSS" not in img.read_bytes()        # not contiguous anywhere in the image
    (h,) = search(case, capsys, "FRAG-ACROSS", "--in", "content")
    assert h["file_offset"] == CLUSTER - 8
    assert h["image_offset"] == runs[0][0] + CLUSTER - 8
    assert h["crosses_fragment"] is True and h["crosses_sector"] is True


def test_regex_specials_literal_and_as_regex(fat, capsys):
    case, img = fat
    at = img.read_bytes().find(SPECIALS.encode())
    (h,) = search(case, capsys, SPECIALS, "--in", "content")
    assert h["image_offset"] == at and h["text"] == SPECIALS
    (r,) = search(case, capsys, re.escape(SPECIALS), "--regex", "--in", "content")
    assert r["image_offset"] == at
    (i,) = search(case, capsys, SPECIALS.upper(), "-i", "--in", "content")
    assert i["image_offset"] == at


def test_utf16_text_is_found(fat, capsys):
    case, img = fat
    (h,) = search(case, capsys, "wide-word", "-i", "--in", "content")
    assert h["encoding"] == "utf-16le" and h["text"] == "WIDE-WORD"
    assert h["image_offset"] == img.read_bytes().find("WIDE-WORD".encode("utf-16le"))


def test_slack(fat, capsys):
    case, img = fat
    assert search(case, capsys, "SLACK-SECRET", "--in", "content") == []
    (h,) = search(case, capsys, "SLACK-SECRET", "--in", "content", "--slack")
    assert h["where"] == "slack" and h["locator"].endswith("/slack.txt")
    assert h["file_offset"] == 600
    assert h["image_offset"] == img.read_bytes().find(b"SLACK-SECRET")


def test_unallocated_space_and_the_deleted_file(fat, capsys):
    case, img = fat
    raw = img.read_bytes()
    (h,) = search(case, capsys, "UNALLOC-MARK", "--in", "names", "--unallocated")
    assert h["where"] == "unallocated" and h["image_offset"] == raw.find(b"UNALLOC-MARK")
    assert "unallocated" in h["locator"]
    hits = search(case, capsys, "DELETED-WORD", "--in", "content", "--unallocated")
    assert {h["where"] for h in hits} == {"content", "unallocated"}
    content = next(h for h in hits if h["where"] == "content")
    assert content["deleted"] is True and content["locator"].lower().endswith("one.txt")   # FAT: "_ONE.TXT"
    assert {h["image_offset"] for h in hits} == {raw.find(b"DELETED-WORD")}


def test_names(fat, capsys):
    case, _ = fat
    (h,) = search(case, capsys, "secret-PLAN", "-i", "--in", "names")
    assert h["where"] == "name" and h["text"] == "secret-plan" and h["image_offset"] is None


@pytest.fixture(scope="module")
def ext3(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search_ext3")
    files = {"/notes/a.txt": b"ext three holds ALPHA-TWIN\n", "/b.txt": b"and here ALPHA-TWIN too\n",
             "/sector.bin": b"s" * 1018 + b"SECTOR-SPAN" + b"s" * 1000, "/slack.txt": b"y" * 100,
             "/gone.txt": b"ext3 file with DELETED-WORD\n", "/specials.txt": b"odd " + SPECIALS.encode() + b"\n"}
    img = ext4_image(tmp, files, size_mib=8, name="phone.img", fstype="ext3")
    host = tmp / "host"
    host.mkdir()
    written = {"pair-a.bin": _pair(BLOCK), "pair-b.bin": _pair(BLOCK), "f1.bin": b"1" * BLOCK, "f2.bin": b"2" * BLOCK,
               "f3.bin": b"3" * BLOCK, "big.bin": b"A" * (BLOCK - 8) + b"FRAG-ACROSS" + b"B" * 1500}
    for name, data in written.items():      # one after the other; big.bin into f2's hole and past f3
        (host / name).write_bytes(data)
        if name == "big.bin":
            debugfs(img, "rm /f2.bin")
        debugfs(img, f"write {host / name} {name}")
    debugfs(img, "rm /gone.txt")            # last: a later write would take its entry and its block
    (block, _), = _tsk_runs(img, "/slack.txt")[:1]
    _patch(img, block + 500, "SLACK-WIDE".encode("utf-16le"))
    _patch(img, 8 * (1 << 20) - 300 * 1024, b"UNALLOC-MARK")
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", "S-2", "--examiner", "E") == 0
    assert cli("evidence", "add", img, "--case", case, "--id", "phone") == 0
    cli("triage", "--case", case)
    return case, img


def test_ext3_every_place(ext3, capsys):
    case, img = ext3
    raw = img.read_bytes()
    twins = search(case, capsys, "alpha-twin", "-i", "--in", "content")
    assert sorted(raw[h["image_offset"]:h["image_offset"] + 10] for h in twins) == [b"ALPHA-TWIN"] * 2
    (sector,) = search(case, capsys, "SECTOR-SPAN", "--in", "content")
    assert sector["image_offset"] == raw.find(b"SECTOR-SPAN") and sector["crosses_sector"] is True
    (slack,) = search(case, capsys, "slack-wide", "-i", "--in", "content", "--slack")
    assert slack["where"] == "slack" and slack["encoding"] == "utf-16le" and slack["file_offset"] == 500
    assert slack["image_offset"] == raw.find("SLACK-WIDE".encode("utf-16le"))
    un = search(case, capsys, "UNALLOC-MARK|DELETED-W.RD", "--regex", "--in", "names", "--unallocated")
    assert {(h["text"], h["image_offset"]) for h in un} == {("UNALLOC-MARK", raw.find(b"UNALLOC-MARK")),
                                                           ("DELETED-WORD", raw.find(b"DELETED-WORD"))}
    assert all(h["where"] == "unallocated" for h in un)


def test_ext3_across_two_files(ext3, capsys):
    case, img = ext3
    _across_two_files(case, img, capsys, BLOCK)


def test_ext3_fragmented_specials_and_variants(ext3, capsys):
    case, img = ext3
    raw = img.read_bytes()
    runs = _tsk_runs(img, "/big.bin")
    assert len(runs) >= 2 and runs[0][0] + runs[0][1] != runs[1][0], f"the builder did not fragment big.bin: {runs}"
    assert b"FRAG-ACROSS" not in raw
    for args in (("FRAG-ACROSS",), ("frag-across", "-i"), (r"FRAG-A\w+S", "--regex")):
        (h,) = search(case, capsys, *args, "--in", "content")
        assert h["file_offset"] == BLOCK - 8 and h["image_offset"] == runs[0][0] + BLOCK - 8
        assert h["crosses_fragment"] is True and h["text"] == "FRAG-ACROSS"
    at = raw.find(SPECIALS.encode())
    for args in ((SPECIALS,), (SPECIALS.upper(), "-i"), (re.escape(SPECIALS), "--regex")):
        (h,) = search(case, capsys, *args, "--in", "content")
        assert h["image_offset"] == at and h["text"] == SPECIALS and h["locator"].endswith("/specials.txt")


def test_ext3_deleted_file(ext3, capsys):
    """The deleted file (debugfs rm leaves its block pointers: The Sleuth Kit reads it): its
    words found in it, marked deleted, and in the unallocated space its block is now in."""
    case, img = ext3
    at = img.read_bytes().find(b"DELETED-WORD")
    (name,) = search(case, capsys, "gone", "--in", "names")
    assert name["deleted"] is True
    hits = search(case, capsys, "deleted-word", "-i", "--in", "content", "--unallocated")
    assert sorted((h["where"], h["image_offset"], h["deleted"]) for h in hits) == [
        ("content", at, True), ("unallocated", at, None)]
