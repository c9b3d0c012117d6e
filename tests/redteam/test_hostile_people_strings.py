"""Red team, issue 15: contact names, call numbers and cached call names chosen by the
device's owner to attack the examiner's terminal (rich markup, ANSI escapes, U+202E, newlines)
in `forensic contacts` / `forensic calls`: escaped on a terminal and in pipes, intact in JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import phone_dbs as P
from forensic.training.formats import CALLLOG_SCHEMA, CONTACTS2_SCHEMA

EVIL = "[bold red]Boss[/bold red]\x1b[2J\u202eevil\nSHA-256: 00"
FORENSIC = [sys.executable, "-m", "forensic.cli.main"]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from forensic.cli.main import main
    tmp = tmp_path_factory.mktemp("evil")
    dbs = tmp / "phone/data/com.android.providers.contacts/databases"
    P.build(dbs / "contacts2.db", CONTACTS2_SCHEMA, [
        ("accounts", [(1, "x@gmail.com", "com.google", None)]),
        ("mimetypes", [(1, "vnd.android.cursor.item/name"), (2, "vnd.android.cursor.item/phone_v2")]),
        ("raw_contacts", [{"_id": 1, "account_id": 1, "contact_id": 1, "display_name": EVIL}]),
        ("data", [{"mimetype_id": 1, "raw_contact_id": 1, "data1": EVIL},
                  {"mimetype_id": 2, "raw_contact_id": 1, "data1": "+31 6 12345678", "data2": "2"}])])
    P.build(dbs / "calllog.db", CALLLOG_SCHEMA, [("calls", [
        {"_id": 1, "number": "+31612345678", "date": P.T0_MS, "duration": 5, "type": 1, "name": None,
         "countryiso": "NL"},
        {"_id": 2, "number": "+316\x1b[31m[link=file:///etc]x", "date": P.T0_MS + 1000, "duration": 5, "type": 1,
         "name": EVIL, "countryiso": "NL"}])])
    c = tmp / "case"
    assert main(["case", "init", str(c), "--case-id", "RT-S", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(tmp / "phone"), "--case", str(c), "--id", "phone"]) == 0
    assert main(["triage", "--case", str(c)]) in (0, 3)
    return c


def run(case, *args, terminal: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "FORENSIC_CASE")}
    if terminal:
        env.update(FORCE_COLOR="1", COLUMNS="200")
    return subprocess.run(FORENSIC + [*args, "--case", str(case)], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


@pytest.mark.parametrize("command", ["contacts", "calls"])
@pytest.mark.parametrize("terminal", [False, True])
def test_hostile_people_strings_are_escaped(case, command, terminal):
    r = run(case, command, terminal=terminal)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    if terminal:             # rich's own colour codes are there; none of the evidence's
        assert "\x1b[2J" not in text and "\x1b[31m" not in text
    else:
        assert "\x1b" not in text
    assert "\u202e" not in text and "Traceback" not in r.stderr
    assert "[bold red]Boss" in text                                # shown as text, not applied
    assert not any(line.startswith("SHA-256: 00") for line in text.splitlines())


@pytest.mark.parametrize("command", ["contacts", "calls"])
def test_hostile_people_strings_are_intact_in_json(case, command):
    rows = [json.loads(line) for line in run(case, command, "--json").stdout.splitlines()]
    assert EVIL in {r["name"] for r in rows}

