"""Messages found only in a phone database's unfinished transaction are never shown as ordinary.

The case is the trainer sample (seed 7): its phone's ``mmssms.db`` was left with a hot journal,
the phone having died while it saved three texts that had just arrived. Triage reports the
database's committed messages and those three flagged ``db_state: "uncommitted"`` (checked in
tests/training/test_hot_journal_case.py). Here: every place a person reads messages marks
exactly those three, in each item that holds the database (the phone image and its logical
extraction) — the ``messages`` table at a terminal and its compact lines in a pipe, the
``conversations`` counts, the timeline (CSV, JSON Lines, and the bundle's ``timeline.csv``)
and the bundle's HTML report. Which texts are uncommitted comes from the sample's generator,
not from the case."""
from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile

import pytest

from conftest import require_tools
from forensic.training.build import layout
from ptyrun import run_in_pty
from tests.cli.test_listings import _message_line, assert_fits, pipe, shown, table_rows

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
ITEMS = ("phone", "extraction")
SENT = "Message sent (uncommitted: found only in a database's unfinished transaction) in "


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def hot(tmp_path_factory):
    """The sample's phone image and logical extraction, triaged; the texts of the unfinished
    transaction and the database's committed ones, as the generator wrote them."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("uncommitted")
    sample, case = root / "sample", root / "case"
    assert _cli("sample-image", sample, "--seed", "7", "--quiet") == 0
    assert _cli("case", "init", case, "--case-id", "UNC-7", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", sample / "phone.raw", "--id", "phone", "--case", case, "--quiet") == 0
    assert _cli("evidence", "add", sample / "extraction.zip", "--id", "extraction", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") == 3            # the journal's warning
    hj = layout(7).hot_journal
    uncommitted = {m.body for m in hj.interrupted.chat.messages}
    committed = {m.body for chat in hj.committed for m in chat.messages}
    assert len(uncommitted) == 3 and not uncommitted & committed
    return {"root": root, "case": case, "uncommitted": uncommitted, "committed": committed,
            "other": hj.interrupted.chat.other}


def _messages(hot, *args) -> list[dict]:
    res = pipe("messages", "--case", hot["case"], "--json", *args, cwd=hot["root"])
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


# -- forensic messages ------------------------------------------------------------------------------

def test_pipe_lines_flag_exactly_the_uncommitted_messages(hot):
    rows = _messages(hot)
    res = pipe("messages", "--case", hot["case"], cwd=hot["root"])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == len(rows)
    flagged = []
    for line, m in zip(lines, rows, strict=True):
        text, item = line.rsplit("\t", 1)
        assert item == m["item"]
        old = _message_line(m)                   # the documented line, before U was added
        if m["body"] in hot["uncommitted"]:
            flagged.append((item, m["body"]))
            assert line.split(" ", 1)[0] == "---U" and text == "---U" + old[3:], line
        elif m.get("recovered") == "deleted":    # a deleted row recovered from free space: R
            assert line.split(" ", 1)[0] == "---R" and text == "---R" + old[3:], line
        else:                                    # every other line as it always was
            assert text == old, line
    assert sorted(flagged) == sorted((i, b) for i in ITEMS for b in hot["uncommitted"])


def test_terminal_table_flags_them_and_its_legend_says_what_U_means(hot):
    rows = _messages(hot)
    wide = run_in_pty(["messages", "--case", hot["case"]], cwd=hot["root"], columns=320)
    assert wide.code == 0, wide.output
    lines = shown(wide)
    cells = [c for c in table_rows(lines) if c[0] or c[1]]          # a row's first line (not a wrapped one)
    assert len(cells) == len(rows)
    for c, m in zip(cells, rows, strict=True):                       # the same message, in the same order
        extra = f"  (+{len(m['attachments'])} attachment(s))" if m["attachments"] else ""
        assert (c[5], c[6]) == ((m["body"] + extra).strip(), m["item"])
    marked = sorted((c[6], c[5]) for c in cells if "U" in c[0])
    assert marked == sorted((i, b) for i in ITEMS for b in hot["uncommitted"])
    recovered = sorted((c[6], c[5]) for c in cells if "R" in c[0])
    assert recovered == sorted((m["item"], m["body"]) for m in rows if m.get("recovered") == "deleted")
    legend = " ".join(lines[-3:])
    assert "U uncommitted: found only in a phone database's unfinished transaction" in legend
    narrow = run_in_pty(["messages", "--case", hot["case"], "--uncommitted"], cwd=hot["root"], columns=80)
    lines = shown(narrow)
    assert narrow.code == 0 and lines
    assert_fits(lines, 80)
    assert [c[0] for c in table_rows(lines) if c[1].startswith("20")] == ["U"] * 6
    assert any("U uncommitted" in line for line in lines)


def test_uncommitted_and_no_uncommitted_split_the_listing(hot, forensic):
    every = _messages(hot)
    only = _messages(hot, "--uncommitted")
    rest = _messages(hot, "--no-uncommitted")
    assert sorted((m["item"], m["body"]) for m in only) == sorted((i, b) for i in ITEMS for b in hot["uncommitted"])
    assert all(m["db_state"] == "uncommitted" for m in only)
    assert not any(m["body"] in hot["uncommitted"] for m in rest)
    assert sorted(m["record_id"] for m in only + rest) == sorted(m["record_id"] for m in every)
    # with the other filters, and a search
    found = _messages(hot, "--uncommitted", "--item", "phone", "--search", "policía")
    assert [m["body"] for m in found] == [b for b in hot["uncommitted"] if "policía" in b]
    assert not any(m["body"] in hot["uncommitted"] for m in _messages(hot, "--no-uncommitted", "--search", "policía"))
    res = forensic("messages", "--case", hot["case"], "--platform", "telegram", "--uncommitted")
    assert res.out == "" and "no messages matched --platform telegram --uncommitted" in res.err


# -- forensic conversations -------------------------------------------------------------------------

def test_conversations_count_the_uncommitted_messages(hot):
    res = pipe("conversations", "--case", hot["case"], "--json", cwd=hot["root"])
    convs = [json.loads(line) for line in res.stdout.splitlines()]
    counts = {(c["item"], c["platform"], c["title"]): c["uncommitted"] for c in convs}
    holding = {k: n for k, n in counts.items() if n}
    assert holding == {(i, "sms", hot["other"]): 3 for i in ITEMS}
    assert set(counts.values()) == {0, 3}
    lines = pipe("conversations", "--case", hot["case"], cwd=hot["root"]).stdout.splitlines()
    assert len(lines) == len(convs)
    for line, c in zip(lines, convs, strict=True):
        if c["uncommitted"]:
            assert line.endswith(f"] {c['conversation']}\t3 uncommitted"), line
        else:
            assert "\t" not in line and "uncommitted" not in line, line
    table = run_in_pty(["conversations", "--case", hot["case"]], cwd=hot["root"], columns=200)
    lines = shown(table)
    header = next(line for line in lines if "┃" in line)
    assert [h.strip() for h in header.split("┃")] == ["Platform", "Messages", "Uncommitted", "First", "Last",
                                                      "Title", "Conversation", "Item"]
    rows = [c for c in table_rows(lines) if c[0]]
    assert sorted((c[7], c[5], c[2]) for c in rows if c[2]) == sorted((i, hot["other"], "3") for i in ITEMS)
    assert any(line.startswith("Uncommitted: ") for line in lines)


# -- the timeline -----------------------------------------------------------------------------------

def _body(message: str, bodies: set[str]) -> str | None:
    """Which of ``bodies`` an event's message ends with, if any."""
    return next((b for b in bodies if message.endswith(": " + b)), None)


def _check_events(events: list[dict], hot, items=ITEMS) -> None:
    """Message events of the uncommitted texts say so in every field; no other event does."""
    marked = []
    for ev in events:
        if ev["record_type"] != "chat/message":
            assert "uncommitted" not in ev["message"] and not ev["db_state"]
            continue
        body = _body(ev["message"], hot["uncommitted"])
        if body is not None:
            marked.append((ev["item"], body))
            assert ev["timestamp_desc"] == "Message sent (uncommitted)"
            assert ev["message"] == f"{SENT}{hot['other']} by {hot['other']}: {body}"
            assert ev["db_state"] == "uncommitted"
        elif ev.get("recovered") == "deleted":       # a deleted row from free space says that instead
            assert ev["timestamp_desc"] == "Message sent (recovered deleted row)", ev
            assert "uncommitted" not in ev["message"] and not ev["db_state"], ev
        else:
            assert ev["timestamp_desc"] in ("Message sent", "Message edited"), ev
            assert "uncommitted" not in ev["message"], ev
            committed = _body(ev["message"], hot["committed"]) is not None
            assert ev["db_state"] in (("committed",) if committed else (None, "")), ev
    assert sorted(marked) == sorted((i, b) for i in items for b in hot["uncommitted"])


def test_timeline_csv_and_jsonl_mark_exactly_the_uncommitted_messages(hot, tmp_path):
    out = tmp_path / "timeline.csv"
    res = pipe("timeline", "--case", hot["case"], "--format", "csv", "--out", out, cwd=hot["root"])
    assert res.returncode == 0, res.stderr
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames[:4] == ["message", "datetime", "timestamp_desc", "timestamp"]
        assert reader.fieldnames[-2:] == ["db_state", "recovered"]
        _check_events(list(reader), hot)
    res = pipe("timeline", "--case", hot["case"], "--json", cwd=hot["root"])
    _check_events([json.loads(line) for line in res.stdout.splitlines()], hot)
    table = run_in_pty(["timeline", "--case", hot["case"]], cwd=hot["root"], columns=300)
    events = [c[3] for c in table_rows(shown(table)) if len(c) == 4]
    assert sorted(_body(e, hot["uncommitted"]) for e in events if e.startswith(SENT)) == \
        sorted(b for _ in ITEMS for b in hot["uncommitted"])
    assert sum(1 for e in events if "uncommitted" in e) == 3 * len(ITEMS)


# -- the bundle ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundle(hot):
    path = hot["root"] / "messages.zip"
    assert _cli("export", "--case", hot["case"], "--out", path, "--type", "messages", "--item", "extraction",
                "--quiet") == 0
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        read = lambda tail: z.read(next(n for n in names if n.endswith(tail))).decode("utf-8")   # noqa: E731
        return {"timeline": read("data/timeline.csv"), "report": read("data/report/index.html"),
                "messages": [json.loads(line) for line in read("data/messages.jsonl").splitlines()],
                "graph": json.loads(read("data/case.jsonld"))}


def test_bundle_timeline_csv_marks_exactly_the_uncommitted_messages(hot, bundle):
    rows = list(csv.DictReader(io.StringIO(bundle["timeline"], newline="")))
    assert rows and all(r["item"] == "extraction" for r in rows)
    _check_events(rows, hot, items=("extraction",))


def _report_messages(report: str) -> list[tuple[bool, bool, str]]:
    """Each message of the report's Conversations section: (styled uncommitted, labelled
    UNCOMMITTED beside it, its body)."""
    chats = report[report.index('<section id="chats">'):]
    chats = chats[:chats.index("</section>")]
    out = []
    for block in re.findall(r'<div class="msg[^"]*">.*?<div class="cite">', chats, re.S):
        meta = re.search(r'<div class="meta">(.*?)</div>', block, re.S).group(1)
        body = re.search(r'<div class="body">(.*?)</div>', block, re.S).group(1)
        out.append((block.startswith('<div class="msg uncommitted">'), ">UNCOMMITTED</a>" in meta,
                    html.unescape(body)))
    return out


def test_report_labels_exactly_the_uncommitted_messages_and_says_once_what_that_means(hot, bundle):
    report = bundle["report"]
    shown_ = _report_messages(report)
    assert len(shown_) == len(bundle["messages"])
    labelled = sorted(body for styled, label, body in shown_ if styled or label)
    assert labelled == sorted(hot["uncommitted"])
    assert all(styled == label for styled, label, _ in shown_)
    # said once, at the top of the conversations, and pointed to from each label
    assert report.count('id="uncommitted"') == 1
    assert report.count("was found only in a phone database's unfinished transaction") == 1
    note = report.index('id="uncommitted"')
    assert report.index('<section id="chats">') < note < report.index('<div class="conv">')
    assert report.count('<a class="unc" href="#uncommitted"') == 3 + 3 + 1   # messages, timeline, limitations
    # the timeline table: the label beside exactly those events
    timeline = report[report.index('<section id="timeline">'):]
    timeline = timeline[:timeline.index("</section>")]
    rows = re.findall(r"<tr><td>.*?</tr>", timeline, re.S)
    cells = [[html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", r, re.S)] for r in rows]
    marked = [_body(c[2], hot["uncommitted"]) for c in cells if ">UNCOMMITTED</a>" in c[1]]
    assert sorted(marked) == sorted(hot["uncommitted"])
    assert sum(1 for c in cells if "uncommitted" in c[2]) == 3
    assert "3 uncommitted" in report[:report.index('<section id="items">')]      # the contents line


def test_a_bundle_of_committed_messages_only_marks_none(hot):
    """The database's committed messages, exported without the uncommitted ones: ordinary
    messages in the report, ``committed`` in the timeline's db_state, no note."""
    path = hot["root"] / "committed-only.zip"
    assert _cli("export", "--case", hot["case"], "--out", path, "--type", "messages", "--item", "phone",
                "--from", "2025-01-16", "--to", "2025-01-22", "--quiet") == 0
    with zipfile.ZipFile(path) as z:
        read = lambda tail: z.read(next(n for n in z.namelist() if n.endswith(tail))).decode("utf-8")  # noqa: E731
        report, timeline = read("data/report/index.html"), read("data/timeline.csv")
    rows = list(csv.DictReader(io.StringIO(timeline, newline="")))
    states = {r["db_state"] for r in rows if _body(r["message"], hot["committed"])}
    assert states == {"committed"}
    _check_events(rows, hot, items=())
    shown_ = _report_messages(report)
    assert {body for _, _, body in shown_} >= hot["committed"]
    assert not any(styled or label for styled, label, _ in shown_)
    # (the database's warning, under Limitations, still names the uncommitted state it was read with)
    assert "UNCOMMITTED" not in report and 'id="uncommitted"' not in report and "msg uncommitted" not in report
    assert "unfinished transaction" not in report


def test_case_jsonld_says_which_messages_are_uncommitted(hot, bundle):
    nodes = bundle["graph"]["@graph"]
    messages = [n for n in nodes if n.get("@type") == "observable:Message"]
    marked = [n for n in messages if "(uncommitted: found only" in n.get("core:description", "")]
    uncommitted = [m for m in bundle["messages"] if m["fields"].get("db_state") == "uncommitted"]
    assert uncommitted and len(marked) == len(uncommitted)
    assert len(messages) > len(marked)
