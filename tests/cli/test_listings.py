"""The listing commands as a new user meets them: before triage, with a filter that matches
nothing, at an interactive terminal (a pty: tables fitted to its width, with headers and a
legend), in pipes (the compact lines other tools parse, unchanged) and in a pipe closed
after the first line (``forensic messages --json | head -1``). Real cases: real images and
ZIPs, real triage."""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from builders import ext4_image, tiny_jpeg, zip_file
from ptyrun import run_in_pty
from tests.exporters.photo_case import CHAT, build_case, cli

# the installed command, as examiners run it (under ``python -m`` its module is __main__, where
# Python shows DeprecationWarnings that the command never shows)
COMMAND = [str(Path(sys.executable).parent / "forensic")]
SGR = re.compile(r"\x1b\[[0-9;]*m")
# the message listing's old line (before the item was added as a last field), kept here as the
# public format other tools parse
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def pipe(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "FORENSIC_CASE")}
    return subprocess.run(COMMAND + [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def shown(result) -> list[str]:
    """The lines a terminal showed, colour codes removed."""
    return [line.rstrip() for line in SGR.sub("", result.output).splitlines()]


def table_rows(lines: list[str]) -> list[list[str]]:
    """The body rows of a rich table (cells between the column rules), headers left out."""
    return [[c.strip() for c in line.split("│")] for line in lines if "│" in line]


def assert_fits(lines: list[str], columns: int) -> None:
    too_wide = [line for line in lines if cell_len(line) > columns]
    assert not too_wide, f"{len(too_wide)} lines wider than {columns} columns, e.g. {too_wide[0]!r}"


# -- cases ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def photo_case(tmp_path_factory):
    """Items ``phone`` (ext4: photos, one with terminal escapes in its EXIF, and a WhatsApp
    export) and ``card`` (FAT32); a warning recorded (a 0/0 GPS position)."""
    return build_case(cli, tmp_path_factory.mktemp("listings_photos"))


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    """The same WhatsApp chat in a phone image (item ``image``) and in its logical
    extraction (a ZIP, item ``logical``)."""
    tmp = tmp_path_factory.mktemp("listings_twice")
    image = ext4_image(tmp, {"/WhatsApp/WhatsApp Chat with Luis.txt": CHAT}, name="phone.img")
    logical = zip_file(tmp / "extraction.zip", [("WhatsApp/WhatsApp Chat with Luis.txt", CHAT)])
    case = tmp / "case"
    cli("case", "init", case, "--case-id", "T-2", "--examiner", "E")
    cli("evidence", "add", image, "--case", case, "--id", "image")
    cli("evidence", "add", logical, "--case", case, "--id", "logical")
    cli("triage", "--case", case, expect=None)
    return case


CHATS, PHOTOS = 300, 300


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A logical extraction with 300 WhatsApp chats (900 messages) and 300 photos: every
    listing is far longer than a pipe holds."""
    tmp = tmp_path_factory.mktemp("listings_big")
    members = []
    for i in range(CHATS):
        chat = "".join(f"14/03/2021, 10:{m:02d} - {'Ana' if m % 2 else 'Luis'}: chat {i} message {m}\n"
                       for m in range(3))
        members.append((f"WhatsApp/WhatsApp Chat with P{i}.txt", chat.encode()))
    members += [(f"DCIM/IMG_{i:04d}.jpg", tiny_jpeg(model=f"M{i}".encode())) for i in range(PHOTOS)]
    source = zip_file(tmp / "extraction.zip", members)
    case = tmp / "case"
    cli("case", "init", case, "--case-id", "T-3", "--examiner", "E")
    cli("evidence", "add", source, "--case", case, "--id", "logical")
    cli("triage", "--case", case, expect=None)
    return case


@pytest.fixture
def untriaged(forensic, tmp_path):
    """A case whose one item was added but never triaged."""
    source = zip_file(tmp_path / "extraction.zip", [("WhatsApp Chat with Luis.txt", CHAT)])
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "T-4", "--examiner", "E")
    forensic("evidence", "add", source, "--case", case, "--id", "logical")
    return case


# -- 1. a pipe closed early -------------------------------------------------------------------
@pytest.mark.parametrize("command", ["messages", "files", "photos", "timeline", "conversations"])
@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "compact"])
def test_a_pipe_closed_after_one_line_ends_quietly(big, command, json_lines):
    """`forensic messages --json | head -1`: the reader goes after one line; the command
    ends with exit 0 and nothing on stderr (it used to end in a ProgrammingError from a
    generator reading the case after it was closed)."""
    args = [command, "--case", big] + (["--json"] if json_lines and command != "timeline" else [])
    if command == "timeline" and not json_lines:
        args += ["--format", "csv"]
    env = {k: v for k, v in os.environ.items() if k not in ("FORENSIC_CASE",)}
    proc = subprocess.Popen(COMMAND + [str(a) for a in args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)     # the command fills it at once
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first.strip(), err
    if json_lines:
        json.loads(first)
    assert code == 0, err
    assert err == ""


# -- 2. before triage -------------------------------------------------------------------------
LISTINGS = ["messages", "conversations", "files", "photos", "geo", "timeline", "warnings"]


@pytest.mark.parametrize("command", LISTINGS)
def test_before_triage_a_listing_says_to_triage(forensic, untriaged, command):
    res = forensic(command, "--case", untriaged)
    assert res.out == ""
    assert "run `forensic triage` first" in res.err
    assert "Traceback" not in res.err and "no such table" not in res.err
    if command != "geo":
        res = forensic(command, "--case", untriaged, "--json")
        assert res.out == "" and "run `forensic triage` first" in res.err
    res = forensic(command, "--case", untriaged, "--item", "logical")
    assert res.out == "" and "run `forensic triage logical` first" in res.err


@pytest.mark.parametrize("command", LISTINGS)
def test_a_case_without_evidence_says_so(forensic, tmp_path, command):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "T-5", "--examiner", "E")
    res = forensic(command, "--case", case)
    assert res.out == ""
    assert "no evidence items" in res.err and "forensic evidence add" in res.err


def test_geo_out_before_triage_writes_nothing(forensic, untriaged, tmp_path):
    dest = tmp_path / "photos.kml"
    res = forensic("geo", "--case", untriaged, "--format", "kml", "--out", dest)
    assert "run `forensic triage` first" in res.err and not dest.exists()
    log = forensic("custody", "log", "--case", untriaged, "--json").jsonl()
    assert "export.created" not in {e["action"] for e in log}


def test_an_item_not_yet_triaged_is_named_beside_the_others(forensic, twice, tmp_path):
    source = zip_file(tmp_path / "more.zip", [("WhatsApp Chat with Ana.txt", CHAT)])
    case = tmp_path / "case"
    import shutil
    shutil.copytree(twice, case)
    forensic("evidence", "add", source, "--case", case, "--id", "later")
    res = forensic("messages", "--case", case, "--json")
    assert {m["item"] for m in res.jsonl()} == {"image", "logical"}
    assert "not completely triaged: later" in res.err
    assert forensic("messages", "--case", case, "--json", "--quiet").err == ""


# -- 3. filters that match nothing --------------------------------------------------------------
def test_an_unknown_conversation_says_nothing_matched(forensic, twice):
    res = forensic("messages", "--case", twice, "--conversation", "nope")
    assert res.out == ""
    assert "no messages matched --conversation nope" in res.err
    assert "forensic conversations" in res.err
    res = forensic("messages", "--case", twice, "--conversation", "nope", "--from", "2021-06-25", "--json")
    assert res.out == "" and "no messages matched --conversation nope --from 2021-06-25" in res.err


def test_an_unknown_platform_is_a_usage_error_listing_the_valid_ones(forensic, twice):
    res = forensic("messages", "--case", twice, "--platform", "whatsap", expect=2)
    assert res.out == ""
    assert "unknown platform 'whatsap'" in res.err and "did you mean 'whatsapp'" in res.err
    for name in ("whatsapp", "telegram", "messenger", "instagram", "discord", "sms", "imessage"):
        assert name in res.err
    res = forensic("conversations", "--case", twice, "--platform", "whatsap", expect=2)
    assert "unknown platform" in res.err


def test_a_known_platform_with_no_messages_says_nothing_matched(forensic, twice):
    res = forensic("messages", "--case", twice, "--platform", "telegram")
    assert res.out == "" and "no messages matched --platform telegram" in res.err
    res = forensic("conversations", "--case", twice, "--platform", "telegram", "--json")
    assert res.out == "" and "no conversations matched --platform telegram" in res.err
    # a platform is named in any case
    assert len(forensic("messages", "--case", twice, "--platform", "WhatsApp", "--json").jsonl()) == 4


def test_other_listings_name_the_filter_that_matched_nothing(forensic, photo_case):
    res = forensic("files", "--case", photo_case, "--sha256", "0" * 64)
    assert res.out == "" and f"no files matched --sha256 {'0' * 64}" in res.err
    res = forensic("timeline", "--case", photo_case, "--from", "2030-01-01", "--json")
    assert res.out == "" and "no timeline events matched --from 2030-01-01" in res.err
    res = forensic("photos", "--case", photo_case, "--item", "card", "--geotagged", "--json")
    assert len(res.jsonl()) == 1 and res.err == ""


# -- 4-6. a terminal: tables; a pipe: the compact lines, unchanged ---------------------------------
TABLES = {
    # command: (headers, legend words)
    "files": (["Flags", "SHA-256", "Size", "Type", "Locator"], "D deleted"),
    "photos": (["Flags", "Taken", "Zone", "Position", "Device", "Warnings", "Locator"], "G geotagged"),
    "messages": (["Flags", "Sent", "Platform", "Conversation", "Sender", "Message", "Item"], "time zone unknown"),
    "conversations": (["Platform", "Messages", "First", "Last", "Title", "Conversation", "Item"], None),
    "timeline": (["Time", "Zone", "Item", "Event"], "the device's clock"),
    "warnings": (["Item", "Stage", "Locator", "Message"], None),
}


@pytest.mark.parametrize("command", sorted(TABLES))
def test_a_terminal_gets_a_table_fitted_to_its_width(photo_case, command):
    headers, legend = TABLES[command]
    result = run_in_pty([command, "--case", photo_case], cwd=photo_case.parent, columns=80)
    assert result.code == 0, result.output
    lines = shown(result)
    assert_fits(lines, 80)
    header = next(line for line in lines if "┃" in line)
    assert [h.strip() for h in header.split("┃")] == headers
    if legend:
        assert any(legend in line for line in lines), lines[-3:]
    # evidence cannot drive the terminal: its escapes are shown, not run
    bare = SGR.sub("", result.output)
    assert "\x1b" not in bare and "\x07" not in bare


def test_extractors_at_a_terminal(tmp_path):
    result = run_in_pty(["extractors"], cwd=tmp_path, columns=80)
    lines = shown(result)
    assert result.code == 0 and any("Extractor" in line and "Status" in line for line in lines)
    assert_fits(lines, 80)
    assert any(line.startswith("photo_exif") and "available" in line for line in lines)


def _message_line(m: dict) -> str:
    """The compact message line as documented before the item was appended."""
    conv = m["conversation"] or {}
    who = m["sender"] or m.get("actor") or ("(system)" if m["system"] else "-")
    body = (m["body"] or "").replace("\r", "").replace("\n", " ⏎ ")
    if len(body) > 200:
        body = body[:199] + "…"
    flags = ("!" if m["corrupted"] else "-") + ("?" if not m["tz_known"] else "-") + ("x" if m["deleted"] else "-")
    text = (f"{flags} {m['sent_at'] or '?':25} {m['platform']:<10} [{conv.get('title') or conv.get('id')}] "
            f"{who}: {body}")
    if m["attachments"]:
        text += f"  (+{len(m['attachments'])} attachment(s))"
    return _CONTROL.sub("", text)


def test_the_same_message_in_two_items_is_told_apart_by_its_item(twice):
    """A message from the phone image and the same one from its logical extraction: the
    item is in the JSON, is the compact line's last field (after a tab; the fields before it
    unchanged), and is a column of the table."""
    rows = [json.loads(line) for line in pipe("messages", "--case", twice, "--json", cwd=twice).stdout.splitlines()]
    assert sorted(r["item"] for r in rows) == ["image", "image", "logical", "logical"]
    lines = pipe("messages", "--case", twice, cwd=twice).stdout.splitlines()
    assert len(lines) == len(rows)
    assert [line.rsplit("\t", 1) for line in lines] == [[_message_line(r), r["item"]] for r in rows]
    assert lines[0] != lines[1] and lines[0].rsplit("\t", 1)[0] == lines[1].rsplit("\t", 1)[0]
    table = run_in_pty(["messages", "--case", twice], cwd=twice, columns=160)
    cells = table_rows(shown(table))
    assert [(c[1], c[4], c[5], c[6]) for c in cells] == [
        (r["sent_at"].replace("T", " "), r["sender"], r["body"], r["item"]) for r in rows]


def _file_line(r: dict) -> str:
    flags = ("D" if r["deleted"] else "-") + ("!" if r["extension_mismatch"] else "-")
    return (f"{flags} {r['sha256'] or '-':64} {r['size'] if r['size'] is not None else '-':>12} "
            f"{r['mime'] or '-':28} {r['locator']}")


def _printable(value) -> str:
    return re.sub("[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", str(value))


def _photo_line(r: dict) -> str:
    tagged = r["gps_valid"] and r["lat"] is not None and r["lon"] is not None
    gps = "G" if tagged else "!" if r["gps_raw"] else "-"
    flags = ("D" if r["deleted"] else "-") + ("C" if r["corrupted"] else "-") + gps
    where = f"{r['lat']:.6f},{r['lon']:.6f}" if tagged else "-"
    return (f"{flags} {r['taken_at'] or '-':32} {r['tz_source'] or '-':10} {where:22} "
            f"{_printable(r['device'] or '-'):32} w{len(r['warnings'])} {_printable(r['locator'] or '-')}")


def _conversation_line(c: dict) -> str:
    return _CONTROL.sub("", f"{c['platform']:<10} {c['messages']:>7} {c['first_at'] or '?':25} "
                            f"{c['last_at'] or '?':25} [{c['title'] or '-'}] {c['conversation']}")


def _warning_line(w: dict) -> str:
    return f"{w['item']}\t{w['stage']}\t{w['locator'] or '-'}\t{w['message']}"


@pytest.mark.parametrize("command,line", [("files", _file_line), ("photos", _photo_line),
                                          ("conversations", _conversation_line), ("warnings", _warning_line)])
def test_a_pipe_gets_the_compact_lines_unchanged(photo_case, command, line):
    rows = [json.loads(x) for x in pipe(command, "--case", photo_case, "--json", cwd=photo_case).stdout.splitlines()]
    compact = pipe(command, "--case", photo_case, cwd=photo_case)
    assert compact.returncode == 0 and compact.stderr == ""
    assert rows and compact.stdout.splitlines() == [line(r) for r in rows]


def test_the_photo_table_holds_the_json_data(photo_case):
    rows = [json.loads(x) for x in pipe("photos", "--case", photo_case, "--json", cwd=photo_case).stdout.splitlines()]
    table = run_in_pty(["photos", "--case", photo_case], cwd=photo_case.parent, columns=250)
    cells = table_rows(shown(table))
    assert len(cells) == len(rows)
    for c, r in zip(cells, rows, strict=True):
        assert c[1] == (r["taken_at"] or "-").replace("T", " ", 1) and c[2] == (r["tz_source"] or "-")
        assert c[5] == str(len(r["warnings"])) and c[6] == _printable(r["locator"])
        assert ("G" in c[0]) == (r["lat"] is not None) and ("D" in c[0]) == r["deleted"]


def test_the_timeline_is_a_table_at_a_terminal_and_json_lines_elsewhere(photo_case, tmp_path):
    events = [json.loads(x) for x in pipe("timeline", "--case", photo_case, cwd=photo_case).stdout.splitlines()]
    assert events and all("timestamp_desc" in e for e in events)
    table = run_in_pty(["timeline", "--case", photo_case], cwd=photo_case.parent, columns=250)
    cells = table_rows(shown(table))
    assert [(c[0], c[1], c[2]) for c in cells] == [(e["datetime"].replace("T", " ", 1), e["tz_source"], e["item"])
                                                   for e in events]
    # asked for explicitly, a format is written to the terminal as it is
    as_json = run_in_pty(["timeline", "--case", photo_case, "--json", "--item", "card"], cwd=photo_case.parent)
    assert all(json.loads(x) for x in shown(as_json))
    as_csv = run_in_pty(["timeline", "--case", photo_case, "--format", "csv", "--item", "card"], cwd=photo_case.parent)
    assert shown(as_csv)[0].startswith("message,datetime,timestamp_desc,timestamp")
    assert pipe("timeline", "--case", photo_case, "--json", "--format", "csv", cwd=tmp_path).returncode == 2


def test_table_pages_repeat_headers_and_end_with_one_legend(monkeypatch):
    import io
    from rich.console import Console
    from forensic.cli import console
    buf = io.StringIO()
    monkeypatch.setattr(console, "out", Console(file=buf, width=40, highlight=False))
    n = console.table_pages(("A", "B"), ((i, f"row {i}") for i in range(5)), legend="the legend", page=2)
    text = buf.getvalue()
    assert n == 5 and text.count("A ") == 3 and text.count("the legend") == 1
    assert text.rstrip().endswith("the legend")
    assert console.table_pages(("A",), iter(()), legend="the legend") == 0
