"""Telegram Desktop and Messenger/Instagram JSON exports, from the minimal to the full.

Minimal exports carry only what a message needs (Telegram: ``date_unixtime``, ``from``,
``text``; Messenger/Instagram: ``sender_name``, ``timestamp_ms``, ``content``): they are
recognised by their content and read. The full Telegram export keeps service messages,
forwards, replies, edits, media, locations, contacts, polls and text entities.
"""
from __future__ import annotations

import json

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.facebook_json import FacebookJsonExtractor
from forensic.extractors.chat.telegram_json import LOCATION_SOURCE, TelegramJsonExtractor
from forensic.extractors.chat.whatsapp_txt import WhatsAppTxtExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

TG = TelegramJsonExtractor()
FB = FacebookJsonExtractor()
EXTRACTORS = (TG, FB, WhatsAppTxtExtractor())


def run(ex, doc, path: str, **options):
    data = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
    item = ExtractorInput(path=path, name=path.rsplit("/", 1)[-1], mime="application/json", size=len(data),
                          data=data, options=options or None)
    out = list(ex.extract(item))
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def takers(doc, path: str) -> list[str]:
    data = json.dumps(doc, ensure_ascii=False).encode()
    return [ex.NAME for ex in EXTRACTORS if ex.accepts(path, "application/json", data[:65536])]


# -- Telegram ---------------------------------------------------------------------------------

MINIMAL_TG = {"messages": [
    {"date_unixtime": "1615752360", "from": "Boss", "text": "Pick up at six"},
    {"date_unixtime": "1615752420", "from": "Maria",
     "text": ["Where? ", {"type": "bold", "text": "Gate 4"}, " see ",
              {"type": "text_link", "text": "map", "href": "https://maps.example/g4"}]},
    {"date_unixtime": "1615752480", "from": "Boss", "text": ""},
]}


def test_minimal_telegram_is_recognised_and_read():
    assert takers(MINIMAL_TG, "/pc/dump.json") == ["telegram_json"]
    records, warnings = run(TG, MINIMAL_TG, "/pc/dump.json")
    assert warnings == [] and len(records) == 3 and not any(r.corrupted or r.warnings for r in records)
    m1, m2, m3 = (r.fields for r in records)
    assert (m1["sender"], m1["body"], m1["system"]) == ("Boss", "Pick up at six", False)
    assert m1["sent_at_utc"] == "2021-03-14T20:06:00Z" and m1["tz_known"] is True and m1["tz_source"] == "utc"
    assert m1["time_field"] == "date_unixtime" and m1["date_raw"] is None
    assert records[0].timestamps[0].raw == "1615752360"
    assert m1["participants"] == ["Boss", "Maria"] and m1["recipients"] == ["Maria"]
    assert "text_entities" not in m1
    assert m2["body"] == "Where? Gate 4 see map"
    assert m2["text_entities"] == [{"type": "plain", "text": "Where? "}, {"type": "bold", "text": "Gate 4"},
                                   {"type": "plain", "text": " see "},
                                   {"type": "text_link", "text": "map", "href": "https://maps.example/g4"}]
    assert m3["sender"] == "Boss" and m3["body"] == ""
    assert m1["conversation"]["id"] == "/pc/dump.json#/"


def test_minimal_telegram_with_only_local_dates_is_flagged_and_keeps_the_raw_value():
    doc = {"messages": [{"date": "2021-03-14T21:06:00", "from": "Boss", "text": "hi"}]}
    assert takers(doc, "/pc/r.json") == ["telegram_json"]
    records, warnings = run(TG, doc, "/pc/r.json")
    f = records[0].fields
    assert warnings == [] and not records[0].corrupted
    assert f["sent_at"] == "2021-03-14T21:06:00" and f["sent_at_utc"] is None and f["tz_known"] is False
    assert f["time_field"] == "date" and f["date_raw"] == "2021-03-14T21:06:00"
    assert records[0].timestamps[0].raw == "2021-03-14T21:06:00"


def test_date_unixtime_is_preferred_and_the_local_date_kept():
    doc = {"messages": [{"id": 1, "type": "message", "date": "2021-03-14T22:06:00", "date_unixtime": "1615752360",
                         "from": "Boss", "text": "hi"}]}
    f = run(TG, doc, "/r.json")[0][0].fields
    assert f["sent_at_utc"] == "2021-03-14T20:06:00Z" and f["time_field"] == "date_unixtime"
    assert f["date_raw"] == "2021-03-14T22:06:00"


FULL_CHAT = {
    "name": "Crew", "type": "private_group", "id": 777,
    "messages": [
        {"id": 1, "type": "service", "date": "2021-03-14T21:00:00", "date_unixtime": "1615752000",
         "actor": "Boss", "actor_id": "user1", "action": "invite_members", "members": ["Maria", "Ivan"],
         "text": "", "text_entities": []},
        {"id": 2, "type": "message", "date": "2021-03-14T21:01:00", "date_unixtime": "1615752060",
         "from": "Maria", "from_id": "user2", "forwarded_from": "Agency", "text": "job offer",
         "text_entities": [{"type": "plain", "text": "job offer"}]},
        {"id": 3, "type": "message", "date": "2021-03-14T21:02:00", "date_unixtime": "1615752120",
         "edited": "2021-03-14T21:04:00", "edited_unixtime": "1615752240", "from": "Boss", "from_id": "user1",
         "reply_to_message_id": 2, "text": [{"type": "mention", "text": "@maria"}, " ok"],
         "text_entities": [{"type": "mention", "text": "@maria"}, {"type": "plain", "text": " ok"}]},
        {"id": 4, "type": "message", "date": "2021-03-14T21:03:00", "date_unixtime": "1615752180",
         "from": "Boss", "from_id": "user1", "photo": "photos/photo_1@14-03-2021_21-03-00.jpg",
         "photo_file_size": 1234, "width": 1280, "height": 960, "text": ""},
        {"id": 5, "type": "message", "date": "2021-03-14T21:04:00", "date_unixtime": "1615752240",
         "from": "Maria", "from_id": "user2", "file": "voice_messages/audio_1@14-03-2021_21-04-00.ogg",
         "file_size": 5555, "media_type": "voice_message", "mime_type": "audio/ogg", "duration_seconds": 7,
         "text": ""},
        {"id": 6, "type": "message", "date": "2021-03-14T21:05:00", "date_unixtime": "1615752300",
         "from": "Maria", "from_id": "user2", "location_information": {"latitude": 55.7558, "longitude": 37.6173},
         "live_location_period_seconds": 900, "text": ""},
        {"id": 7, "type": "message", "date": "2021-03-14T21:06:00", "date_unixtime": "1615752360",
         "from": "Boss", "from_id": "user1",
         "contact_information": {"first_name": "Ivan", "last_name": "P", "phone_number": "+7 900 000 00 00"},
         "contact_vcard": "contacts/contact_1.vcf", "text": ""},
        {"id": 8, "type": "message", "date": "2021-03-14T21:07:00", "date_unixtime": "1615752420",
         "from": "Boss", "from_id": "user1", "text": "",
         "poll": {"question": "Go?", "closed": False, "total_voters": 2,
                  "answers": [{"text": "yes", "voters": 2, "chosen": True}, {"text": "no", "voters": 0,
                                                                            "chosen": False}]}},
        {"id": 9, "type": "message", "date": "2021-03-14T21:08:00", "date_unixtime": "1615752480",
         "from": "Maria", "from_id": "user2", "file": "(File not included. Change data exporting settings to "
                                                      "download.)", "media_type": "video_file",
         "mime_type": "video/mp4", "duration_seconds": 30, "width": 640, "height": 360, "text": ""},
        {"id": 10, "type": "message", "date": "2021-03-14T21:09:00", "date_unixtime": "1615752540",
         "from": "Maria", "from_id": "user2", "location_information": {"latitude": 123, "longitude": 0},
         "text": ""},
        {"id": 11, "type": "service", "date": "2021-03-14T21:10:00", "date_unixtime": "1615752600",
         "actor": "Boss", "actor_id": "user1", "action": "pin_message", "message_id": 8, "text": ""},
    ],
}


def test_full_telegram_chat_keeps_everything():
    records, warnings = run(TG, FULL_CHAT, "/tg/result.json")
    assert warnings == []
    f = {r.fields["message_id"]: r.fields for r in records}
    svc = f[1]
    assert svc["system"] and svc["sender"] is None and svc["actor"] == "Boss" and svc["actor_id"] == "user1"
    assert svc["action"] == "invite_members" and svc["service"] == {"members": ["Maria", "Ivan"]}
    assert svc["body"] == "invite_members"
    assert f[11]["service"] == {"message_id": 8} and f[11]["message_id"] == 11
    assert f[2]["forwarded_from"] == "Agency" and f[2]["text_entities"] == [{"type": "plain", "text": "job offer"}]
    assert f[3]["reply_to"] == 2 and f[3]["edited"] and f[3]["edited_at"] == "2021-03-14T20:04:00Z"
    assert f[3]["body"] == "@maria ok" and f[3]["text_entities"][0] == {"type": "mention", "text": "@maria"}
    assert f[4]["attachments"] == [{"name": "photos/photo_1@14-03-2021_21-03-00.jpg", "sha256": None,
                                    "locator": None, "missing": None, "kind": "photo"}]
    assert f[4]["media"] == {"width": 1280, "height": 960, "photo_file_size": 1234}
    assert f[5]["attachments"][0]["kind"] == "voice_message" and f[5]["attachments"][0]["mime_type"] == "audio/ogg"
    assert f[5]["media"] == {"media_type": "voice_message", "mime_type": "audio/ogg", "duration_seconds": 7,
                             "file_size": 5555}
    assert f[6]["location"] == {"latitude": 55.7558, "longitude": 37.6173, "source": LOCATION_SOURCE}
    assert f[6]["live_location_period_seconds"] == 900
    assert f[7]["contact"] == {"first_name": "Ivan", "last_name": "P", "phone_number": "+7 900 000 00 00"}
    assert f[7]["attachments"][0]["name"] == "contacts/contact_1.vcf" and f[7]["attachments"][0]["kind"] == "vcard"
    assert f[8]["poll"]["question"] == "Go?" and f[8]["poll"]["answers"][0]["voters"] == 2
    assert f[9]["media_omitted"] and f[9]["attachments"] == [] and f[9]["media"]["duration_seconds"] == 30
    assert "location" not in f[10]
    bad = next(r for r in records if r.fields["message_id"] == 10)
    assert bad.warnings == ("location_information 123.0, 0.0 is outside the globe",) and not bad.corrupted
    assert f[2]["participants"] == ["Maria", "Boss"] and f[2]["conversation"] == {"id": "777", "title": "Crew",
                                                                                   "type": "private_group"}
    assert all(x["time_field"] == "date_unixtime" and x["tz_known"] for x in f.values())


def test_full_account_export_reads_every_chat_and_left_chat():
    minimal = {"name": "Old", "type": "private_supergroup", "id": 9,
               "messages": [{"date_unixtime": "1600000000", "from": "Z", "text": "bye"}]}
    doc = {"about": "Here is the data you requested.", "personal_information": {"first_name": "Me"},
           "chats": {"about": "...", "list": [FULL_CHAT, {"name": "Empty", "type": "saved_messages", "id": 1,
                                                            "messages": []}]},
           "left_chats": {"about": "...", "list": [minimal]}}
    assert takers(doc, "/pc/result.json") == ["telegram_json"]
    records, warnings = run(TG, doc, "/pc/result.json")
    assert warnings == [] and len(records) == len(FULL_CHAT["messages"]) + 1
    last = records[-1].fields
    assert last["conversation"]["id"] == "9" and last["sender"] == "Z" and last["body"] == "bye"
    assert last["source"]["json_pointer"] == "/left_chats/list/0/messages/0"


def test_hostile_telegram_values_are_warned_not_fatal():
    doc = {"messages": [
        {"date_unixtime": "soon", "from": "A", "text": "x"},
        {"date_unixtime": "1600000000", "from": 42, "text": {"weird": True}},
        {"date_unixtime": "1600000000", "from": "B", "text": "y", "location_information": "here"},
        {"date_unixtime": "1600000000", "action": "clear_history"},
    ]}
    records, warnings = run(TG, doc, "/x.json")
    assert warnings == [] and len(records) == 4
    assert records[0].corrupted and records[0].warnings == ("date_unixtime 'soon' is not a Unix time",
                                                            "message has no date")
    assert records[1].fields["sender"] == "42" and records[1].fields["body"] == "{'weird': True}"
    assert records[2].warnings == ("location_information 'here' has no readable latitude and longitude",)
    assert records[3].fields["system"] and records[3].fields["body"] == "clear_history"


# -- Messenger / Instagram --------------------------------------------------------------------

def mojibake(text: str) -> str:
    """What the 'Download your information' exporter writes: each UTF-8 byte as a code point."""
    return text.encode("utf-8").decode("latin-1")


MINIMAL_FB = {"messages": [
    {"sender_name": "Ann Lee", "timestamp_ms": 1615755960123, "content": "see you at 6"},
    {"sender_name": mojibake("José Müller"), "timestamp_ms": 1615755900000, "content": mojibake("ok 😀")},
]}


def test_minimal_messenger_is_recognised_and_read():
    path = "/pc/Downloads/thread.json"
    assert takers(MINIMAL_FB, path) == ["facebook_json"]
    records, warnings = run(FB, json.dumps(MINIMAL_FB).encode(), path)
    assert warnings == [] and not any(r.corrupted or r.warnings for r in records)
    m1, m2 = (r.fields for r in records)
    assert (m1["sender"], m1["body"]) == ("Ann Lee", "see you at 6")
    assert m1["sent_at_utc"] == "2021-03-14T21:06:00.123000Z" and m1["tz_source"] == "utc"
    assert m1["participants"] == ["Ann Lee", "José Müller"] and m1["recipients"] == ["José Müller"]
    assert m1["platform"] == "messenger" and "raw_text" not in m1
    assert (m2["sender"], m2["body"], m2["text_repaired"]) == ("José Müller", "ok 😀", True)
    assert m2["raw_text"] == {"content": mojibake("ok 😀"), "sender_name": mojibake("José Müller")}


def test_instagram_inbox_thread_with_media_share_and_reactions():
    doc = {"participants": [{"name": "x.y"}, {"name": mojibake("Zoë")}],
           "messages": [
               {"sender_name": "x.y", "timestamp_ms": 1600000002000, "content": mojibake("Liked a message ❤"),
                "reactions": [{"reaction": mojibake("❤"), "actor": mojibake("Zoë")}]},
               {"sender_name": mojibake("Zoë"), "timestamp_ms": 1600000001000,
                "audio_files": [{"uri": "your_instagram_activity/messages/inbox/xy_1/audio/a1.mp4"}]},
               {"sender_name": "x.y", "timestamp_ms": 1600000000000, "content": "look",
                "share": {"link": "https://www.instagram.com/p/abc/", "share_text": "a post"}},
           ],
           "title": mojibake("Zoë"), "is_still_participant": True, "thread_path": "inbox/xy_1",
           "magic_words": [], "joinable_mode": {"mode": 1, "link": ""}}
    path = "/phone/ig/your_instagram_activity/messages/inbox/xy_1/message_1.json"
    assert takers(doc, path) == ["facebook_json"]
    records, warnings = run(FB, json.dumps(doc).encode(), path)
    assert warnings == []
    m1, m2, m3 = (r.fields for r in records)
    assert m1["platform"] == "instagram" and m1["platform_basis"] == "path"
    assert m1["conversation"] == {"id": "inbox/xy_1", "title": "Zoë", "type": None}
    assert m1["conversation_title_raw"] == mojibake("Zoë")
    assert m1["body"] == "Liked a message ❤" and m1["reactions"] == [{"reaction": "❤", "actor": "Zoë"}]
    assert m2["sender"] == "Zoë" and m2["attachments"][0]["kind"] == "audio"
    assert m2["attachments"][0]["path"] == "your_instagram_activity/messages/inbox/xy_1/audio/a1.mp4"
    assert m3["share"] == {"link": "https://www.instagram.com/p/abc/", "share_text": "a post"}
    assert m1["participants"] == ["x.y", "Zoë"]


def test_json_that_is_no_thread_is_not_taken():
    for doc in ({"messages": []}, {"messages": [{"foo": 1}]}, {"messages": [{"content": "x"}]}):
        assert run(FB, doc, "/a.json") == ([], [])
        assert run(TG, doc, "/a.json") == ([], [])


def test_triage_reads_minimal_exports_and_keeps_ios_senders(forensic, tmp_path):
    """Real triage of a folder: the minimal Telegram and Messenger exports, renamed, and an
    iOS WhatsApp export whose texts begin with U+200E, all listed with their senders."""
    ev = tmp_path / "phone"
    (ev / "dl").mkdir(parents=True)
    (ev / "dl" / "export.json").write_text(json.dumps(MINIMAL_TG), "utf-8")
    (ev / "dl" / "thread.json").write_text(json.dumps(MINIMAL_FB), "utf-8")
    (ev / "dl" / "_chat.txt").write_text(
        "[29/01/2018, 23:49:03] Alice: \u200eNo idea, lets try it out!\n"
        "[29/01/2018, 23:50:00] Bob: \u200e<attached: 00000012-PHOTO-2018-01-29-23-50-00.jpg>\n"
        "[29/01/2018, 23:51:00] \u200eAlice added Carol\n"
        "[29/01/2018, 23:52:00] Bob: \u200eLocation: https://maps.google.com/?q=51.5,-0.12\n", "utf-8")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", ev, "--case", case, "--id", "phone")
    forensic("triage", "--case", case, expect=None)
    rows = forensic("messages", "--case", case, "--json").jsonl()
    by_platform: dict[str, list] = {}
    for r in rows:
        by_platform.setdefault(r["platform"], []).append(r)
    assert sorted((r["sender"], r["body"]) for r in by_platform["telegram"]) == [
        ("Boss", ""), ("Boss", "Pick up at six"), ("Maria", "Where? Gate 4 see map")]
    assert sorted(r["sender"] for r in by_platform["messenger"]) == ["Ann Lee", "José Müller"]
    wa = sorted(by_platform["whatsapp"], key=lambda r: r["sent_at"])
    assert [(r["sender"], r["system"]) for r in wa] == [("Alice", False), ("Bob", False), (None, True),
                                                        ("Bob", False)]
    assert wa[3]["location"] == {"latitude": 51.5, "longitude": -0.12, "source": "maps link in the message text"}


def test_minimal_thread_files_in_one_inbox_folder_are_one_conversation():
    base = "/pc/facebook-ann/messages/inbox/annlee_abc123"
    ids = {run(FB, json.dumps(MINIMAL_FB).encode(), f"{base}/message_{n}.json")[0][0].fields["conversation"]["id"]
           for n in (1, 2)}
    assert ids == {base}


def test_hostile_messenger_values_are_warned_not_fatal():
    doc = {"participants": "nobody", "title": 5, "messages": [
        {"sender_name": "A", "timestamp_ms": 1600000000000, "photos": True, "reactions": "many", "users": 3},
        {"sender_name": "B", "timestamp_ms": 1600000000000,
         "videos": [{"uri": "messages/inbox/a/videos/v.mp4", "creation_timestamp": 1e300}]},
    ]}
    records, warnings = run(FB, doc, "/x/messages/inbox/a/message_1.json")
    assert warnings == [] and len(records) == 2
    assert records[0].fields["attachments"] == [] and records[0].fields["reactions"] == []
    assert records[0].fields["participants"] == ["A", "B"]
    assert records[1].fields["attachments"][0]["name"] == "v.mp4" and not records[1].corrupted
    assert records[1].warnings == ("creation_timestamp 1e+300 of 'messages/inbox/a/videos/v.mp4' is out of range",)


def test_the_exporting_computer_offset_is_told_by_date_against_date_unixtime():
    doc = {"messages": [
        {"date": "2023-08-23T13:11:23", "date_unixtime": "1692821483", "from": "A", "text": "x"},     # UTC-7
        {"date": "2021-03-14T21:06:00", "date_unixtime": "1615752360", "from": "A", "text": "y"},     # UTC+1
        {"date": "2021-03-14T21:06:07", "date_unixtime": "1615752360", "from": "A", "text": "z"},     # no zone
        {"date_unixtime": "1615752360", "from": "A", "text": "w"},
    ]}
    assert [r.fields["date_offset"] for r in run(TG, doc, "/r.json")[0]] == ["-07:00", "+01:00", None, None]
