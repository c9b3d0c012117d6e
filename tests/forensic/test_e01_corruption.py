"""E01 chunks that fail their checksum: real E01s made by ewfacquire, damaged for real
(bytes flipped inside a chunk's stored data in a segment file), checked against the
reference tool, ewfverify. libewf reads a bad chunk as zeros, so over a chunk that held
zeros the media hashes still match: only the chunk checksums tell."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from builders import e01_image, ext4_image, fat_image, need, run, sha256
from forensic.training.tools import e01_chunks, flip_bytes

CHUNK = 32768                      # ewfacquire's default: 64 sectors of 512 bytes
SECTORS = CHUNK // 512


def _case(forensic, tmp_path: Path) -> Path:
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-13", "--examiner", "Ann")
    return case


def _e01(tmp: Path, raw: Path, compression: str, segment: str | None = None) -> Path:
    if compression == "none":
        return e01_image(tmp, raw, segment=segment)
    need("ewfacquire")
    args = ["ewfacquire", "-u", "-q", "-t", tmp / "phone", "-c", compression, "-d", "sha1"]
    run(*args, *(["-S", segment] if segment else []), raw)
    return tmp / "phone.E01"


def _segments(e01: Path) -> list[Path]:
    return sorted(e01.parent.glob(e01.stem + ".E[0-9][0-9]"))


def _damage_chunk(e01: Path, index: int) -> Path:
    """Flip bytes in the middle of chunk ``index``'s stored data; returns its segment."""
    chunks = e01_chunks(_segments(e01))
    seg, at, size, _ = chunks[index]
    flip_bytes(seg, at + size // 2)
    return seg


def _ewfverify(e01: Path) -> tuple[str, list[tuple[int, int]]]:
    """ewfverify's verdict and the sector ranges it names as failing."""
    need("ewfverify")
    res = subprocess.run(["ewfverify", "-q", str(e01)], capture_output=True, text=True)
    verdict = "SUCCESS" if "ewfverify: SUCCESS" in res.stdout else "FAILURE" if "ewfverify: FAILURE" in res.stdout \
        else res.stdout + res.stderr
    ranges = [(int(a), int(b)) for a, b in re.findall(r"at sector\(s\): (\d+) - (\d+)", res.stdout)]
    return verdict, ranges


def _span(first: int, last: int) -> dict:
    return {"start": first * 512, "end": (last + 1) * 512, "first_sector": first, "last_sector": last}


def _in_words(span: dict) -> str:
    return f"media bytes {span['start']:,}-{span['end'] - 1:,} (sectors {span['first_sector']}-{span['last_sector']})"


def _whole_chunk_of(raw: bytes, payload: bytes) -> int:
    """The first chunk of the media that holds nothing but ``payload`` (a file's content)."""
    start = raw.find(payload)
    assert start >= 0 and raw.find(payload, start + 1) < 0
    index = -(-start // CHUNK)
    assert (index + 1) * CHUNK <= start + len(payload), "the file spans no whole chunk"
    return index


def _files(n: int, seed: int) -> dict[str, bytes]:
    """n files of known, distinct content: compressible text (a compressed E01 compresses it)."""
    rnd = hashlib.sha256(str(seed).encode()).hexdigest()
    return {f"/DCIM/IMG_{i:04d}.txt": "".join(f"{rnd} file {i} line {k}\n" for k in range(900 + 40 * i)).encode()
            for i in range(n)}


@pytest.mark.parametrize("fs,compression", [("ext4", "none"), ("ext4", "best"), ("fat16", "none")])
def test_a_bad_chunk_in_a_file_is_named_at_intake_in_verify_and_on_the_file(forensic, tmp_path, fs, compression):
    files = _files(12, 1)
    if fs == "ext4":
        raw_img = ext4_image(tmp_path, files, size_mib=4)
    else:
        raw_img = fat_image(tmp_path, files, size_mib=16, fat=16)
    raw = raw_img.read_bytes()
    target = "/DCIM/IMG_0011.txt"
    index = _whole_chunk_of(raw, files[target])
    e01 = _e01(tmp_path, raw_img, compression)
    seg, _, _, compressed = e01_chunks(_segments(e01))[index]
    assert compressed is (compression != "none")
    assert _ewfverify(e01) == ("SUCCESS", [])
    _damage_chunk(e01, index)

    verdict, ranges = _ewfverify(e01)
    assert verdict == "FAILURE"
    assert ranges == [(index * SECTORS, index * SECTORS + SECTORS - 1)]
    span = _span(*ranges[0])

    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", e01, "--case", case, "--id", "phone", "--json", expect=4)
    added = res.json()
    assert added["acquisition_hash_verified"] is False
    assert added["acquisition_hash_match"] is False          # the file's bytes now read as zeros
    assert added["checksum_errors"] == [span]
    assert added["source_warnings"] == [
        f"E01 chunk checksum error: {_in_words(span)} fail the checksum stored in the E01; libewf reads them "
        "as zeros, so whatever lay there (file data or file-system structures) is not in what this image gives"]

    res = forensic("evidence", "verify", "phone", "--case", case, "--json", expect=4)
    verified = res.json()
    assert verified["ok"] is False and verified["sha256"] == added["sha256"]      # as at intake, yet not ok
    assert verified["checksum_errors"] == [span]
    assert "do not match the acquisition hashes stored in the E01" in verified["problem"]
    assert f"1 span of E01 chunks fails its checksum (libewf reads it as zeros): {_in_words(span)}" \
        in verified["problem"]

    forensic("triage", "--case", case, "--json", expect=3)
    rows = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    listed = {p: r for p, r in rows.items() if p in files}
    assert set(listed) == set(files)                                     # every file is still listed
    for path, data in files.items():
        assert (listed[path]["sha256"] == sha256(data)) is (path != target)
        assert listed[path]["warnings"] == (path == target)
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    on_files = [(w["locator"], w["message"]) for w in warnings if w["locator"] is not None]
    assert len(on_files) == 1 and on_files[0][0] == listed[target]["locator"]
    assert f"lie in {_in_words(span)}, which fail the E01's checksum" in on_files[0][1]
    on_item = [w["message"] for w in warnings if w["locator"] is None]
    assert on_item == added["source_warnings"]


def test_a_bad_all_zero_chunk_in_a_later_segment_unverifies_though_the_hashes_match(forensic, tmp_path):
    raw_img = ext4_image(tmp_path, {"/a.bin": os.urandom(3 << 20), **_files(3, 2)}, size_mib=6)
    raw = raw_img.read_bytes()
    e01 = _e01(tmp_path, raw_img, "none", segment="1MiB")
    segments = _segments(e01)
    assert len(segments) >= 4
    chunks = e01_chunks(segments)
    assert len(chunks) * CHUNK == len(raw)
    # a chunk of zeros (free space) stored in the third segment or later
    index = next(i for i, (seg, _, _, _) in enumerate(chunks)
                 if segments.index(seg) >= 2 and raw[i * CHUNK:(i + 1) * CHUNK] == bytes(CHUNK))
    _damage_chunk(e01, index)
    verdict, ranges = _ewfverify(e01)
    assert verdict == "FAILURE" and ranges == [(index * SECTORS, index * SECTORS + SECTORS - 1)]
    span = _span(*ranges[0])

    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", e01, "--case", case, "--id", "phone", "--json", expect=4).json()
    assert added["sha256"] == sha256(raw)                    # libewf gives zeros: the hashes match...
    assert added["acquisition_hash_match"] is True
    assert added["acquisition_hash_verified"] is False       # ...but the acquisition is not verified
    assert added["checksum_errors"] == [span]

    res = forensic("evidence", "verify", "phone", "--case", case, "--json", expect=4)
    verified = res.json()
    assert verified["ok"] is False and verified["acquisition_hash_match"] is True
    assert verified["problem"] == ("1 span of E01 chunks fails its checksum (libewf reads it as zeros): "
                                   f"{_in_words(span)}")

    forensic("triage", "--case", case, "--json", expect=3)
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    assert [w["locator"] for w in warnings] == [None]        # free space: no file is touched
    assert _in_words(span) in warnings[0]["message"]
    # in plain output the verdict names the damage, not a hash mismatch (the hashes match)
    plain = forensic("evidence", "add", e01, "--case", case, "--id", "phone-again", expect=4).out
    assert "\nDAMAGED: 1 chunk(s) of the E01 of phone-again fail their checksums" in plain, plain
    assert "MISMATCH" not in plain


def test_a_chunk_damaged_after_intake_fails_verify_and_is_found_by_triage(forensic, tmp_path):
    files = _files(12, 3)
    raw_img = ext4_image(tmp_path, files, size_mib=4)
    raw = raw_img.read_bytes()
    e01 = _e01(tmp_path, raw_img, "none", segment="1MiB")
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", e01, "--case", case, "--id", "phone", "--json").json()
    assert added["acquisition_hash_verified"] is True and added["checksum_errors"] == []
    assert "source_warnings" not in added
    assert forensic("evidence", "verify", "phone", "--case", case, "--json").json()["checksum_errors"] == []

    # afterwards: a chunk of zeros (the hashes cannot tell) and one inside a file
    zero = next(i for i in range(len(raw) // CHUNK - 1, 0, -1) if raw[i * CHUNK:(i + 1) * CHUNK] == bytes(CHUNK))
    target = "/DCIM/IMG_0010.txt"
    in_file = _whole_chunk_of(raw, files[target])
    for index in (zero, in_file):
        _damage_chunk(e01, index)
    verdict, ranges = _ewfverify(e01)
    assert verdict == "FAILURE"
    assert sorted(ranges) == sorted((i * SECTORS, i * SECTORS + SECTORS - 1) for i in (zero, in_file))
    spans = [_span(*r) for r in sorted(ranges)]

    res = forensic("evidence", "verify", "phone", "--case", case, "--json", expect=4)
    verified = res.json()
    assert verified["ok"] is False and verified["checksum_errors"] == spans
    assert "the source's hashes differ from those recorded at intake" in verified["problem"]
    assert "2 spans of E01 chunks fail their checksums" in verified["problem"]

    # triage reads the file's chunk: libewf finds it bad as it goes (intake found nothing)
    forensic("triage", "--case", case, "--json", expect=3)
    file_span = _span(in_file * SECTORS, in_file * SECTORS + SECTORS - 1)
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    rows = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    on_files = [w for w in warnings if w["locator"]]
    assert [w["locator"] for w in on_files] == [rows[target]["locator"]]
    assert f"lie in {_in_words(file_span)}, which fail the E01's checksum" in on_files[0]["message"]
    on_item = [w["message"] for w in warnings if w["locator"] is None]
    assert any(_in_words(file_span) in m for m in on_item)
    assert all(m.endswith("found bad while triaging, though not when the E01 was added: it changed since "
                          "(run 'forensic evidence verify')") for m in on_item)
    assert {m.split(" fail the checksum")[0] for m in on_item} <= {f"E01 chunk checksum error: {_in_words(s)}"
                                                                     for s in spans}


def test_a_good_e01_has_no_checksum_errors_and_no_warnings(forensic, tmp_path):
    files = _files(4, 4)
    e01 = _e01(tmp_path, ext4_image(tmp_path, files, size_mib=4), "best", segment="1MiB")
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", e01, "--case", case, "--id", "phone", "--json").json()
    assert added["acquisition_hash_verified"] is True and added["checksum_errors"] == []
    verified = forensic("evidence", "verify", "phone", "--case", case, "--json").json()
    assert verified["ok"] is True and verified["checksum_errors"] == [] and verified["warnings"] == []
    forensic("triage", "--case", case, "--json")
    assert forensic("warnings", "--case", case, "--json").jsonl() == []


def test_a_bad_chunk_under_a_folder_hides_its_files_and_triage_says_where(forensic, tmp_path):
    import pytsk3
    files = _files(12, 5)
    raw_img = ext4_image(tmp_path, files, size_mib=4)
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(raw_img)))
    runs = [run for attr in fs.open("/DCIM") for run in attr]
    index = runs[0].addr * fs.info.block_size // CHUNK          # the chunk holding the folder's entries
    e01 = _e01(tmp_path, raw_img, "none")
    _damage_chunk(e01, index)
    verdict, ranges = _ewfverify(e01)
    assert verdict == "FAILURE" and ranges == [(index * SECTORS, index * SECTORS + SECTORS - 1)]
    span = _span(*ranges[0])
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", e01, "--case", case, "--id", "phone", expect=4)
    stats = forensic("triage", "--case", case, "--json", expect=3).json()
    listed = {r["path"] for r in forensic("files", "--case", case, "--json").jsonl()} & set(files)
    assert len(listed) < len(files)                              # the folder read as zeros
    on_item = [w["message"] for w in forensic("warnings", "--case", case, "--json").jsonl() if w["locator"] is None]
    assert f"E01 chunk checksum error: {_in_words(span)} fail the checksum stored in the E01" in "\n".join(on_item)
    assert stats["warnings"] >= 1


def test_without_libewfs_c_api_the_chunks_are_said_unchecked_never_good(forensic, tmp_path, monkeypatch):
    from forensic.sources import ewf
    monkeypatch.setattr(ewf._Libewf, "_lib", None)
    monkeypatch.setattr(ewf._Libewf, "_why", "libewf's C API is not reachable through pyewf (test)")
    files = _files(3, 6)
    e01 = _e01(tmp_path, ext4_image(tmp_path, files, size_mib=4), "none")
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", e01, "--case", case, "--id", "phone", "--json").json()
    assert added["acquisition_hash_verified"] is True and added["checksum_errors"] is None
    unchecked = "E01 chunk checksums not checked: libewf's C API is not reachable through pyewf (test)"
    assert added["source_warnings"] == [unchecked]
    verified = forensic("evidence", "verify", "phone", "--case", case, "--json").json()
    assert verified["ok"] is True and verified["checksum_errors"] is None and verified["warnings"] == [unchecked]
    forensic("triage", "--case", case, "--json", expect=3)
    rows = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    assert all(rows[p]["sha256"] == sha256(d) for p, d in files.items())
    assert [w["message"] for w in forensic("warnings", "--case", case, "--json").jsonl()] == [
        f"{unchecked}; a chunk that fails its checksum reads as zeros, unnoticed"]
