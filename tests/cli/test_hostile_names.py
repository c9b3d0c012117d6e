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

import casestore
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


def refused_on_postgresql(path: bytes, cwd: Path, case: Path) -> bool:
    """A store on PostgreSQL keeps text only: it refuses an evidence path that is not UTF-8,
    clearly and before anything is recorded (SQLite keeps the path's bytes)."""
    if not casestore.is_postgres(case):
        return False
    before = (case / "custody.jsonl").read_bytes()
    r = run("evidence", "add", path, "--id", "x", cwd=cwd, case=case)
    assert r.returncode == 1 and b"is not UTF-8" in r.stderr, r.stderr
    assert_clean(r)
    assert (case / "custody.jsonl").read_bytes() == before
    return True


def test_an_image_whose_name_is_not_utf8_and_attacks_the_terminal(tmp_path, case):
    img = ext4_image(tmp_path, {"a.jpg": tiny_jpeg(), "b.txt": b"x"}, size_mib=4)
    hostile = os.path.join(os.fsencode(tmp_path), HOSTILE)
    os.rename(img, hostile)
    before = open(hostile, "rb").read()
    if refused_on_postgresql(hostile, tmp_path, case):
        return
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
    if refused_on_postgresql(target, tmp_path, case):
        return
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


# Evidence names that act on a terminal without ESC: U+202E reorders what is shown, U+009B
# is the one-byte form of ESC [ (a C1 control); and an OSC title sequence.
RLO, CSI = "\u202e", "\u009b"
RAW = (RLO, CSI, "\x1b]0;pwned", "\x1b[2J")


def assert_nothing_raw(output: str) -> None:
    for seq in RAW:
        assert seq not in output, (seq, output)


@pytest.fixture()
def hostile_case(tmp_path, case) -> Path:
    """A triaged folder source whose own name and file names hold C1 and bidi controls."""
    folder = tmp_path / f"ev{RLO}{CSI}2J"
    (folder / "DCIM").mkdir(parents=True)
    (folder / "DCIM" / f"photo{RLO}gpj.exe").write_bytes(b"x")
    (folder / f"note{CSI}31m\x1b]0;pwned\x07.txt").write_bytes(b"y")
    for step in (("evidence", "add", folder, "--id", "phone"), ("triage",)):
        r = run(*step, cwd=tmp_path, case=case)
        assert r.returncode in (0, 3), r.stderr
    return case


def test_custody_log_json_is_byte_for_byte_in_a_pipe_and_escaped_at_a_terminal(tmp_path, hostile_case):
    from ptyrun import run_in_pty
    stored = (hostile_case / "custody.jsonl").read_bytes()
    assert RLO.encode() in stored and CSI.encode() in stored          # the attack is in the log
    piped = run("custody", "log", "--json", cwd=tmp_path, case=hostile_case)
    assert piped.returncode == 0 and piped.stdout == stored
    shown = run_in_pty(["custody", "log", "--json", "--quiet"], cwd=tmp_path,
                       env={"FORENSIC_CASE": str(hostile_case), "NO_COLOR": "1"})
    assert shown.code == 0
    assert_nothing_raw(shown.output)
    lines = shown.output.splitlines()
    assert [json.loads(line) for line in lines] == [json.loads(line) for line in stored.splitlines()]
    assert "\\u202e" in shown.output and "\\u009b" in shown.output
    action = run_in_pty(["custody", "log", "--json", "--action", "file.recorded", "--quiet"], cwd=tmp_path,
                        env={"FORENSIC_CASE": str(hostile_case), "NO_COLOR": "1"})
    assert_nothing_raw(action.output)
    recorded = [json.loads(line) for line in action.output.splitlines()]
    assert len(recorded) == 3 and {e["action"] for e in recorded} == {"file.recorded"}


@pytest.mark.parametrize("fmt", ["--json", "--format=csv"])
def test_timeline_at_a_terminal_escapes_evidence_names(tmp_path, hostile_case, fmt):
    from ptyrun import run_in_pty
    shown = run_in_pty(["timeline", fmt, "--quiet"], cwd=tmp_path,
                       env={"FORENSIC_CASE": str(hostile_case), "NO_COLOR": "1"})
    assert shown.code == 0, shown.output
    assert_nothing_raw(shown.output)
    # In a pipe the timeline is Timesketch's format, as written to a file.
    piped = run("timeline", fmt, cwd=tmp_path, case=hostile_case)
    assert piped.returncode == 0 and RLO.encode() in piped.stdout and CSI.encode() in piped.stdout
    if fmt == "--json":          # at a terminal still JSON Lines, naming the same files
        assert [json.loads(line) for line in shown.output.splitlines()] == \
            [json.loads(line) for line in piped.stdout.decode().splitlines()]
        assert f"/DCIM/photo{RLO}gpj.exe" in {json.loads(line)["path"] for line in shown.output.splitlines()}
    else:
        assert "photo\\u202egpj.exe" in shown.output and "note\\x9b31m" in shown.output


def test_case_show_escapes_the_case_id(tmp_path):
    from ptyrun import run_in_pty
    case = tmp_path / "case"
    hostile = f"C\x1b[2J{RLO}1{CSI}"
    r = run("case", "init", case, "--case-id", hostile, "--examiner", f"E{RLO}", cwd=tmp_path, case=case)
    assert r.returncode == 0, r.stderr
    shown = run_in_pty(["case", "show"], cwd=tmp_path, env={"FORENSIC_CASE": str(case), "NO_COLOR": "1"})
    assert shown.code == 0
    assert_nothing_raw(shown.output)
    assert "case_id: C\\x1b[2J\\u202e1\\x9b" in shown.output and "examiner: E\\u202e" in shown.output
    assert json.loads(run("case", "show", "--json", cwd=tmp_path, case=case).stdout)["case_id"] == hostile


@pytest.mark.parametrize("args, message", [
    (["files", f"X\x1b[31mRED{RLO}abc"], "Error: Got unexpected extra argument (X\\x1b[31mRED\\u202eabc)"),
    (["files", "--item", "a", f"two\nlines{CSI}"], "Error: Got unexpected extra argument (two\\x0alines\\x9b)"),
    (["fi\x1b]0;pwned\x07les"], "Error: No such command"),
    (["timeline", "--format", f"x{RLO}"], "Error: Invalid value for '--format'"),
])
def test_click_usage_errors_escape_the_arguments(tmp_path, case, args, message):
    # A shell glob passes evidence file names as arguments: click's own errors quote them.
    from ptyrun import run_in_pty
    shown = run_in_pty(args, cwd=tmp_path, env={"FORENSIC_CASE": str(case), "NO_COLOR": "1"})
    assert shown.code == 2
    assert_nothing_raw(shown.output)
    assert "\x1b" not in shown.output and "\x07" not in shown.output
    assert message in shown.output, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("Usage: forensic") and lines[1].startswith("Try 'forensic")
    assert lines[1].endswith(" --help' for help.")
    assert sum(line.startswith("Error: ") for line in lines) == 1 and lines[-1].startswith(("Error: ", "Did you"))


def test_custody_log_json_in_a_pipe_is_the_stored_bytes_even_when_damaged(tmp_path, case):
    # a line that is not UTF-8 (a damaged or tampered log) is passed on as it is stored
    with open(case / "custody.jsonl", "ab") as f:
        f.write(b'{"action":"x\xff"}\n')
    r = run("custody", "log", "--json", cwd=tmp_path, case=case)
    assert r.stdout == (case / "custody.jsonl").read_bytes()


def test_tag_and_training_lines_escape_evidence_text(tmp_path, case):
    folder = tmp_path / "ev"
    folder.mkdir()
    (folder / "photo\u202egpj.exe").write_bytes(b"x")
    for step in (("evidence", "add", folder, "--id", "x"), ("triage",)):
        assert run(*step, cwd=tmp_path, case=case).returncode in (0, 3)
    locator = json.loads(run("files", "--json", cwd=tmp_path, case=case).stdout.splitlines()[-1])["locator"]
    for args in (("tag", "add", "--tag", "t", locator), ("tag", "list")):
        r = run(*args, cwd=tmp_path, case=case)
        assert r.returncode == 0, r.stderr
        assert_clean(r)
        assert b"photo\\u202egpj.exe" in r.stdout
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"schema": "forensic.answer-key/1", "items": {}, "facts": [
        {"id": "f\x1b[31m", "kind": "file_present", "item": "x", "description": "evil \u202e\x1b]0;t\x07",
         "expected": {}}]}))
    r = run("training", "check", key, cwd=tmp_path, case=case)
    assert_clean(r)
