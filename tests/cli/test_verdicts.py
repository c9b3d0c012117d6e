"""Every checking command says its verdict in every mode (issue 12 items 1-3): a coloured
line at a terminal, a ``LABEL: message`` line on stdout in a pipe, one JSON object with
--json, and with --quiet too; exit 4 on an integrity failure. Also: the same image added
twice, and ``evidence list`` at a terminal and in a pipe. The real command runs in a
subprocess (pipes) or in a pseudo-terminal."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from builders import e01_image, ext4_image, tiny_jpeg, write_tree
from conftest import require_tools
from ptyrun import run_in_pty

FORENSIC = [sys.executable, "-m", "forensic.cli.main"]
GREEN, RED, YELLOW = (re.compile(r"\x1b\[[0-9;]*3%dm%%s\x1b\[0m" % n) for n in (2, 1, 3))


def coloured(colour: re.Pattern, label: str, output: str) -> bool:
    return re.search(colour.pattern % re.escape(label), output) is not None


def pipe(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "FORENSIC_KEY")}
    full.update(env or {})
    return subprocess.run(FORENSIC + [str(a) for a in args], cwd=cwd, env=full, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture()
def image(tmp_path) -> Path:
    return ext4_image(tmp_path, {"DCIM/a.jpg": tiny_jpeg(), "notes.txt": b"notes\n" * 50}, size_mib=4)


@pytest.fixture()
def case(tmp_path) -> Path:
    res = pipe("case", "init", "case", "--case-id", "T-1", "--examiner", "E", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return tmp_path / "case"


def every_mode(args: list, cwd: Path, code: int, label: str) -> dict:
    """Run a checking command in a pipe, with --quiet, with --json and at a terminal; check
    the verdict line in the first two and the exit code in all. Returns the outputs."""
    piped = pipe(*args, cwd=cwd)
    assert piped.returncode == code, piped.stdout + piped.stderr
    verdicts = [ln for ln in piped.stdout.splitlines() if ln.startswith(label + ": ")]
    assert len(verdicts) == 1, piped.stdout
    quiet = pipe(*args, "--quiet", cwd=cwd)
    assert quiet.returncode == code
    assert verdicts[0] in quiet.stdout.splitlines()
    as_json = pipe(*args, "--json", cwd=cwd)
    assert as_json.returncode == code
    assert len(as_json.stdout.splitlines()) == 1, as_json.stdout     # one JSON object, nothing else
    terminal = run_in_pty(args, cwd=cwd, columns=200)
    assert terminal.code == code, terminal.output
    return {"line": verdicts[0], "pipe": piped, "quiet": quiet, "json": json.loads(as_json.stdout),
            "json_err": as_json.stderr, "terminal": terminal.output}


def test_evidence_verify(tmp_path, case, image):
    assert pipe("evidence", "add", image, "--id", "disk", "--case", case, cwd=tmp_path).returncode == 0
    args = ["evidence", "verify", "disk", "--case", case]
    ok = every_mode(args, tmp_path, 0, "VERIFIED")
    assert ok["line"] == f"VERIFIED: disk matches the hashes recorded at intake (SHA-256 {sha256(image)})"
    assert ok["quiet"].stderr == ""
    assert ok["json"]["ok"] is True
    assert coloured(GREEN, "VERIFIED", ok["terminal"])

    data = bytearray(image.read_bytes())
    data[-1] ^= 0xFF                                   # one bit of the evidence changed
    image.write_bytes(data)
    bad = every_mode(args, tmp_path, 4, "MISMATCH")
    assert bad["line"] == "MISMATCH: disk: the source's hashes differ from those recorded at intake"
    assert bad["json"]["ok"] is False and bad["json"]["sha256"] == sha256(image)
    assert coloured(RED, "MISMATCH", bad["terminal"])

    image.unlink()
    gone = every_mode(args, tmp_path, 4, "NOT VERIFIED")
    assert "is no longer there" in gone["line"]


def test_custody_verify(tmp_path, case, image):
    assert pipe("evidence", "add", image, "--id", "disk", "--case", case, cwd=tmp_path).returncode == 0
    args = ["custody", "verify", "--case", case]
    ok = every_mode(args, tmp_path, 0, "VERIFIED")
    assert ok["line"].startswith("VERIFIED: the custody log of case T-1 is intact: 2 entries, 2 checkpoints")
    assert ok["pipe"].stdout.splitlines()[0] == ok["line"]
    assert ok["json"]["ok"] is True
    assert coloured(GREEN, "VERIFIED", ok["terminal"])

    log = case / "custody.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[1])
    entry["details"]["size"] += 1
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    bad = every_mode(args, tmp_path, 4, "NOT VERIFIED")
    assert bad["line"].startswith("NOT VERIFIED: the custody log of case T-1 does not verify: ")
    assert bad["line"].endswith("(first bad entry: 1)")
    assert bad["json"]["ok"] is False and bad["json"]["first_bad_seq"] == 1
    assert coloured(RED, "NOT VERIFIED", bad["terminal"])


def test_verify_bundle(tmp_path, case):
    folder = write_tree(tmp_path / "extraction", {"DCIM/a.jpg": tiny_jpeg(), "chats/c.txt": b"chat\n"})
    assert pipe("evidence", "add", folder, "--id", "folder", "--case", case, cwd=tmp_path).returncode == 0
    assert pipe("triage", "--case", case, cwd=tmp_path).returncode == 0
    res = pipe("export", "--case", case, "--out", "bundle.zip", "--item", "folder", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    # unsigned, checked without the examiner's key: intact, never VERIFIED (exit 5, yellow)
    intact = every_mode(["verify-bundle", "bundle.zip"], tmp_path, 5, "INTACT, UNSIGNED")
    assert intact["line"].startswith("INTACT, UNSIGNED: the ")
    lines = intact["pipe"].stdout.splitlines()
    assert lines[0] == intact["line"] and not any(ln.startswith("VERIFIED") for ln in lines)
    assert "Signature: absent; the bundle is not signed" in intact["pipe"].stdout
    assert any(ln.startswith("Custody excerpt: valid") for ln in lines)
    assert "Packaging: not encrypted, as bag-info.txt states." in lines
    assert intact["quiet"].stdout == intact["pipe"].stdout and intact["quiet"].stderr == ""
    assert intact["json"]["ok"] is False and intact["json"]["intact"] is True
    assert intact["json"]["status"] == "unsigned" and "INTACT, UNSIGNED" in intact["json_err"]
    assert coloured(YELLOW, "INTACT, UNSIGNED", intact["terminal"]) and coloured(YELLOW, "Signature",
                                                                                 intact["terminal"])

    # signed, checked with the examiner's key: VERIFIED (exit 0, green)
    assert pipe("examiner", "keygen", "E", "--out", "keys", cwd=tmp_path).returncode == 0
    res = pipe("export", "--case", case, "--out", "signed.zip", "--item", "folder", "--key", "keys/E.key",
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    ok = every_mode(["verify-bundle", "signed.zip", "--pubkey", "keys/E.pub"], tmp_path, 0, "VERIFIED")
    assert ok["line"].startswith("VERIFIED: every one of the ")
    assert ok["pipe"].stdout.splitlines()[1].startswith("Signature: valid, made with the key you supplied")
    assert ok["json"]["ok"] is True and ok["json"]["status"] == "verified" and "VERIFIED" in ok["json_err"]
    assert coloured(GREEN, "VERIFIED", ok["terminal"]) and coloured(GREEN, "Signature", ok["terminal"])

    data = (tmp_path / "bundle.zip").read_bytes()
    (tmp_path / "cut.zip").write_bytes(data[: len(data) // 2])
    bad = every_mode(["verify-bundle", "cut.zip"], tmp_path, 4, "NOT VERIFIED")
    assert "Problem: not a readable ZIP archive" in bad["pipe"].stdout
    assert bad["json"]["ok"] is False and bad["json"]["intact"] is False
    assert coloured(RED, "NOT VERIFIED", bad["terminal"])


def test_training_check(tmp_path, case):
    require_tools("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
    assert pipe("sample-image", "sample", "--seed", "4", cwd=tmp_path).returncode == 0
    assert pipe("evidence", "add", "sample/extraction.zip", "--case", case, cwd=tmp_path).returncode == 0
    assert pipe("triage", "--case", case, cwd=tmp_path).returncode in (0, 3)
    args = ["training", "check", "sample/answer-key.json", "--case", case]
    part = every_mode(args, tmp_path, 0, "score")
    assert re.fullmatch(r"score: (\d+) / 100  \((\d+) of (\d+) checked facts found\)", part["line"])
    assert 0 < part["json"]["score"] < 100
    assert f"score: {part['json']['score']} / 100" == part["line"].split("  (")[0]
    assert coloured(YELLOW, "score", part["terminal"])        # partial, no threshold given
    below = every_mode(args + ["--fail-under", "100"], tmp_path, 1, "score")
    assert below["line"].endswith("; below 100)")
    assert coloured(RED, "score", below["terminal"])


def test_e01_intake_says_whether_the_acquisition_hashes_verified(tmp_path):
    payload = os.urandom(200_000)
    raw = ext4_image(tmp_path, {"/a.bin": payload}, size_mib=4)
    good = e01_image(tmp_path, raw)
    data = bytearray(good.read_bytes())
    at = data.find(payload[50_000:50_064])
    assert at > 0
    data[at + 10] ^= 0xFF                            # the media no longer matches its stored MD5/SHA-1
    bad = tmp_path / "bad.E01"
    bad.write_bytes(data)
    md5 = hashlib.md5(raw.read_bytes()).hexdigest()
    for n, (source, code, label, colour) in enumerate([(good, 0, "VERIFIED", GREEN), (bad, 4, "MISMATCH", RED)]):
        modes = {}
        for mode, extra in (("pipe", []), ("quiet", ["--quiet"]), ("json", ["--json"])):
            case = tmp_path / f"case-{n}-{mode}"
            assert pipe("case", "init", case, "--case-id", f"E-{n}-{mode}", "--examiner", "E",
                        cwd=tmp_path).returncode == 0
            res = pipe("evidence", "add", source, "--id", "phone", "--case", case, *extra, cwd=tmp_path)
            assert res.returncode == code, res.stderr
            modes[mode] = res
        line = next(ln for ln in modes["pipe"].stdout.splitlines() if ln.startswith(label + ": "))
        assert f"MD5 {md5}" in line
        if code == 0:
            assert line.startswith("VERIFIED: the acquisition hashes stored in the E01 (MD5 ")
            assert line.endswith(") match the media of phone")
        else:
            assert line.startswith("MISMATCH: the media of phone does not match the acquisition hashes "
                                   "stored in the E01 (MD5 ")
            assert "does not match the acquisition hashes stored in the E01" in modes["json"].stderr
        assert line in modes["quiet"].stdout.splitlines()
        # --quiet keeps warnings: the flipped byte's chunk fails its checksum, and that is said
        quiet_err = modes["quiet"].stderr.splitlines()
        assert [ln for ln in quiet_err if not ln.startswith("warning: E01 chunk checksum error: ")] == []
        assert bool(quiet_err) is (code == 4)
        added = json.loads(modes["json"].stdout)
        assert added["acquisition_hash_verified"] is (code == 0)
        case = tmp_path / f"case-{n}-terminal"
        assert pipe("case", "init", case, "--case-id", f"E-{n}-terminal", "--examiner", "E",
                    cwd=tmp_path).returncode == 0
        shown = run_in_pty(["evidence", "add", source, "--id", "phone", "--case", case], cwd=tmp_path, columns=200)
        assert shown.code == code and coloured(colour, label, shown.output), shown.output


def test_the_same_image_added_twice_is_accepted_warned_and_recorded(tmp_path, case, image):
    first = pipe("evidence", "add", image, "--id", "phone", "--case", case, "--json", cwd=tmp_path)
    assert json.loads(first.stdout)["duplicate_of"] == [] and "warning" not in first.stderr
    copy = tmp_path / "copy.img"
    copy.write_bytes(image.read_bytes())
    again = pipe("evidence", "add", copy, "--id", "phone-again", "--case", case, "--quiet", cwd=tmp_path)
    assert again.returncode == 0
    assert "warning: phone-again has the same SHA-256 as phone, already in the case" in again.stderr
    third = pipe("evidence", "add", image, "--id", "third", "--case", case, "--json", cwd=tmp_path)
    assert third.returncode == 0
    assert json.loads(third.stdout)["duplicate_of"] == ["phone", "phone-again"]
    assert "same SHA-256 as phone, phone-again" in third.stderr
    received = {e["subject"]["item"]: e["details"] for e in
                map(json.loads, (case / "custody.jsonl").read_text().splitlines())
                if e["action"] == "evidence.received"}
    assert "duplicate_of" not in received["phone"]
    assert received["phone-again"]["duplicate_of"] == ["phone"]
    assert received["third"]["duplicate_of"] == ["phone", "phone-again"]
    listed = pipe("evidence", "list", "--case", case, cwd=tmp_path).stdout.splitlines()
    assert [ln.split("\t")[0] for ln in listed] == ["phone", "phone-again", "third"]


def test_evidence_list_is_a_table_at_a_terminal_and_lines_in_a_pipe(tmp_path, case, image):
    folder = write_tree(tmp_path / "extraction", {"a.txt": b"a"})
    assert pipe("evidence", "add", image, "--id", "disk", "--case", case, "--description",
                "Phone, seized 2026-05-02", cwd=tmp_path).returncode == 0
    assert pipe("evidence", "add", folder, "--id", "folder", "--case", case, cwd=tmp_path).returncode == 0
    assert pipe("triage", "disk", "--case", case, cwd=tmp_path).returncode == 0
    listed = pipe("evidence", "list", "--case", case, "--json", cwd=tmp_path)
    items = [json.loads(ln) for ln in listed.stdout.splitlines()]
    assert [set(i) for i in items] == [{"item", "format", "source", "description", "size", "sha256", "md5",
                                       "acquisition_hashes", "acquisition_hash_verified", "added_at",
                                       "triaged_at"}] * 2
    disk, fold = items
    piped = pipe("evidence", "list", "--case", case, cwd=tmp_path)
    assert piped.stdout.splitlines() == [
        f"disk\traw\t{disk['size']}\t{disk['sha256']}\t{disk['triaged_at']}",
        f"folder\tdirectory\t{fold['size']}\t{fold['sha256']}\tnot triaged"]
    shown = run_in_pty(["evidence", "list", "--case", case], cwd=tmp_path, columns=160)
    assert shown.code == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.output)
    header = next(ln for ln in text.splitlines() if "SHA-256" in ln)
    assert re.search(r"Item\s.*Format\s.*Size\s.*SHA-256\s.*Triaged \(UTC\)\s.*Description", header)
    assert "\t" not in text
    row = next(ln for ln in text.splitlines() if ln.startswith("disk "))
    assert disk["sha256"] in row and "Phone, seized 2026-05-02" in row
    assert disk["triaged_at"][:16].replace("T", " ") in row
    assert "not triaged" in next(ln for ln in text.splitlines() if ln.startswith("folder "))
