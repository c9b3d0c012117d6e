"""Every WhatsApp message keeps its sender.

One group chat written here eight ways (Android/iOS x 12/24-hour x English/German), with
texts that begin with U+200E (iOS writes one before some texts), attachments, omitted media,
a deleted message, a shared location, multi-line texts and system lines. The rule under test:
a header that names a sender ('Name:') always keeps it; only a line with no 'Name:' part is a
system line. Then the same count over every WhatsApp text export of the corpus, made by an
independent regex, and the edge cases: an impossible 12-hour hour, text before a broken
first header, iOS's notices under the chat's name.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat import whatsapp_text as wt
from forensic.extractors.chat.whatsapp_txt import LOCATION_SOURCE, WhatsAppTxtExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from tests.conftest import corpus_dir

LRM, NNBSP = "\u200e", "\u202f"
EX = WhatsAppTxtExtractor()
PHONE = "+49 151 2345678"

# The chat: ('msg', sender, text or a (kind, arg) tuple) and ('sys', what). Kinds: 'lrm' (a
# text that begins with U+200E), 'attach' (a photo file), 'omitted' (a photo left out),
# 'deleted', 'location' (lat, lon). Dave writes only texts that begin with U+200E.
EVENTS: list[tuple] = [
    ("sys", "encrypted"),
    ("sys", "added"),
    ("msg", "Alice", "Hi all, the trip is on"),
    ("msg", "Bob", ("lrm", "No idea, lets try it out!")),
    ("msg", "Alice", ("attach", 12)),
    ("msg", "Carol", "Note: meet at 5"),
    ("msg", "Dave", ("lrm", "Count me in")),
    ("msg", "Bob", "first line\nsecond line\n\nfourth line"),
    ("msg", "Alice", ("omitted", None)),
    ("msg", PHONE, "who is this group?"),
    ("msg", "Carol", ("lrm", "Alice: said that already")),
    ("msg", "Bob", ("deleted", None)),
    ("sys", "subject"),
    ("msg", "Alice", ("location", (51.5021456, -0.127397))),
    ("msg", "Dave", ("lrm", "Messages are fun")),
    ("msg", "Bob", "ok"),
    ("msg", "Carol", ("attach", 13)),
    ("msg", "Alice", "see\nyou"),
    ("msg", PHONE, ("lrm", "Ich bin's")),
    ("msg", "Bob", ("omitted", None)),
    ("msg", "Alice", "What time?"),
    ("msg", "Carol", "5 pm: at the station"),
    ("msg", "Bob", ("lrm", "image omitted is what I see")),
    ("msg", "Alice", "Great"),
    ("msg", "Dave", ("lrm", "Sure thing")),
    ("msg", "Carol", ("attach", 14)),
    ("msg", "Bob", "line one\nline two"),
    ("msg", "Alice", "😀"),
    ("msg", PHONE, "bye"),
    ("sys", "left"),
    ("msg", "Carol", ("lrm", "He left")),
    ("msg", "Alice", ("deleted", None)),
    ("msg", "Bob", "https://example.org/a?b=c"),
    ("msg", "Carol", "Re: plans"),
    ("msg", "Alice", ("lrm", "Done")),
    ("msg", "Bob", ("omitted", None)),
    ("msg", "Carol", "x"),
    ("msg", "Alice", ("attach", 15)),
    ("msg", "Dave", ("lrm", "Location: unknown")),
    ("msg", "Bob", "end"),
    ("msg", "Carol", ("lrm", "ok\nsecond")),
    ("msg", "Alice", "last one"),
    ("msg", "Bob", ("location", (-33.8688, 151.2093))),
    ("msg", "Carol", "good night"),
    ("msg", "Dave", ("lrm", "Double check")),
    ("msg", PHONE, ("attach", 16)),
]
SENDERS = [e[1] for e in EVENTS if e[0] == "msg"]
assert len(SENDERS) == 42
START = datetime(2018, 1, 29, 22, 49, 3)  # noqa: DTZ001  (a wall-clock time, as the export writes it)

SYSTEM_TEXT = {
    "en": {"encrypted": "Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
                        "WhatsApp, can read or listen to them.",
           "added": "Alice added Bob", "subject": "Alice changed the subject to “Trip”", "left": "Dave left"},
    "de": {"encrypted": "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb des Chats kann "
                        "sie lesen oder anhören, nicht einmal WhatsApp.",
           "added": "Alice hat Bob hinzugefügt", "subject": "Alice hat den Betreff zu „Ausflug“ geändert",
           "left": "Dave hat die Gruppe verlassen"},
}
WORDS = {"en": {"omitted_ios": "image omitted", "omitted_android": "<Media omitted>", "attached": "attached",
                "file_attached": "file attached", "deleted": "This message was deleted", "location": "Location"},
         "de": {"omitted_ios": "Bild weggelassen", "omitted_android": "<Medien ausgeschlossen>", "attached": "Anhang",
                "file_attached": "Datei angehängt", "deleted": "Diese Nachricht wurde gelöscht",
                "location": "Standort"}}
VARIANTS = [(p, c, lang) for p in ("android", "ios") for c in (12, 24) for lang in ("en", "de")]


def _time(at: datetime, platform: str, clock: int, lang: str) -> str:
    date = at.strftime("%d.%m.%y" if lang == "de" else "%d/%m/%Y")
    if clock == 24:
        hm = at.strftime("%H:%M")
    else:
        h = at.hour % 12 or 12
        if lang == "de":
            marker = f"{NNBSP}{'nachm.' if at.hour >= 12 else 'vorm.'}"
        else:
            marker = f"{NNBSP}{'PM' if at.hour >= 12 else 'AM'}"
        hm = f"{h}:{at.minute:02d}"
        if platform == "ios":
            return f"{date}, {hm}:{at.second:02d}{marker}"
        return f"{date}, {hm}{marker}"
    return f"{date}, {hm}:{at.second:02d}" if platform == "ios" else f"{date}, {hm}"


def _when(i: int) -> datetime:
    return START + timedelta(minutes=37 * i, seconds=i)


def export(platform: str, clock: int, lang: str) -> str:
    """The chat as WhatsApp on ``platform`` writes it with the phone's clock and language."""
    ios = platform == "ios"
    w = WORDS[lang]
    out = []
    for i, ev in enumerate(EVENTS):
        at = _when(i)
        stamp = _time(at, platform, clock, lang)
        if ev[0] == "sys":
            text = SYSTEM_TEXT[lang][ev[1]]
            # iOS: a mark before the bracket and one before the generated text, no 'Name:'
            out.append(f"{LRM}[{stamp}] {LRM}{text}" if ios else f"{stamp} - {text}")
            continue
        _, sender, body = ev
        lead = LRM if ios and isinstance(body, tuple) and body[0] in ("attach", "omitted", "deleted") else ""
        if isinstance(body, tuple):
            kind, arg = body
            if kind == "lrm":
                body = LRM + arg
            elif kind == "attach":
                name = (f"000000{arg}-PHOTO-{at:%Y-%m-%d-%H-%M-%S}.jpg" if ios
                        else f"IMG-{at:%Y%m%d}-WA00{arg}.jpg")
                body = f"{LRM}<{w['attached']}: {name}>" if ios else f"{name} ({w['file_attached']})"
            elif kind == "omitted":
                body = f"{LRM}{w['omitted_ios']}" if ios else w["omitted_android"]
            elif kind == "deleted":
                body = f"{LRM}{w['deleted']}." if ios else w["deleted"]
            elif kind == "location":
                body = f"{LRM}{w['location']}: https://maps.google.com/?q={arg[0]},{arg[1]}"
        who = f"\u202a{sender}\u202c" if sender == PHONE and ios else sender
        out.append(f"{lead}[{stamp}] {who}: {body}" if ios else f"{stamp} - {who}: {body}")
    return "\r\n".join(out) + "\r\n" if ios else "\n".join(out) + "\n"


def run(text: str, name: str = "_chat.txt"):
    data = text.encode("utf-8")
    item = ExtractorInput(path=f"/export/{name}", name=name, mime="text/plain", size=len(data), data=data)
    out = list(EX.extract(item))
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


@pytest.mark.parametrize("platform,clock,lang", VARIANTS, ids=[f"{p}-{c}h-{g}" for p, c, g in VARIANTS])
def test_every_sender_kept_in_every_variant(platform, clock, lang):
    text = export(platform, clock, lang)
    assert EX.accepts("/export/_chat.txt", "text/plain", text.encode()[:4096])
    records, warnings = run(text)
    assert warnings == []
    assert len(records) == len(EVENTS) and not any(r.corrupted or r.warnings for r in records)
    fields = [r.fields for r in records]
    assert [f["sender"] for f in fields if f["sender"] is not None] == SENDERS
    for i, (ev, f, rec) in enumerate(zip(EVENTS, fields, records, strict=True)):
        assert f["system"] is (ev[0] == "sys")
        if ev[0] == "sys":
            assert f["sender"] is None and f["body"] == SYSTEM_TEXT[lang][ev[1]]
        else:
            assert f["sender"] == ev[1] and not f.get("app_notice")
        want = _when(i) if platform == "ios" else _when(i).replace(second=0)
        assert rec.timestamps[0].local == want
    assert set(fields[0]["participants"]) == {"Alice", "Bob", "Carol", "Dave", PHONE}
    by_kind: dict[str, list[dict]] = {}
    for ev, f in zip(EVENTS, fields, strict=True):
        if ev[0] == "msg":
            kind = ev[2][0] if isinstance(ev[2], tuple) else "text"
            by_kind.setdefault(kind, []).append(f)
            if kind in ("text", "lrm"):
                want = ev[2] if kind == "text" else ev[2][1]
                assert f["body"] == want
    assert all(len(f["attachments"]) == 1 and f["attachments"][0]["name"].endswith(".jpg")
               for f in by_kind["attach"])
    assert all(f["media_omitted"] and not f["attachments"] for f in by_kind["omitted"])
    assert all(f["deleted"] for f in by_kind["deleted"])
    assert [f["location"] for f in by_kind["location"]] == [
        {"latitude": 51.5021456, "longitude": -0.127397, "source": LOCATION_SOURCE},
        {"latitude": -33.8688, "longitude": 151.2093, "source": LOCATION_SOURCE}]
    assert not any(f["deleted"] or f["media_omitted"] for f in by_kind["lrm"] + by_kind["text"])
    multi = [f for f in by_kind["text"] if "\n" in f["body"]]
    assert [f["body"] for f in multi] == ["first line\nsecond line\n\nfourth line", "see\nyou", "line one\nline two"]
    assert multi[0]["source"]["line_end"] == multi[0]["source"]["line"] + 3
    # the fast paths read it as the line-by-line reference does
    assert wt.parse_text(text) == wt.parse_text(text, fast=False)


# -- the corpus: messages with a sender = header lines with a 'Name:' part ----------------------

_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\ufeff"
_SP = " \u202f\u00a0"
# a header, read as simply as possible: iOS '[date, time] ', Android 'date, time - '
_IOS = re.compile(rf"^[{_MARKS}]*\[(?P<dt>[^\]\n]{{6,40}})\][{_SP}]?(?P<rest>.*)")
# (a damaged time too: '3:22_AM' is no header, but its 'Name:' still names the sender)
_ANDROID = re.compile(rf"^[{_MARKS}]*\d{{1,4}}[./\-]\d{{1,2}}[./\-]\d{{1,4}}\.?,?(?: à)?[{_SP}]\d{{1,2}}[:.]\d"
                      rf"[^-–\n\]]{{0,24}}?(?:[{_SP}][-–][{_SP}]|:[{_SP}])(?P<rest>.*)")
# its 'Name:' part: up to 100 characters with no colon before ': ' (or the line's end), and no
# quotation left open (a ': ' inside quotes is in a system line's quoted text)
_NAME = re.compile(rf'^[{_MARKS}~{_SP}]*(?P<name>[^:\n]{{1,100}}):(?: |$)')


def _named_headers(text: str) -> int:
    n = 0
    for line in wt.lines_of(text):
        m = _IOS.match(line) or _ANDROID.match(line)
        if m is None or (m.re is _IOS and not re.search(r"\d[:.]\d", unicodedata.normalize("NFKC", m["dt"]))):
            continue
        name = _NAME.match(m["rest"])
        if (name and name["name"].strip(_MARKS + _SP + "~") and name["name"].count('"') % 2 == 0
                and name["name"].count("“") <= name["name"].count("”")):
            n += 1
    return n


def _corpus_exports() -> list[Path]:
    root = corpus_dir()
    if root is None:
        return []
    return [p for p in sorted((root / "chats").rglob("*.txt"))
            if p.name not in ("discord_chat.txt", "empty.txt")]


CORPUS = _corpus_exports()


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS, reason="third-party corpus not present (set FORENSIC_CORPUS)")
@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.name}" for p in CORPUS])
def test_corpus_every_named_header_keeps_its_sender(path):
    data = path.read_bytes()
    records, _ = run(data.decode("utf-8-sig", "replace"), path.name)
    named = _named_headers(data.decode("utf-8-sig", "replace"))
    assert named > 0
    # every named header keeps its name: as the sender, or (an iOS app notice under the
    # chat's name, a system line as in the Android export) as the notice's actor
    assert sum(1 for r in records if r.fields["sender"] or r.fields.get("actor")) == named
    assert not any(r.fields["system"] and r.fields["sender"] for r in records)


# -- edge cases ----------------------------------------------------------------------------------

def test_ios_notice_under_the_chat_name_is_a_system_line_that_keeps_the_name():
    text = (f"[3/18/22, 14:56:01] Elon Musk: {LRM}Messages and calls are end-to-end encrypted. No one outside "
            "of this chat, not even WhatsApp, can read or listen to them.\n"
            "[3/27/22, 21:41:35] Dmitry S: Hello World\n"
            f"[4/28/22, 20:17:30] Elon Musk: {LRM}{LRM}Your security code with Elon changed. {LRM}Tap to learn more.\n"
            f"[4/28/22, 20:18:00] Elon Musk: {LRM}No idea, lets try it out!\n")
    records, warnings = run(text)
    assert warnings == []
    f = [r.fields for r in records]
    assert [x["sender"] for x in f] == [None, "Dmitry S", None, "Elon Musk"]
    assert [x.get("actor") for x in f] == ["Elon Musk", None, "Elon Musk", None]
    assert [x.get("app_notice", False) for x in f] == [True, False, True, False]
    assert [x["system"] for x in f] == [True, False, True, False]
    assert f[0]["participants"] == ["Dmitry S", "Elon Musk"]
    assert f[3]["body"] == "No idea, lets try it out!"


def test_a_name_seen_only_on_app_notices_is_an_actor_but_no_participant():
    text = (f"[1/29/18, 23:49:03] Trip 2018: {LRM}Messages and calls are end-to-end encrypted.\n"
            f"[1/29/18, 23:49:04] {LRM}Alice added Bob\n"
            "[1/29/18, 23:50:00] Alice: hi\n"
            f"[1/29/18, 23:51:00] Bob: {LRM}hi back\n")
    records, _ = run(text)
    f = [r.fields for r in records]
    assert [x["sender"] for x in f] == [None, None, "Alice", "Bob"]
    assert f[0]["actor"] == "Trip 2018"
    assert [x["system"] for x in f] == [True, True, False, False]
    assert f[1]["body"] == "Alice added Bob"
    assert f[2]["participants"] == ["Alice", "Bob"]


@pytest.mark.parametrize("line,hour", [("12/31/20, 23:59 PM - Bob: hi", 23),
                                       ("[31/12/2020, 13:05:09 AM] Bob: hi", 13),
                                       ("31.12.20, 14:30\u202fnachm. - Bob: hi", 14)])
def test_impossible_12_hour_header_is_kept_literal_and_flagged(line, hour):
    text = f"{line}\n12/31/20, 11:00 PM - Ann: fine\n" if line[0] == "1" else f"{line}\n"
    records, warnings = run(text)
    first = records[0]
    assert first.fields["sender"] == "Bob" and first.fields["body"] == "hi" and not first.corrupted
    local = first.timestamps[0].local
    assert (local.hour, local.date()) == (hour, datetime(2020, 12, 31).date())  # noqa: DTZ001
    assert first.fields["sent_at"].startswith(f"2020-12-31T{hour:02d}:")
    assert len(first.warnings) == 1 and first.warnings[0].startswith("impossible 12-hour time")
    assert f"literal 24-hour time {hour:02d}:" in first.warnings[0]
    assert first.timestamps[0].raw == first.fields["raw_time"]
    assert all(not r.warnings for r in records[1:])
    assert wt.parse_text(text) == wt.parse_text(text, fast=False)


def test_text_before_a_broken_first_header_is_kept():
    text = ("exported by a tool\nsecond preamble line\n"
            "31/12/2020, 21:5 - Bob: broken header\n"
            "31/12/2020, 22:00 - Ann: fine\n")
    records, _ = run(text)
    bodies = [r.fields["body"] for r in records]
    assert bodies[0] == "exported by a tool\nsecond preamble line" and records[0].corrupted
    assert records[1].corrupted and bodies[1] == "31/12/2020, 21:5 - Bob: broken header"
    assert records[1].fields["sender"] == "Bob"          # its time is unreadable, its sender is not
    assert records[1].warnings == ("line starts with a date and time but is not a message header; "
                                   "sender 'Bob' read from the text after it",)
    assert records[2].fields["sender"] == "Ann" and not records[2].corrupted
    c = wt.parse_text(text).counts
    assert (c.preamble_lines, c.corrupt_lines, c.message_lines) == (2, 1, 1)
    assert wt.parse_text(text) == wt.parse_text(text, fast=False)


@pytest.mark.parametrize("body,where", [
    ("location: https://maps.google.com/?q=48.8584,2.2945", (48.8584, 2.2945)),
    ("Standort: https://maps.google.com/maps?q=-33.8568,151.2153", (-33.8568, 151.2153)),
    ("https://maps.google.com/?q=40.6892%2C-74.0445 here", (40.6892, -74.0445)),
    ("location: https://maps.google.com/?q=95.1,2.2", None),           # no such latitude
    ("location: https://maps.google.com/?q=10.1,200.2", None),         # no such longitude
    ("see https://example.org/?q=1,2", None),
])
def test_shared_location_in_the_shared_shape(body, where):
    records, warnings = run(f"14/03/2021, 21:06 - Ann: {body}\n14/03/2021, 21:07 - Bob: ok\n")
    assert warnings == []
    f = records[0].fields
    assert f["sender"] == "Ann" and f["body"] == body
    if where is None:
        assert "location" not in f
    else:
        assert f["location"] == {"latitude": where[0], "longitude": where[1], "source": LOCATION_SOURCE}
        assert all(isinstance(f["location"][k], float) for k in ("latitude", "longitude"))


def test_quotes_in_a_name_and_in_a_system_line():
    text = ('14/03/2021, 21:05 - Alice changed the subject from "Old" to "New: plan"\n'
            '14/03/2021, 21:06 - Bob "Bobby" B: hi\n'
            "14/03/2021, 21:07 - Alice changed the subject to “Plan: B”\n"
            "14/03/2021, 21:08 - Alice: ok\n")
    records, warnings = run(text)
    assert warnings == []
    assert [(r.fields["sender"], r.fields["system"]) for r in records] == [
        (None, True), ('Bob "Bobby" B', False), (None, True), ("Alice", False)]
    assert records[1].fields["participants"] == ['Bob "Bobby" B', "Alice"]
    assert wt.parse_text(text) == wt.parse_text(text, fast=False)
