"""Deleted message rows recovered from a phone database's free space are never shown as
ordinary messages: ``forensic messages --recovered/--no-recovered`` split the listing, the
timeline (JSON Lines, CSV, a bundle's timeline.csv) says "(recovered deleted row)" with a
``recovered`` field, and a bundle's report labels them RECOVERED and says once what that
means. The case: a folder item holding a WhatsApp msgstore.db (current schema) built with 120
messages of which 14 were deleted (tests/extractors/chat/test_whatsapp_db_recover.py). Also:
every platform the chat extractors write is a known ``--platform``, and ``--geotagged`` takes
no 0/0 position."""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from forensic.cli.commands.chats import PLATFORMS
from tests.extractors.chat.test_whatsapp_db_recover import build_msgstore

RECOVERED_DESC = "Message sent (recovered deleted row)"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from forensic.cli.main import main
    root = tmp_path_factory.mktemp("recovered")
    dbs = root / "phone" / "data" / "data" / "com.whatsapp" / "databases"
    dbs.mkdir(parents=True)
    msgs, gone = build_msgstore(dbs / "msgstore.db")
    case = root / "case"
    assert main(["case", "init", str(case), "--case-id", "REC-1", "--examiner", "E", "--quiet"]) == 0
    assert main(["evidence", "add", str(root / "phone"), "--case", str(case), "--id", "phone", "--quiet"]) == 0
    assert main(["triage", "--case", str(case), "--quiet"]) == 3           # the recovery warning
    return {"case": case, "root": root, "msgs": msgs, "gone": gone}


def test_recovered_and_no_recovered_split_the_listing(forensic, case):
    every = forensic("messages", "--case", case["case"], "--json").jsonl()
    only = forensic("messages", "--case", case["case"], "--recovered", "--json").jsonl()
    none = forensic("messages", "--case", case["case"], "--no-recovered", "--json").jsonl()
    assert len(only) >= 10 and len(none) == 120 - len(case["gone"])
    assert all(m["recovered"] == "deleted" and m["source"]["in"] and m["source"]["offset"] for m in only)
    assert not any(m.get("recovered") for m in none)
    assert sorted(m["record_id"] for m in every) == sorted(m["record_id"] for m in only + none)
    ids = {int(m["body"].split()[1]) for m in only}
    assert ids <= set(case["gone"])
    # combined with the other filters (a search, a limit: compact lines flagged R)
    res = forensic("messages", "--case", case["case"], "--recovered", "--search", "message", "--limit", "3")
    assert len(res.out.splitlines()) == 3 and all(line[:4].endswith("R") for line in res.out.splitlines())
    res = forensic("messages", "--case", case["case"], "--recovered", "--no-uncommitted", "--json")
    assert len(res.jsonl()) == len(only)


def _check(events: list[dict], gone: list[int]) -> int:
    """Recovered rows' events say so (desc, message, field); no other event does."""
    n = 0
    for ev in events:
        if ev["record_type"] != "chat/message":
            assert not ev.get("recovered") and "recovered" not in ev["timestamp_desc"]
            continue
        number = int(re.search(r": message (\d+) z*$", ev["message"]).group(1))
        if ev["recovered"] == "deleted":
            n += 1
            assert number in gone
            assert ev["timestamp_desc"] == RECOVERED_DESC
            assert ev["message"].startswith("Message sent (recovered deleted row: found in a database's free "
                                            "space) in "), ev
        else:
            assert ev["recovered"] in (None, "") and ev["timestamp_desc"] == "Message sent" and number not in gone
            assert "recovered" not in ev["message"]
    return n


def test_timeline_marks_exactly_the_recovered_rows(forensic, case, tmp_path):
    only = forensic("messages", "--case", case["case"], "--recovered", "--json").jsonl()
    events = forensic("timeline", "--case", case["case"], "--json").jsonl()
    assert _check(events, case["gone"]) == len(only)
    forensic("timeline", "--case", case["case"], "--format", "csv", "--out", tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames[-2:] == ["db_state", "recovered"]
        assert _check(list(reader), case["gone"]) == len(only)


def test_bundle_timeline_and_report_label_the_recovered_rows(forensic, case, tmp_path):
    only = forensic("messages", "--case", case["case"], "--recovered", "--json").jsonl()
    path = tmp_path / "b.zip"
    forensic("export", "--case", case["case"], "--out", path, "--type", "messages", "--quiet")
    with zipfile.ZipFile(path) as z:
        # the text members (data/evidence/ holds the messages' source databases, data/report/ a PDF too)
        read = {n.split("/data/", 1)[1]: z.read(n).decode("utf-8") for n in z.namelist()
                if "/data/" in n and "/data/evidence/" not in n and not n.endswith(".pdf")}
    rows = list(csv.DictReader(io.StringIO(read["timeline.csv"], newline="")))
    assert _check(rows, case["gone"]) == len(only)
    bundled = [json.loads(line) for line in read["messages.jsonl"].splitlines()]
    assert sum(m["fields"].get("recovered") == "deleted" for m in bundled) == len(only)
    report = read["report/index.html"]
    chats = report[report.index('<section id="chats">'):]
    chats = chats[:chats.index("</section>")]
    blocks = re.findall(r'<div class="msg[^"]*">.*?<div class="cite">', chats, re.S)
    labelled = [b for b in blocks if ">RECOVERED</a>" in b]
    assert len(labelled) == len(only) and all('class="msg recovered"' in b for b in labelled)
    assert not any('recovered"' in b[:40] for b in blocks if b not in labelled)
    assert report.count('id="recovered"') == 1                      # said once, pointed to by every label
    assert report.count('<a class="rec" href="#recovered"') == len(only) * 2 + 1   # messages, timeline, limitations
    assert f"{len(only)} recovered deleted rows" in report


def test_every_platform_the_chat_extractors_write_is_known(forensic, case):
    here = Path(__file__).resolve().parents[2] / "extractors" / "chat"
    written = {m for p in here.glob("*.py") for m in re.findall(r'platform="([a-z-]+)"', p.read_text("utf-8"))}
    written |= {"messenger", "instagram"}                  # facebook_json: a variable
    assert written and written <= set(PLATFORMS), written - set(PLATFORMS)
    res = forensic("messages", "--help")
    for name in ("viber", "google-messages", "kik", "skype", "line", "snapchat", "signal"):
        assert name in res.out
    forensic("messages", "--case", case["case"], "--platform", "Google-Messages")      # known even when absent
    res = forensic("messages", "--case", case["case"], "--platform", "snapchatt", expect=2)
    assert "did you mean 'snapchat'" in res.err


def test_geotagged_takes_no_zero_zero_position(forensic, tmp_path):
    """A Telegram export keeps the position it gives; 0/0 (no fix) is no geotag to --geotagged,
    as to forensic geo."""
    export = {"name": "Ops", "type": "personal_chat", "id": 7, "messages": [
        {"id": 1, "type": "message", "date": "2021-03-14T21:06:00", "date_unixtime": "1615752360", "from": "A",
         "from_id": "user1", "text": "", "location_information": {"latitude": 40.4168, "longitude": -3.7038}},
        {"id": 2, "type": "message", "date": "2021-03-14T21:07:00", "date_unixtime": "1615752420", "from": "A",
         "from_id": "user1", "text": "", "location_information": {"latitude": 0, "longitude": 0}},
        {"id": 3, "type": "message", "date": "2021-03-14T21:08:00", "date_unixtime": "1615752480", "from": "A",
         "from_id": "user1", "text": "plain"}]}
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "result.json").write_text(json.dumps(export), encoding="utf-8")
    c = tmp_path / "case"
    forensic("case", "init", c, "--case-id", "G0", "--examiner", "E")
    forensic("evidence", "add", tmp_path / "ev", "--case", c, "--id", "ev")
    forensic("triage", "--case", c, expect=None)
    msgs = forensic("messages", "--case", c, "--json").jsonl()
    assert sum(1 for m in msgs if m.get("location")) == 2                 # the record keeps 0/0 as given
    rows = forensic("tag", "add", "--case", c, "--tag", "where", "--geotagged", "--json").jsonl()
    assert len(rows) == 1 and rows[0]["kind"] == "message"
    geo = forensic("geo", "--case", c, "--json").jsonl()
    assert len(geo) == 1


def test_time_helpers_are_public_and_a_recovered_contact_is_flagged():
    from datetime import datetime, timezone

    from forensic.cli.commands import people
    from forensic.cli.common import table_time, time_bound
    from forensic.errors import UsageError
    assert time_bound("2021-03-14", True, "--to") == datetime(2021, 3, 14, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert time_bound("2021-03-14T21:00+01:00", False, "--from").utcoffset().total_seconds() == 3600
    with pytest.raises(UsageError, match="--since 'soon'"):
        time_bound("soon", False, "--since")
    assert table_time("2021-03-14T21:00:00Z") == "2021-03-14 21:00:00Z" and table_time(None) == "?"
    assert people._contact_flags({"corrupted": False, "recovered": "deleted"}) == "R"
    assert "R recovered" in people.CONTACTS_LEGEND
