"""Telegram Desktop JSON exports: own fixtures (single chat, full export) and bad input."""
from __future__ import annotations

import json

import pytest

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat.telegram_json import TelegramJsonExtractor, flatten_text
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

EX = TelegramJsonExtractor()

CHAT = {
    "name": "Driver", "type": "personal_chat", "id": 4242,
    "messages": [
        {"id": 1, "type": "service", "date": "2021-03-14T21:05:00", "date_unixtime": "1615752300",
         "actor": "Boss", "actor_id": "user1", "action": "phone_call", "text": "", "text_entities": []},
        {"id": 2, "type": "message", "date": "2021-03-14T21:06:00", "date_unixtime": "1615752360",
         "from": "Boss", "from_id": "user1",
         "text": ["Pick up at ", {"type": "bold", "text": "6"}, " — ", {"type": "link", "text": "https://x.example"}],
         "text_entities": [{"type": "plain", "text": "Pick up at "}, {"type": "bold", "text": "6"}]},
        {"id": 3, "type": "message", "date": "2021-03-14T21:07:00", "date_unixtime": "1615752420",
         "edited": "2021-03-14T21:09:00", "edited_unixtime": "1615752540",
         "from": "Maria", "from_id": "user2", "reply_to_message_id": 2, "text": "ok",
         "photo": "photos/photo_1@14-03-2021_21-07-00.jpg", "width": 10, "height": 10},
        {"id": 4, "type": "message", "date": "2021-03-14T21:08:00", "date_unixtime": "1615752480",
         "from": "Maria", "from_id": "user2", "forwarded_from": "Agency", "text": "",
         "file": "(File not included. Change data exporting settings to download.)",
         "media_type": "voice_message", "brand_new_field": {"x": 1}},
        {"id": 5, "type": "message", "date": "2021-03-14T21:09:00", "from": "Boss", "text": "no unixtime"},
    ],
}


def run(doc, name="result.json", path=None, **options):
    data = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
    item = ExtractorInput(path=path or f"/tg/{name}", name=name, mime="application/json",
                          size=len(data), data=data, options=options or None)
    out = list(EX.extract(item))
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def test_single_chat():
    data = json.dumps(CHAT).encode()
    assert EX.accepts("/tg/chat.json", "application/json", data[:4096])    # renamed: by content
    records, warnings = run(CHAT, name="chat.json")
    assert warnings == ["message fields this reader does not know (kept in 'extra'): brand_new_field"]
    svc, m2, m3, m4, m5 = (r.fields for r in records)
    assert svc["system"] and svc["sender"] is None and svc["actor"] == "Boss" and svc["body"] == "phone_call"
    assert m2["body"] == "Pick up at 6 — https://x.example"
    assert m2["sent_at"] == "2021-03-14T20:06:00Z" and m2["tz_source"] == "utc" and m2["tz_known"]
    assert m2["conversation"] == {"id": "4242", "title": "Driver", "type": "personal_chat"}
    assert m2["participants"] == ["Boss", "Maria"] and m2["recipients"] == ["Maria"]
    assert m3["reply_to"] == 2 and m3["edited"] and m3["edited_at"] == "2021-03-14T20:09:00Z"
    assert m3["attachments"] == [{"name": "photos/photo_1@14-03-2021_21-07-00.jpg", "sha256": None,
                                  "locator": None, "missing": None, "kind": "photo"}]
    assert m4["forwarded_from"] == "Agency" and m4["media_omitted"] and m4["attachments"] == []
    assert m4["extra"] == {"brand_new_field": {"x": 1}}
    assert m5["sent_at"] == "2021-03-14T21:09:00" and m5["tz_known"] is False
    assert m2["source"] == {"path": "/tg/chat.json", "json_pointer": "/messages/1", "message_id": 2}
    assert records[1].source_ref == "message 2 (/messages/1)"
    assert [t.label for t in records[2].timestamps] == ["sent", "edited"]


def test_full_export_with_chats_list():
    doc = {"about": "x", "personal_information": {"first_name": "A"},
           "chats": {"about": "y", "list": [CHAT, dict(CHAT, id=7, name="Other", messages=CHAT["messages"][:2])]},
           "left_chats": {"list": []}}
    records, _ = run(doc)
    assert len(records) == 7
    assert records[5].fields["conversation"]["id"] == "7"
    assert records[5].fields["source"]["json_pointer"] == "/chats/list/1/messages/0"


def test_flatten_text():
    assert flatten_text(["a", {"type": "mention", "text": "@b"}, "c"]) == "a@bc"
    assert flatten_text(None) == "" and flatten_text("x") == "x"


def test_not_telegram_json():
    assert not EX.accepts("/x/a.json", "application/json", b'{"foo": [1, 2]}')
    assert run({"messages": [1, 2]}) == ([], [])
    assert run({"foo": "bar"}) == ([], [])


def test_broken_json_warns():
    records, warnings = run(b'{"name": "x", "messages": [{"id": 1, "type": "message", "date": ')
    assert records == [] and len(warnings) == 1 and warnings[0].startswith("not readable as JSON")


def test_bad_message_entries_are_warned_not_fatal():
    doc = dict(CHAT, messages=[42, {"id": 9, "type": "message", "date": "garbage", "from": "X", "text": "t"}])
    records, warnings = run(doc)
    assert warnings == ["/messages/0 is not a message object; skipped"]
    assert records[0].corrupted and records[0].warnings == ("date 'garbage' is not an ISO date",)


def test_finalize_links_relative_paths(tmp_path):
    from forensic.case import Case
    case = Case.init(tmp_path / "case", "C1", "examiner")
    db = case.db
    db.execute("INSERT INTO items(item, source_path, format, size, sha256, md5, added_at) "
               "VALUES ('pc', '/x', 'dir', 0, '', '', 'now')")

    def add(path, sha):
        return db.execute("INSERT INTO files(item, locator, path, layers, name, kind, sha256) "
                          "VALUES ('pc', ?, ?, '[]', ?, 'file', ?) RETURNING id",
                          (f"pc › {path}", path, path.rsplit("/", 1)[-1], sha)).fetchone()[0]

    chat_id = add("/tg/result.json", "c" * 64)
    add("/tg/photos/photo_1@14-03-2021_21-07-00.jpg", "d" * 64)
    records, _ = run(CHAT)
    for r in records:
        db.execute("INSERT INTO artifacts(item, file_id, record_type, extractor, source_ref, fields) "
                   "VALUES ('pc', ?, ?, ?, ?, ?)",
                   (chat_id, r.record_type, EX.ident, r.source_ref, json.dumps(r.fields)))
    out = _finalized(db, "pc")
    assert out == []
    att = [json.loads(f)["attachments"] for (f,) in db.execute("SELECT fields FROM artifacts ORDER BY id")]
    assert att[2] == [{"name": "photos/photo_1@14-03-2021_21-07-00.jpg", "sha256": "d" * 64,
                       "locator": "pc › /tg/photos/photo_1@14-03-2021_21-07-00.jpg", "missing": False,
                       "kind": "photo"}]
    case.close()


@pytest.mark.corpus
def test_corpus_telegram_exports(corpus):
    files = sorted((corpus / "chats").rglob("*.json"))
    tg = [p for p in files if EX.accepts(str(p), "application/json", p.read_bytes()[:65536])]
    assert tg, "no Telegram export in the corpus"
    for path in tg:
        doc = json.loads(path.read_text("utf-8"))
        records, warnings = run(path.read_bytes(), name=path.name)
        expected = sum(len(c["messages"]) for c in ([doc] if "messages" in doc else doc["chats"]["list"]))
        assert len(records) == expected and warnings == []
        first, last = records[0].fields, records[-1].fields
        m0 = (doc["messages"] if "messages" in doc else doc["chats"]["list"][0]["messages"])[0]
        assert first["sender"] == m0.get("from") and first["body"] == flatten_text(m0["text"])
        assert first["sent_at_utc"] is not None and last["sent_at_utc"] is not None


def _finalized(db, item: str) -> list:
    """finalize() through the store's read-only view; its links stored as the pipeline stores
    them. Returns the warnings."""
    from forensic.store.artifacts import apply_links
    from forensic.store.records import Link
    from forensic.store.view import StoreView
    out = list(EX.finalize(StoreView(db), item))
    apply_links(db, item, [o for o in out if isinstance(o, Link)])
    return [o for o in out if not isinstance(o, Link)]
