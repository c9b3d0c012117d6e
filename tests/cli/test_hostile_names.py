"""Names that attack the examiner's terminal or are not text at all (issue 13 item 7): the
source's own path and arguments with ESC sequences, newlines, U+202E, and bytes that are
not UTF-8. Every line printed escapes them; any bytes are accepted as a path."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builders import e01_image, ext4_image, tiny_jpeg

FORENSIC = [sys.executable, "-m", "forensic.cli.main"]
HOSTILE = b"bad\xff\x1b[2J\xe2\x80\xaegpj.raw"        # not UTF-8, ESC clear-screen, U+202E


def run(*args, cwd: Path, case: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR",)}
    env["FORENSIC_CASE"] = str(case)
    argv = [a if isinstance(a, bytes) else os.fsencode(str(a)) for a in FORENSIC + list(args)]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, stdin=subprocess.DEVNULL)


def assert_clean(result: subprocess.CompletedProcess) -> None:
    """Nothing evidence-controlled reaches the terminal raw (pipes carry no colour of ours)."""
    for stream in (result.stdout, result.stderr):
        assert b"\x1b" not in stream, stream
        assert "\u202e".encode() not in stream, stream
        assert b"Traceback" not in stream, stream


@pytest.fixture()
def case(tmp_path) -> Path:
    r = run("case", "init", tmp_path / "case", "--case-id", "H-1", "--examiner", "E", cwd=tmp_path,
            case=tmp_path / "case")
    assert r.returncode == 0, r.stderr
    return tmp_path / "case"


def test_an_image_whose_name_is_not_utf8_and_attacks_the_terminal(tmp_path, case):
    img = ext4_image(tmp_path, {"a.jpg": tiny_jpeg(), "b.txt": b"x"}, size_mib=4)
    hostile = os.path.join(os.fsencode(tmp_path), HOSTILE)
    os.rename(img, hostile)
    before = open(hostile, "rb").read()
    steps = [("evidence", "add", hostile, "--id", "disk"), ("triage",), ("files",), ("files", "--json"),
             ("evidence", "verify", "disk"), ("evidence", "list"), ("warnings",), ("custody", "verify")]
    for step in steps:
        r = run(*step, cwd=tmp_path, case=case)
        assert r.returncode in (0, 3), (step, r.stderr)
        assert_clean(r)
    listed = json.loads(run("evidence", "list", "--json", cwd=tmp_path, case=case).stdout)
    assert listed["source"].endswith("bad\\xff\x1b[2J\u202egpj.raw")        # JSON escapes it
    files = [json.loads(line) for line in run("files", "--json", cwd=tmp_path, case=case).stdout.splitlines()]
    assert {"/a.jpg", "/b.txt"} <= {f["path"] for f in files}
    assert open(hostile, "rb").read() == before


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path, case):
    folder = tmp_path / "extraction"
    folder.mkdir()
    (folder / "two\nlines.txt").write_bytes(b"1")
    (folder / "photo\u202egpj.exe").write_bytes(b"2")
    os.mkdir(os.path.join(os.fsencode(folder), b"dir\xfe"))
    open(os.path.join(os.fsencode(folder), b"dir\xfe", b"f\xfb.txt"), "wb").write(b"3")
    for step in [("evidence", "add", folder, "--id", "x"), ("triage",)]:
        r = run(*step, cwd=tmp_path, case=case)
        assert r.returncode in (0, 3), r.stderr
    r = run("files", cwd=tmp_path, case=case)
    assert_clean(r)
    lines = r.stdout.decode().splitlines()
    assert len([ln for ln in lines if "lines.txt" in ln]) == 1
    assert any("two\\x0alines.txt" in ln for ln in lines)
    assert any("photo\\u202egpj.exe" in ln for ln in lines)
    assert any("dir\\xfe" in ln for ln in lines)


def test_an_e01_in_a_folder_whose_name_is_not_utf8(tmp_path, case):
    raw = ext4_image(tmp_path, {"a.txt": b"a"}, size_mib=4)
    e01 = e01_image(tmp_path, raw)
    folder = os.path.join(os.fsencode(tmp_path), b"seized\xfa")
    os.mkdir(folder)
    target = os.path.join(folder, b"phone.E01")
    shutil.copy(e01, target)
    r = run("evidence", "add", target, "--id", "phone", cwd=tmp_path, case=case)
    assert r.returncode == 0, r.stderr
    assert_clean(r)
    assert b"VERIFIED" in r.stdout
    r = run("triage", "phone", cwd=tmp_path, case=case)
    assert r.returncode in (0, 3), r.stderr
    assert b"a.txt" in run("files", cwd=tmp_path, case=case).stdout


def test_escape_sequences_in_a_missing_path_are_not_printed_raw(tmp_path, case):
    r = run("evidence", "add", tmp_path / "gone\x1b]0;pwned\x07\x1b[2J.raw", cwd=tmp_path, case=case)
    assert r.returncode != 0
    assert_clean(r)
    assert b"gone\\x1b]0;pwned\\x07" in r.stderr


def test_a_text_argument_that_is_not_utf8_is_a_clear_usage_error(tmp_path, case):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_bytes(b"a")
    assert run("evidence", "add", tmp_path / "x", cwd=tmp_path, case=case).returncode == 0
    assert run("triage", cwd=tmp_path, case=case).returncode in (0, 3)
    r = run("files", "--item", b"\xff", cwd=tmp_path, case=case)
    assert r.returncode == 2, r.stderr
    assert b"not valid UTF-8" in r.stderr and b"\\xff" in r.stderr
    assert_clean(r)
    # A search for bytes that are not text finds nothing, and says so with the bytes escaped.
    r = run("messages", "--search", b"caf\xe9", cwd=tmp_path, case=case)
    assert r.returncode in (0, 2), r.stderr
    assert b"caf\\xe9" in r.stderr
    assert_clean(r)
