"""Facebook Messenger / Instagram and Discord (DiscordChatExporter) JSON: own fixtures, bad input."""
from __future__ import annotations

import json

import pytest

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.discord_json import DiscordJsonExtractor
from forensic.extractors.chat.facebook_json import FacebookJsonExtractor, fix_mojibake
from forensic.extractors.chat.telegram_json import TelegramJsonExtractor
from forensic.extractors.chat.whatsapp_txt import WhatsAppTxtExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

FB = FacebookJsonExtractor()
DC = DiscordJsonExtractor()


def mojibake(text: str) -> str:
    """What the 'Download your information' exporter writes: each UTF-8 byte as a code point."""
    return text.encode("utf-8").decode("latin-1")


THREAD = {
    "participants": [{"name": mojibake("José Müller")}, {"name": "Ann Lee"}],
    "messages": [
        {"sender_name": "Ann Lee", "timestamp_ms": 1615755960123, "content": mojibake("Привет 😀 ¿qué tal?"),
         "reactions": [{"reaction": mojibake("❤"), "actor": mojibake("José Müller")}],
         "is_geoblocked_for_viewer": False},
        {"sender_name": mojibake("José Müller"), "timestamp_ms": 1615755900000,
         "photos": [{"uri": "messages/inbox/annlee_abc123/photos/1234_n.jpg", "creation_timestamp": 1615755899}],
         "videos": [{"uri": "messages/inbox/annlee_abc123/videos/55_n.mp4"}],
         "is_geoblocked_for_viewer": False},
        {"sender_name": "Ann Lee", "timestamp_ms": 1615755800000, "content": "Ann Lee sent a link.",
         "share": {"link": "https://example.org/a", "share_text": "A story"}, "type": "Share"},
        {"sender_name": "Ann Lee", "timestamp_ms": 1615755700000, "content": "café",   # already real text
         "is_unsent": True, "brand_new_field": 1},
        {"sender_name": "Ann Lee", "timestamp_ms": "soon", "content": "bad time"},
    ],
    "title": mojibake("José Müller"),
    "is_still_participant": True,
    "thread_type": "Regular",
    "thread_path": "inbox/annlee_abc123",
    "magic_words": [],
}


def run(ex, doc, path):
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()     # ensure_ascii: \u00c3 escapes
    item = ExtractorInput(path=path, name=path.rsplit("/", 1)[-1], mime="application/json", size=len(data),
                          data=data)
    out = list(ex.extract(item))
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def test_fix_mojibake_only_when_it_round_trips():
    assert fix_mojibake(mojibake("Ñandú 😀")) == ("Ñandú 😀", True)
    assert fix_mojibake("café") == ("café", False)           # Latin-1 bytes that are not UTF-8: kept
    assert fix_mojibake("plain") == ("plain", False)
    assert fix_mojibake("Привет") == ("Привет", False)         # beyond U+00FF: not an escaped byte string


def test_messenger_thread():
    data = json.dumps(THREAD).encode()
    path = "/sdcard/Download/facebook-ann/messages/inbox/annlee_abc123/message_1.json"
    assert FB.accepts(path, "application/json", data[:8192])
    records, warnings = run(FB, THREAD, path)
    assert warnings == ["message fields this reader does not know (kept in 'extra'): brand_new_field"]
    m1, m2, m3, m4, m5 = (r.fields for r in records)
    assert m1["platform"] == "messenger" and m1["platform_basis"] == "path"
    assert m1["body"] == "Привет 😀 ¿qué tal?" and m1["text_repaired"] is True
    assert m1["sender"] == "Ann Lee" and m1["recipients"] == ["José Müller"]
    assert m1["participants"] == ["José Müller", "Ann Lee"]
    assert m1["conversation"] == {"id": "inbox/annlee_abc123", "title": "José Müller", "type": "Regular"}
    assert m1["reactions"] == [{"reaction": "❤", "actor": "José Müller"}]
    assert m1["sent_at"] == m1["sent_at_utc"] == "2021-03-14T21:06:00.123000Z" and m1["tz_source"] == "utc"
    assert m1["source"] == {"path": path, "json_pointer": "/messages/0"}
    assert [a["kind"] for a in m2["attachments"]] == ["photo", "video"]
    assert m2["attachments"][0]["path"] == "messages/inbox/annlee_abc123/photos/1234_n.jpg"
    assert m2["attachments"][0]["name"] == "1234_n.jpg" and m2["attachments"][0]["created_at"] == "2021-03-14T21:04:59Z"
    assert m2["sender"] == "José Müller"
    assert m3["share"] == {"link": "https://example.org/a", "share_text": "A story"} and m3["message_type"] == "Share"
    assert m4["body"] == "café" and m4["text_repaired"] is False and m4["deleted"] is True
    assert m4["extra"] == {"brand_new_field": 1}
    assert records[4].corrupted and records[4].warnings == ("timestamp_ms 'soon' is not a number",)
    assert not any(r.corrupted for r in records[:4])


def test_instagram_recognised_by_content_outside_inbox():
    doc = {"participants": [{"name": "x.y"}, {"name": "me"}],
           "messages": [{"sender_name": "x.y", "timestamp_ms": 1600000000000,
                         "share": {"link": "https://www.instagram.com/p/abc/"}, "content": "look"}],
           "title": "x.y", "thread_path": "inbox/xy_1"}
    data = json.dumps(doc).encode()
    assert FB.accepts("/tmp/renamed.json", "application/json", data)          # not under inbox, any name
    records, warnings = run(FB, doc, "/tmp/renamed.json")
    assert warnings == []
    assert records[0].fields["platform"] == "instagram" and records[0].fields["platform_basis"] == "content"
    records, _ = run(FB, doc, "/x/your_instagram_activity/messages/inbox/xy_1/message_1.json")
    assert records[0].fields["platform_basis"] == "path"


def test_other_exports_are_not_taken():
    tg = json.dumps({"name": "D", "type": "personal_chat", "id": 1,
                     "messages": [{"id": 1, "type": "message", "date": "2021-01-01T00:00:00", "text": "x"}]}).encode()
    dc = json.dumps(DISCORD).encode()
    fb = json.dumps(THREAD).encode()
    assert not FB.accepts("/a.json", "application/json", tg) and not FB.accepts("/a.json", "application/json", dc)
    assert not DC.accepts("/a.json", "application/json", tg) and not DC.accepts("/a.json", "application/json", fb)
    tge = TelegramJsonExtractor()
    assert run(tge, THREAD, "/a.json")[0] == [] and run(tge, DISCORD, "/a.json")[0] == []
    assert not WhatsAppTxtExtractor().accepts("/a.json", "application/json", fb[:4096])


@pytest.mark.parametrize("data,expected", [
    (b'{"participants": [], "messages": [{"sender_name": "a", "timestamp_ms": 1', "not readable as JSON"),
    (b'{"guild": {"id": "1"}, "channel": {"id": "2"}, "messages": [', "not readable as JSON"),
])
def test_truncated_json_is_a_warning(data, expected):
    ex = FB if b"participants" in data else DC
    assert ex.accepts("/x.json", "application/json", data)
    records, warnings = run(ex, data, "/x.json")
    assert records == [] and len(warnings) == 1 and warnings[0].startswith(expected)


def test_wrong_shapes_yield_nothing():
    for doc in ({"participants": "x", "messages": []}, [1, 2], {"messages": [{"sender_name": "a"}]}):
        assert run(FB, doc, "/x.json") == ([], [])
    assert run(DC, {"guild": {}, "channel": "x", "messages": []}, "/x.json") == ([], [])


DISCORD = {
    "guild": {"id": "111", "name": "Crew", "iconUrl": "https://cdn.example/icon.png"},
    "channel": {"id": "222", "type": "GuildTextChat", "categoryId": "3", "category": "Text", "name": "logistics",
                "topic": None},
    "dateRange": {"after": None, "before": None},
    "exportedAt": "2023-05-01T10:00:00+02:00",
    "messages": [
        {"id": "9001", "type": "Default", "timestamp": "2023-04-30T21:15:02.123+02:00", "timestampEdited": None,
         "callEndedTimestamp": None, "isPinned": False, "content": "Drop at the café, 10 pm",
         "author": {"id": "1", "name": "rook", "discriminator": "0000", "nickname": "Rook", "color": None,
                    "isBot": False, "roles": [], "avatarUrl": "https://cdn.example/a.png"},
         "attachments": [{"id": "5", "url": "logistics.json_Files/map-5A1B.png", "fileName": "map.png",
                          "fileSizeBytes": 1234},
                         {"id": "6", "url": "https://cdn.discordapp.com/attachments/6/list.txt",
                          "fileName": "list.txt", "fileSizeBytes": 10}],
         "embeds": [], "stickers": [],
         "reactions": [{"emoji": {"id": None, "name": "👍", "code": "thumbsup", "isAnimated": False},
                        "count": 2, "users": [{"id": "2", "name": "knight", "nickname": None}]}],
         "mentions": [{"id": "2", "name": "knight"}], "inlineEmojis": []},
        {"id": "9002", "type": "Reply", "timestamp": "2023-04-30T19:20:00+00:00",
         "timestampEdited": "2023-04-30T19:21:00+00:00", "isPinned": True, "content": "ok",
         "author": {"id": "2", "name": "knight", "discriminator": "0000", "nickname": None, "isBot": False},
         "attachments": [], "embeds": [], "stickers": [], "reactions": [], "mentions": [],
         "reference": {"messageId": "9001", "channelId": "222", "guildId": "111"}, "poll": {"q": 1}},
        {"id": "9003", "type": "GuildMemberJoin", "timestamp": "2023-04-30T19:22:00", "content": "",
         "author": {"id": "3", "name": "pawn"}, "attachments": []},
        {"id": "9004", "type": "Default", "timestamp": "yesterday", "content": "x",
         "author": {"id": "1", "name": "rook"}},
    ],
    "messageCount": 5,
}


def test_discord_export():
    data = json.dumps(DISCORD, ensure_ascii=False).encode()
    assert DC.accepts("/backup/export.json", "application/json", data[:8192])
    records, warnings = run(DC, data, "/backup/export.json")
    assert warnings == ["messageCount says 5 but the export holds 4 messages",
                        "message fields this reader does not know (kept in 'extra'): poll"]
    m1, m2, m3, m4 = (r.fields for r in records)
    assert m1["platform"] == "discord" and m1["sender"] == "Rook" and m1["author"]["name"] == "rook"
    assert m1["conversation"]["id"] == "222" and m1["conversation"]["title"] == "Crew / #logistics"
    assert m1["sent_at"] == "2023-04-30T21:15:02.123000+02:00" and m1["sent_at_utc"] == "2023-04-30T19:15:02.123000Z"
    assert m1["tz_known"] and m1["tz_source"] == "offset_tag"
    assert m1["attachments"][0]["path"] == "logistics.json_Files/map-5A1B.png"
    assert m1["attachments"][0]["name"] == "map.png"
    assert "path" not in m1["attachments"][1] and m1["attachments"][1]["url"].startswith("https://")
    assert m1["reactions"] == [{"reaction": "👍", "count": 2, "actors": ["knight"]}]
    assert m2["reply_to"] == "9001" and m2["edited"] and m2["edited_at"] == "2023-04-30T19:21:00+00:00"
    assert m2["pinned"] and m2["extra"] == {"poll": {"q": 1}}
    assert m3["system"] and m3["sender"] is None and m3["actor"] == "pawn"
    assert m3["tz_known"] is False and m3["sent_at"] == "2023-04-30T19:22:00"
    assert records[3].corrupted and records[3].warnings == ("sent time 'yesterday' is not ISO 8601",)
    assert m1["participants"] == ["Rook", "knight", "pawn"]


def test_triage_links_media_and_indexes(forensic, tmp_path):
    """Real triage of a ZIP: FB media linked by path, a missing one flagged, Discord's local
    file linked and its remote URL left alone; both searchable."""
    from builders import zip_file
    ev = zip_file(tmp_path / "dyi.zip", [
        ("facebook-ann/messages/inbox/annlee_abc123/message_1.json", json.dumps(THREAD).encode()),
        ("facebook-ann/messages/inbox/annlee_abc123/photos/1234_n.jpg", b"\xff\xd8\xff\xe0 not really"),
        ("discord/logistics.json", json.dumps(DISCORD).encode()),
        ("discord/logistics.json_Files/map-5A1B.png", b"\x89PNG\r\n\x1a\n"),
    ])
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C", "--examiner", "E")
    forensic("evidence", "add", ev, "--case", case, "--id", "dyi")
    forensic("triage", "--case", case, expect=None)
    rows = forensic("messages", "--case", case, "--json").jsonl()
    assert {r["platform"] for r in rows} == {"messenger", "discord"} and len(rows) == 9
    photo_msg = next(r for r in rows if r["platform"] == "messenger" and r["attachments"])
    photo, video = photo_msg["attachments"]
    assert photo["missing"] is False and photo["sha256"] == __import__("hashlib").sha256(
        b"\xff\xd8\xff\xe0 not really").hexdigest() and photo["locator"].endswith("1234_n.jpg")
    assert video["missing"] is True and video["sha256"] is None
    drop = next(r for r in rows if r["body"].startswith("Drop"))
    assert drop["attachments"][0]["missing"] is False and drop["attachments"][1]["missing"] is None
    assert [r["body"] for r in forensic("messages", "--case", case, "--search", "cafe", "--json").jsonl()] == \
        ["café", "Drop at the café, 10 pm"]
    assert [r["body"] for r in forensic("messages", "--case", case, "--search", "ПРИВЕТ", "--json").jsonl()] == \
        ["Привет 😀 ¿qué tal?"]
    warnings = forensic("warnings", "--case", case, "--json").jsonl()
    assert any("55_n.mp4" in w["message"] and w["stage"] == "extract:facebook_json" for w in warnings)
    convs = forensic("conversations", "--case", case, "--json").jsonl()
    assert {(c["platform"], c["title"], c["messages"]) for c in convs} == {
        ("messenger", "José Müller", 5), ("discord", "Crew / #logistics", 4)}
